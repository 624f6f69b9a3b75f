//! A "same" max pool at stride 1 (the SPP / SPPF pools of YOLOX, YOLOv5 and YOLOv8) for NCHW
//! `f32` graphs, swapped in for tract's own.
//!
//! tract 0.23's `OptMaxPool` took 0.44 ms for YOLOX-Nano's three 5×5 pools over
//! 128 × 13 × 13 values, 5 % of the whole run. A k×k max is the max over k rows of the max over k
//! columns, so this op runs two passes of k-wide maxima over contiguous slices (2k comparisons
//! per value instead of k²), and never reads padding: a window clipped by an edge takes the
//! maximum of the values it covers, as ONNX's `MaxPool` does with its `-inf` padding.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;

use crate::nchw::Planes;

/// A square `kernel`-wide max pool (odd kernel) at stride 1 with `kernel / 2` padding on every
/// side, over planes of `hw`. Built by
/// [`use_fast_max_pools`](crate::graph_fixes::use_fast_max_pools). Input at eval:
/// `[N, C, H, W]` or `[C, H, W]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SameMaxPool {
    pub(crate) kernel: usize,
    pub(crate) hw: (usize, usize),
}

impl SameMaxPool {
    fn planes(&self) -> Planes {
        Planes {
            in_hw: Some(self.hw),
            ..Planes::default()
        }
    }

    /// Pools every plane of `input` into `output` (same length, whole planes of `hw`).
    pub(crate) fn run(&self, input: &[f32], output: &mut [f32]) {
        let (h, w) = self.hw;
        if h == 0 || w == 0 {
            return;
        }
        let mut rows = vec![0f32; h * w];
        for (plane, out) in input
            .chunks_exact(h * w)
            .zip(output.chunks_exact_mut(h * w))
        {
            for (src, dst) in plane.chunks_exact(w).zip(rows.chunks_exact_mut(w)) {
                self.max_along_row(src, dst);
            }
            for y in 0..h {
                let (top, bottom) = self.window(y, h);
                let dst = &mut out[y * w..][..w];
                dst.copy_from_slice(&rows[top * w..][..w]);
                for row in rows[(top + 1) * w..bottom * w].chunks_exact(w) {
                    for (d, &v) in dst.iter_mut().zip(row) {
                        *d = d.max(v);
                    }
                }
            }
        }
    }

    /// The rows (or columns) `start..end` the window around `i` covers in a side of `len`.
    fn window(&self, i: usize, len: usize) -> (usize, usize) {
        let half = self.kernel / 2;
        (i.saturating_sub(half), (i + half + 1).min(len))
    }

    /// `dst[x]` = the maximum of `src` over the window around `x`.
    fn max_along_row(&self, src: &[f32], dst: &mut [f32]) {
        let w = src.len();
        let half = self.kernel / 2;
        if w <= 2 * half {
            for (x, d) in dst.iter_mut().enumerate() {
                let (a, b) = self.window(x, w);
                *d = src[a..b].iter().copied().fold(f32::NEG_INFINITY, f32::max);
            }
            return;
        }
        // Interior: the max of `kernel` shifted slices, which the compiler vectorises.
        let interior = &mut dst[half..w - half];
        interior.copy_from_slice(&src[..w - 2 * half]);
        for shift in 1..self.kernel {
            for (d, &v) in interior.iter_mut().zip(&src[shift..]) {
                *d = d.max(v);
            }
        }
        for x in (0..half).chain(w - half..w) {
            let (a, b) = self.window(x, w);
            dst[x] = src[a..b].iter().copied().fold(f32::NEG_INFINITY, f32::max);
        }
    }
}

impl Op for SameMaxPool {
    fn name(&self) -> StaticName {
        "AccelSameMaxPool".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!("k{} over {:?}", self.kernel, self.hw)])
    }

    op_as_typed_op!();
}

impl EvalOp for SameMaxPool {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        self.planes().eval("max pool", &inputs, |input, output, _| {
            self.run(input, output)
        })
    }
}

impl TypedOp for SameMaxPool {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        self.planes().output_fact("max pool", inputs[0])
    }

    as_op!();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct definition: the max over the clipped k×k window.
    fn reference(op: &SameMaxPool, plane: &[f32]) -> Vec<f32> {
        let (h, w) = op.hw;
        let mut out = vec![0f32; h * w];
        for y in 0..h {
            for x in 0..w {
                let (top, bottom) = op.window(y, h);
                let (left, right) = op.window(x, w);
                out[y * w + x] = (top..bottom)
                    .flat_map(|yy| (left..right).map(move |xx| (yy, xx)))
                    .map(|(yy, xx)| plane[yy * w + xx])
                    .fold(f32::NEG_INFINITY, f32::max);
            }
        }
        out
    }

    #[test]
    fn matches_the_definition_for_each_kernel_and_size() {
        for kernel in [1, 3, 5, 9, 13] {
            for (h, w) in [(13, 13), (1, 1), (2, 7), (20, 3), (6, 40)] {
                let op = SameMaxPool { kernel, hw: (h, w) };
                let input: Vec<f32> = (0..2 * h * w)
                    .map(|i| ((i * 7919) % 101) as f32 - 50.0)
                    .collect();
                let mut got = vec![f32::NAN; input.len()];
                op.run(&input, &mut got);
                let mut want = reference(&op, &input[..h * w]);
                want.extend(reference(&op, &input[h * w..]));
                assert_eq!(got, want, "k{kernel} {h}x{w}");
            }
        }
    }
}
