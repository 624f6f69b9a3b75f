//! The producing end of a channel.

use std::fmt;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::handoff::producer_fence;
use crate::seq_queue::Pushed;
use crate::shared::Shared;
use crate::sync::Ordering;
use crate::{Config, Handle, Subscriber};

/// The single producer of a channel. Not `Clone`; dropping it closes the channel (subscribers
/// drain what is queued, then get `None`).
pub struct Publisher<T> {
    /// The channel, through the same handle HTTP handlers get from [`Publisher::handle`].
    handle: Handle<T>,
    /// Set while a `publish` runs. The subscriber queues have a single producer; `publish`
    /// takes `&self`, so this flag serialises the (unusual) case of several threads calling it
    /// at once. The one publishing thread finds it clear: one uncontended swap per publish.
    publishing: AtomicBool,
}

/// What one [`Publisher::publish`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PublishReport {
    /// Sequence number given to the item (0 for the first item, then +1 each publish).
    pub seq: u64,
    /// Subscribers whose queue took the item.
    pub delivered: usize,
    /// Items dropped by full queues: the new item for drop-newest subscribers, the oldest
    /// queued item for drop-oldest ones (so a drop-oldest subscriber counts in both fields).
    pub dropped: usize,
}

impl<T: Clone + Send + Sync + 'static> Publisher<T> {
    /// An open channel; `config` is the queue setting of subscribers made with `subscribe()`.
    pub fn new(config: Config) -> Self {
        Self {
            handle: Handle::from_shared(Arc::new(Shared::new(config))),
            publishing: AtomicBool::new(false),
        }
    }

    /// Offers `item` to every current subscriber. Never blocks, never awaits, takes no lock;
    /// wakes only subscribers that are waiting. The item is stored once (subscribers clone it
    /// when they receive it); with no subscriber it is dropped at once. Meant for one
    /// publishing thread; calls from several threads at once take turns (they never wait for
    /// a subscriber).
    pub fn publish(&self, item: T) -> PublishReport {
        // Acquire/Release: a second thread publishing at once waits here for the first one's
        // pushes to be complete and visible (never for a subscriber).
        while self.publishing.swap(true, Ordering::Acquire) {
            std::hint::spin_loop();
        }
        // Cleared on the way out, even if dropping an old item panics inside.
        let _turn = PublishingTurn(&self.publishing);
        self.publish_alone(item)
    }

    /// `publish`, with no other thread publishing.
    fn publish_alone(&self, item: T) -> PublishReport {
        let shared = self.handle.shared();
        // Relaxed: uniqueness of sequence numbers is all that is needed; the items reach
        // subscribers through the ring and the queues, which publish them.
        let seq = shared.published.fetch_add(1, Ordering::Relaxed);
        let mut report = PublishReport {
            seq,
            delivered: 0,
            dropped: 0,
        };
        let registry = shared.registry.load();
        if registry.is_empty() {
            return report;
        }
        // The item goes into the ring before its sequence number goes into any queue, so a
        // subscriber that pops the number finds the item (the queue's Release push / Acquire
        // pop orders the two).
        let ring = shared.ring_for_publish();
        ring.store(seq, item);
        for slot in registry.iter().filter(|slot| slot.is_active()) {
            match slot.offer(seq) {
                Pushed::Queued => report.delivered += 1,
                Pushed::Refused => report.dropped += 1,
                Pushed::Evicted => {
                    report.delivered += 1;
                    report.dropped += 1;
                }
            }
        }
        // One fence for the whole round instead of one per subscriber (see `handoff`).
        producer_fence();
        for slot in registry.iter() {
            slot.signal.0.wake_if_waiting();
        }
        if shared.live_after_store() == 0 {
            // The last subscriber left during this publish, after clearing the ring: do not
            // keep the item alive for nobody.
            ring.forget(seq);
        }
        report
    }

    /// A cloneable, `Send + Sync` handle to subscribe from elsewhere (HTTP handlers).
    pub fn handle(&self) -> Handle<T> {
        self.handle.clone()
    }

    /// A subscriber with the channel's default queue config.
    pub fn subscribe(&self) -> Subscriber<T> {
        self.handle.subscribe()
    }

    /// Live subscribers right now.
    pub fn subscriber_count(&self) -> usize {
        self.handle.subscriber_count()
    }

    /// The sequence number the next published item will get (= items published so far).
    pub fn next_seq(&self) -> u64 {
        self.handle.published()
    }
}

/// Clears [`Publisher`]'s `publishing` flag when dropped.
struct PublishingTurn<'a>(&'a AtomicBool);

impl Drop for PublishingTurn<'_> {
    fn drop(&mut self) {
        // Release: the next publisher (Acquire swap) sees this publish's pushes complete.
        self.0.store(false, Ordering::Release);
    }
}

impl<T> Drop for Publisher<T> {
    fn drop(&mut self) {
        self.handle.shared().close();
    }
}

impl<T> fmt::Debug for Publisher<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Publisher")
            .field("handle", &self.handle)
            .finish()
    }
}
