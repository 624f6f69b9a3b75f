//! One subscriber's queue, wake-up signal and counters, shared by the registry (publisher side)
//! and the [`Subscriber`](crate::Subscriber).

use std::sync::atomic::{AtomicBool, AtomicU64};

use crate::handoff::Signal;
use crate::seq_queue::{Padded, Pushed, SeqQueue};
use crate::sync::Ordering;
use crate::{Config, SubscriberStats};

/// `first_offered` before the first offer.
const NOT_YET: u64 = u64::MAX;

/// A subscriber's state. Lives as long as the `Subscriber` or a registry snapshot holds it: a
/// publish that loaded the registry just before the subscriber left may still push into it.
/// The queue holds sequence numbers only (the items are in the channel's ring), so a slot left
/// in the registry after its subscriber is gone holds no item.
pub(crate) struct Slot {
    /// Unique per channel, for stats.
    pub(crate) id: u64,
    /// Sequence numbers of the queued items; pushed by the publisher, popped by the subscriber.
    /// (Its full-queue behaviour is the subscriber's policy.)
    pub(crate) queue: SeqQueue,
    /// False once the subscriber is gone (it may stay in the registry until the next
    /// compaction; the publisher skips it).
    active: AtomicBool,
    /// Sequence number of the first item offered to this slot ([`NOT_YET`] before); written
    /// once by the publisher. Every later publish offers to the slot too (a publisher reads
    /// ever newer registries), so `offered` is derived from it instead of counted per item.
    first_offered: AtomicU64,
    /// Items dropped by a full queue; written by the publisher.
    dropped: AtomicU64,
    /// Counters only the subscriber writes, on a cache line of their own so that updating
    /// them does not take the line with `active`/`first_offered` away from the publisher.
    taken_side: Padded<TakenCounters>,
    /// Wake-up handshake with the publisher (its own line: written when the subscriber waits).
    pub(crate) signal: Padded<Signal>,
}

/// The subscriber-written counters of a [`Slot`].
struct TakenCounters {
    /// Items the subscriber took (recv/try_recv, and the latest of a `drain_to_latest`).
    taken: AtomicU64,
    /// Items the subscriber popped without receiving them: skipped by `drain_to_latest`, or
    /// whose block had left the ring before it got to them.
    skipped: AtomicU64,
    /// Sequence number after the newest item taken; the channel's `published` at join time
    /// until the first one is taken. `lag` is measured from it.
    next_expected: AtomicU64,
}

// Every counter below is a statistic: it is read and written with Relaxed ordering because no
// other memory is accessed on the strength of its value (the sequence numbers travel through
// the queue, whose own ordering publishes them, and the items through the ring).
impl Slot {
    /// A new, empty slot; `published` is the channel's sequence counter at join time.
    pub(crate) fn new(id: u64, config: Config, published: u64) -> Self {
        Self {
            id,
            queue: SeqQueue::new(config.effective_capacity(), config.policy),
            signal: Padded(Signal::new()),
            active: AtomicBool::new(true),
            first_offered: AtomicU64::new(NOT_YET),
            dropped: AtomicU64::new(0),
            taken_side: Padded(TakenCounters {
                taken: AtomicU64::new(0),
                skipped: AtomicU64::new(0),
                next_expected: AtomicU64::new(published),
            }),
        }
    }

    /// Whether the subscriber is still there.
    pub(crate) fn is_active(&self) -> bool {
        // Relaxed: only spares the publisher work for a gone subscriber; pushing into its
        // queue anyway would be harmless.
        self.active.load(Ordering::Relaxed)
    }

    /// The subscriber is gone (called once, under the registry's writer lock).
    pub(crate) fn deactivate(&self) {
        // Relaxed: see `is_active`.
        self.active.store(false, Ordering::Relaxed);
    }

    /// Publisher side: queue `seq` under this slot's policy. Never blocks.
    pub(crate) fn offer(&self, seq: u64) -> Pushed {
        // Relaxed: statistic (see the impl comment). Written once per slot; a plain load
        // otherwise. `seq < first` only when several threads publish at once.
        if seq < self.first_offered.load(Ordering::Relaxed) {
            self.first_offered.store(seq, Ordering::Relaxed);
        }
        let outcome = self.queue.push(seq);
        if outcome != Pushed::Queued {
            // Relaxed: statistic. Only on a full queue.
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        outcome
    }

    /// Subscriber side: account for an item handed to the subscriber.
    pub(crate) fn note_taken(&self, seq: u64) {
        // Relaxed: statistics. Only the subscriber (`&mut self` methods) writes these two, so
        // a load and a store do what a read-modify-write would, without its cost.
        let taken = self.taken_side.0.taken.load(Ordering::Relaxed);
        self.taken_side.0.taken.store(taken + 1, Ordering::Relaxed);
        self.taken_side
            .0
            .next_expected
            .store(seq.wrapping_add(1), Ordering::Relaxed);
    }

    /// Subscriber side: account for items popped but not received (skipped by
    /// `drain_to_latest`, or overwritten in the ring).
    pub(crate) fn note_skipped(&self, count: u64) {
        // Relaxed: statistic; only the subscriber writes it (see `note_taken`).
        let skipped = self.taken_side.0.skipped.load(Ordering::Relaxed);
        self.taken_side
            .0
            .skipped
            .store(skipped + count, Ordering::Relaxed);
    }

    /// Items lost so far: dropped by the full queue plus popped but not received.
    pub(crate) fn dropped_total(&self) -> u64 {
        // Relaxed loads: statistics.
        self.dropped.load(Ordering::Relaxed) + self.taken_side.0.skipped.load(Ordering::Relaxed)
    }

    /// A snapshot of the counters; `published` is the channel's sequence counter now.
    pub(crate) fn stats(&self, published: u64) -> SubscriberStats {
        // Relaxed loads: statistics; the snapshot is not atomic as a whole.
        let next_expected = self.taken_side.0.next_expected.load(Ordering::Relaxed);
        let first_offered = self.first_offered.load(Ordering::Relaxed);
        SubscriberStats {
            id: self.id,
            delivered: self.taken_side.0.taken.load(Ordering::Relaxed),
            dropped: self.dropped_total(),
            queued: self.queue.len(),
            lag: published.saturating_sub(next_expected),
            offered: published.saturating_sub(first_offered),
        }
    }
}
