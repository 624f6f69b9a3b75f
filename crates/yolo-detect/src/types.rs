//! Detections, boxes and per-stage timings.

use serde::{Deserialize, Serialize, Serializer};
use std::time::Duration;

/// An axis-aligned box in pixels, corners `(x1, y1)` (top-left) and `(x2, y2)`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct BBox {
    /// Left edge.
    pub x1: f32,
    /// Top edge.
    pub y1: f32,
    /// Right edge.
    pub x2: f32,
    /// Bottom edge.
    pub y2: f32,
}

impl BBox {
    /// Box from its centre and size.
    pub fn from_center(cx: f32, cy: f32, w: f32, h: f32) -> BBox {
        BBox {
            x1: cx - w / 2.0,
            y1: cy - h / 2.0,
            x2: cx + w / 2.0,
            y2: cy + h / 2.0,
        }
    }

    /// Whether all four coordinates are finite (no NaN or infinity).
    pub fn is_finite(&self) -> bool {
        self.x1.is_finite() && self.y1.is_finite() && self.x2.is_finite() && self.y2.is_finite()
    }

    /// Width (0 for an inverted box).
    pub fn width(&self) -> f32 {
        (self.x2 - self.x1).max(0.0)
    }

    /// Height (0 for an inverted box).
    pub fn height(&self) -> f32 {
        (self.y2 - self.y1).max(0.0)
    }

    /// Area (0 for an inverted box).
    pub fn area(&self) -> f32 {
        self.width() * self.height()
    }

    /// Intersection over union with `other`, in 0..=1 (0 when both are empty).
    pub fn iou(&self, other: &BBox) -> f32 {
        let iw = (self.x2.min(other.x2) - self.x1.max(other.x1)).max(0.0);
        let ih = (self.y2.min(other.y2) - self.y1.max(other.y1)).max(0.0);
        let inter = iw * ih;
        let union = self.area() + other.area() - inter;
        if union > 0.0 {
            inter / union
        } else {
            0.0
        }
    }

    /// The box clipped to `0..=width` × `0..=height`.
    pub fn clipped(&self, width: f32, height: f32) -> BBox {
        BBox {
            x1: self.x1.clamp(0.0, width),
            y1: self.y1.clamp(0.0, height),
            x2: self.x2.clamp(0.0, width),
            y2: self.y2.clamp(0.0, height),
        }
    }
}

/// One detected object, in the pixels of the original image. Its JSON (the server-sent events'
/// and the cluster's detections subject) reads back with serde.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    /// Index of the class in the model's output.
    pub class_id: usize,
    /// Name of the class (from the model metadata, the configured labels, or COCO-80).
    pub class_name: String,
    /// Confidence in 0..=1.
    pub score: f32,
    /// Where it is.
    pub bbox: BBox,
}

/// Time spent in each stage of one frame. Serialises as milliseconds (f64), plus `total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StageTimings {
    /// JPEG decoding (0 for [`Detector::detect`](crate::Detector::detect)).
    pub decode: Duration,
    /// Letterbox, colour order and scaling into the input tensor.
    pub preprocess: Duration,
    /// Running the ONNX graph.
    pub inference: Duration,
    /// Decoding the output, threshold and NMS.
    pub postprocess: Duration,
    /// Drawing boxes and labels (0 for `detect`).
    pub draw: Duration,
    /// JPEG encoding (0 for `detect`).
    pub encode: Duration,
}

impl StageTimings {
    /// Sum of all stages.
    pub fn total(&self) -> Duration {
        self.decode + self.preprocess + self.inference + self.postprocess + self.draw + self.encode
    }
}

impl Serialize for StageTimings {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let mut s = serializer.serialize_struct("StageTimings", 7)?;
        s.serialize_field("decode_ms", &ms(self.decode))?;
        s.serialize_field("preprocess_ms", &ms(self.preprocess))?;
        s.serialize_field("inference_ms", &ms(self.inference))?;
        s.serialize_field("postprocess_ms", &ms(self.postprocess))?;
        s.serialize_field("draw_ms", &ms(self.draw))?;
        s.serialize_field("encode_ms", &ms(self.encode))?;
        s.serialize_field("total_ms", &ms(self.total()))?;
        s.end()
    }
}

/// A frame after [`Detector::process_jpeg`](crate::Detector::process_jpeg).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Annotated {
    /// What was found, best first.
    pub detections: Vec<Detection>,
    /// The frame with boxes and labels drawn on it, JPEG-encoded.
    #[serde(skip)]
    pub jpeg: Vec<u8>,
    /// Frame width in pixels.
    pub width: u32,
    /// Frame height in pixels.
    pub height: u32,
    /// Time per stage.
    pub timings: StageTimings,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iou_of_identical_disjoint_and_half_overlapping_boxes() {
        let a = BBox {
            x1: 0.0,
            y1: 0.0,
            x2: 10.0,
            y2: 10.0,
        };
        assert_eq!(a.iou(&a), 1.0);
        let far = BBox {
            x1: 20.0,
            y1: 20.0,
            x2: 30.0,
            y2: 30.0,
        };
        assert_eq!(a.iou(&far), 0.0);
        let half = BBox {
            x1: 5.0,
            y1: 0.0,
            x2: 15.0,
            y2: 10.0,
        };
        assert!((a.iou(&half) - 50.0 / 150.0).abs() < 1e-6);
        let empty = BBox::default();
        assert_eq!(empty.iou(&empty), 0.0);
    }

    #[test]
    fn timings_serialise_as_milliseconds_with_total() {
        let t = StageTimings {
            inference: Duration::from_millis(12),
            encode: Duration::from_micros(1500),
            ..Default::default()
        };
        let v = serde_json::to_value(t).unwrap();
        assert_eq!(v["inference_ms"], 12.0);
        assert_eq!(v["total_ms"], 13.5);
    }
}
