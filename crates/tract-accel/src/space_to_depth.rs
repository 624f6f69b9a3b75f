//! YOLOX's "Focus" slicing as one op: the image's even and odd rows and columns, stacked as
//! channels, in a single pass.
//!
//! The exported YOLOX graph does it as six strided slices and a concatenation
//! (`x[..., ::2, ::2]`, `x[..., 1::2, ::2]`, `x[..., ::2, 1::2]`, `x[..., 1::2, 1::2]`), which tract
//! 0.23 runs as six `Downsample` passes (0.63 ms of an 8.56 ms YOLOX-Nano run on this project's
//! machine) and a `Concat`, to move 2 MB. This op reads each input row once and writes each
//! output value once.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;

use crate::nchw::Planes;

/// Stacks `parts` phase planes of each of `channels` input planes of `in_hw`: output channel
/// `p · channels + c` holds `in[c][2y + row][2x + column]` for `(row, column) = parts[p]`.
/// Built by [`use_space_to_depth`](crate::graph_fixes::use_space_to_depth). Input at eval:
/// `[N, C, H, W]` or `[C, H, W]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SpaceToDepth {
    pub(crate) channels: usize,
    pub(crate) in_hw: (usize, usize),
    /// Row and column offset (0 or 1) of each part, in output order.
    pub(crate) parts: Vec<(usize, usize)>,
}

impl SpaceToDepth {
    fn planes(&self) -> Planes {
        Planes {
            in_channels: Some(self.channels),
            in_hw: Some(self.in_hw),
            out_channels: Some(self.channels * self.parts.len()),
            out_hw: Some(self.out_hw()),
        }
    }

    /// Output plane size: every part must have the same, so both sides are even here.
    pub(crate) fn out_hw(&self) -> (usize, usize) {
        (self.in_hw.0 / 2, self.in_hw.1 / 2)
    }

    /// Rearranges whole images of `input` into `output`.
    pub(crate) fn run(&self, input: &[f32], output: &mut [f32]) {
        let (h, w) = self.in_hw;
        let (oh, ow) = self.out_hw();
        let plane = oh * ow;
        let image_in = self.channels * h * w;
        let image_out = self.parts.len() * self.channels * plane;
        if image_in == 0 || image_out == 0 {
            return;
        }
        // The even columns of a row, while its odd ones go straight to their part.
        let mut evens = vec![0f32; ow];
        for (src, dst) in input
            .chunks_exact(image_in)
            .zip(output.chunks_exact_mut(image_out))
        {
            for (c, channel) in src.chunks_exact(h * w).enumerate() {
                // Each input row goes once to the two parts that take its parity's even and odd
                // columns (or to the one part that does, or to none).
                for (r, in_row) in channel.chunks_exact(w).enumerate() {
                    let (y, row) = (r / 2, r % 2);
                    let target = |column: usize| {
                        let p = self.parts.iter().position(|&part| part == (row, column))?;
                        Some((p * self.channels + c) * plane + y * ow)
                    };
                    let (even, odd) = (target(0), target(1));
                    match (even, odd) {
                        (Some(e), Some(o)) => {
                            for ((e, d), pair) in evens
                                .iter_mut()
                                .zip(&mut dst[o..o + ow])
                                .zip(in_row.chunks_exact(2))
                            {
                                *e = pair[0];
                                *d = pair[1];
                            }
                            dst[e..e + ow].copy_from_slice(&evens);
                        }
                        (Some(start), None) | (None, Some(start)) => {
                            let column = usize::from(even.is_none());
                            let out = &mut dst[start..start + ow];
                            for (d, pair) in out.iter_mut().zip(in_row.chunks_exact(2)) {
                                *d = pair[column];
                            }
                        }
                        (None, None) => {}
                    }
                }
            }
        }
    }
}

impl Op for SpaceToDepth {
    fn name(&self) -> StaticName {
        "AccelSpaceToDepth".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!(
            "{} channels of {:?}, parts {:?}",
            self.channels, self.in_hw, self.parts
        )])
    }

    op_as_typed_op!();
}

impl EvalOp for SpaceToDepth {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        self.planes()
            .eval("space to depth", &inputs, |input, output, _| {
                self.run(input, output)
            })
    }
}

impl TypedOp for SpaceToDepth {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        self.planes().output_fact("space to depth", inputs[0])
    }

    as_op!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stacks_the_phases_in_the_order_given() {
        check(vec![(0, 0), (1, 0), (0, 1), (1, 1)]);
        check(vec![(1, 1), (0, 0)]);
        check(vec![(0, 1)]);
    }

    fn check(parts: Vec<(usize, usize)>) {
        let op = SpaceToDepth {
            channels: 2,
            in_hw: (4, 6),
            parts,
        };
        let input: Vec<f32> = (0..2 * 4 * 6).map(|i| i as f32).collect();
        let mut got = vec![f32::NAN; 2 * op.parts.len() * 2 * 3];
        op.run(&input, &mut got);
        let (oh, ow) = op.out_hw();
        for (p, &(row, column)) in op.parts.iter().enumerate() {
            for c in 0..2 {
                for y in 0..oh {
                    for x in 0..ow {
                        let want = input[(c * 4 + 2 * y + row) * 6 + 2 * x + column];
                        let at = ((p * 2 + c) * oh + y) * ow + x;
                        assert_eq!(got[at], want, "{:?}", op.parts);
                    }
                }
            }
        }
    }
}
