//! A 1×1 convolution op for NCHW `f32` graphs, with the bias and an optional SiLU fused in,
//! swapped in for tract's own where the CPU has AVX-512 or AVX2 and FMA.
//!
//! YOLOX-Nano's 82 pointwise convolutions are most of its work (429 M multiply-adds at 416).
//! tract 0.23 runs each as a matrix product over an activation it first packs into panels,
//! then applies the SiLU in a separate pass (≈10 ms of a 15.6 ms run on this project's
//! machine; see `docs/benchmarks.md`). In NCHW a 1×1 convolution is already a matrix product
//! whose right-hand side needs no packing: each input channel's plane is a contiguous row. This
//! op runs it as one `conv_tiles` job per image: weights packed once, tiles of output channels ×
//! points held in vector registers, the bias and SiLU applied while the tile is still in
//! registers.

use std::sync::Arc;

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;

use crate::conv_tiles::{self, PackedWeights, RowJob};
use crate::nchw::Planes;

/// A pointwise convolution: `out[o][p] = act(bias[o] + Σ_i w[o][i] · in[i][p])` for every point
/// `p` of the planes, where `act` is the identity or SiLU. Built by
/// [`use_fast_dense_convolutions`](crate::graph_fixes::use_fast_dense_convolutions). Input at
/// eval: `[N, C, H, W]` or `[C, H, W]` with `C = in_channels`.
#[derive(Debug, Clone, PartialEq)]
pub struct PointwiseConv {
    pub(crate) in_channels: usize,
    pub(crate) out_channels: usize,
    pub(crate) weights: Arc<PackedWeights>,
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
        let weights = PackedWeights::new(out_channels, in_channels, weights, bias)?;
        Some(PointwiseConv {
            in_channels,
            out_channels,
            weights: Arc::new(weights),
            silu: false,
        })
    }

    fn planes(&self) -> Planes {
        Planes {
            in_channels: Some(self.in_channels),
            out_channels: Some(self.out_channels),
            ..Planes::default()
        }
    }

    /// Whether this CPU runs the op's fast paths, AVX-512F or AVX2 and FMA (otherwise tract's own
    /// convolution is faster, and
    /// [`use_fast_dense_convolutions`](crate::graph_fixes::use_fast_dense_convolutions) leaves
    /// it alone). `TRACT_CPU_ISA=-avx512f` takes AVX-512 away from this crate as from tract.
    pub fn fast_path_available() -> bool {
        conv_tiles::fast_path_available()
    }

    /// Runs the convolution on plain slices: `input` holds whole batches of `in_channels`
    /// planes of `points` values, `output` the same number of batches of `out_channels` planes.
    pub(crate) fn run(&self, input: &[f32], output: &mut [f32], points: usize) {
        self.run_with(input, output, points, |job, src, dst| job.run(src, dst));
    }

    fn run_with(
        &self,
        input: &[f32],
        output: &mut [f32],
        points: usize,
        run: fn(&RowJob, &[f32], &mut [f32]),
    ) {
        if points == 0 {
            return;
        }
        let offsets: Vec<usize> = (0..self.in_channels).map(|i| i * points).collect();
        let job = RowJob {
            weights: &self.weights,
            silu: self.silu,
            offsets: &offsets,
            src_start: 0,
            dst_start: 0,
            out_stride: points,
            len: points,
        };
        let sources = input.chunks_exact(self.in_channels * points);
        let outputs = output.chunks_exact_mut(self.out_channels * points);
        for (src, dst) in sources.zip(outputs) {
            run(&job, src, dst);
        }
    }
}

impl Op for PointwiseConv {
    fn name(&self) -> StaticName {
        "AccelPointwiseConv".into()
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
        self.planes()
            .eval("pointwise conv", &inputs, |input, output, points| {
                self.run(input, output, points)
            })
    }
}

impl TypedOp for PointwiseConv {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        self.planes().output_fact("pointwise conv", inputs[0])
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
        let mut portable = vec![f32::NAN; batches * co * points];
        op.run_with(&x, &mut portable, points, |job, src, dst| {
            job.run_portable(src, dst)
        });
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
