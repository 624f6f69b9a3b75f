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
            .map(|c| CameraSnapshot {
                recording: state.recording.as_ref().and_then(|r| r.stats(c.name())),
                ..c.snapshot()
            })
            .collect(),
    }
}
