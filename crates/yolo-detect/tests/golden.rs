//! Accuracy against the onnxruntime reference outputs in `testdata/golden.json`
//! (a copy of the relevant entries of `shared/models/golden.json`).
#![allow(clippy::unwrap_used)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use yolo_detect::{decode_jpeg, BBox, Detector, DetectorConfig, ModelFamily};

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn golden() -> Value {
    let text = std::fs::read_to_string(crate_dir().join("testdata/golden.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// `../shared/models` beside the repository (the project's shared data, not in the repository:
/// the 320-pixel models are 10 to 13 MB each).
fn shared_models() -> PathBuf {
    crate_dir().join("../../../shared/models")
}

#[test]
fn yolox_nano_matches_reference_detections_on_sample_photos() {
    check_yolox(DetectorConfig::default());
}

#[test]
fn yolox_nano_matches_reference_detections_with_tract_alone() {
    check_yolox(DetectorConfig {
        accelerate: false,
        ..DetectorConfig::default()
    });
}

fn check_yolox(config: DetectorConfig) {
    let golden = golden();
    let mut detector = Detector::default_model(config).unwrap();
    assert_eq!(detector.family(), ModelFamily::Yolox);
    assert_eq!(detector.input_size(), (416, 416));
    for (file, reference) in golden["yolox_nano"].as_object().unwrap() {
        let jpeg = std::fs::read(crate_dir().join("testdata").join(file)).unwrap();
        let image = decode_jpeg(&jpeg).unwrap();
        assert_eq!(image.width() as u64, reference["width"].as_u64().unwrap());
        let (found, _) = detector.detect(&image).unwrap();
        let want = reference["detections"].as_array().unwrap();
        assert_eq!(found.len(), want.len(), "{file}: {found:?}");
        for w in want {
            let b: Vec<f32> = w["box_xyxy"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
                .collect();
            let wbox = BBox {
                x1: b[0],
                y1: b[1],
                x2: b[2],
                y2: b[3],
            };
            let class = w["class"].as_str().unwrap();
            let d = found
                .iter()
                .find(|d| d.class_name == class)
                .unwrap_or_else(|| panic!("{file}: no {class} in {found:?}"));
            assert_eq!(d.class_id as u64, w["class_id"].as_u64().unwrap());
            let iou = d.bbox.iou(&wbox);
            let score = w["score"].as_f64().unwrap() as f32;
            println!(
                "{file}: {class} score {:.4} (ref {score:.4}) IoU {iou:.4}",
                d.score
            );
            assert!(
                iou >= 0.9,
                "{file} {class}: IoU {iou} of {:?} vs {wbox:?}",
                d.bbox
            );
            assert!(
                (d.score - score).abs() <= 0.03,
                "{file} {class}: score {} vs {score}",
                d.score
            );
        }
    }
}

/// The deterministic input of the `raw` references: `((7c + 3h + w) mod 256) / 255`.
fn pattern_input(side: usize) -> Vec<f32> {
    (0..3 * side * side)
        .map(|i| {
            let (c, h, w) = (i / (side * side), (i / side) % side, i % side);
            ((7 * c + 3 * h + w) % 256) as f32 / 255.0
        })
        .collect()
}

fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= 1e-4 * want.abs().max(1.0)
}

fn check_raw(model: &Path, reference: &Value) {
    let mut detector = Detector::from_file(model, DetectorConfig::default()).unwrap();
    assert_eq!(detector.family(), ModelFamily::Ultralytics, "{model:?}");
    assert_eq!(detector.class_names()[0], "person");
    assert_eq!(detector.class_names().len(), 80);
    let (w, h) = detector.input_size();
    assert_eq!(w, h);
    let (shape, values) = detector.run_raw(&pattern_input(w as usize)).unwrap();
    let want_shape: Vec<usize> = reference["output_shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    assert_eq!(shape, want_shape, "{model:?}");
    let sum: f64 = values.iter().map(|v| *v as f64).sum();
    let abs_sum: f64 = values.iter().map(|v| v.abs() as f64).sum();
    let (want_sum, want_abs) = (
        reference["sum"].as_f64().unwrap(),
        reference["abs_sum"].as_f64().unwrap(),
    );
    println!("{model:?}: sum {sum} (ref {want_sum}), abs {abs_sum} (ref {want_abs})");
    assert!(close(sum, want_sum), "{model:?}: sum {sum} vs {want_sum}");
    assert!(
        close(abs_sum, want_abs),
        "{model:?}: abs sum {abs_sum} vs {want_abs}"
    );
    for (index, want) in reference["samples"].as_object().unwrap() {
        let got = values[index.parse::<usize>().unwrap()] as f64;
        let want = want.as_f64().unwrap();
        assert!(close(got, want), "{model:?}[{index}]: {got} vs {want}");
    }
}

#[test]
fn tiny_random_ultralytics_graphs_match_reference_outputs() {
    let golden = golden();
    for name in ["yolov8-tiny-random-160.onnx", "yolo11-tiny-random-160.onnx"] {
        check_raw(
            &crate_dir().join("testdata/models").join(name),
            &golden["raw"][name],
        );
    }
}

#[test]
#[ignore = "needs ../shared/models (yolov8n-random-320.onnx, yolo11n-random-320.onnx, \
            golden.json) beside the repository; run with --ignored"]
fn random_320_ultralytics_graphs_match_reference_outputs() {
    let dir = shared_models();
    assert!(
        dir.join("golden.json").exists(),
        "{} not found: this test needs the project's shared models beside the repository",
        dir.display()
    );
    let text = std::fs::read_to_string(dir.join("golden.json")).unwrap();
    let golden: Value = serde_json::from_str(&text).unwrap();
    for name in ["yolov8n-random-320.onnx", "yolo11n-random-320.onnx"] {
        check_raw(&dir.join(name), &golden["raw"][name]);
    }
}
