//! A depthwise convolution op for NCHW `f32` graphs, swapped in for tract's own.
//!
//! YOLOX-Nano spends about a quarter of its tract 0.23 run in `DepthWiseConv` (30 nodes,
//! ≈5.8 ms of 22 ms; see `docs/benchmarks.md`). Those are small square kernels (3×3) at stride
//! 1 or 2, where the work is a few multiply-adds per output point and the cost is in walking the
//! patch geometry. This op pads each channel plane once into a scratch buffer (split into even
//! and odd columns at stride 2), then accumulates whole output rows from contiguous input rows,
//! a loop the compiler vectorises (with AVX2 and FMA where the CPU has them, chosen at run time).

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;

use crate::conv_tiles;
use crate::nchw::Planes;

/// Geometry of one depthwise convolution, built by
/// [`use_fast_depthwise`](crate::graph_fixes::use_fast_depthwise): `channels` planes of
/// `in_h × in_w`, a square `kernel` at `stride` (1 or 2), `pad_top`/`pad_left` zeros before
/// the data (the zeros after it are implied by the output size). Inputs at eval: data
/// `[N, C, H, W]` or `[C, H, W]`, kernel with `C·k·k` values (`[C, 1, k, k]`), bias with `C`
/// values (or one for all).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DepthwiseConv {
    /// Number of channels (= groups).
    pub(crate) channels: usize,
    /// Side of the square kernel.
    pub(crate) kernel: usize,
    /// Stride on both axes: 1 or 2.
    pub(crate) stride: usize,
    /// Zero rows above the data.
    pub(crate) pad_top: usize,
    /// Zero columns left of the data.
    pub(crate) pad_left: usize,
    /// Input height and width.
    pub(crate) in_hw: (usize, usize),
    /// Output height and width.
    pub(crate) out_hw: (usize, usize),
    /// Whether SiLU (`x · sigmoid(x)`, as [`fuse_silu`](crate::graph_fixes::fuse_silu) folds
    /// it in) follows the bias.
    pub(crate) silu: bool,
}

impl DepthwiseConv {
    /// Padded plane geometry: (rows, columns) covering every tap of every output point.
    fn padded_hw(&self) -> (usize, usize) {
        let (ih, iw) = self.in_hw;
        let (oh, ow) = self.out_hw;
        let rows = (self.pad_top + ih).max((oh - 1) * self.stride + self.kernel);
        let cols = (self.pad_left + iw).max((ow - 1) * self.stride + self.kernel);
        (rows, cols)
    }

    /// Runs the convolution on plain slices (`input` is `[N, C, H, W]` or `[C, H, W]`; the
    /// caller checks the lengths, as `eval` does).
    pub(crate) fn run(&self, input: &[f32], kernel: &[f32], bias: &[f32], output: &mut [f32]) {
        let (ih, iw) = self.in_hw;
        let (oh, ow) = self.out_hw;
        if oh == 0 || ow == 0 || ih == 0 || iw == 0 {
            return;
        }
        let (ph, pw) = self.padded_hw();
        let k = self.kernel;
        // Stride 2 keeps even and odd padded columns apart, so every tap reads a contiguous run.
        let half = pw.div_ceil(2);
        let row_len = if self.stride == 2 { 2 * half } else { pw };
        let mut padded = vec![0f32; ph * row_len];
        // One padded row before it is split into even and odd columns (stride 2).
        let mut line = vec![0f32; row_len];
        let planes = input.len() / (ih * iw).max(1);
        for plane_index in 0..planes {
            let c = plane_index % self.channels;
            let src = &input[plane_index * ih * iw..][..ih * iw];
            for (y, row) in src.chunks_exact(iw).enumerate() {
                let dst = &mut padded[(y + self.pad_top) * row_len..][..row_len];
                if self.stride == 2 {
                    line[self.pad_left..][..iw].copy_from_slice(row);
                    let (even, odd) = dst.split_at_mut(half);
                    for ((e, o), pair) in even.iter_mut().zip(odd).zip(line.chunks_exact(2)) {
                        *e = pair[0];
                        *o = pair[1];
                    }
                } else {
                    dst[self.pad_left..][..iw].copy_from_slice(row);
                }
            }
            let plane = Plane {
                padded: &padded,
                row_len,
                half,
                stride: self.stride,
                taps: &kernel[c * k * k..][..k * k],
                k,
                bias: bias[c % bias.len()],
            };
            let out = &mut output[plane_index * oh * ow..][..oh * ow];
            plane.accumulate(out, ow);
            if self.silu {
                conv_tiles::silu_in_place(out);
            }
        }
    }
}

/// One padded channel plane and its filter.
#[derive(Clone, Copy)]
struct Plane<'a> {
    /// Rows of `row_len` values (at stride 2: `half` even columns, then the odd ones).
    padded: &'a [f32],
    row_len: usize,
    half: usize,
    stride: usize,
    /// `k × k` weights, row-major.
    taps: &'a [f32],
    k: usize,
    bias: f32,
}

impl Plane<'_> {
    /// Fills `out` (rows of `ow`) with the bias plus the taps over the padded plane.
    fn accumulate(&self, out: &mut [f32], ow: usize) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            #[allow(unsafe_code)]
            // SAFETY: the CPU has AVX2 and FMA, checked just above.
            unsafe {
                self.accumulate_avx2(out, ow)
            };
            return;
        }
        self.accumulate_rows::<false>(out, ow)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn accumulate_avx2(&self, out: &mut [f32], ow: usize) {
        self.accumulate_rows::<true>(out, ow)
    }

    /// The row loop. `FMA` selects fused multiply-adds (only where the CPU has them: without,
    /// a fused multiply-add is a slow library call).
    #[inline(always)]
    fn accumulate_rows<const FMA: bool>(&self, out: &mut [f32], ow: usize) {
        let Plane {
            padded,
            row_len,
            half,
            stride,
            taps,
            k,
            bias,
        } = *self;
        for (oy, out_row) in out.chunks_exact_mut(ow).enumerate() {
            out_row.fill(bias);
            for ky in 0..k {
                let row = &padded[(oy * stride + ky) * row_len..][..row_len];
                let w = &taps[ky * k..][..k];
                if stride == 1 && k == 3 {
                    let (a, b, c) = (&row[..ow], &row[1..ow + 1], &row[2..ow + 2]);
                    for (((o, &a), &b), &c) in out_row.iter_mut().zip(a).zip(b).zip(c) {
                        *o = mac::<FMA>(w[2], c, mac::<FMA>(w[1], b, mac::<FMA>(w[0], a, *o)));
                    }
                } else if stride == 2 && k == 3 {
                    let (even, odd) = row.split_at(half);
                    let (a, b, c) = (&even[..ow], &odd[..ow], &even[1..ow + 1]);
                    for (((o, &a), &b), &c) in out_row.iter_mut().zip(a).zip(b).zip(c) {
                        *o = mac::<FMA>(w[2], c, mac::<FMA>(w[1], b, mac::<FMA>(w[0], a, *o)));
                    }
                } else {
                    for (kx, &wk) in w.iter().enumerate() {
                        let src: &[f32] = if stride == 2 {
                            let (even, odd) = row.split_at(half);
                            if kx % 2 == 0 {
                                &even[kx / 2..][..ow]
                            } else {
                                &odd[kx / 2..][..ow]
                            }
                        } else {
                            &row[kx..][..ow]
                        };
                        for (o, &x) in out_row.iter_mut().zip(src) {
                            *o = mac::<FMA>(wk, x, *o);
                        }
                    }
                }
            }
        }
    }
}

#[inline(always)]
fn mac<const FMA: bool>(w: f32, x: f32, acc: f32) -> f32 {
    if FMA {
        w.mul_add(x, acc)
    } else {
        w * x + acc
    }
}

impl Op for DepthwiseConv {
    fn name(&self) -> StaticName {
        "AccelDepthwiseConv".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!(
            "{}ch k{} s{} pad {},{} in {:?} out {:?}{}",
            self.channels,
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

impl EvalOp for DepthwiseConv {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let [data, kernel, bias] = &*inputs else {
            bail!("depthwise conv takes data, kernel and bias");
        };
        let shape = data.shape();
        let rank = shape.len();
        ensure!(
            (3..=4).contains(&rank)
                && shape[rank - 3] == self.channels
                && (shape[rank - 2], shape[rank - 1]) == self.in_hw,
            "depthwise conv: input shape {shape:?} does not match {self:?}"
        );
        let data = data.try_as_plain_ram()?;
        let kernel = kernel.try_as_plain_ram()?;
        let bias = bias.try_as_plain_ram()?;
        let (kernel, bias) = (kernel.as_slice::<f32>()?, bias.as_slice::<f32>()?);
        ensure!(kernel.len() == self.channels * self.kernel * self.kernel);
        ensure!(bias.len() == self.channels || bias.len() == 1);
        let mut out_shape: TVec<usize> = shape.into();
        out_shape[rank - 2] = self.out_hw.0;
        out_shape[rank - 1] = self.out_hw.1;
        let mut output = Tensor::zero::<f32>(&out_shape)?;
        self.run(
            data.as_slice::<f32>()?,
            kernel,
            bias,
            output.try_as_plain_ram_mut()?.as_slice_mut::<f32>()?,
        );
        Ok(tvec!(output.into_tvalue()))
    }
}

impl TypedOp for DepthwiseConv {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let planes = Planes {
            out_hw: Some(self.out_hw),
            ..Planes::default()
        };
        planes.output_fact("depthwise conv", inputs[0])
    }

    fn cost(&self, inputs: &[&TypedFact]) -> TractResult<TVec<(Cost, TDim)>> {
        let points = self.channels * self.out_hw.0 * self.out_hw.1 * self.kernel * self.kernel;
        let batch = match inputs[0].rank() {
            4 => inputs[0].shape[0].clone(),
            _ => 1.to_dim(),
        };
        Ok(tvec!((Cost::FMA(f32::datum_type()), batch * points)))
    }

    as_op!();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct definition of a depthwise convolution with zero padding.
    fn reference(op: &DepthwiseConv, input: &[f32], kernel: &[f32], bias: &[f32]) -> Vec<f32> {
        let (ih, iw) = op.in_hw;
        let (oh, ow) = op.out_hw;
        let k = op.kernel;
        let planes = input.len() / (ih * iw);
        let mut out = vec![0f32; planes * oh * ow];
        for p in 0..planes {
            let c = p % op.channels;
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc = bias[c] as f64;
                    for ky in 0..k {
                        for kx in 0..k {
                            let y = (oy * op.stride + ky) as isize - op.pad_top as isize;
                            let x = (ox * op.stride + kx) as isize - op.pad_left as isize;
                            if y >= 0 && x >= 0 && (y as usize) < ih && (x as usize) < iw {
                                acc += kernel[c * k * k + ky * k + kx] as f64
                                    * input[p * ih * iw + y as usize * iw + x as usize] as f64;
                            }
                        }
                    }
                    out[p * oh * ow + oy * ow + ox] = acc as f32;
                }
            }
        }
        out
    }

    fn check(kernel: usize, stride: usize, pad: usize, ih: usize, iw: usize) {
        let out = |i: usize| (i + 2 * pad - kernel) / stride + 1;
        let op = DepthwiseConv {
            channels: 3,
            kernel,
            stride,
            pad_top: pad,
            pad_left: pad,
            in_hw: (ih, iw),
            out_hw: (out(ih), out(iw)),
            silu: false,
        };
        let input: Vec<f32> = (0..2 * 3 * ih * iw)
            .map(|i| ((i * 7919) % 97) as f32 / 13.0 - 3.0)
            .collect();
        let weights: Vec<f32> = (0..3 * kernel * kernel)
            .map(|i| ((i * 31) % 17) as f32 / 7.0 - 1.0)
            .collect();
        let bias = [0.5, -1.0, 2.0];
        let mut got = vec![f32::NAN; 2 * 3 * op.out_hw.0 * op.out_hw.1];
        op.run(&input, &weights, &bias, &mut got);
        let want = reference(&op, &input, &weights, &bias);
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(
                (g - w).abs() <= 1e-4 * w.abs().max(1.0),
                "{op:?} at {i}: {g} vs {w}"
            );
        }
    }

    #[test]
    fn matches_the_definition_for_each_kernel_stride_and_size() {
        for (k, s, p) in [
            (3, 1, 1),
            (3, 2, 1),
            (5, 1, 2),
            (5, 2, 2),
            (3, 1, 0),
            (1, 1, 0),
        ] {
            for (h, w) in [(7, 9), (8, 8), (13, 5), (1, 1), (3, 3)] {
                if h + 2 * p >= k && w + 2 * p >= k {
                    check(k, s, p, h, w);
                }
            }
        }
    }

    #[test]
    fn fused_silu_is_the_silu_of_the_plain_output() {
        let mut op = DepthwiseConv {
            channels: 2,
            kernel: 3,
            stride: 1,
            pad_top: 1,
            pad_left: 1,
            in_hw: (5, 37),
            out_hw: (5, 37),
            silu: false,
        };
        let input: Vec<f32> = (0..2 * 5 * 37)
            .map(|i| ((i * 7919) % 97) as f32 / 5.0 - 9.0)
            .collect();
        let weights: Vec<f32> = (0..18).map(|i| i as f32 / 4.0 - 2.0).collect();
        let mut plain = vec![0f32; input.len()];
        op.run(&input, &weights, &[0.5, -1.0], &mut plain);
        op.silu = true;
        let mut fused = vec![0f32; input.len()];
        op.run(&input, &weights, &[0.5, -1.0], &mut fused);
        for (p, f) in plain.iter().zip(&fused) {
            // The AVX2 path uses tract's FMA fit of the sigmoid, 1e-6 away from this one.
            let want = conv_tiles::silu(*p);
            assert!(
                (f - want).abs() <= 1e-5 * want.abs().max(1.0),
                "{f} vs silu({p}) = {want}"
            );
        }
    }
}
