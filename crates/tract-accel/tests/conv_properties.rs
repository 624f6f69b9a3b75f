//! Property tests: random convolution geometry (batch, channels, sizes, kernel, stride 1 or 2,
//! asymmetric padding, SiLU on or off), wired as a one-convolution tract graph, rewritten by
//! `tract_accel::optimize` and run, against a naive f64 convolution. The report must say the
//! convolution (and the SiLU) were replaced wherever this CPU has the fast paths, so that the
//! crate's ops are what is checked, not tract's.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::cnn::{Conv, KernelFormat, PaddingSpec, PoolSpec};
use tract_onnx::tract_core::ops::element_wise::ElementWiseOp;
use tract_onnx::tract_core::ops::nn::{DataFormat, Silu};

/// One convolution to check.
#[derive(Debug, Clone)]
struct Geometry {
    batch: usize,
    in_channels: usize,
    out_channels: usize,
    /// Depthwise: one group per channel (`out_channels == in_channels`).
    depthwise: bool,
    hw: (usize, usize),
    kernel: usize,
    stride: usize,
    /// Zeros before and after the rows, then before and after the columns.
    pads: [usize; 4],
    silu: bool,
    seed: u64,
}

impl Geometry {
    fn group(&self) -> usize {
        if self.depthwise {
            self.in_channels
        } else {
            1
        }
    }

    fn out_hw(&self) -> (usize, usize) {
        let [top, bottom, left, right] = self.pads;
        let side = |n: usize, before: usize, after: usize| {
            (n + before + after - self.kernel) / self.stride + 1
        };
        (side(self.hw.0, top, bottom), side(self.hw.1, left, right))
    }
}

/// Deterministic values in [-1, 1) (xorshift), so that a failing case replays from its seed.
fn values(seed: u64, n: usize) -> Vec<f32> {
    let mut state = seed | 1;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

struct Data {
    input: Vec<f32>,
    weights: Vec<f32>,
    bias: Vec<f32>,
}

fn data(g: &Geometry) -> Data {
    let (h, w) = g.hw;
    let per_group = g.in_channels / g.group();
    Data {
        input: values(g.seed, g.batch * g.in_channels * h * w),
        weights: values(
            g.seed.wrapping_mul(31).wrapping_add(7),
            g.out_channels * per_group * g.kernel * g.kernel,
        ),
        bias: values(g.seed.wrapping_mul(17).wrapping_add(3), g.out_channels),
    }
}

/// The plain definition, in f64: for each output value, the bias plus every tap inside the
/// image, and the sum of the terms' magnitudes (for the rounding tolerance).
fn reference(g: &Geometry, d: &Data) -> Vec<(f64, f64)> {
    let (h, w) = g.hw;
    let (oh, ow) = g.out_hw();
    let k = g.kernel;
    let per_group = g.in_channels / g.group();
    let outs_per_group = g.out_channels / g.group();
    let mut out = Vec::with_capacity(g.batch * g.out_channels * oh * ow);
    for n in 0..g.batch {
        for o in 0..g.out_channels {
            let first_in = (o / outs_per_group) * per_group;
            for y in 0..oh {
                for x in 0..ow {
                    let mut acc = d.bias[o] as f64;
                    let mut magnitude = acc.abs();
                    for i in 0..per_group {
                        for ky in 0..k {
                            for kx in 0..k {
                                let iy = (y * g.stride + ky) as isize - g.pads[0] as isize;
                                let ix = (x * g.stride + kx) as isize - g.pads[2] as isize;
                                if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                    continue;
                                }
                                let c = first_in + i;
                                let v = d.input
                                    [((n * g.in_channels + c) * h + iy as usize) * w + ix as usize]
                                    as f64;
                                let wt = d.weights[((o * per_group + i) * k + ky) * k + kx] as f64;
                                acc += wt * v;
                                magnitude += (wt * v).abs();
                            }
                        }
                    }
                    if g.silu {
                        acc /= 1.0 + (-acc).exp();
                    }
                    out.push((acc, magnitude));
                }
            }
        }
    }
    out
}

/// The convolution (and SiLU) as a tract graph.
fn model(g: &Geometry, d: &Data) -> TypedModel {
    let (h, w) = g.hw;
    let k = g.kernel;
    let mut model = TypedModel::default();
    let x = model
        .add_source("x", f32::fact([g.batch, g.in_channels, h, w]))
        .unwrap();
    let kernel = Tensor::from_shape(
        &[g.out_channels, g.in_channels / g.group(), k, k],
        &d.weights,
    )
    .unwrap();
    let kernel = model.add_const("kernel", kernel).unwrap();
    let bias = Tensor::from_shape(&[g.out_channels], &d.bias).unwrap();
    let bias = model.add_const("bias", bias).unwrap();
    let [top, bottom, left, right] = g.pads;
    let conv = Conv {
        pool_spec: PoolSpec {
            data_format: DataFormat::NCHW,
            kernel_shape: tvec![k, k],
            padding: PaddingSpec::Explicit(tvec![top, left], tvec![bottom, right]),
            dilations: None,
            strides: Some(tvec![g.stride, g.stride]),
            input_channels: g.in_channels,
            output_channels: g.out_channels,
        },
        kernel_fmt: KernelFormat::OIHW,
        group: g.group(),
        q_params: None,
    };
    let mut y = model.wire_node("conv", conv, &[x, kernel, bias]).unwrap();
    if g.silu {
        y = model
            .wire_node("silu", ElementWiseOp(Box::new(Silu {}), None), &y)
            .unwrap();
    }
    model.select_output_outlets(&y).unwrap();
    model
}

/// Rewrites and runs the graph, checks the report and every output value.
fn check(g: &Geometry) -> Result<(), TestCaseError> {
    let d = data(g);
    let (optimized, report) = tract_accel::optimize(model(g, &d)).unwrap();
    let fast = tract_accel::fast_path_available();
    let (want_dense, want_depthwise) = match (g.depthwise, fast) {
        (true, _) => (0, 1),
        (false, true) => (1, 0),
        (false, false) => (0, 0),
    };
    prop_assert_eq!(report.dense, want_dense, "{:?}", report);
    prop_assert_eq!(report.depthwise, want_depthwise, "{:?}", report);
    prop_assert_eq!(report.silus, usize::from(g.silu && fast), "{:?}", report);
    let (h, w) = g.hw;
    let input = Tensor::from_shape(&[g.batch, g.in_channels, h, w], &d.input).unwrap();
    let out = optimized
        .into_runnable()
        .unwrap()
        .run(tvec!(input.into_tvalue()))
        .unwrap();
    let (oh, ow) = g.out_hw();
    prop_assert_eq!(out[0].shape(), &[g.batch, g.out_channels, oh, ow]);
    let got = out[0].try_as_plain_ram().unwrap();
    let got = got.as_slice::<f32>().unwrap();
    let want = reference(g, &d);
    // FMA and tiling reorder the sums of `taps` products: the classic bound for an f32 sum of
    // n terms is n·u·Σ|term| (u = 2^-24), here with the bias as one more term and SiLU's slope
    // (at most 1.1) on top, plus 1e-6 of the magnitude for the sigmoid fit SiLU uses.
    let taps = (g.in_channels / g.group() * g.kernel * g.kernel + 2) as f64;
    let unit = f64::from(f32::EPSILON) / 2.0;
    for (i, (&got, &(want, magnitude))) in got.iter().zip(&want).enumerate() {
        let tolerance = (taps * unit * 1.1 + 1e-6) * magnitude + 1e-7;
        prop_assert!(
            (got as f64 - want).abs() <= tolerance,
            "at {}: {} vs {} (tolerance {})",
            i,
            got,
            want,
            tolerance
        );
    }
    Ok(())
}

/// Pads before and after, each below the kernel size.
fn pads(kernel: usize) -> impl Strategy<Value = [usize; 4]> {
    [0..kernel, 0..kernel, 0..kernel, 0..kernel]
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 40,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// 1×1 at stride 1 without padding: the pointwise op. Channels cross the 8-row tiles,
    /// points the 16- and 48-wide ones.
    #[test]
    fn pointwise_matches_the_definition(
        batch in 1usize..=2,
        in_channels in 1usize..=24,
        out_channels in 1usize..=20,
        hw in (1usize..=14, 1usize..=14),
        silu: bool,
        seed: u64,
    ) {
        check(&Geometry {
            batch, in_channels, out_channels, depthwise: false, hw,
            kernel: 1, stride: 1, pads: [0; 4], silu, seed,
        })?;
    }

    /// k×k dense convolutions at stride 1 or 2 with any padding: the spatial op.
    #[test]
    fn spatial_matches_the_definition(
        (kernel, pads) in (1usize..=5).prop_flat_map(|k| (Just(k), pads(k))),
        stride in 1usize..=2,
        batch in 1usize..=2,
        in_channels in 1usize..=8,
        out_channels in 1usize..=18,
        extra in (0usize..=14, 0usize..=14),
        silu: bool,
        seed: u64,
    ) {
        prop_assume!(kernel > 1 || stride > 1 || pads != [0; 4]);
        check(&Geometry {
            batch, in_channels, out_channels, depthwise: false,
            hw: (kernel + extra.0, kernel + extra.1),
            kernel, stride, pads, silu, seed,
        })?;
    }

    /// Depthwise convolutions at stride 1 or 2 with any padding: the depthwise op.
    #[test]
    fn depthwise_matches_the_definition(
        (kernel, pads) in (2usize..=5).prop_flat_map(|k| (Just(k), pads(k))),
        stride in 1usize..=2,
        batch in 1usize..=2,
        channels in 2usize..=12,
        extra in (0usize..=20, 0usize..=20),
        silu: bool,
        seed: u64,
    ) {
        check(&Geometry {
            batch, in_channels: channels, out_channels: channels, depthwise: true,
            hw: (kernel + extra.0, kernel + extra.1),
            kernel, stride, pads, silu, seed,
        })?;
    }
}
