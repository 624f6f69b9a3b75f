//! Counters of a camera, updated with relaxed atomics: they are statistics, read at any moment,
//! and nothing is synchronised through them.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use serde::Serialize;

/// What kind of viewer a connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ViewerKind {
    /// MJPEG over HTTP, raw frames.
    HttpRaw,
    /// MJPEG over HTTP, annotated frames.
    HttpDetect,
    /// WebSocket, raw frames.
    WsRaw,
    /// WebSocket, annotated frames.
    WsDetect,
    /// Server-sent detection events.
    Sse,
}

impl ViewerKind {
    /// All kinds, in stats order.
    pub const ALL: [ViewerKind; 5] = [
        ViewerKind::HttpRaw,
        ViewerKind::HttpDetect,
        ViewerKind::WsRaw,
        ViewerKind::WsDetect,
        ViewerKind::Sse,
    ];

    /// The label used in stats and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            ViewerKind::HttpRaw => "http_raw",
            ViewerKind::HttpDetect => "http_detect",
            ViewerKind::WsRaw => "ws_raw",
            ViewerKind::WsDetect => "ws_detect",
            ViewerKind::Sse => "sse",
        }
    }

    /// Whether this kind watches the annotated stream.
    pub fn is_detect(self) -> bool {
        matches!(
            self,
            ViewerKind::HttpDetect | ViewerKind::WsDetect | ViewerKind::Sse
        )
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Frame and viewer counters of one camera.
#[derive(Debug, Default)]
pub struct CameraStats {
    /// Frames received from the camera.
    pub frames: AtomicU64,
    /// JPEG bytes received from the camera.
    pub bytes: AtomicU64,
    /// Frames per second over the last second, as `f64` bits.
    pub fps_bits: AtomicU64,
    /// Id of the newest frame.
    pub frame_id: AtomicU64,
    /// Keepalive re-sends of a frozen camera's last frame.
    pub keepalives: AtomicU64,
    /// Placeholder frames sent while the camera was offline.
    pub placeholders: AtomicU64,
    /// Frames dropped because a viewer's queue was full, of viewers that already left.
    pub dropped_queue_gone: AtomicU64,
    /// Frames skipped because they were older than `--max-frame-age`.
    pub dropped_age: AtomicU64,
    /// Frames skipped for paced viewers: replaced by a newer frame before the link drained.
    pub dropped_paced: AtomicU64,
    /// Viewers disconnected by the write timeout.
    pub evicted: AtomicU64,
    /// Upstream openings (the lazy start).
    pub upstream_starts: AtomicU64,
    viewers: [AtomicUsize; 5],
}

impl CameraStats {
    /// Viewers of one kind now.
    pub fn viewers(&self, kind: ViewerKind) -> usize {
        self.viewers[kind.index()].load(Ordering::Relaxed)
    }

    /// Viewers of every kind now.
    pub fn viewers_total(&self) -> usize {
        self.viewers.iter().map(|v| v.load(Ordering::Relaxed)).sum()
    }

    pub(crate) fn viewer_joined(&self, kind: ViewerKind) -> usize {
        self.viewers[kind.index()].fetch_add(1, Ordering::Relaxed);
        self.viewers_total()
    }

    pub(crate) fn viewer_left(&self, kind: ViewerKind) -> usize {
        self.viewers[kind.index()].fetch_sub(1, Ordering::Relaxed);
        self.viewers_total()
    }

    /// Frames per second over the last second.
    pub fn fps(&self) -> f64 {
        f64::from_bits(self.fps_bits.load(Ordering::Relaxed))
    }
}

/// Per-stage detector times of the last run, in milliseconds.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct StageMs {
    /// JPEG decoding.
    pub decode: f64,
    /// Letterbox and tensor fill.
    pub preprocess: f64,
    /// Model inference.
    pub inference: f64,
    /// Decoding outputs and NMS.
    pub postprocess: f64,
    /// Drawing boxes and labels.
    pub draw: f64,
    /// JPEG encoding.
    pub encode: f64,
}

/// Detector counters of one camera.
#[derive(Debug, Default)]
pub struct DetectorStats {
    /// Model runs.
    pub runs: AtomicU64,
    /// Raw frames skipped because the detector was busy (it always takes the newest).
    pub skipped: AtomicU64,
    /// Failed runs (undecodable frames).
    pub errors: AtomicU64,
    /// Whether the detector task is running (detection viewers exist).
    pub active: std::sync::atomic::AtomicBool,
    /// Where this node's detections come from now: 0 nowhere, 1 the model here, 2 the owner
    /// (a cluster's bus). See [`DetectorStats::source`].
    pub source: std::sync::atomic::AtomicU8,
    /// Frames annotated with the owner's detections (this node is a follower; no model run).
    pub bus_frames: AtomicU64,
    /// The owner's detections that found no frame here to draw on (gone, or repeated).
    pub bus_unmatched: AtomicU64,
    /// Clustered owner: another node asks for this camera's detections now.
    pub remote_demand: std::sync::atomic::AtomicBool,
    /// Clustered owner: the detector runs for other nodes only (no detection viewer here), so
    /// its raw subscription does not keep the camera open.
    pub for_others_only: std::sync::atomic::AtomicBool,
    /// Annotated frames per second over the last second, as `f64` bits.
    pub fps_bits: AtomicU64,
    /// The model's name once loaded (a follower: the owner's model).
    pub model: Mutex<Option<String>>,
    /// Stage times of the last run.
    pub last: Mutex<StageMs>,
}

impl DetectorStats {
    /// No detections are made or received now.
    pub const SOURCE_NONE: u8 = 0;
    /// The model runs on this node.
    pub const SOURCE_MODEL: u8 = 1;
    /// The cluster's owner sends its detections.
    pub const SOURCE_BUS: u8 = 2;

    /// `"model"`, `"bus"` or `None`: where the detections come from now.
    pub fn source(&self) -> Option<&'static str> {
        match self.source.load(Ordering::Relaxed) {
            Self::SOURCE_MODEL => Some("model"),
            Self::SOURCE_BUS => Some("bus"),
            _ => None,
        }
    }

    /// Annotated frames per second over the last second (model runs or the owner's
    /// detections).
    pub fn fps(&self) -> f64 {
        f64::from_bits(self.fps_bits.load(Ordering::Relaxed))
    }
}
