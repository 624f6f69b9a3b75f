//! A dense k×k convolution op (one group, stride 1 or 2) for NCHW `f32` graphs, with the bias
//! and an optional SiLU fused in, swapped in for tract's own where the CPU has AVX-512 or AVX2
//! and FMA.
//!
//! YOLOX's stem (a 3×3 convolution from 12 to 16 channels at 208×208) took 2.2 ms of a 10.5 ms
//! YOLOX-Nano run in tract 0.23's `DirectSpatialConv`, and the Ultralytics models are mostly
//! 3×3 convolutions. This op pads each input plane once into a scratch buffer (at stride 2 split
//! into four phase planes of even or odd rows and columns), so that every tap reads a contiguous
//! run for a whole output image, then computes the image as one
//! `conv_tiles` job over the `in_channels · k · k` taps.

use std::sync::Arc;

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;

use crate::conv_tiles::{PackedWeights, RowJob};
use crate::nchw::Planes;

/// Geometry and weights of one dense convolution, built by
/// [`use_fast_dense_convolutions`](crate::graph_fixes::use_fast_dense_convolutions): a square
/// `kernel` at `stride` (1 or 2) over `in_channels` planes of `in_hw`, `pad_top`/`pad_left`
/// zeros before the data (those after it are implied by `out_hw`). Input at eval:
/// `[N, C, H, W]` or `[C, H, W]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SpatialConv {
    pub(crate) in_channels: usize,
    pub(crate) kernel: usize,
    pub(crate) stride: usize,
    pub(crate) pad_top: usize,
    pub(crate) pad_left: usize,
    pub(crate) in_hw: (usize, usize),
    pub(crate) out_hw: (usize, usize),
    /// OIHW weights packed with one tap per (input channel, kernel row, kernel column).
    pub(crate) weights: Arc<PackedWeights>,
    /// Whether SiLU (`x · sigmoid(x)`) follows the bias.
    pub(crate) silu: bool,
}

// Weights compare as values; a graph never holds NaN weights that would make this irreflexive.
impl Eq for SpatialConv {}

/// Output width from which each output row runs as its own job (narrower maps run as one).
const WIDE_ROWS: usize = 64;

/// Layout of the padded scratch planes. At stride 2 each padded plane is split into four phase
/// planes (even or odd rows × even or odd columns), so that every tap reads its points for
/// consecutive output columns *and* rows at a fixed distance `cols` apart.
struct Phases {
    /// Phase planes per input channel: 1 at stride 1, 4 at stride 2.
    per_channel: usize,
    rows: usize,
    cols: usize,
}

impl SpatialConv {
    fn planes(&self) -> Planes {
        Planes {
            in_channels: Some(self.in_channels),
            in_hw: Some(self.in_hw),
            out_channels: Some(self.weights.out_channels),
            out_hw: Some(self.out_hw),
        }
    }

    /// Phase plane layout covering every tap of every output point.
    fn phases(&self) -> Phases {
        let (ih, iw) = self.in_hw;
        let (oh, ow) = self.out_hw;
        let s = self.stride;
        let rows = (self.pad_top + ih).max((oh - 1) * s + self.kernel);
        let cols = (self.pad_left + iw).max((ow - 1) * s + self.kernel);
        Phases {
            per_channel: s * s,
            rows: rows.div_ceil(s),
            cols: cols.div_ceil(s),
        }
    }

    /// Offset in the phase planes of each tap's value for output point (0, 0); output point
    /// (y, x) reads it at `offset + y·cols + x`.
    fn tap_offsets(&self, phases: &Phases) -> Vec<usize> {
        let (k, s) = (self.kernel, self.stride);
        let mut offsets = Vec::with_capacity(self.in_channels * k * k);
        for i in 0..self.in_channels {
            for ky in 0..k {
                for kx in 0..k {
                    let plane = i * phases.per_channel + (ky % s) * s + kx % s;
                    offsets.push((plane * phases.rows + ky / s) * phases.cols + kx / s);
                }
            }
        }
        offsets
    }

    /// Runs the convolution on plain slices: `input` holds whole images of `in_channels`
    /// planes of `in_hw`, `output` as many images of `out_channels` planes of `out_hw`.
    pub(crate) fn run(&self, input: &[f32], output: &mut [f32]) {
        self.run_with(input, output, |job, src, dst| job.run(src, dst));
    }

    /// Computes one job per output row where rows are at least [`WIDE_ROWS`] wide; narrower
    /// maps run all rows of an image as one job over the phase planes' width (the columns past
    /// `out_hw.1` are computed into a scratch plane and thrown away), so that they still fill
    /// whole tiles.
    fn run_with(
        &self,
        input: &[f32],
        output: &mut [f32],
        run: impl Fn(&RowJob, &[f32], &mut [f32]),
    ) {
        let (ih, iw) = self.in_hw;
        let (oh, ow) = self.out_hw;
        if oh == 0 || ow == 0 || ih == 0 || iw == 0 {
            return;
        }
        let phases = self.phases();
        let offsets = self.tap_offsets(&phases);
        let plane_len = phases.rows * phases.cols;
        let mut scratch = vec![0f32; self.in_channels * phases.per_channel * plane_len];
        let co = self.weights.out_channels;
        let images = input.chunks_exact(self.in_channels * ih * iw);
        if ow >= WIDE_ROWS {
            // Wide rows fill whole tiles: one job per output row, straight into the output.
            for (image, dst) in images.zip(output.chunks_exact_mut(co * oh * ow)) {
                self.pad_into(image, &phases, &mut scratch);
                for y in 0..oh {
                    let job = RowJob {
                        weights: &self.weights,
                        silu: self.silu,
                        offsets: &offsets,
                        src_start: y * phases.cols,
                        dst_start: y * ow,
                        out_stride: oh * ow,
                        len: ow,
                    };
                    run(&job, &scratch, dst);
                }
            }
            return;
        }
        let wide_plane = oh * phases.cols;
        let mut wide = vec![0f32; co * wide_plane];
        let job = RowJob {
            weights: &self.weights,
            silu: self.silu,
            offsets: &offsets,
            src_start: 0,
            dst_start: 0,
            out_stride: wide_plane,
            len: (oh - 1) * phases.cols + ow,
        };
        for (image, dst) in images.zip(output.chunks_exact_mut(co * oh * ow)) {
            self.pad_into(image, &phases, &mut scratch);
            run(&job, &scratch, &mut wide);
            for (wide, dst) in wide
                .chunks_exact(wide_plane)
                .zip(dst.chunks_exact_mut(oh * ow))
            {
                for (wide, dst) in wide.chunks_exact(phases.cols).zip(dst.chunks_exact_mut(ow)) {
                    dst.copy_from_slice(&wide[..ow]);
                }
            }
        }
    }

    /// Copies one image's planes into the phase planes (whose padding stays zero).
    fn pad_into(&self, image: &[f32], phases: &Phases, scratch: &mut [f32]) {
        let (ih, iw) = self.in_hw;
        let s = self.stride;
        let plane_len = phases.rows * phases.cols;
        let channel_len = phases.per_channel * plane_len;
        for (plane, dst) in image
            .chunks_exact(ih * iw)
            .zip(scratch.chunks_exact_mut(channel_len))
        {
            for (y, row) in plane.chunks_exact(iw).enumerate() {
                let r = y + self.pad_top;
                if s == 1 {
                    dst[r * phases.cols + self.pad_left..][..iw].copy_from_slice(row);
                    continue;
                }
                for (x, &v) in row.iter().enumerate() {
                    let c = x + self.pad_left;
                    let phase = (r % s) * s + c % s;
                    dst[phase * plane_len + (r / s) * phases.cols + c / s] = v;
                }
            }
        }
    }
}

impl Op for SpatialConv {
    fn name(&self) -> StaticName {
        "AccelSpatialConv".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!(
            "{} -> {} channels, k{} s{} pad {},{} in {:?} out {:?}{}",
            self.in_channels,
            self.weights.out_channels,
            self.kernel,
            self.stride,
            self.pad_top,
            self.pad_left,
            self.in_hw,
            self.out_hw,
            if self.silu { ", SiLU" } else { "" }
        )])
    }

    fn validation(&self) -> Validation {
        Validation::Rounding
    }

    op_as_typed_op!();
}

impl EvalOp for SpatialConv {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        self.planes()
            .eval("spatial conv", &inputs, |input, output, _| {
                self.run(input, output)
            })
    }
}

impl TypedOp for SpatialConv {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        self.planes().output_fact("spatial conv", inputs[0])
    }

    fn cost(&self, inputs: &[&TypedFact]) -> TractResult<TVec<(Cost, TDim)>> {
        let points = self.out_hw.0 * self.out_hw.1;
        let macs = points * self.weights.taps * self.weights.out_channels;
        let batch = match inputs[0].rank() {
            4 => inputs[0].shape[0].clone(),
            _ => 1.to_dim(),
        };
        Ok(tvec!((Cost::FMA(f32::datum_type()), batch * macs)))
    }

    as_op!();
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Case {
        ci: usize,
        co: usize,
        k: usize,
        stride: usize,
        pad: usize,
        h: usize,
        w: usize,
    }

    /// Direct definition of the convolution with zero padding.
    fn reference(c: &Case, op: &SpatialConv, x: &[f32], wt: &[f32], b: &[f32]) -> Vec<f32> {
        let (oh, ow) = op.out_hw;
        let mut out = vec![0f32; c.co * oh * ow];
        for o in 0..c.co {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc = b[o] as f64;
                    for i in 0..c.ci {
                        for ky in 0..c.k {
                            for kx in 0..c.k {
                                let y = (oy * c.stride + ky) as isize - c.pad as isize;
                                let xx = (ox * c.stride + kx) as isize - c.pad as isize;
                                if y >= 0 && xx >= 0 && (y as usize) < c.h && (xx as usize) < c.w {
                                    acc += wt[((o * c.ci + i) * c.k + ky) * c.k + kx] as f64
                                        * x[(i * c.h + y as usize) * c.w + xx as usize] as f64;
                                }
                            }
                        }
                    }
                    out[(o * oh + oy) * ow + ox] = acc as f32;
                }
            }
        }
        out
    }

    fn check(c: Case) {
        let out = |n: usize| (n + 2 * c.pad - c.k) / c.stride + 1;
        let wt: Vec<f32> = (0..c.co * c.ci * c.k * c.k)
            .map(|i| ((i * 31) % 17) as f32 / 9.0 - 0.9)
            .collect();
        let b: Vec<f32> = (0..c.co).map(|o| o as f32 / 4.0 - 1.0).collect();
        let x: Vec<f32> = (0..c.ci * c.h * c.w)
            .map(|i| ((i * 7919) % 97) as f32 / 23.0 - 2.0)
            .collect();
        let op = SpatialConv {
            in_channels: c.ci,
            kernel: c.k,
            stride: c.stride,
            pad_top: c.pad,
            pad_left: c.pad,
            in_hw: (c.h, c.w),
            out_hw: (out(c.h), out(c.w)),
            weights: Arc::new(PackedWeights::new(c.co, c.ci * c.k * c.k, &wt, &b).unwrap()),
            silu: false,
        };
        let want = reference(&c, &op, &x, &wt, &b);
        let mut fast = vec![f32::NAN; want.len()];
        op.run(&x, &mut fast);
        let mut portable = vec![f32::NAN; want.len()];
        op.run_with(&x, &mut portable, |job, src, dst| {
            job.run_portable(src, dst)
        });
        for (name, got) in [("fast", fast), ("portable", portable)] {
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!(
                    (g - w).abs() <= 1e-4 * w.abs().max(1.0),
                    "{name} {}->{} k{} s{} p{} {}x{} at {i}: {g} vs {w}",
                    c.ci,
                    c.co,
                    c.k,
                    c.stride,
                    c.pad,
                    c.h,
                    c.w
                );
            }
        }
    }

    #[test]
    fn matches_the_definition_for_each_kernel_stride_and_size() {
        for (k, stride, pad) in [
            (3, 1, 1),
            (3, 2, 1),
            (5, 1, 2),
            (3, 1, 0),
            (2, 2, 0),
            (1, 2, 0),
        ] {
            for (h, w) in [(7, 9), (8, 8), (13, 50), (1, 1), (4, 3), (3, 70)] {
                for (ci, co) in [(1, 1), (3, 9), (12, 16)] {
                    if h + 2 * pad >= k && w + 2 * pad >= k {
                        check(Case {
                            ci,
                            co,
                            k,
                            stride,
                            pad,
                            h,
                            w,
                        });
                    }
                }
            }
        }
    }
}
