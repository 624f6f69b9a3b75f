//! A viewer: one subscription to a broadcast, with admission limits, the frame-age bound,
//! skip-to-newest and the counters that outlive it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use broadcast_core::{Handle, Subscriber};

use crate::frame::SharedFrame;

/// Where a viewer's counts go: the application's statistics for one group of viewers (say, one
/// camera's raw stream). Called off the hot path: on admission, on leaving, and when frames are
/// skipped.
pub trait ViewerCounters: Send + Sync + 'static {
    /// A viewer joined the group; returns the group's viewers now, counting it.
    fn joined(&self) -> usize;
    /// A viewer left the group (or was refused after [`joined`](Self::joined)); returns the
    /// group's viewers now.
    fn left(&self) -> usize;
    /// A viewer that left lost `frames` because its queue was full.
    fn dropped_queue(&self, frames: u64);
    /// `frames` were skipped because they were older than the age bound (or a newer frame was
    /// queued behind them).
    fn dropped_age(&self, frames: u64);
    /// `frames` were skipped for a paced viewer: a newer frame replaced them before its link
    /// drained.
    fn dropped_paced(&self, frames: u64);
    /// A viewer was disconnected because it accepted no bytes for the write timeout.
    fn evicted(&self);
    /// A name for logs (the camera's, say).
    fn label(&self) -> &str {
        ""
    }
}

/// The simplest [`ViewerCounters`]: counts the group's viewers and ignores drops (examples,
/// tests, servers that keep no statistics).
#[derive(Debug, Default)]
pub struct ViewerCount(std::sync::atomic::AtomicUsize);

impl ViewerCount {
    /// Viewers in the group now.
    pub fn viewers(&self) -> usize {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl ViewerCounters for ViewerCount {
    fn joined(&self) -> usize {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1
    }
    fn left(&self) -> usize {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed) - 1
    }
    fn dropped_queue(&self, _: u64) {}
    fn dropped_age(&self, _: u64) {}
    fn dropped_paced(&self, _: u64) {}
    fn evicted(&self) {}
}

/// Why a viewer was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The limit over all groups was reached.
    TotalFull,
    /// The limit of the viewer's group was reached.
    GroupFull,
}

/// Viewer limits shared by every group (camera) of a server.
#[derive(Debug, Default)]
pub struct Admission {
    total: AtomicUsize,
    max_total: usize,
    max_per_group: usize,
}

impl Admission {
    /// At most `max_total` viewers over all groups and `max_per_group` in one (0 = unlimited).
    pub fn new(max_total: usize, max_per_group: usize) -> Self {
        Admission {
            total: AtomicUsize::new(0),
            max_total,
            max_per_group,
        }
    }

    /// Viewers over all groups now.
    pub fn total(&self) -> usize {
        self.total.load(Ordering::Relaxed)
    }
}

/// One connected viewer. Dropping it unsubscribes and updates the counts.
pub struct Viewer<M = ()> {
    subscriber: Subscriber<SharedFrame<M>>,
    counters: Arc<dyn ViewerCounters>,
    admission: Arc<Admission>,
    max_age: Duration,
    /// The subscriber's queue-full drops when we last looked: when it grows, the viewer has
    /// fallen behind and skips to the newest queued frame.
    seen_dropped: u64,
}

impl<M> Viewer<M> {
    /// Admits a viewer of `broadcast` if the limits allow it, and subscribes it. Frames older
    /// than `max_age` (since they were published) are skipped.
    pub fn admit(
        broadcast: &Handle<SharedFrame<M>>,
        admission: &Arc<Admission>,
        counters: Arc<dyn ViewerCounters>,
        max_age: Duration,
    ) -> Result<Self, Refused> {
        // Relaxed: the counter only bounds admissions; a race can overshoot by the number of
        // concurrent admissions at worst, and is undone at once below.
        let total = admission.total.fetch_add(1, Ordering::Relaxed) + 1;
        if admission.max_total > 0 && total > admission.max_total {
            admission.total.fetch_sub(1, Ordering::Relaxed);
            return Err(Refused::TotalFull);
        }
        let group = counters.joined();
        if admission.max_per_group > 0 && group > admission.max_per_group {
            counters.left();
            admission.total.fetch_sub(1, Ordering::Relaxed);
            return Err(Refused::GroupFull);
        }
        let subscriber = broadcast.subscribe();
        tracing::info!(
            group = counters.label(),
            viewer = subscriber.id(),
            group_viewers = group,
            total_viewers = total,
            "viewer added"
        );
        Ok(Viewer {
            subscriber,
            counters,
            admission: admission.clone(),
            max_age,
            seen_dropped: 0,
        })
    }

    /// Moves the viewer to another broadcast (another quality tier of its camera) between two
    /// frames: it is subscribed there and unsubscribed here; frames dropped here are counted
    /// now. Admission and group counts do not change.
    pub fn switch_to(&mut self, broadcast: &Handle<SharedFrame<M>>) {
        let left = std::mem::replace(&mut self.subscriber, broadcast.subscribe());
        let stats = left.stats();
        if stats.dropped > 0 {
            self.counters.dropped_queue(stats.dropped);
        }
        self.seen_dropped = 0;
    }

    /// Frames dropped for this viewer so far (on its current broadcast) because its queue was
    /// full.
    pub fn dropped(&self) -> u64 {
        self.subscriber.dropped()
    }

    /// Where this viewer's counts go.
    pub fn counters(&self) -> &Arc<dyn ViewerCounters> {
        &self.counters
    }

    /// Polls for the next frame young enough to send; frames older than the age bound are
    /// skipped and counted. `None` when the broadcast ended.
    ///
    /// A viewer whose queue overflowed since its last frame (it is behind: a thin link, a
    /// stalled reader) skips straight to the newest queued frame: otherwise drop-newest would
    /// have it play the oldest frames of the queue, each later than the one before. Frames
    /// skipped for freshness are counted with the age drops, apart from queue-full drops.
    pub fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<SharedFrame<M>>> {
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
                if self.is_fresh(&delivery.item) {
                    self.count_stale(skipped);
                    return Poll::Ready(Some(delivery.item));
                }
                skipped += 1;
            }
            self.count_stale(skipped);
        }
        loop {
            match self.subscriber.poll_recv(cx) {
                Poll::Ready(Some(delivery)) => {
                    if !self.is_fresh(&delivery.item) {
                        self.count_stale(1);
                        continue;
                    }
                    return Poll::Ready(Some(delivery.item));
                }
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// Whether `frame` is young enough to send (the age bound).
    pub fn is_fresh(&self, frame: &SharedFrame<M>) -> bool {
        frame.published_at.elapsed() <= self.max_age
    }

    /// Counts `frames` skipped for freshness (with the age drops).
    pub fn count_stale(&self, frames: u64) {
        if frames > 0 {
            self.counters.dropped_age(frames);
        }
    }

    /// Counts `frames` skipped while the viewer was paced (a newer frame replaced them).
    pub fn count_paced(&self, frames: u64) {
        if frames > 0 {
            self.counters.dropped_paced(frames);
        }
    }

    /// Waits for the next frame young enough to send.
    pub async fn next_frame(&mut self) -> Option<SharedFrame<M>> {
        std::future::poll_fn(|cx| self.poll_frame(cx)).await
    }
}

impl<M> Drop for Viewer<M> {
    fn drop(&mut self) {
        let stats = self.subscriber.stats();
        if stats.dropped > 0 {
            self.counters.dropped_queue(stats.dropped);
        }
        let group = self.counters.left();
        let total = self.admission.total.fetch_sub(1, Ordering::Relaxed) - 1;
        tracing::info!(
            group = self.counters.label(),
            viewer = self.subscriber.id(),
            delivered = stats.delivered,
            dropped = stats.dropped,
            group_viewers = group,
            total_viewers = total,
            "viewer removed"
        );
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::frame::{Frame, FrameState};
    use broadcast_core::{Config, Policy, Publisher};
    use bytes::Bytes;
    use mjpeg_codec::Timestamp;
    use std::sync::atomic::AtomicU64;
    use std::time::Instant;

    /// Counters a test can read.
    #[derive(Default)]
    pub(crate) struct Tally {
        pub viewers: AtomicUsize,
        pub queue: AtomicU64,
        pub age: AtomicU64,
        pub paced: AtomicU64,
        pub evicted: AtomicU64,
    }

    impl ViewerCounters for Tally {
        fn joined(&self) -> usize {
            self.viewers.fetch_add(1, Ordering::Relaxed) + 1
        }
        fn left(&self) -> usize {
            self.viewers.fetch_sub(1, Ordering::Relaxed) - 1
        }
        fn dropped_queue(&self, frames: u64) {
            self.queue.fetch_add(frames, Ordering::Relaxed);
        }
        fn dropped_age(&self, frames: u64) {
            self.age.fetch_add(frames, Ordering::Relaxed);
        }
        fn dropped_paced(&self, frames: u64) {
            self.paced.fetch_add(frames, Ordering::Relaxed);
        }
        fn evicted(&self) {
            self.evicted.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A frame published `age` ago.
    pub(crate) fn frame(id: u64, age: Duration) -> SharedFrame {
        let mut frame = Frame::new(
            id,
            Bytes::from_static(b"\xFF\xD8\xFF\xD9"),
            Timestamp::now(),
            FrameState::Live,
            (),
        );
        frame.published_at = Instant::now() - age;
        Arc::new(frame)
    }

    pub(crate) fn publisher(capacity: usize) -> Publisher<SharedFrame> {
        Publisher::new(Config::new(capacity, Policy::DropNewest))
    }

    pub(crate) fn admit(publisher: &Publisher<SharedFrame>, tally: &Arc<Tally>) -> Viewer {
        let admission = Arc::new(Admission::new(0, 0));
        Viewer::admit(
            &publisher.handle(),
            &admission,
            tally.clone(),
            Duration::from_secs(1),
        )
        .expect("no limits")
    }

    fn ids(viewer: &mut Viewer) -> Vec<u64> {
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut ids = Vec::new();
        while let Poll::Ready(Some(frame)) = viewer.poll_frame(&mut cx) {
            ids.push(frame.id);
        }
        ids
    }

    #[test]
    fn limits_refuse_and_leaving_frees_the_place() {
        let publisher = publisher(4);
        let admission = Arc::new(Admission::new(2, 1));
        let (a, b) = (Arc::new(Tally::default()), Arc::new(Tally::default()));
        let age = Duration::from_secs(1);
        let first = Viewer::admit(&publisher.handle(), &admission, a.clone(), age).expect("room");
        let refused = Viewer::admit(&publisher.handle(), &admission, a.clone(), age).err();
        assert_eq!(refused, Some(Refused::GroupFull));
        let other = Viewer::admit(&publisher.handle(), &admission, b.clone(), age).expect("room");
        let refused = Viewer::admit(&publisher.handle(), &admission, b.clone(), age).err();
        assert_eq!(refused, Some(Refused::TotalFull));
        assert_eq!(
            (admission.total(), a.viewers.load(Ordering::Relaxed)),
            (2, 1)
        );
        drop(first);
        drop(other);
        assert_eq!(admission.total(), 0);
        assert_eq!(a.viewers.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_viewer_that_fell_behind_skips_to_the_newest_frame() {
        let publisher = publisher(3);
        let tally = Arc::new(Tally::default());
        let mut viewer = admit(&publisher, &tally);
        for id in 1..=3 {
            publisher.publish(frame(id, Duration::ZERO));
        }
        assert_eq!(ids(&mut viewer), [1, 2, 3], "kept up: every frame in order");
        for id in 4..=9 {
            publisher.publish(frame(id, Duration::ZERO)); // 7, 8, 9 overflow the queue
        }
        assert_eq!(
            ids(&mut viewer),
            [6],
            "behind: only the newest queued frame"
        );
        assert_eq!(
            tally.age.load(Ordering::Relaxed),
            2,
            "4 and 5 skipped for freshness"
        );
        publisher.publish(frame(10, Duration::ZERO));
        assert_eq!(ids(&mut viewer), [10]);
        drop(viewer);
        assert_eq!(
            tally.queue.load(Ordering::Relaxed),
            3,
            "7, 8, 9 lost to the full queue"
        );
    }

    #[test]
    fn frames_older_than_the_age_bound_are_skipped_and_counted() {
        let publisher = publisher(4);
        let tally = Arc::new(Tally::default());
        let mut viewer = admit(&publisher, &tally);
        publisher.publish(frame(1, Duration::from_secs(5)));
        publisher.publish(frame(2, Duration::ZERO));
        publisher.publish(frame(3, Duration::from_secs(2)));
        assert_eq!(ids(&mut viewer), [2]);
        assert_eq!(tally.age.load(Ordering::Relaxed), 2);
        drop(publisher);
        let waker = std::task::Waker::noop();
        assert!(matches!(
            viewer.poll_frame(&mut Context::from_waker(waker)),
            Poll::Ready(None)
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiting_viewer_wakes_for_the_next_frame() {
        let publisher = publisher(2);
        let tally = Arc::new(Tally::default());
        let mut viewer = admit(&publisher, &tally);
        let waiting = tokio::spawn(async move { viewer.next_frame().await.map(|f| f.id) });
        tokio::time::sleep(Duration::from_millis(100)).await;
        publisher.publish(frame(42, Duration::ZERO));
        assert_eq!(waiting.await.expect("no panic"), Some(42));
    }
}
