//! One camera: its broadcasters (raw and annotated), its upstream supervisor and its counters.
//!
//! Every camera has exactly one upstream connection, opened by [`supervisor`] when the first
//! viewer arrives and closed after the last one left (plus the idle timeout), and two
//! `broadcast-core` channels: `raw` (camera frames) and `detect` (annotated frames, fed by
//! [`detect`] only while someone watches them).

pub mod demo;
pub mod detect;
pub mod snapshot;
pub mod stats;
pub mod supervisor;
pub mod viewer;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwapOption;
use broadcast_core::{Handle, Publisher};

use crate::config::{CameraConfig, RelayConfig, SourceSpec};
use crate::error::StartError;
use crate::frame::{Frame, SharedFrame};
use stats::{CameraStats, DetectorStats};

/// Gives each broadcaster a process-wide unique id (the seed's "broadcaster id").
static NEXT_BROADCASTER_ID: AtomicU64 = AtomicU64::new(1);

/// Where a camera's frames come from, ready to open.
pub enum Upstream {
    /// A real camera (stream or snapshot polling) through `esp32-source`.
    Camera(esp32_source::Source),
    /// The built-in synthetic camera.
    Demo(demo::DemoCamera),
}

/// A camera as the HTTP handlers see it: handles to subscribe, the latest frame, counters.
pub struct Camera {
    /// Broadcaster id, unique in this process; shown in logs and stats.
    pub id: u64,
    /// What was configured.
    pub config: CameraConfig,
    /// Subscribe here for raw frames.
    pub raw: Handle<SharedFrame>,
    /// Subscribe here for annotated frames (starts the detector).
    pub detect: Handle<SharedFrame>,
    /// The newest published frame, for snapshots and keepalive re-sends.
    pub latest: ArcSwapOption<Frame>,
    /// Whether detection runs for this camera (relay-wide and for the camera).
    pub detect_enabled: bool,
    /// Upstream state, for stats and the offline placeholder (`None` for the demo camera).
    pub source_status: Option<esp32_source::StatusHandle>,
    /// Frame and viewer counters.
    pub stats: CameraStats,
    /// Detector counters and timings.
    pub detector: DetectorStats,
    /// Next broadcast frame id; ids keep growing across upstream reconnects.
    pub next_frame_id: AtomicU64,
}

/// The parts of a camera that live in its background tasks.
pub struct CameraTasks {
    /// Publishes raw frames (owned by the supervisor).
    pub raw: Publisher<SharedFrame>,
    /// Publishes annotated frames (owned by the detector task).
    pub detect: Publisher<SharedFrame>,
    /// The upstream to open on demand.
    pub upstream: Upstream,
}

impl Camera {
    /// Creates a camera and the pieces its tasks need. Nothing connects yet.
    pub fn new(
        config: CameraConfig,
        relay: &RelayConfig,
    ) -> Result<(Arc<Camera>, CameraTasks), StartError> {
        let queue = broadcast_core::Config {
            capacity: relay.queue.max(1),
            policy: relay.policy,
        };
        let raw = Publisher::new(queue);
        let detect = Publisher::new(queue);
        let upstream = match &config.source {
            SourceSpec::Demo => Upstream::Demo(demo::DemoCamera::new()),
            SourceSpec::Stream { url } => Upstream::Camera(source(
                &config.name,
                esp32_source::SourceConfig::stream(config.name.clone(), url.clone()),
            )?),
            SourceSpec::Snapshot { url, interval } => Upstream::Camera(source(
                &config.name,
                esp32_source::SourceConfig::snapshot(config.name.clone(), url.clone(), *interval),
            )?),
        };
        let source_status = match &upstream {
            Upstream::Camera(source) => Some(source.status()),
            Upstream::Demo(_) => None,
        };
        let detect_enabled = relay.detect && config.detect;
        let camera = Arc::new(Camera {
            id: NEXT_BROADCASTER_ID.fetch_add(1, Ordering::Relaxed),
            config,
            raw: raw.handle(),
            detect: detect.handle(),
            latest: ArcSwapOption::empty(),
            detect_enabled,
            source_status,
            stats: CameraStats::default(),
            detector: DetectorStats::default(),
            next_frame_id: AtomicU64::new(1),
        });
        Ok((
            camera,
            CameraTasks {
                raw,
                detect,
                upstream,
            },
        ))
    }

    /// The camera's name.
    pub fn name(&self) -> &str {
        &self.config.name
    }
}

fn source(
    name: &str,
    config: esp32_source::SourceConfig,
) -> Result<esp32_source::Source, StartError> {
    esp32_source::Source::new(config).map_err(|source| StartError::Source {
        camera: name.to_owned(),
        source: Box::new(source),
    })
}
