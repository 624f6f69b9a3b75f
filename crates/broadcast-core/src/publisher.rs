//! The producing end of a channel.

use std::fmt;
use std::sync::Arc;

use crate::handoff::producer_fence;
use crate::shared::Shared;
use crate::slot::Offer;
use crate::sync::Ordering;
use crate::{Config, Delivery, Handle, Subscriber};

/// The single producer of a channel. Not `Clone`; dropping it closes the channel (subscribers
/// drain what is queued, then get `None`).
pub struct Publisher<T> {
    /// The channel, through the same handle HTTP handlers get from [`Publisher::handle`].
    handle: Handle<T>,
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
        }
    }

    /// Offers `item` to every current subscriber (one clone each). Never blocks, never awaits,
    /// takes no lock; wakes only subscribers that are waiting.
    pub fn publish(&self, item: T) -> PublishReport {
        let shared = self.handle.shared();
        // Relaxed: uniqueness of sequence numbers is all that is needed; the items reach
        // subscribers through the queues, whose push/pop publish them.
        let seq = shared.published.fetch_add(1, Ordering::Relaxed);
        let registry = shared.registry.load();
        let mut report = PublishReport {
            seq,
            delivered: 0,
            dropped: 0,
        };
        for slot in registry.iter() {
            match slot.offer(Delivery {
                seq,
                item: item.clone(),
            }) {
                Offer::Queued => report.delivered += 1,
                Offer::Refused => report.dropped += 1,
                Offer::Evicted => {
                    report.delivered += 1;
                    report.dropped += 1;
                }
            }
        }
        if !registry.is_empty() {
            // One fence for the whole round instead of one per subscriber (see `handoff`).
            producer_fence();
            for slot in registry.iter() {
                slot.signal.wake_if_waiting();
            }
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
