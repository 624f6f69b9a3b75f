//! A 1×1 convolution op for NCHW `f32` graphs, with the bias and an optional SiLU fused in,
//! swapped in for tract's own where the CPU has AVX-512.
//!
//! YOLOX-Nano's 101 pointwise convolutions are most of its work (429 M multiply-adds at 416).
//! tract 0.23 runs each as a matrix product over an activation it first packs into panels,
//! then applies the SiLU in a separate pass (≈10 ms of a 15.6 ms run on this project's
//! machine; see `docs/benchmarks.md`). In NCHW a 1×1 convolution is already a matrix product
//! whose right-hand side needs no packing: each input channel's plane is a contiguous row. This
//! op keeps the weights packed once (blocks of [`ROWS`] output channels, interleaved), walks the
//! planes in tiles of [`ROWS`] channels × 48 points held in AVX-512 registers, and adds the bias
//! and applies the SiLU while the tile is still in registers.

use std::sync::Arc;

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;

/// Output channels per register tile (and per block of packed weights).
pub const ROWS: usize = 8;

/// A pointwise convolution: `out[o][p] = act(bias[o] + Σ_i w[o][i] · in[i][p])` for every point
/// `p` of the planes, where `act` is the identity or SiLU. Built by
/// [`use_fast_pointwise`](crate::graph_fixes::use_fast_pointwise). Input at eval: `[N, C, H, W]`
/// or `[C, H, W]` with `C = in_channels`.
#[derive(Debug, Clone, PartialEq)]
pub struct PointwiseConv {
    pub(crate) in_channels: usize,
    pub(crate) out_channels: usize,
    /// Weights as `[out_channels / ROWS (rounded up)][in_channels][ROWS]`, zero-padded.
    pub(crate) packed: Arc<Vec<f32>>,
    /// One bias per output channel, zero-padded to whole blocks.
    pub(crate) bias: Arc<Vec<f32>>,
    /// Whether SiLU (`x · sigmoid(x)`) follows the bias.
    pub(crate) silu: bool,
}

// Weights compare as values; a graph never holds NaN weights that would make this irreflexive.
impl Eq for PointwiseConv {}

impl PointwiseConv {
    /// Builds the op from OIHW (or OI) weights with `out_channels · in_channels` values and a
    /// bias of `out_channels` values (or one for all, or none).
    pub(crate) fn new(
        in_channels: usize,
        out_channels: usize,
        weights: &[f32],
        bias: &[f32],
    ) -> Option<Self> {
        if weights.len() != in_channels * out_channels
            || !(bias.is_empty() || bias.len() == 1 || bias.len() == out_channels)
            || in_channels == 0
            || out_channels == 0
        {
            return None;
        }
        let blocks = out_channels.div_ceil(ROWS);
        let mut packed = vec![0f32; blocks * in_channels * ROWS];
        for (o, row) in weights.chunks_exact(in_channels).enumerate() {
            let (block, lane) = (o / ROWS, o % ROWS);
            for (i, &w) in row.iter().enumerate() {
                packed[(block * in_channels + i) * ROWS + lane] = w;
            }
        }
        let bias = (0..blocks * ROWS)
            .map(|o| match bias.len() {
                0 => 0.0,
                1 => bias[0],
                _ => bias.get(o).copied().unwrap_or(0.0),
            })
            .collect();
        Some(PointwiseConv {
            in_channels,
            out_channels,
            packed: Arc::new(packed),
            bias: Arc::new(bias),
            silu: false,
        })
    }

    /// Whether this CPU runs the op's fast path (otherwise tract's own convolution is faster,
    /// and [`use_fast_pointwise`](crate::graph_fixes::use_fast_pointwise) leaves it alone).
    pub fn fast_path_available() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("avx512f")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }

    /// Runs the convolution on plain slices: `input` holds whole batches of `in_channels`
    /// planes of `points` values, `output` the same number of batches of `out_channels` planes.
    pub(crate) fn run(&self, input: &[f32], output: &mut [f32], points: usize) {
        if points == 0 {
            return;
        }
        let batches = input.len() / (self.in_channels * points);
        for b in 0..batches {
            let src = &input[b * self.in_channels * points..][..self.in_channels * points];
            let dst = &mut output[b * self.out_channels * points..][..self.out_channels * points];
            #[cfg(target_arch = "x86_64")]
            if Self::fast_path_available() {
                #[allow(unsafe_code)]
                // SAFETY: the CPU has AVX-512F, checked just above.
                unsafe {
                    avx512::run(self, src, dst, points)
                };
                continue;
            }
            self.run_portable(src, dst, points);
        }
    }

    /// The same computation in plain Rust, for CPUs without AVX-512 and for tests.
    fn run_portable(&self, input: &[f32], output: &mut [f32], points: usize) {
        let ci = self.in_channels;
        for (o, out) in output.chunks_exact_mut(points).enumerate() {
            out.fill(self.bias[o]);
            let (block, lane) = (o / ROWS, o % ROWS);
            for (i, plane) in input.chunks_exact(points).enumerate() {
                let w = self.packed[(block * ci + i) * ROWS + lane];
                for (y, &x) in out.iter_mut().zip(plane) {
                    *y += w * x;
                }
            }
            if self.silu {
                for y in out.iter_mut() {
                    *y /= 1.0 + (-*y).exp();
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod avx512 {
    //! The AVX-512 tiles. Every pointer read or written stays inside the slices `run` is given:
    //! a tile covers points `p..p + 16·V` of which only the first `16·(V-1) + popcount(mask)`
    //! are touched, and output rows past `out_channels` are never stored.

    use super::{PointwiseConv, ROWS};
    use std::arch::x86_64::*;

    /// Points per register tile: three vectors of 16.
    const VECS: usize = 3;

    /// # Safety
    /// The CPU must have AVX-512F; `input` holds `in_channels · points` values and `output`
    /// `out_channels · points`.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn run(op: &PointwiseConv, input: &[f32], output: &mut [f32], points: usize) {
        debug_assert_eq!(input.len(), op.in_channels * points);
        debug_assert_eq!(output.len(), op.out_channels * points);
        let blocks = op.out_channels.div_ceil(ROWS);
        let mut p = 0;
        while p + 16 * VECS <= points {
            for block in 0..blocks {
                // SAFETY: points p..p+48 exist; see the module comment.
                unsafe { tile::<VECS>(op, input, output, points, p, block, 0xFFFF) };
            }
            p += 16 * VECS;
        }
        while p < points {
            let left = (points - p).min(16);
            let mask: __mmask16 = if left == 16 {
                0xFFFF
            } else {
                (1u16 << left) - 1
            };
            for block in 0..blocks {
                // SAFETY: points p..p+left exist and the mask covers only those.
                unsafe { tile::<1>(op, input, output, points, p, block, mask) };
            }
            p += left;
        }
    }

    /// One tile: output channels `block·ROWS..` (those that exist) × points `p..p + 16·V`, the
    /// last vector limited to `mask`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn tile<const V: usize>(
        op: &PointwiseConv,
        input: &[f32],
        output: &mut [f32],
        points: usize,
        p: usize,
        block: usize,
        mask: __mmask16,
    ) {
        let ci = op.in_channels;
        let weights = op.packed[block * ci * ROWS..][..ci * ROWS].as_ptr();
        let src = input.as_ptr();
        let mut acc = [[_mm512_setzero_ps(); V]; ROWS];
        for i in 0..ci {
            // SAFETY: row i of the input holds `points` values and the tile stays inside them.
            let row = unsafe { src.add(i * points + p) };
            let mut x = [_mm512_setzero_ps(); V];
            for (v, x) in x.iter_mut().enumerate() {
                *x = if v + 1 == V {
                    unsafe { _mm512_maskz_loadu_ps(mask, row.add(16 * v)) }
                } else {
                    unsafe { _mm512_loadu_ps(row.add(16 * v)) }
                };
            }
            for (r, acc) in acc.iter_mut().enumerate() {
                let w = _mm512_set1_ps(unsafe { *weights.add(i * ROWS + r) });
                for (a, &x) in acc.iter_mut().zip(&x) {
                    *a = _mm512_fmadd_ps(w, x, *a);
                }
            }
        }
        let dst = output.as_mut_ptr();
        for (r, acc) in acc.iter().enumerate() {
            let o = block * ROWS + r;
            if o >= op.out_channels {
                break;
            }
            let bias = _mm512_set1_ps(op.bias[o]);
            // SAFETY: output row o holds `points` values and the tile stays inside them.
            let out = unsafe { dst.add(o * points + p) };
            for (v, &a) in acc.iter().enumerate() {
                let mut y = _mm512_add_ps(a, bias);
                if op.silu {
                    y = silu(y);
                }
                if v + 1 == V {
                    unsafe { _mm512_mask_storeu_ps(out.add(16 * v), mask, y) };
                } else {
                    unsafe { _mm512_storeu_ps(out.add(16 * v), y) };
                }
            }
        }
    }

    /// `x · sigmoid(x)` as tract-linalg (and onnxruntime's MLAS) compute it, so that fusing it
    /// changes nothing but rounding: `max(x, -14.5) · (0.5 + p(x)/q(x))` with the rational
    /// minimax fit of `sigmoid(x) - 0.5` over `[-14.5, 14.5]` (tract-linalg's `ssigmoid`).
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn silu(x: __m512) -> __m512 {
        const LOW: f32 = -14.5;
        let clamped = _mm512_min_ps(_mm512_set1_ps(-LOW), _mm512_max_ps(_mm512_set1_ps(LOW), x));
        let x2 = _mm512_mul_ps(clamped, clamped);
        let mut p = _mm512_set1_ps(-4.433_153_4e-18);
        for c in [
            1.169_974_4e-14,
            -1.875_289_6e-11,
            4.257_889_5e-8,
            4.811_817_6e-5,
            8.163_842e-3,
            0.249_999_99,
        ] {
            p = _mm512_fmadd_ps(x2, p, _mm512_set1_ps(c));
        }
        let p = _mm512_mul_ps(p, clamped);
        let mut q = _mm512_set1_ps(3.922_936e-6);
        for c in [1.524_872_4e-3, 0.115_988_67, 1.0] {
            q = _mm512_fmadd_ps(x2, q, _mm512_set1_ps(c));
        }
        let sigmoid = _mm512_add_ps(_mm512_div_ps(p, q), _mm512_set1_ps(0.5));
        _mm512_mul_ps(_mm512_max_ps(x, _mm512_set1_ps(LOW)), sigmoid)
    }
}

impl Op for PointwiseConv {
    fn name(&self) -> StaticName {
        "YoloDetectPointwiseConv".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!(
            "{} -> {} channels{}",
            self.in_channels,
            self.out_channels,
            if self.silu { ", SiLU" } else { "" }
        )])
    }

    fn validation(&self) -> Validation {
        Validation::Rounding
    }

    op_as_typed_op!();
}

impl EvalOp for PointwiseConv {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let [data] = &*inputs else {
            bail!("pointwise conv takes one input");
        };
        let shape = data.shape();
        let rank = shape.len();
        ensure!(
            (3..=4).contains(&rank) && shape[rank - 3] == self.in_channels,
            "pointwise conv: input shape {shape:?} does not match {self:?}"
        );
        let points = shape[rank - 2] * shape[rank - 1];
        let data = data.try_as_plain_ram()?;
        let mut out_shape: TVec<usize> = shape.into();
        out_shape[rank - 3] = self.out_channels;
        let mut output = Tensor::zero::<f32>(&out_shape)?;
        self.run(
            data.as_slice::<f32>()?,
            output.try_as_plain_ram_mut()?.as_slice_mut::<f32>()?,
            points,
        );
        Ok(tvec!(output.into_tvalue()))
    }
}

impl TypedOp for PointwiseConv {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let mut shape: TVec<TDim> = inputs[0].shape.iter().cloned().collect();
        let rank = shape.len();
        ensure!(
            (3..=4).contains(&rank),
            "pointwise conv on a rank {rank} input"
        );
        shape[rank - 3] = self.out_channels.to_dim();
        Ok(tvec!(f32::fact(&shape)))
    }

    fn cost(&self, inputs: &[&TypedFact]) -> TractResult<TVec<(Cost, TDim)>> {
        let rank = inputs[0].rank();
        let points: TDim = inputs[0].shape.iter().skip(rank - 2).product();
        let batch = match rank {
            4 => inputs[0].shape[0].clone(),
            _ => 1.to_dim(),
        };
        let macs = self.in_channels * self.out_channels;
        Ok(tvec!((Cost::FMA(f32::datum_type()), batch * points * macs)))
    }

    as_op!();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(ci: usize, co: usize, w: &[f32], b: &[f32], x: &[f32], silu: bool) -> Vec<f32> {
        let points = x.len() / ci;
        let mut out = vec![0f32; co * points];
        for o in 0..co {
            for p in 0..points {
                let mut acc = b[o] as f64;
                for i in 0..ci {
                    acc += w[o * ci + i] as f64 * x[i * points + p] as f64;
                }
                if silu {
                    acc /= 1.0 + (-acc).exp();
                }
                out[o * points + p] = acc as f32;
            }
        }
        out
    }

    fn check(ci: usize, co: usize, points: usize, batches: usize, silu: bool) {
        let w: Vec<f32> = (0..ci * co)
            .map(|i| ((i * 31) % 17) as f32 / 9.0 - 0.9)
            .collect();
        let b: Vec<f32> = (0..co).map(|o| o as f32 / 5.0 - 1.0).collect();
        let x: Vec<f32> = (0..batches * ci * points)
            .map(|i| ((i * 7919) % 97) as f32 / 23.0 - 2.0)
            .collect();
        let mut op = PointwiseConv::new(ci, co, &w, &b).unwrap();
        op.silu = silu;
        let mut want = Vec::new();
        for batch in x.chunks_exact(ci * points) {
            want.extend(reference(ci, co, &w, &b, batch, silu));
        }
        let mut fast = vec![f32::NAN; batches * co * points];
        op.run(&x, &mut fast, points);
        let mut portable = vec![f32::NAN; co * points];
        op.run_portable(&x[..ci * points], &mut portable, points);
        for (i, (g, w)) in fast.iter().zip(&want).enumerate() {
            assert!(
                (g - w).abs() <= 1e-4 * w.abs().max(1.0),
                "{ci}->{co} x{points} silu {silu}, at {i}: {g} vs {w}"
            );
        }
        for (i, (g, w)) in portable.iter().zip(&want).enumerate() {
            assert!(
                (g - w).abs() <= 1e-4 * w.abs().max(1.0),
                "portable {ci}->{co} x{points}, at {i}: {g} vs {w}"
            );
        }
    }

    #[test]
    fn matches_the_definition_for_every_tile_edge() {
        for (ci, co) in [(1, 1), (3, 5), (16, 32), (12, 8), (7, 19), (64, 17)] {
            for points in [1, 15, 16, 17, 47, 48, 49, 100, 169] {
                for silu in [false, true] {
                    check(ci, co, points, 1, silu);
                }
            }
        }
        check(5, 9, 33, 3, true);
    }

    #[test]
    fn silu_holds_at_the_extremes() {
        let op = {
            let mut op = PointwiseConv::new(1, 1, &[1.0], &[]).unwrap();
            op.silu = true;
            op
        };
        let x = [
            -1e6f32, -100.0, -20.0, -1.0, 0.0, 1.0, 20.0, 100.0, 1e6, 3.0, 5.0,
        ];
        let mut y = [f32::NAN; 11];
        op.run(&x, &mut y, x.len());
        for (&x, &y) in x.iter().zip(&y) {
            let want = (x as f64 / (1.0 + (-(x as f64)).exp())) as f32;
            assert!(
                (y - want).abs() <= 1e-5 * want.abs().max(1.0),
                "silu({x}) = {y}, want {want}"
            );
        }
    }

    #[test]
    fn rejects_inconsistent_weights() {
        assert!(PointwiseConv::new(2, 2, &[1.0; 3], &[]).is_none());
        assert!(PointwiseConv::new(2, 2, &[1.0; 4], &[1.0; 3]).is_none());
        assert!(PointwiseConv::new(0, 2, &[], &[]).is_none());
    }
}
