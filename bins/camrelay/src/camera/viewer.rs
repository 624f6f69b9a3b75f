//! A viewer: one subscription to a camera's broadcast, with admission limits, the frame-age
//! bound and the counters that outlive it.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use broadcast_core::Subscriber;

use super::stats::ViewerKind;
use super::Camera;
use crate::frame::SharedFrame;

/// Why a viewer was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// `--max-viewers` reached.
    RelayFull,
    /// `--max-viewers-per-camera` reached.
    CameraFull,
}

/// Viewer limits shared by every camera of a relay.
#[derive(Debug)]
pub struct Admission {
    /// Viewers over all cameras now.
    pub total: AtomicUsize,
    /// Most viewers over all cameras (0 = unlimited).
    pub max_total: usize,
    /// Most viewers of one camera (0 = unlimited).
    pub max_per_camera: usize,
}

/// One connected viewer. Dropping it unsubscribes and updates the counts.
pub struct Viewer {
    camera: Arc<Camera>,
    admission: Arc<Admission>,
    kind: ViewerKind,
    subscriber: Subscriber<SharedFrame>,
    max_age: Duration,
    /// The subscriber's queue-full drops when we last looked: when it grows, the viewer has
    /// fallen behind and skips to the newest queued frame.
    seen_dropped: u64,
}

impl Viewer {
    /// Admits a viewer of `camera` if the limits allow it, and subscribes it.
    pub fn admit(
        camera: &Arc<Camera>,
        admission: &Arc<Admission>,
        kind: ViewerKind,
        max_age: Duration,
    ) -> Result<Viewer, Refused> {
        // Relaxed: the counter only bounds admissions; a race can overshoot by the number of
        // concurrent admissions at worst, and is undone at once below.
        let total = admission.total.fetch_add(1, Ordering::Relaxed) + 1;
        if admission.max_total > 0 && total > admission.max_total {
            admission.total.fetch_sub(1, Ordering::Relaxed);
            return Err(Refused::RelayFull);
        }
        let camera_total = camera.stats.viewer_joined(kind);
        if admission.max_per_camera > 0 && camera_total > admission.max_per_camera {
            camera.stats.viewer_left(kind);
            admission.total.fetch_sub(1, Ordering::Relaxed);
            return Err(Refused::CameraFull);
        }
        let handle = if kind.is_detect() {
            &camera.detect
        } else {
            &camera.raw
        };
        let subscriber = handle.subscribe();
        tracing::info!(
            camera = %camera.name(),
            broadcaster = camera.id,
            viewer = subscriber.id(),
            kind = kind.as_str(),
            camera_viewers = camera_total,
            relay_viewers = total,
            "viewer added"
        );
        Ok(Viewer {
            camera: camera.clone(),
            admission: admission.clone(),
            kind,
            subscriber,
            max_age,
            seen_dropped: 0,
        })
    }

    /// Frames dropped for this viewer so far because its queue was full.
    pub fn dropped(&self) -> u64 {
        self.subscriber.dropped()
    }

    /// The camera watched.
    pub fn camera(&self) -> &Arc<Camera> {
        &self.camera
    }

    /// Polls for the next frame young enough to send; frames older than the age bound are
    /// skipped and counted. `None` when the broadcast ended.
    ///
    /// A viewer whose queue overflowed since its last frame (it is behind: a thin link, a
    /// stalled reader) skips straight to the newest queued frame: otherwise drop-newest would
    /// have it play the oldest frames of the queue, each later than the one before. Frames
    /// skipped for freshness are counted with the age drops, apart from queue-full drops.
    pub fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<SharedFrame>> {
        let dropped = self.subscriber.dropped();
        if dropped != self.seen_dropped {
            self.seen_dropped = dropped;
            let mut newest = None;
            let mut skipped = 0;
            while let Ok(delivery) = self.subscriber.try_recv() {
                if newest.replace(delivery).is_some() {
                    skipped += 1;
                }
            }
            if let Some(delivery) = newest {
                if delivery.item.published_at.elapsed() > self.max_age {
                    skipped += 1;
                } else {
                    self.count_stale(skipped);
                    return Poll::Ready(Some(delivery.item));
                }
            }
            self.count_stale(skipped);
        }
        loop {
            match self.subscriber.poll_recv(cx) {
                Poll::Ready(Some(delivery)) => {
                    let frame = delivery.item;
                    if frame.published_at.elapsed() > self.max_age {
                        self.count_stale(1);
                        continue;
                    }
                    return Poll::Ready(Some(frame));
                }
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// Whether `frame` is young enough to send (the `--max-frame-age` bound).
    pub fn is_fresh(&self, frame: &SharedFrame) -> bool {
        frame.published_at.elapsed() <= self.max_age
    }

    /// Counts `frames` skipped for freshness (with the age drops).
    pub fn count_stale(&self, frames: u64) {
        add(&self.camera.stats.dropped_age, frames);
    }

    /// Counts `frames` skipped while the viewer was paced (a newer frame replaced them).
    pub fn count_paced(&self, frames: u64) {
        add(&self.camera.stats.dropped_paced, frames);
    }

    /// Waits for the next frame young enough to send.
    pub async fn next_frame(&mut self) -> Option<SharedFrame> {
        std::future::poll_fn(|cx| self.poll_frame(cx)).await
    }
}

impl Drop for Viewer {
    fn drop(&mut self) {
        let stats = self.subscriber.stats();
        self.camera
            .stats
            .dropped_queue_gone
            .fetch_add(stats.dropped, Ordering::Relaxed);
        let camera_total = self.camera.stats.viewer_left(self.kind);
        let total = self.admission.total.fetch_sub(1, Ordering::Relaxed) - 1;
        tracing::info!(
            camera = %self.camera.name(),
            broadcaster = self.camera.id,
            viewer = self.subscriber.id(),
            kind = self.kind.as_str(),
            delivered = stats.delivered,
            dropped = stats.dropped,
            camera_viewers = camera_total,
            relay_viewers = total,
            "viewer removed"
        );
    }
}

/// Adds `frames` to a drop counter.
fn add(counter: &AtomicU64, frames: u64) {
    if frames > 0 {
        // Relaxed: a statistics counter.
        counter.fetch_add(frames, Ordering::Relaxed);
    }
}
