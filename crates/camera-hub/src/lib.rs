//! One camera: one upstream connection opened on demand, a raw and an annotated broadcast,
//! YOLO detection once per frame (not once per viewer), keepalives and offline cards, and
//! counters read in one [`CameraSnapshot`].
//!
//! A [`Camera`] has exactly one upstream connection, opened by the [`supervisor`] task when
//! the first viewer subscribes and closed after the last one left (plus the idle timeout), and
//! two `broadcast-core` channels: [`Camera::raw`] (camera frames) and [`Camera::detect`]
//! (annotated frames, fed by the [`detect`] task only while someone watches them). Every viewer
//! has its own bounded queue, so all viewers see the same frame id and a slow one slows nobody.
//!
//! ```
//! use camera_hub::{Camera, CameraSpec, HubSettings, SourceSpec};
//! use tokio_util::sync::CancellationToken;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), camera_hub::CameraError> {
//! // The built-in demo camera (30 fps, the frame id drawn into each picture).
//! let settings = HubSettings { detect: false, ..HubSettings::default() };
//! let (camera, tasks) = Camera::new(CameraSpec::new("demo", SourceSpec::Demo), &settings)?;
//! let shutdown = CancellationToken::new();
//! let handles = tasks.spawn(&camera, &settings, Box::new(|_latency| {}), &shutdown);
//!
//! // The first subscriber opens the upstream; every frame arrives once, in order.
//! let mut viewer = camera.raw.subscribe();
//! let mut ids = Vec::new();
//! while ids.len() < 3 {
//!     let frame = viewer.recv().await.expect("the camera runs").item;
//!     assert!(frame.jpeg.starts_with(&[0xFF, 0xD8]));
//!     ids.push(frame.id);
//! }
//! assert!(ids.windows(2).all(|w| w[0] < w[1]));
//! assert!(camera.snapshot().frames >= 3);
//!
//! shutdown.cancel();
//! for handle in handles {
//!     handle.await.expect("task ended");
//! }
//! # Ok(()) }
//! ```

pub mod cluster;
pub mod demo;
pub mod detect;
mod detect_model;
pub mod detect_share;
pub mod detection_events;
mod error;
pub mod frame;
mod frame_ids;
pub mod snapshot;
mod spec;
pub mod stats;
mod still;
pub mod supervisor;
pub mod viewer;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwapOption;
use broadcast_core::{Handle, Publisher};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use error::{CameraError, CameraErrorKind};
pub use frame::{Frame, SharedFrame};
pub use snapshot::CameraSnapshot;
pub use spec::{CameraSpec, HubSettings, SourceSpec};
pub use stats::{CameraStats, DetectorStats, ViewerKind};
pub use supervisor::LatencySink;

/// Gives each broadcaster a process-wide unique id (the seed's "broadcaster id").
static NEXT_BROADCASTER_ID: AtomicU64 = AtomicU64::new(1);

/// Where a camera's frames come from, ready to open.
pub enum Upstream {
    /// A real camera (stream or snapshot polling) through `esp32-source`.
    Camera(esp32_source::Source),
    /// The built-in synthetic camera.
    Demo(demo::DemoCamera),
    /// A camera shared by a cluster of relays: `local` while this node owns it, the owner's
    /// frames through `link` otherwise (see [`cluster`]).
    Clustered {
        /// This node's own way to the camera.
        local: Arc<Upstream>,
        /// The cluster side: ownership, the owner's frames, publishing ours.
        link: Arc<dyn cluster::ClusterLink>,
    },
}

/// A camera as viewers see it: handles to subscribe, the latest frame, counters.
pub struct Camera {
    /// Broadcaster id, unique in this process; shown in logs and stats.
    pub id: u64,
    /// What was configured.
    pub config: CameraSpec,
    /// Subscribe here for raw frames.
    pub raw: Handle<SharedFrame>,
    /// Subscribe here for annotated frames (starts the detector).
    pub detect: Handle<SharedFrame>,
    /// The newest published frame, for snapshots and keepalive re-sends.
    pub latest: ArcSwapOption<Frame>,
    /// Whether detection runs for this camera (hub-wide and for the camera).
    pub detect_enabled: bool,
    /// Upstream state, for stats and the offline placeholder (`None` for the demo camera).
    pub source_status: Option<esp32_source::StatusHandle>,
    /// Frame and viewer counters.
    pub stats: CameraStats,
    /// Detector counters and timings.
    pub detector: DetectorStats,
    /// For a clustered camera while someone watches: what this node reads (`None`: not
    /// clustered, or nobody watches and the node does not compete for it).
    pub cluster_role: ArcSwapOption<cluster::Role>,
    /// Next broadcast frame id; ids keep growing across upstream reconnects. An upstream that
    /// is another relay gives its own ids (`X-Frame-Id`), shifted only if they would go back.
    pub next_frame_id: AtomicU64,
    /// The quality tiers of the raw broadcast, started by the first [`Camera::tiers`] call.
    tiers: std::sync::OnceLock<Arc<mjpeg_serve::CameraTiers<frame::FrameMeta>>>,
    /// One decode per raw frame for the tiers and the detector, while both run.
    decoded: Arc<quality_tiers::SharedDecode>,
    /// Every viewer's queue (the tiers' broadcasts use it too).
    queue: broadcast_core::Config,
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
        config: CameraSpec,
        settings: &HubSettings,
    ) -> Result<(Arc<Camera>, CameraTasks), CameraError> {
        let queue = broadcast_core::Config {
            capacity: settings.queue.capacity.max(1),
            policy: settings.queue.policy,
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
            Upstream::Demo(_) | Upstream::Clustered { .. } => None,
        };
        let detect_enabled = settings.detect && config.detect;
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
            cluster_role: ArcSwapOption::empty(),
            tiers: std::sync::OnceLock::new(),
            decoded: Arc::default(),
            queue,
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

    /// The camera's quality tiers (`original`, `high`, `medium`, `low`): each lower tier is
    /// encoded once per frame from the raw broadcast, only while someone watches it. Started
    /// on first use (call it inside a tokio runtime).
    pub fn tiers(&self) -> &Arc<mjpeg_serve::CameraTiers<frame::FrameMeta>> {
        self.tiers.get_or_init(|| {
            let ladder = quality_tiers::Ladder::default();
            Arc::new(mjpeg_serve::CameraTiers::spawn_sharing(
                self.raw.clone(),
                ladder,
                self.queue,
                self.decoded.clone(),
            ))
        })
    }

    /// The decodes the tiers share with the detector: frames decoded, and decodes reused.
    pub fn shared_decodes(&self) -> (u64, u64) {
        (self.decoded.decodes(), self.decoded.reused())
    }

    /// The tiers if a viewer ever asked for one (`None`: nothing was ever encoded).
    pub fn tiers_started(&self) -> Option<&Arc<mjpeg_serve::CameraTiers<frame::FrameMeta>>> {
        self.tiers.get()
    }

    /// The camera's name.
    pub fn name(&self) -> &str {
        &self.config.name
    }
}

impl CameraTasks {
    /// Makes the camera part of a cluster: while someone watches, this node competes for it
    /// through `link` and reads either the camera (and publishes each frame through `link`)
    /// or the owner's frames (see [`cluster`]).
    pub fn clustered(self, link: Arc<dyn cluster::ClusterLink>) -> CameraTasks {
        CameraTasks {
            upstream: Upstream::Clustered {
                local: Arc::new(self.upstream),
                link,
            },
            ..self
        }
    }

    /// Spawns the camera's supervisor and, when detection is enabled, its detector task; both
    /// run until `shutdown`. `latency` receives the camera-to-hub latency of each live frame.
    pub fn spawn(
        self,
        camera: &Arc<Camera>,
        settings: &HubSettings,
        latency: LatencySink,
        shutdown: &CancellationToken,
    ) -> Vec<JoinHandle<()>> {
        let supervisor_config = supervisor::SupervisorConfig {
            idle_timeout: settings.idle_timeout,
            always_on: settings.always_on,
            keepalive: settings.keepalive,
        };
        let link = match &self.upstream {
            Upstream::Clustered { link, .. } => Some(link.clone()),
            _ => None,
        };
        let mut handles = vec![tokio::spawn(supervisor::run(
            camera.clone(),
            self.raw,
            self.upstream,
            supervisor_config,
            latency,
            shutdown.clone(),
        ))];
        if camera.detect_enabled {
            let detect_config = detect::DetectTaskConfig {
                model: camera
                    .config
                    .model
                    .clone()
                    .or_else(|| settings.model.clone()),
                jpeg_quality: settings.detect_jpeg_quality,
            };
            handles.push(tokio::spawn(detect::run(
                camera.clone(),
                self.detect,
                detect_config,
                link,
                shutdown.clone(),
            )));
        }
        handles
    }
}

fn source(
    name: &str,
    config: esp32_source::SourceConfig,
) -> Result<esp32_source::Source, CameraError> {
    esp32_source::Source::new(config).map_err(|source| CameraError::Source {
        camera: name.to_owned(),
        source: Box::new(source),
    })
}
