//! A camera's viewers as `mjpeg-serve` sees them: admission through the camera's broadcaster,
//! counts into the camera's stats.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mjpeg_serve::{Admission, Refused, ViewerCounters};

use super::stats::ViewerKind;
use super::Camera;
use crate::frame::FrameMeta;

/// A viewer of a camera (MJPEG, WebSocket or SSE).
pub type Viewer = mjpeg_serve::Viewer<FrameMeta>;

/// Admits a `kind` viewer of `camera` if the limits allow it, and subscribes it to the raw or
/// the annotated broadcast.
pub fn admit(
    camera: &Arc<Camera>,
    admission: &Arc<Admission>,
    kind: ViewerKind,
    max_age: Duration,
) -> Result<Viewer, Refused> {
    let broadcast = if kind.is_detect() {
        &camera.detect
    } else {
        &camera.raw
    };
    let tally = Arc::new(Tally {
        camera: camera.clone(),
        kind,
        label: format!("{}/{}", camera.name(), kind.as_str()),
    });
    Viewer::admit(broadcast, admission, tally, max_age)
}

/// Where one viewer's counts go: its camera's stats, under its kind.
struct Tally {
    camera: Arc<Camera>,
    kind: ViewerKind,
    label: String,
}

impl ViewerCounters for Tally {
    fn joined(&self) -> usize {
        self.camera.stats.viewer_joined(self.kind)
    }

    fn left(&self) -> usize {
        self.camera.stats.viewer_left(self.kind)
    }

    fn dropped_queue(&self, frames: u64) {
        add(&self.camera.stats.dropped_queue_gone, frames);
    }

    fn dropped_age(&self, frames: u64) {
        add(&self.camera.stats.dropped_age, frames);
    }

    fn dropped_paced(&self, frames: u64) {
        add(&self.camera.stats.dropped_paced, frames);
    }

    fn evicted(&self) {
        add(&self.camera.stats.evicted, 1);
    }

    fn label(&self) -> &str {
        &self.label
    }
}

/// Adds to a statistics counter (relaxed: nothing is synchronised through it).
fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}
