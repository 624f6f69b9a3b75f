//! Runs the detector on an image file and prints what it finds.
//!
//! ```text
//! cargo run --release -p yolo-detect --example detect_image -- photo.jpg [--model m.onnx] [--out annotated.jpg]
//! ```
//!
//! Without `--model` the embedded YOLOX-Nano is used. Any format the `image` crate reads with
//! its enabled features (JPEG, PNG) is accepted.
#![allow(clippy::unwrap_used)]

use std::error::Error;
use yolo_detect::{draw_detections, encode_jpeg, Detector, DetectorConfig};

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let (mut image_path, mut model, mut out) = (None, None, None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--model" => model = args.next(),
            "--out" => out = args.next(),
            _ => image_path = Some(arg),
        }
    }
    let Some(image_path) = image_path else {
        eprintln!("usage: detect_image IMAGE [--model MODEL.onnx] [--out ANNOTATED.jpg]");
        std::process::exit(2);
    };
    let config = DetectorConfig::default();
    let mut detector = match model {
        Some(path) => Detector::from_file(path, config)?,
        None => Detector::default_model(config)?,
    };
    println!(
        "model {} ({}), input {:?}, {} classes",
        detector.model_name(),
        detector.family(),
        detector.input_size(),
        detector.class_names().len()
    );
    let mut image = image::open(&image_path)?.to_rgb8();
    let (detections, timings) = detector.detect(&image)?;
    for d in &detections {
        let b = d.bbox;
        println!(
            "{:>14} {:.3}  [{:.1}, {:.1}, {:.1}, {:.1}]",
            d.class_name, d.score, b.x1, b.y1, b.x2, b.y2
        );
    }
    println!("{}", serde_json::to_string(&timings)?);
    if let Some(out) = out {
        draw_detections(&mut image, &detections);
        let mut jpeg = Vec::new();
        encode_jpeg(&image, 85, &mut jpeg)?;
        std::fs::write(&out, jpeg)?;
        println!("annotated image written to {out}");
    }
    Ok(())
}
