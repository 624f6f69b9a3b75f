//! The state shared by every connection and task: configuration, cameras, viewer admission,
//! metrics; and what one connection knows about itself.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use mjpeg_serve::{Admission, Pacer};

use crate::camera::Camera;
use crate::config::RelayConfig;
use relay_metrics::Metrics;

/// Shared by every connection and task.
pub struct RelayState {
    /// The configuration it runs with.
    pub config: RelayConfig,
    /// The cameras, in configuration order.
    pub cameras: Vec<Arc<Camera>>,
    /// Viewer limits and the global viewer count.
    pub admission: Arc<Admission>,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Start time, for uptime.
    pub started: Instant,
    /// Who may do what (open when no token is configured); see [`crate::http::access`].
    pub auth: Arc<relay_auth::TokenStore>,
    /// Whether connections are HTTPS (login cookies are then `Secure`).
    pub secure: bool,
    /// This node's connection to the cluster (`--nats`), when clustered.
    pub bus: Option<frame_bus::Bus>,
    /// The MQTT publisher's counters, when MQTT is configured.
    pub mqtt: Option<Arc<mqtt_detections::MqttStats>>,
    /// The synchronized live wall (`/live/sync/...`), running while someone watches it.
    pub wall: Arc<camera_taps::wall::LiveWall>,
    /// Replay sessions over the recordings (present when recording is configured).
    pub replay: Option<crate::http::replay::Replay>,
    /// Recording, when configured (`--record DIR`, `[record]`).
    pub recording: Option<Arc<camera_taps::record::Recording>>,
}

impl RelayState {
    /// A camera by name.
    pub fn camera(&self, name: &str) -> Option<&Arc<Camera>> {
        self.cameras.iter().find(|c| c.name() == name)
    }

    /// Whether detection runs for this camera.
    pub fn detect_enabled(&self, camera: &Camera) -> bool {
        self.config.detect && camera.config.detect
    }
}

/// What a connection's task needs to know about what the connection did.
#[derive(Default)]
pub struct ConnInfo {
    camera: OnceLock<Arc<Camera>>,
    /// The connection's socket, for pacing a viewer on a slow link (`None` in tests that build
    /// a `ConnInfo` without one).
    fd: Option<std::os::fd::RawFd>,
}

impl ConnInfo {
    /// Information about the connection on socket `fd`.
    pub fn new(fd: Option<std::os::fd::RawFd>) -> Self {
        ConnInfo {
            camera: OnceLock::new(),
            fd,
        }
    }

    /// A pacer for a viewer on this connection (see [`mjpeg_serve::pacing`]).
    pub fn pacer(&self) -> Option<Pacer> {
        self.fd.and_then(Pacer::new)
    }

    /// What the kernel says about this connection's queues (`TCP_INFO`), for a viewer whose
    /// quality tier is chosen from its link.
    pub fn probe(&self) -> Option<Box<dyn mjpeg_serve::pacing::QueueProbe>> {
        let fd = self.fd?;
        Some(Box::new(mjpeg_serve::pacing::TcpInfo(fd)))
    }

    /// Records that this connection is a viewer of `camera` (for eviction counts).
    pub fn watching(&self, camera: &Arc<Camera>) {
        let _ = self.camera.set(camera.clone());
    }

    /// The camera this connection watches, if it is a viewer.
    pub fn camera(&self) -> Option<&Arc<Camera>> {
        self.camera.get()
    }
}
