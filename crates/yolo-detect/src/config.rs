//! Model families and detector settings.

use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// Output layout (and pre-processing) family of a YOLO model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelFamily {
    /// Ultralytics YOLOv8 / YOLO11 (and YOLOv5u) exports: output `[1, 4+nc, N]`, boxes already
    /// decoded (cx, cy, w, h in input pixels), class scores after sigmoid, no objectness.
    /// Input RGB 0..1, centred letterbox padded with 114.
    Ultralytics,
    /// YOLOv5 / YOLOv7 exports: output `[1, N, 5+nc]` (cx, cy, w, h, objectness, class scores),
    /// boxes decoded. Input RGB 0..1, centred letterbox padded with 114.
    YoloV5,
    /// YOLOX exports: output `[1, N, 5+nc]` with raw box offsets that need grid decoding over
    /// strides 8, 16 and 32; objectness and classes already sigmoid. Input BGR 0..255, image
    /// at the top-left, padded with 114.
    Yolox,
}

impl ModelFamily {
    /// Lower-case name, as accepted by [`FromStr`].
    pub fn as_str(self) -> &'static str {
        match self {
            ModelFamily::Ultralytics => "ultralytics",
            ModelFamily::YoloV5 => "yolov5",
            ModelFamily::Yolox => "yolox",
        }
    }
}

impl fmt::Display for ModelFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error of [`ModelFamily::from_str`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown model family {0:?} (expected ultralytics, yolov8, yolo11, yolov5, yolov7 or yolox)"
)]
pub struct UnknownFamily(pub String);

impl FromStr for ModelFamily {
    type Err = UnknownFamily;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "ultralytics" | "yolov8" | "yolo8" | "yolo11" | "yolov11" => {
                Ok(ModelFamily::Ultralytics)
            }
            "yolov5" | "yolov7" | "yolo5" | "yolo7" => Ok(ModelFamily::YoloV5),
            "yolox" => Ok(ModelFamily::Yolox),
            _ => Err(UnknownFamily(s.to_string())),
        }
    }
}

/// Settings of a [`Detector`](crate::Detector). `Default` gives the values marked "default".
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorConfig {
    /// Force the model family instead of recognising it from shapes and metadata (default: None).
    pub family: Option<ModelFamily>,
    /// Minimum score (objectness × class score where the model has objectness) (default: 0.3).
    pub confidence: f32,
    /// IoU above which a lower-scored box of the same class is suppressed (default: 0.45).
    pub iou: f32,
    /// At most this many detections per frame, best first (default: 100).
    pub max_detections: usize,
    /// Class names, overriding the model's metadata and COCO-80 (default: None). See
    /// [`read_labels_file`](crate::read_labels_file).
    pub labels: Option<Vec<String>>,
    /// Quality (1..=100) of the annotated JPEG made by `process_jpeg` (default: 80).
    pub jpeg_quality: u8,
    /// Inference threads (tract's multithreaded executor); 0 = auto: one less than the
    /// available cores, at least 1, leaving a core for the relay's I/O, decode and encode
    /// (on 2 shared cores a second inference thread measured slower; see docs/benchmarks.md) (default: 0).
    pub threads: usize,
    /// Rewrite the model's graph with [tract-accel](https://docs.rs/tract-accel)'s faster
    /// operators when it loads (default: true). Without the crate's `accel` feature this does
    /// nothing: tract runs the graph as it optimises it.
    pub accelerate: bool,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            family: None,
            confidence: 0.3,
            iou: 0.45,
            max_detections: 100,
            labels: None,
            jpeg_quality: 80,
            threads: 0,
            accelerate: true,
        }
    }
}

impl DetectorConfig {
    /// Checks every value is in range.
    pub fn validate(&self) -> Result<(), crate::DetectError> {
        let bad = |m: String| Err(crate::DetectError::InvalidConfig(m));
        if !(0.0..=1.0).contains(&self.confidence) {
            return bad(format!("confidence {} not in 0..=1", self.confidence));
        }
        if !(0.0..=1.0).contains(&self.iou) {
            return bad(format!("iou {} not in 0..=1", self.iou));
        }
        if !(1..=100).contains(&self.jpeg_quality) {
            return bad(format!("jpeg_quality {} not in 1..=100", self.jpeg_quality));
        }
        if self.threads > 256 {
            return bad(format!("threads {} is more than 256", self.threads));
        }
        Ok(())
    }

    /// Number of inference threads this config asks for (0 resolved as documented on
    /// [`DetectorConfig::threads`]).
    pub fn effective_threads(&self) -> usize {
        if self.threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1))
        } else {
            self.threads
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_names_round_trip() {
        for f in [
            ModelFamily::Ultralytics,
            ModelFamily::YoloV5,
            ModelFamily::Yolox,
        ] {
            assert_eq!(f.as_str().parse::<ModelFamily>().unwrap(), f);
        }
        assert_eq!(
            "YOLO11".parse::<ModelFamily>().unwrap(),
            ModelFamily::Ultralytics
        );
        assert!("detr".parse::<ModelFamily>().is_err());
    }

    #[test]
    fn default_config_is_valid_and_bad_values_are_rejected() {
        assert!(DetectorConfig::default().validate().is_ok());
        let c = DetectorConfig {
            confidence: 1.5,
            ..Default::default()
        };
        assert_eq!(c.validate().unwrap_err().kind(), crate::ErrorKind::Config);
        let c = DetectorConfig {
            jpeg_quality: 0,
            ..Default::default()
        };
        assert!(c.validate().is_err());
    }
}
