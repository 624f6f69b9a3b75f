//! One reading of a camera's counters: the single snapshot that camrelay's `GET /api/stats`
//! serialises and its `/metrics` collector encodes, so the two never disagree (field names are
//! the JSON document's, documented in camrelay's `docs/api.md`).

use std::sync::atomic::Ordering;

use serde::{Serialize, Serializer};

use super::stats::{StageMs, ViewerKind};
use super::Camera;

/// Rates are kept exact in the snapshot and shown with one decimal in JSON.
fn one_decimal<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64((value * 10.0).round() / 10.0)
}

/// One camera.
#[derive(Debug, Serialize)]
pub struct CameraSnapshot {
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
    #[serde(serialize_with = "one_decimal")]
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
    /// Who reads the camera when it is shared by a cluster of relays (`null`: not clustered,
    /// or nobody watches it here).
    pub cluster: Option<ClusterView>,
    /// The quality tiers, best first (`null` until a viewer asked for a tier).
    pub quality: Option<Vec<TierView>>,
}

/// One quality tier of a camera.
#[derive(Debug, Clone, Serialize)]
pub struct TierView {
    /// `original`, `high`, `medium` or `low`.
    pub tier: &'static str,
    /// Viewers on it now.
    pub viewers: usize,
    /// Frames encoded for it (0 for `original`: its frames are the camera's).
    pub frames: u64,
    /// Bytes of those frames.
    pub bytes: u64,
    /// Mean time to shrink and encode one of its frames, in ms (the shared decode not
    /// included; `null` before the first).
    pub encode_ms: Option<f64>,
}

/// A clustered camera as this node sees it.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterView {
    /// What this node reads: `camera` (it owns the camera), `bus` (the owner's frames) or
    /// `unknown` (no owner known yet).
    pub reads: &'static str,
    /// The owner's node name (`null` when this node owns it or none is known; the relay fills
    /// in its own name).
    pub owner: Option<String>,
}

/// Upstream state.
#[derive(Debug, Serialize)]
pub struct UpstreamView {
    /// `idle`, `connecting`, `streaming`, `backing_off` or `stopped`; `bus` on a cluster
    /// follower (the owner reads the camera; this node gets its frames over NATS).
    pub state: &'static str,
    /// Connection attempt (while connecting or backing off).
    pub attempt: u32,
    /// Last error.
    pub last_error: Option<String>,
    /// Kind of the last error (`timeout`, `connect`, `http_status`, ...), for scripts.
    pub last_error_kind: Option<&'static str>,
    /// How long the camera has been down, while it is (milliseconds).
    pub down_for_ms: Option<u64>,
    /// How long the last finished outage lasted, from frames stopping to the next frame.
    pub last_outage_ms: Option<u64>,
    /// How long the way back took: from the camera accepting a connection again to its first
    /// frame.
    pub last_recovery_ms: Option<u64>,
    /// Outages that ended with a frame.
    pub outages: u64,
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

impl ViewersView {
    /// Viewers of one kind.
    pub fn of(&self, kind: ViewerKind) -> usize {
        match kind {
            ViewerKind::HttpRaw => self.http_raw,
            ViewerKind::HttpDetect => self.http_detect,
            ViewerKind::WsRaw => self.ws_raw,
            ViewerKind::WsDetect => self.ws_detect,
            ViewerKind::Sse => self.sse,
        }
    }
}

/// One viewer's queue.
#[derive(Debug, Serialize)]
pub struct ViewerView {
    /// Subscriber id.
    pub id: u64,
    /// `raw` or `detect`.
    pub stream: &'static str,
    /// The quality tier it is on now (`original`, `high`, `medium`, `low`).
    pub quality: &'static str,
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
    /// Running now (detection viewers exist, or, on a cluster's owner, another node asks).
    pub active: bool,
    /// Where the detections come from now: `model` (run here), `bus` (the cluster's owner
    /// sends them; no model runs here), `null` (not running).
    pub source: Option<&'static str>,
    /// Model name once loaded (on a follower: the owner's).
    pub model: Option<String>,
    /// Model runs on this node.
    pub runs: u64,
    /// Frames annotated with the cluster owner's detections instead of a model run here.
    pub bus_frames: u64,
    /// The owner's detections that found no frame here to draw on.
    pub bus_unmatched: u64,
    /// A clustered camera's owner: another node asks for its detections now.
    pub remote_demand: bool,
    /// Raw frames skipped to stay on the newest.
    pub skipped: u64,
    /// Frame decodes saved because the detector and the quality tiers shared one (0 unless
    /// both run).
    pub decodes_shared: u64,
    /// Failed runs.
    pub errors: u64,
    /// Annotated frames per second (model runs or the owner's detections).
    #[serde(serialize_with = "one_decimal")]
    pub fps: f64,
    /// Stage times of the last run.
    pub timings_ms: StageMs,
}

impl Camera {
    /// Reads every counter of this camera once.
    pub fn snapshot(&self) -> CameraSnapshot {
        let rel = Ordering::Relaxed;
        let stats = &self.stats;
        let latest = self.latest.load();
        let (width, height) = latest.as_ref().map_or((0, 0), |f| (f.width, f.height));
        let starts = stats.upstream_starts.load(rel);
        // A cluster follower reads the owner's frames, not its own connection to the camera.
        let from_bus = matches!(
            self.cluster_role.load().as_deref(),
            Some(crate::cluster::Role::Bus { .. })
        );
        let upstream = match self.source_status.as_ref().map(|s| s.snapshot()) {
            Some(s) => UpstreamView {
                state: if from_bus { "bus" } else { s.state.name() },
                attempt: match s.state {
                    esp32_source::SourceState::Connecting { attempt }
                    | esp32_source::SourceState::BackingOff { attempt, .. } => attempt,
                    _ => 0,
                },
                last_error: s.last_error.as_ref().map(|e| e.message.clone()),
                last_error_kind: s.last_error_kind().map(|k| k.name()),
                down_for_ms: s.down_since.map(|t| millis(t.elapsed())),
                last_outage_ms: s.last_outage.map(millis),
                last_recovery_ms: s.last_recovery.map(millis),
                outages: s.outages,
                connects: s.connects,
                reconnects: s.reconnects,
                corrupt_frames: s.corrupt_frames,
                starts,
            },
            None => UpstreamView {
                state: match (from_bus, stats.fps() > 0.0) {
                    (true, _) => "bus",
                    (false, true) => "streaming",
                    (false, false) => "idle",
                },
                attempt: 0,
                last_error: None,
                last_error_kind: None,
                down_for_ms: None,
                last_outage_ms: None,
                last_recovery_ms: None,
                outages: 0,
                connects: starts,
                reconnects: 0,
                corrupt_frames: 0,
                starts,
            },
        };
        let raw = self
            .raw
            .subscriber_stats()
            .into_iter()
            .map(|s| (s, "raw", "original"));
        let tiers = self.tiers_started();
        let encoded = tiers.into_iter().flat_map(|tiers| {
            quality_tiers::Tier::ALL[1..].iter().flat_map(|&tier| {
                let viewers = tiers.handle(tier).subscriber_stats().into_iter();
                viewers.map(move |s| (s, "raw", tier.as_str()))
            })
        });
        let detect = self.detect.subscriber_stats().into_iter();
        let viewer_list: Vec<ViewerView> = raw
            .chain(encoded)
            .chain(detect.map(|s| (s, "detect", "original")))
            .map(|(s, stream, quality)| ViewerView {
                id: s.id,
                stream,
                quality,
                delivered: s.delivered,
                dropped: s.dropped,
                queued: s.queued,
            })
            .collect();
        let live_drops: u64 = viewer_list.iter().map(|v| v.dropped).sum();
        let detector = &self.detector;
        CameraSnapshot {
            name: self.name().to_owned(),
            broadcaster_id: self.id,
            url: self.config.source.url().to_owned(),
            kind: self.config.source.kind(),
            upstream,
            frame_id: stats.frame_id.load(rel),
            fps: stats.fps(),
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
            // Queue-full drops of viewers gone and of viewers connected now.
            dropped_queue_total: stats.dropped_queue_gone.load(rel) + live_drops,
            dropped_age_total: stats.dropped_age.load(rel),
            dropped_paced_total: stats.dropped_paced.load(rel),
            evicted_total: stats.evicted.load(rel),
            quality: tiers.map(|tiers| {
                let stats = tiers.stats();
                stats
                    .iter()
                    .map(|t| TierView {
                        tier: t.tier.as_str(),
                        viewers: t.viewers,
                        frames: t.frames,
                        bytes: t.bytes,
                        encode_ms: t.mean_encode_time().map(|d| d.as_secs_f64() * 1e3),
                    })
                    .collect()
            }),
            cluster: self.cluster_role.load().as_deref().map(|role| ClusterView {
                reads: role.reads(),
                owner: match role {
                    crate::cluster::Role::Bus { owner } => Some(owner.clone()),
                    _ => None,
                },
            }),
            keepalives: stats.keepalives.load(rel),
            placeholders: stats.placeholders.load(rel),
            viewer_list,
            detector: DetectorView {
                enabled: self.detect_enabled,
                active: detector.active.load(rel),
                source: detector.source(),
                bus_frames: detector.bus_frames.load(rel),
                bus_unmatched: detector.bus_unmatched.load(rel),
                remote_demand: detector.remote_demand.load(rel),
                model: detector.model.lock().ok().and_then(|m| m.clone()),
                runs: detector.runs.load(rel),
                skipped: detector.skipped.load(rel),
                decodes_shared: self.shared_decodes().1,
                errors: detector.errors.load(rel),
                fps: detector.fps(),
                timings_ms: detector.last.lock().map(|t| *t).unwrap_or_default(),
            },
        }
    }
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
