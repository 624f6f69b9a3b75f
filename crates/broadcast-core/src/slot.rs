//! One subscriber's queue, wake-up signal and counters, shared by the registry (publisher side)
//! and the [`Subscriber`](crate::Subscriber).

use std::sync::atomic::AtomicU64;

use crossbeam_queue::ArrayQueue;

use crate::handoff::Signal;
use crate::sync::Ordering;
use crate::{Config, Delivery, Policy, SubscriberStats};

/// What happened to one item offered to one subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Offer {
    /// Queued, nothing lost.
    Queued,
    /// Queue full, drop-newest: the offered item was dropped.
    Refused,
    /// Queue full, drop-oldest: queued, and the oldest queued item was dropped.
    Evicted,
}

/// A subscriber's state. Lives as long as the `Subscriber` or a registry snapshot holds it: a
/// publish that loaded the registry just before the subscriber left may still push into it;
/// the queue (and the items in it) is freed when that snapshot is released.
pub(crate) struct Slot<T> {
    /// Unique per channel, for stats and for removal from the registry.
    pub(crate) id: u64,
    /// Bounded queue, pushed by the publisher, popped by the subscriber only.
    pub(crate) queue: ArrayQueue<Delivery<T>>,
    /// Full-queue behaviour.
    policy: Policy,
    /// Wake-up handshake with the publisher.
    pub(crate) signal: Signal,
    /// Items offered to this slot (queued or dropped); written by the publisher.
    offered: AtomicU64,
    /// Items dropped by a full queue; written by the publisher.
    dropped: AtomicU64,
    /// Items the subscriber took (recv/try_recv, and the latest of a `drain_to_latest`).
    taken: AtomicU64,
    /// Items `drain_to_latest` popped and discarded.
    skipped: AtomicU64,
    /// Sequence number after the newest item taken; the channel's `published` at join time
    /// until the first one is taken. `lag` is measured from it.
    next_expected: AtomicU64,
}

// Every counter below is a statistic: it is read and written with Relaxed ordering because no
// other memory is accessed on the strength of its value (the items travel through the queue,
// whose own ordering publishes them).
impl<T> Slot<T> {
    /// A new, empty slot; `published` is the channel's sequence counter at join time.
    pub(crate) fn new(id: u64, config: Config, published: u64) -> Self {
        Self {
            id,
            queue: ArrayQueue::new(config.effective_capacity()),
            policy: config.policy,
            signal: Signal::new(),
            offered: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            taken: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            next_expected: AtomicU64::new(published),
        }
    }

    /// Publisher side: queue `delivery` under this slot's policy. Never blocks.
    pub(crate) fn offer(&self, delivery: Delivery<T>) -> Offer {
        // Relaxed: statistic (see the impl comment).
        self.offered.fetch_add(1, Ordering::Relaxed);
        let outcome = match self.policy {
            Policy::DropNewest => match self.queue.push(delivery) {
                Ok(()) => Offer::Queued,
                Err(_refused) => Offer::Refused,
            },
            Policy::DropOldest => match self.queue.force_push(delivery) {
                None => Offer::Queued,
                Some(_evicted) => Offer::Evicted,
            },
        };
        if outcome != Offer::Queued {
            // Relaxed: statistic.
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        outcome
    }

    /// Subscriber side: account for an item handed to the subscriber.
    pub(crate) fn note_taken(&self, seq: u64) {
        // Relaxed: statistics; only the subscriber writes these two.
        self.taken.fetch_add(1, Ordering::Relaxed);
        self.next_expected
            .store(seq.wrapping_add(1), Ordering::Relaxed);
    }

    /// Subscriber side: account for items popped and discarded by `drain_to_latest`.
    pub(crate) fn note_skipped(&self, count: u64) {
        // Relaxed: statistic.
        self.skipped.fetch_add(count, Ordering::Relaxed);
    }

    /// A snapshot of the counters; `published` is the channel's sequence counter now.
    pub(crate) fn dropped_total(&self) -> u64 {
        // Relaxed loads: statistics.
        self.dropped.load(Ordering::Relaxed) + self.skipped.load(Ordering::Relaxed)
    }

    pub(crate) fn stats(&self, published: u64) -> SubscriberStats {
        // Relaxed loads: statistics; the snapshot is not atomic as a whole.
        let next_expected = self.next_expected.load(Ordering::Relaxed);
        SubscriberStats {
            id: self.id,
            delivered: self.taken.load(Ordering::Relaxed),
            dropped: self.dropped_total(),
            queued: self.queue.len(),
            lag: published.saturating_sub(next_expected),
            offered: self.offered.load(Ordering::Relaxed),
        }
    }
}
