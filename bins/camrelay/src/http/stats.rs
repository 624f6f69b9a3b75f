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
    pub cameras: Vec<CameraSnapshot>,
    /// The MQTT publisher (`null` when MQTT is not configured).
    pub mqtt: Option<crate::mqtt::MqttView>,
}

/// Builds the stats document.
pub fn relay_stats(state: &RelayState) -> RelayStats {
    RelayStats {
        uptime_s: state.started.elapsed().as_secs_f64(),
        broadcasters: state.cameras.len(),
        viewers_total: state.admission.total(),
        cameras: state.cameras.iter().map(|c| c.snapshot()).collect(),
        mqtt: state.mqtt.as_deref().map(crate::mqtt::MqttView::of),
    }
}

/// The stats document with only the cameras `grant` may watch.
pub fn visible_stats(state: &RelayState, grant: &relay_auth::Grant) -> RelayStats {
    let mut stats = relay_stats(state);
    if !grant.is_open() && grant.cameras().is_some() {
        stats.cameras.retain(|c| grant.allows_camera(&c.name));
        stats.broadcasters = stats.cameras.len();
        stats.viewers_total = stats.cameras.iter().map(|c| c.viewers.total).sum();
    }
    stats
}
