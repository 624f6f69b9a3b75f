//! What a camera is ([`CameraSpec`], [`SourceSpec`]) and how the hub runs it ([`HubSettings`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Where a camera's frames come from.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceSpec {
    /// The built-in synthetic camera (moving photos with a frame-id overlay).
    Demo,
    /// An MJPEG stream URL (`http://HOST:81/stream` on an ESP32-CAM).
    Stream {
        /// The stream URL.
        url: String,
    },
    /// A snapshot URL (`http://HOST/capture`) polled at a fixed rate.
    Snapshot {
        /// The snapshot URL.
        url: String,
        /// Time between two polls.
        interval: Duration,
    },
}

impl SourceSpec {
    /// The URL shown in stats (`demo:` for the built-in camera).
    pub fn url(&self) -> &str {
        match self {
            SourceSpec::Demo => "demo:",
            SourceSpec::Stream { url } | SourceSpec::Snapshot { url, .. } => url,
        }
    }

    /// `stream`, `snapshot` or `demo`.
    pub fn kind(&self) -> &'static str {
        match self {
            SourceSpec::Demo => "demo",
            SourceSpec::Stream { .. } => "stream",
            SourceSpec::Snapshot { .. } => "snapshot",
        }
    }
}

/// One camera: its name, its source and its own detection settings.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraSpec {
    /// Name shown in logs, stats and offline cards.
    pub name: String,
    /// Where its frames come from.
    pub source: SourceSpec,
    /// Run detection for this camera (when detection viewers exist and the hub allows it).
    pub detect: bool,
    /// A model for this camera instead of the hub-wide one.
    pub model: Option<PathBuf>,
    /// ESP32-CAM settings applied through `/control` when the upstream opens.
    pub esp32: BTreeMap<String, i64>,
    /// Base URL of the ESP32 control server (default: the stream's host on port 80).
    pub control_url: Option<String>,
}

impl CameraSpec {
    /// A camera with detection on and no ESP32 settings.
    pub fn new(name: impl Into<String>, source: SourceSpec) -> Self {
        CameraSpec {
            name: name.into(),
            source,
            detect: true,
            model: None,
            esp32: BTreeMap::new(),
            control_url: None,
        }
    }
}

/// How cameras run: queues, the lazy upstream, keepalive and detection.
#[derive(Debug, Clone)]
pub struct HubSettings {
    /// Every viewer's queue (capacity in frames, what a full queue drops).
    pub queue: broadcast_core::Config,
    /// Close the upstream this long after the last viewer left.
    pub idle_timeout: Duration,
    /// Never close the upstream.
    pub always_on: bool,
    /// Re-send the last frame (or an offline card) when nothing new came for this long.
    pub keepalive: Duration,
    /// Detection on or off for every camera.
    pub detect: bool,
    /// The detection model (`None`: the embedded YOLOX-Nano).
    pub model: Option<PathBuf>,
    /// JPEG quality of annotated frames.
    pub detect_jpeg_quality: u8,
}

impl Default for HubSettings {
    fn default() -> Self {
        HubSettings {
            queue: broadcast_core::Config {
                capacity: 5,
                policy: broadcast_core::Policy::DropNewest,
            },
            idle_timeout: Duration::from_secs(10),
            always_on: false,
            keepalive: Duration::from_secs(1),
            detect: true,
            model: None,
            detect_jpeg_quality: 80,
        }
    }
}
