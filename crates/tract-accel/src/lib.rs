//! Faster operators for [tract](https://github.com/sonos/tract) 0.23 `f32` NCHW graphs,
//! swapped in by rewriting a [`TypedModel`](tract_onnx::prelude::TypedModel).
//!
//! [`optimize`] is the entry point: it takes a typed model with concrete input shapes (what
//! `InferenceModel::into_typed` gives once the input facts are set), replaces the operators
//! tract 0.23 runs slowly by this crate's own, optimises the model with tract, and returns it
//! with a [`Report`] of what it replaced:
//!
//! - dense convolutions (one group, square kernel, stride 1 or 2, constant weights): 1×1 ones as
//!   a register-tiled matrix product that reads the NCHW planes without packing, k×k ones over
//!   padded planes, each with its bias and a following SiLU fused in;
//! - depthwise convolutions (one channel per group, square kernel, stride 1 or 2), SiLU fused;
//! - stride-1 "same" max pools (9×9 and 13×13 ones first become chains of 5×5 pools);
//! - a concatenation of stride-2 row and column slices (YOLOX's "Focus") as one space-to-depth;
//! - single-axis softmaxes moved to the last axis, where tract vectorises them.
//!
//! The convolution kernels use AVX-512F or AVX2 + FMA, chosen at run time;
//! `TRACT_CPU_ISA=-avx512f` (tract-linalg's knob) takes AVX-512 away from this crate as from
//! tract. On CPUs with neither ([`fast_path_available`] is false) the dense convolution and
//! SiLU rewrites stay off and tract's own kernels run. Results equal tract's up to the rounding
//! order of the multiply-adds.
//!
//! ```
//! use tract_onnx::prelude::*;
//! use tract_onnx::tract_core::ops::cnn::{Conv, KernelFormat, PaddingSpec, PoolSpec};
//! use tract_onnx::tract_core::ops::nn::DataFormat;
//!
//! // A 3×3 convolution, 4 → 8 channels, "same" padding, on a 1×4×16×16 input.
//! let mut model = TypedModel::default();
//! let x = model.add_source("x", f32::fact([1, 4, 16, 16]))?;
//! let kernel = model.add_const("k", Tensor::zero::<f32>(&[8, 4, 3, 3])?)?;
//! let bias = model.add_const("b", Tensor::zero::<f32>(&[8])?)?;
//! let conv = Conv {
//!     pool_spec: PoolSpec {
//!         data_format: DataFormat::NCHW,
//!         kernel_shape: tvec![3, 3],
//!         padding: PaddingSpec::Explicit(tvec![1, 1], tvec![1, 1]),
//!         dilations: None,
//!         strides: None,
//!         input_channels: 4,
//!         output_channels: 8,
//!     },
//!     kernel_fmt: KernelFormat::OIHW,
//!     group: 1,
//!     q_params: None,
//! };
//! let y = model.wire_node("conv", conv, &[x, kernel, bias])?;
//! model.select_output_outlets(&y)?;
//!
//! let (model, report) = tract_accel::optimize(model)?;
//! let expected = usize::from(tract_accel::fast_path_available());
//! assert_eq!(report.dense, expected);
//! let out = model.into_runnable()?.run(tvec!(Tensor::zero::<f32>(&[1, 4, 16, 16])?.into()))?;
//! assert_eq!(out[0].shape(), &[1, 8, 16, 16]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`optimize_with`] applies only some of the rewrites, to compare them one by one.
#![allow(
    unsafe_code,
    reason = "the AVX-512F and AVX2 kernels use intrinsics; every unsafe block says why it is sound"
)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod conv_tiles;
mod depthwise;
mod error;
mod graph_fixes;
mod max_pool;
mod nchw;
mod pointwise;
mod space_to_depth;
mod spatial_conv;

pub use error::{AccelError, BoxError, ErrorKind};
pub use graph_fixes::{optimize, optimize_with, Report, Rewrites};

/// Whether this CPU runs the fast convolution paths (AVX-512F, or AVX2 and FMA, minus what
/// `TRACT_CPU_ISA` takes away). Without them [`optimize`] leaves dense convolutions and SiLUs to
/// tract, which is then faster.
pub fn fast_path_available() -> bool {
    conv_tiles::fast_path_available()
}
