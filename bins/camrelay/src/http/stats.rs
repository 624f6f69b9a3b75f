//! `GET /api/stats`: what every broadcaster is doing (documented in `docs/api.md`).

use std::sync::atomic::Ordering;

use serde::Serialize;

use crate::camera::stats::{StageMs, ViewerKind};
use crate::camera::Camera;
use crate::state::RelayState;

/// The whole relay.
#[derive(Debug, Serialize)]
pub struct RelayStats {
    /// Seconds since start.
    pub uptime_s: f64,
    /// Number of broadcasters (one per camera).
    pub broadcasters: usize,
    /// Viewers over all cameras.
    pub viewers_total: usize,
    /// Per camera.
    pub cameras: Vec<CameraStatsView>,
}

/// One camera.
#[derive(Debug, Serialize)]
pub struct CameraStatsView {
    /// Camera name.
    pub name: String,
    /// Broadcaster id.
    pub broadcaster_id: u64,
    /// Upstream URL.
    pub url: String,
    /// `stream`, `snapshot` or `demo`.
    pub kind: &'static str,
    /// Upstream connection.
    pub upstream: UpstreamView,
    /// Newest frame id.
    pub frame_id: u64,
    /// Camera frames per second.
    pub fps: f64,
    /// Picture width.
    pub width: u16,
    /// Picture height.
    pub height: u16,
    /// Frames received.
    pub frames: u64,
    /// JPEG bytes received.
    pub bytes: u64,
    /// Viewers by kind.
    pub viewers: ViewersView,
    /// Frames dropped because a viewer's queue was full (all viewers, past and present).
    pub dropped_queue_total: u64,
    /// Frames skipped because they were older than `--max-frame-age`.
    pub dropped_age_total: u64,
    /// Frames skipped for viewers on slow links (paced): a newer frame replaced them before
    /// the viewer's link drained.
    pub dropped_paced_total: u64,
    /// Viewers disconnected by the write timeout.
    pub evicted_total: u64,
    /// Keepalive re-sends of a frozen camera's last frame.
    pub keepalives: u64,
    /// Offline placeholder frames sent.
    pub placeholders: u64,
    /// Every connected viewer's queue counters.
    pub viewer_list: Vec<ViewerView>,
    /// The detector.
    pub detector: DetectorView,
}

/// Upstream state.
#[derive(Debug, Serialize)]
pub struct UpstreamView {
    /// `idle`, `connecting`, `streaming`, `backing_off` or `stopped`.
    pub state: &'static str,
    /// Connection attempt (while connecting or backing off).
    pub attempt: u32,
    /// Last error.
    pub last_error: Option<String>,
    /// Successful connections.
    pub connects: u64,
    /// Reconnections.
    pub reconnects: u64,
    /// Corrupt frames skipped.
    pub corrupt_frames: u64,
    /// Times the upstream was opened because viewers arrived.
    pub starts: u64,
}

/// Viewer counts.
#[derive(Debug, Serialize)]
pub struct ViewersView {
    /// MJPEG raw.
    pub http_raw: usize,
    /// MJPEG annotated.
    pub http_detect: usize,
    /// WebSocket raw.
    pub ws_raw: usize,
    /// WebSocket annotated.
    pub ws_detect: usize,
    /// Detection events.
    pub sse: usize,
    /// All of them.
    pub total: usize,
}

/// One viewer's queue.
#[derive(Debug, Serialize)]
pub struct ViewerView {
    /// Subscriber id.
    pub id: u64,
    /// `raw` or `detect`.
    pub stream: &'static str,
    /// Frames delivered.
    pub delivered: u64,
    /// Frames dropped (queue full).
    pub dropped: u64,
    /// Frames waiting in its queue.
    pub queued: usize,
}

/// The detector.
#[derive(Debug, Serialize)]
pub struct DetectorView {
    /// Detection configured for this camera.
    pub enabled: bool,
    /// Running now (detection viewers exist).
    pub active: bool,
    /// Model name once loaded.
    pub model: Option<String>,
    /// Model runs.
    pub runs: u64,
    /// Raw frames skipped to stay on the newest.
    pub skipped: u64,
    /// Failed runs.
    pub errors: u64,
    /// Runs per second.
    pub fps: f64,
    /// Stage times of the last run.
    pub timings_ms: StageMs,
}

/// Builds the stats document.
pub fn relay_stats(state: &RelayState) -> RelayStats {
    RelayStats {
        uptime_s: state.started.elapsed().as_secs_f64(),
        broadcasters: state.cameras.len(),
        viewers_total: state.admission.total(),
        cameras: state
            .cameras
            .iter()
            .map(|c| camera_stats(state, c))
            .collect(),
    }
}

fn camera_stats(state: &RelayState, camera: &Camera) -> CameraStatsView {
    let rel = Ordering::Relaxed;
    let stats = &camera.stats;
    let latest = camera.latest.load();
    let (width, height) = latest.as_ref().map_or((0, 0), |f| (f.width, f.height));
    let status = camera.source_status.as_ref().map(|s| s.snapshot());
    let upstream = match &status {
        Some(s) => UpstreamView {
            state: s.state.name(),
            attempt: match s.state {
                esp32_source::SourceState::Connecting { attempt }
                | esp32_source::SourceState::BackingOff { attempt, .. } => attempt,
                _ => 0,
            },
            last_error: s.last_error.clone(),
            connects: s.connects,
            reconnects: s.reconnects,
            corrupt_frames: s.corrupt_frames,
            starts: stats.upstream_starts.load(rel),
        },
        None => UpstreamView {
            state: if stats.fps() > 0.0 {
                "streaming"
            } else {
                "idle"
            },
            attempt: 0,
            last_error: None,
            connects: stats.upstream_starts.load(rel),
            reconnects: 0,
            corrupt_frames: 0,
            starts: stats.upstream_starts.load(rel),
        },
    };
    let viewer_list = camera
        .raw
        .subscriber_stats()
        .into_iter()
        .map(|s| (s, "raw"))
        .chain(
            camera
                .detect
                .subscriber_stats()
                .into_iter()
                .map(|s| (s, "detect")),
        )
        .map(|(s, stream)| ViewerView {
            id: s.id,
            stream,
            delivered: s.delivered,
            dropped: s.dropped,
            queued: s.queued,
        })
        .collect();
    let detector = &camera.detector;
    CameraStatsView {
        name: camera.name().to_owned(),
        broadcaster_id: camera.id,
        url: camera.config.source.url().to_owned(),
        kind: camera.config.source.kind(),
        upstream,
        frame_id: stats.frame_id.load(rel),
        fps: (stats.fps() * 10.0).round() / 10.0,
        width,
        height,
        frames: stats.frames.load(rel),
        bytes: stats.bytes.load(rel),
        viewers: ViewersView {
            http_raw: stats.viewers(ViewerKind::HttpRaw),
            http_detect: stats.viewers(ViewerKind::HttpDetect),
            ws_raw: stats.viewers(ViewerKind::WsRaw),
            ws_detect: stats.viewers(ViewerKind::WsDetect),
            sse: stats.viewers(ViewerKind::Sse),
            total: stats.viewers_total(),
        },
        dropped_queue_total: crate::metrics::queue_drops(camera),
        dropped_age_total: stats.dropped_age.load(rel),
        dropped_paced_total: stats.dropped_paced.load(rel),
        evicted_total: stats.evicted.load(rel),
        keepalives: stats.keepalives.load(rel),
        placeholders: stats.placeholders.load(rel),
        viewer_list,
        detector: DetectorView {
            enabled: state.detect_enabled(camera),
            active: detector.active.load(rel),
            model: detector.model.lock().ok().and_then(|m| m.clone()),
            runs: detector.runs.load(rel),
            skipped: detector.skipped.load(rel),
            errors: detector.errors.load(rel),
            fps: (detector.fps() * 10.0).round() / 10.0,
            timings_ms: detector.last.lock().map(|t| *t).unwrap_or_default(),
        },
    }
}
