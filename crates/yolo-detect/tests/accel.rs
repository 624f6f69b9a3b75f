//! tract-accel on the models this crate ships: every rewrite applies where expected, and the
//! rewritten graphs compute what tract computes by itself.
#![cfg(feature = "accel")]
#![allow(clippy::unwrap_used)]

use tract_accel::{optimize, optimize_with, Report, Rewrites};
use tract_onnx::prelude::*;

/// A model typed at a `side`×`side` input.
fn typed(onnx: &[u8], side: usize) -> TypedModel {
    tract_onnx::onnx()
        .model_for_read(&mut &onnx[..])
        .unwrap()
        .with_input_fact(
            0,
            InferenceFact::dt_shape(f32::datum_type(), [1, 3, side, side]),
        )
        .unwrap()
        .into_typed()
        .unwrap()
}

/// Largest relative difference between the first outputs of `a` (tract alone) and `b`
/// (optimised already) on one fixed input.
fn worst_difference(a: TypedModel, b: TypedModel, side: usize) -> f32 {
    let input: Vec<f32> = (0..3 * side * side)
        .map(|i| ((i * 7919) % 256) as f32)
        .collect();
    let input = Tensor::from_shape(&[1, 3, side, side], &input).unwrap();
    let run = |m: TypedModel| {
        let out = m
            .into_runnable()
            .unwrap()
            .run(tvec!(input.clone().into_tvalue()))
            .unwrap();
        out[0]
            .try_as_plain_ram()
            .unwrap()
            .as_slice::<f32>()
            .unwrap()
            .to_vec()
    };
    let (a, b) = (run(a.into_optimized().unwrap()), run(b));
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs() / x.abs().max(1.0))
        .fold(0.0, f32::max)
}

#[test]
fn every_rewrite_applies_to_yolox_nano_with_the_same_output() {
    let model = typed(yolo_detect::YOLOX_NANO_ONNX, 416);
    let (fixed, report) = optimize(model.clone()).unwrap();
    let fast = tract_accel::fast_path_available();
    let want = Report {
        cascaded_pools: 3,
        // 82 pointwise convolutions and the stem's 3×3 one.
        dense: if fast { 83 } else { 0 },
        depthwise: 30,
        max_pools: 3,
        space_to_depth: 1,
        // Every SiLU of the model follows one of the three convolution ops.
        silus: if fast { 104 } else { 0 },
        softmaxes: 0,
    };
    assert_eq!(report, want);
    let worst = worst_difference(model, fixed, 416);
    assert!(worst < 1e-4, "outputs differ by {worst}");
}

#[test]
fn pools_and_focus_alone_give_identical_output() {
    let model = typed(yolo_detect::YOLOX_NANO_ONNX, 416);
    let only = Rewrites {
        max_pools: true,
        space_to_depth: true,
        ..Rewrites::NONE
    };
    let (fixed, report) = optimize_with(model.clone(), only).unwrap();
    assert_eq!((report.max_pools, report.space_to_depth), (3, 1));
    assert_eq!(report.total(), 4);
    let worst = worst_difference(model, fixed, 416);
    assert!(worst == 0.0, "outputs differ by {worst}");
}

#[test]
fn dfl_softmax_of_an_ultralytics_head_is_moved_to_the_last_axis() {
    let onnx = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/models/yolov8-tiny-random-160.onnx"
    ))
    .unwrap();
    let model = typed(&onnx, 160);
    // Its outputs are checked against onnxruntime's in tests/golden.rs.
    let (_, report) = optimize(model).unwrap();
    assert_eq!(report.softmaxes, 1);
}
