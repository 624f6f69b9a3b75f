//! Bad and odd input: errors or empty results, never a panic.
#![allow(clippy::unwrap_used)]

use image::RgbImage;
use yolo_detect::{Detector, DetectorConfig, ErrorKind};

fn detector() -> Detector {
    Detector::default_model(DetectorConfig::default()).unwrap()
}

#[test]
fn garbage_and_truncated_jpegs_are_bad_input_errors_or_decoded_leniently() {
    let mut d = detector();
    let jpeg = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/chelsea.jpg")).unwrap();
    for bad in [
        &b""[..],
        b"\xFF\xD8\xFF",
        b"garbage bytes, not a JPEG at all",
    ] {
        assert_eq!(d.process_jpeg(bad).unwrap_err().kind(), ErrorKind::BadInput);
    }
    // Cut anywhere: a clear error, or a lenient decode of what is there.
    for cut in [10, 100, 1000, jpeg.len() / 2, jpeg.len() - 2] {
        match d.process_jpeg(&jpeg[..cut]) {
            Ok(a) => assert_eq!((a.width, a.height), (451, 300)),
            Err(e) => assert_eq!(e.kind(), ErrorKind::BadInput, "cut {cut}: {e}"),
        }
    }
    // Still works afterwards.
    let a = d.process_jpeg(&jpeg).unwrap();
    assert_eq!(a.detections[0].class_name, "cat");
}

#[test]
fn tiny_extreme_and_empty_images() {
    let mut d = detector();
    for (w, h) in [(1, 1), (4000, 1), (1, 3000), (3, 2)] {
        let (found, _) = d
            .detect(&RgbImage::from_pixel(w, h, image::Rgb([90, 90, 90])))
            .unwrap();
        for f in found {
            assert!(f.bbox.x1 >= 0.0 && f.bbox.x2 <= w as f32 && f.bbox.y2 <= h as f32);
        }
    }
    assert_eq!(
        d.detect(&RgbImage::new(0, 10)).unwrap_err().kind(),
        ErrorKind::BadInput
    );
}

#[test]
fn thresholds_and_max_detections_are_honoured() {
    let jpeg = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/coffee.jpg")).unwrap();
    let mut strict = Detector::default_model(DetectorConfig {
        confidence: 0.8,
        ..Default::default()
    })
    .unwrap();
    let a = strict.process_jpeg(&jpeg).unwrap();
    assert!(a.detections.iter().all(|d| d.score >= 0.8));
    assert_eq!(a.detections.len(), 1, "{:?}", a.detections);
    let mut one = Detector::default_model(DetectorConfig {
        max_detections: 1,
        confidence: 0.05,
        ..Default::default()
    })
    .unwrap();
    assert_eq!(one.process_jpeg(&jpeg).unwrap().detections.len(), 1);
    let mut loose = Detector::default_model(DetectorConfig {
        confidence: 0.05,
        threads: 1,
        ..Default::default()
    })
    .unwrap();
    let many = loose.process_jpeg(&jpeg).unwrap().detections;
    assert!(many.len() > a.detections.len(), "{many:?}");
    assert!(
        many.windows(2).all(|w| w[0].score >= w[1].score),
        "best first"
    );
}

#[test]
fn labels_override_names_and_family_override_is_checked() {
    let labels: Vec<String> = (0..80).map(|i| format!("thing{i}")).collect();
    let d = Detector::default_model(DetectorConfig {
        labels: Some(labels),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(d.class_names()[41], "thing41");
    // A forced family is honoured whenever the output shape fits its layout.
    let forced = Detector::default_model(DetectorConfig {
        family: Some(yolo_detect::ModelFamily::YoloV5),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(forced.family(), yolo_detect::ModelFamily::YoloV5);
}

#[test]
fn annotated_jpeg_is_a_valid_frame_of_the_same_size() {
    let mut d = detector();
    let jpeg = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/astronaut.jpg"
    ))
    .unwrap();
    let a = d.process_jpeg(&jpeg).unwrap();
    let back = yolo_detect::decode_jpeg(&a.jpeg).unwrap();
    assert_eq!(back.dimensions(), (a.width, a.height));
    assert!(a.timings.inference > std::time::Duration::ZERO);
    assert!(a.timings.total() >= a.timings.inference + a.timings.encode);
    let json = serde_json::to_value(&a).unwrap();
    assert_eq!(json["detections"][0]["class_name"], "person");
    assert!(json["timings"]["total_ms"].as_f64().unwrap() > 0.0);
}
