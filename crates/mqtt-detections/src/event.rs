//! What the caller hands in: cameras at start, detection results per frame.

use bytes::Bytes;

/// A camera the relay serves, given to [`crate::MqttPublisher::start`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CameraInfo {
    /// The camera's name as the relay knows it (used in topics, made topic-safe).
    pub name: String,
    /// Where a browser gets the camera's snapshot from the relay, if it is reachable; shown to
    /// Home Assistant as the device's configuration URL.
    pub snapshot_url: Option<String>,
}

impl CameraInfo {
    /// A camera without a URL.
    pub fn new(name: impl Into<String>) -> Self {
        CameraInfo {
            name: name.into(),
            snapshot_url: None,
        }
    }
}

/// One detected object. Coordinates are in the frame's pixels, `x`/`y` the top-left corner.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectionBox {
    /// Class name, e.g. `person`.
    pub label: String,
    /// Confidence in 0..=1.
    pub score: f32,
    /// Left edge.
    pub x: f32,
    /// Top edge.
    pub y: f32,
    /// Width.
    pub w: f32,
    /// Height.
    pub h: f32,
}

/// The detector's result for one frame of one camera.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectionEvent {
    /// The camera's name, as in [`CameraInfo::name`].
    pub camera: String,
    /// The frame's sequence number.
    pub frame_id: u64,
    /// When the frame was captured, microseconds since the Unix epoch.
    pub capture_us: i64,
    /// Everything the detector found (unconfigured labels and low scores are filtered here).
    pub detections: Vec<DetectionBox>,
    /// The detector's current frame rate, if known (published at most every
    /// `fps_interval_secs`).
    pub fps: Option<f64>,
    /// The frame's JPEG, if the caller has it: published as the camera's snapshot when this
    /// frame changes the detections (rate limited). A `Bytes` clone is cheap.
    pub jpeg: Option<Bytes>,
}
