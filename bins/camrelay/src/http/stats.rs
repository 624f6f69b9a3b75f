//! `GET /api/stats`: what every broadcaster is doing (documented in `docs/api.md`). Each
//! camera's part is its [`CameraSnapshot`], the same reading `/metrics` encodes.

use serde::Serialize;

pub use crate::camera::snapshot::{
    CameraSnapshot, DetectorView, UpstreamView, ViewerView, ViewersView,
};
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
    pub cameras: Vec<CameraStats>,
    /// The MQTT publisher (`null` when MQTT is not configured).
    pub mqtt: Option<mqtt_detections::StatsSnapshot>,
    /// The cluster bus (`null` when the relay is not clustered).
    pub bus: Option<frame_bus::BusView>,
}

/// One camera: its counters and, when it is recorded, its recorder.
#[derive(Debug, Serialize)]
pub struct CameraStats {
    /// The camera's counters (the same reading `/metrics` encodes).
    #[serde(flatten)]
    pub camera: CameraSnapshot,
    /// The recorder (`null` when the camera is not recorded).
    pub recording: Option<mjpeg_record::RecorderStats>,
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
            .map(|c| {
                let mut camera = c.snapshot();
                if let (Some(cluster), Some(bus)) = (camera.cluster.as_mut(), &state.bus) {
                    if cluster.reads == "camera" {
                        cluster.owner = Some(bus.node().to_owned());
                    }
                }
                CameraStats {
                    camera,
                    recording: state.recording.as_ref().and_then(|r| r.stats(c.name())),
                }
            })
            .collect(),
        mqtt: state
            .mqtt
            .as_deref()
            .map(mqtt_detections::MqttStats::snapshot),
        bus: state.bus.as_ref().map(frame_bus::Bus::view),
    }
}

/// The stats document with only the cameras `grant` may watch.
pub fn visible_stats(state: &RelayState, grant: &relay_auth::Grant) -> RelayStats {
    let mut stats = relay_stats(state);
    if !grant.is_open() && grant.cameras().is_some() {
        stats
            .cameras
            .retain(|c| grant.allows_camera(&c.camera.name));
        stats.broadcasters = stats.cameras.len();
        stats.viewers_total = stats.cameras.iter().map(|c| c.camera.viewers.total).sum();
    }
    stats
}
