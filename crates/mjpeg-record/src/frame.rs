//! What the relay hands the recorder for each frame.

use bytes::Bytes;

/// One frame to record. The JPEG is stored exactly as given (never re-encoded).
#[derive(Debug, Clone)]
pub struct RecordFrame {
    /// The JPEG bytes as the camera sent them.
    pub jpeg: Bytes,
    /// The camera's frame id (`X-Frame-Id`).
    pub frame_id: u64,
    /// The camera's capture time, Unix microseconds. Segments are laid out by this time.
    pub capture_us: i64,
    /// When the relay received the frame, Unix microseconds.
    pub receive_us: i64,
    /// What the detector found on this frame, if it ran on it.
    pub detections: Option<Detections>,
}

/// A frame's detections: the labels (matched against events mode's `labels`) and the
/// detector's own JSON, stored as-is in the segment's events file.
#[derive(Debug, Clone, Default)]
pub struct Detections {
    /// Labels of what was detected ("person", "car").
    pub labels: Vec<String>,
    /// The detector's JSON for this frame (boxes, scores), opaque to this crate.
    pub json: Bytes,
}

impl RecordFrame {
    /// A frame without detections.
    pub fn new(jpeg: Bytes, frame_id: u64, capture_us: i64, receive_us: i64) -> Self {
        RecordFrame {
            jpeg,
            frame_id,
            capture_us,
            receive_us,
            detections: None,
        }
    }

    /// Adds detections.
    pub fn with_detections(mut self, labels: &[&str], json: impl Into<Bytes>) -> Self {
        self.detections = Some(Detections {
            labels: labels.iter().map(|s| (*s).to_owned()).collect(),
            json: json.into(),
        });
        self
    }

    /// Whether any of this frame's labels is in `wanted`.
    pub fn matches(&self, wanted: &[String]) -> bool {
        self.detections
            .as_ref()
            .is_some_and(|d| d.labels.iter().any(|l| wanted.contains(l)))
    }
}
