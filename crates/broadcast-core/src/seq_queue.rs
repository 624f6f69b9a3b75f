//! A subscriber's bounded queue of sequence numbers: single producer (the publisher), single
//! consumer (the subscriber), lock-free, with both policies for a full queue.
//!
//! Each side keeps its own index on its own cache line and a private copy of the other side's
//! index, which it re-reads only when its copy says "full" (publisher) or "empty" (subscriber).
//! So a subscriber that is keeping up costs the publisher a store into the buffer and a store
//! of its index per item, and the two cores exchange cache lines once per batch instead of
//! once per item (as `crossbeam_queue::ArrayQueue`, which this replaces, has to: it is a
//! multi-producer multi-consumer queue with a stamp per slot). Single-producer crates such as
//! `rtrb` do not let the producer evict the oldest item, which drop-oldest needs, and the
//! queue here is small and all safe code (atomics only).
//!
//! Memory order: the publisher writes the buffer, then its index `tail` with Release; the
//! subscriber loads `tail` with Acquire before reading the buffer, as in the loom model of the
//! wake-up handshake. The subscriber stores `head` with Release after reading a slot; the
//! publisher loads `head` with Acquire before it overwrites a slot. Drop-oldest is the one case
//! where the publisher moves `head` (to evict the oldest item): then both sides advance `head`
//! with a compare-exchange, and a subscriber keeps what it read only if its own exchange won.
//!
//! Single producer: [`Publisher::publish`](crate::Publisher::publish) makes sure only one
//! thread pushes at a time.

use std::sync::atomic::AtomicU64;

use crate::sync::Ordering;
use crate::Policy;

/// What a push did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// Queued, nothing lost.
    Queued,
    /// Full, drop-newest: not queued.
    Refused,
    /// Full, drop-oldest: queued, and the oldest queued number was dropped.
    Evicted,
}

/// Keeps its field on a cache line of its own (two, for adjacent-line prefetching).
#[repr(align(128))]
pub(crate) struct Padded<T>(pub(crate) T);

/// The publisher's side.
struct ProducerSide {
    /// Numbers pushed so far (the next write index); written by the publisher only.
    tail: AtomicU64,
    /// The publisher's last reading of `head`.
    head_seen: AtomicU64,
}

/// The subscriber's side.
struct ConsumerSide {
    /// Numbers popped or evicted so far (the next read index). Written by the subscriber, and
    /// by the publisher when drop-oldest evicts.
    head: AtomicU64,
    /// The subscriber's last reading of `tail`.
    tail_seen: AtomicU64,
}

/// The queue. Every field is an atomic: a second thread pushing at the same time (which
/// `publish` rules out) could lose or reorder numbers but not break memory safety.
pub(crate) struct SeqQueue {
    producer: Padded<ProducerSide>,
    consumer: Padded<ConsumerSide>,
    /// A power of two at least `capacity` long; index `i` lives in `buffer[i & mask]`.
    buffer: Box<[AtomicU64]>,
    /// `buffer.len() - 1`.
    mask: u64,
    /// Most numbers queued at once.
    capacity: u64,
    /// What a push into a full queue does.
    policy: Policy,
}

// Index ordering arguments are in the module docs; statistics (`len`) are Relaxed.
impl SeqQueue {
    /// An empty queue of `capacity` (at least 1) numbers.
    pub(crate) fn new(capacity: usize, policy: Policy) -> Self {
        let capacity = capacity.max(1);
        let len = capacity.checked_next_power_of_two().unwrap_or(capacity);
        Self {
            producer: Padded(ProducerSide {
                tail: AtomicU64::new(0),
                head_seen: AtomicU64::new(0),
            }),
            consumer: Padded(ConsumerSide {
                head: AtomicU64::new(0),
                tail_seen: AtomicU64::new(0),
            }),
            buffer: (0..len).map(|_| AtomicU64::new(0)).collect(),
            mask: len as u64 - 1,
            capacity: capacity as u64,
            policy,
        }
    }

    fn cell(&self, index: u64) -> &AtomicU64 {
        // Truncating is the point: the low bits pick the cell.
        &self.buffer[(index & self.mask) as usize]
    }

    /// Publisher side: queues `seq` under the queue's policy. Never blocks.
    pub(crate) fn push(&self, seq: u64) -> Pushed {
        let producer = &self.producer.0;
        // Relaxed: only the publisher writes `tail` and `head_seen`.
        let tail = producer.tail.load(Ordering::Relaxed);
        let mut head = producer.head_seen.load(Ordering::Relaxed);
        let mut outcome = Pushed::Queued;
        if tail - head >= self.capacity {
            // Acquire: the subscriber's reads of the cells it popped happen before we reuse them.
            head = self.consumer.0.head.load(Ordering::Acquire);
            while tail - head >= self.capacity {
                match self.policy {
                    Policy::DropNewest => {
                        producer.head_seen.store(head, Ordering::Relaxed);
                        return Pushed::Refused;
                    }
                    // Evict the oldest number, unless the subscriber pops it first (then the
                    // loop sees the room it made and evicts nothing). AcqRel/Acquire: as the
                    // subscriber's pop (`pop_contended`).
                    Policy::DropOldest => match self.consumer.0.head.compare_exchange(
                        head,
                        head + 1,
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    ) {
                        Ok(_) => {
                            head += 1;
                            outcome = Pushed::Evicted;
                        }
                        Err(now) => head = now,
                    },
                }
            }
            producer.head_seen.store(head, Ordering::Relaxed);
        }
        // Relaxed: published by the Release store of `tail` below.
        self.cell(tail).store(seq, Ordering::Relaxed);
        // Release: the subscriber that reads the new `tail` (Acquire) sees the cell.
        producer.tail.store(tail + 1, Ordering::Release);
        outcome
    }

    /// Subscriber side: the oldest queued number, if any.
    pub(crate) fn pop(&self) -> Option<u64> {
        let consumer = &self.consumer.0;
        match self.policy {
            Policy::DropNewest => {
                // Relaxed: under drop-newest only the subscriber writes `head`.
                let head = consumer.head.load(Ordering::Relaxed);
                if !self.has_item_at(head) {
                    return None;
                }
                // Relaxed: published by the Acquire load of `tail` in `has_item_at`.
                let seq = self.cell(head).load(Ordering::Relaxed);
                // Release: our read of the cell happens before the publisher reuses it.
                consumer.head.store(head + 1, Ordering::Release);
                Some(seq)
            }
            Policy::DropOldest => self.pop_contended(),
        }
    }

    /// Drop-oldest pop: the publisher may move `head` too, so take the number only if our
    /// compare-exchange of `head` wins.
    fn pop_contended(&self) -> Option<u64> {
        let consumer = &self.consumer.0;
        // Acquire: see the cells behind an eviction's `head`.
        let mut head = consumer.head.load(Ordering::Acquire);
        loop {
            if !self.has_item_at(head) {
                return None;
            }
            let seq = self.cell(head).load(Ordering::Relaxed);
            // AcqRel: Release as in `pop`; Acquire to see the publisher's evictions.
            match consumer.head.compare_exchange(
                head,
                head + 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Some(seq),
                Err(now) => head = now,
            }
        }
    }

    /// Subscriber side: whether index `head` has been pushed (re-reading `tail` only when the
    /// last reading says it has not).
    fn has_item_at(&self, head: u64) -> bool {
        let consumer = &self.consumer.0;
        // Relaxed: only the subscriber writes `tail_seen`.
        if head < consumer.tail_seen.load(Ordering::Relaxed) {
            return true;
        }
        // Acquire: pairs with the Release store of `tail` in `push`.
        let tail = self.producer.0.tail.load(Ordering::Acquire);
        consumer.tail_seen.store(tail, Ordering::Relaxed);
        head < tail
    }

    /// Numbers queued now (a snapshot).
    pub(crate) fn len(&self) -> usize {
        // Relaxed: statistic.
        let tail = self.producer.0.tail.load(Ordering::Relaxed);
        let head = self.consumer.0.head.load(Ordering::Relaxed);
        usize::try_from(tail.saturating_sub(head)).unwrap_or(usize::MAX)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn drain(queue: &SeqQueue) -> Vec<u64> {
        std::iter::from_fn(|| queue.pop()).collect()
    }

    #[test]
    fn drop_newest_refuses_when_full_and_keeps_order() {
        let queue = SeqQueue::new(3, Policy::DropNewest);
        let pushed: Vec<_> = (0..5).map(|seq| queue.push(seq)).collect();
        assert_eq!(
            pushed,
            [
                Pushed::Queued,
                Pushed::Queued,
                Pushed::Queued,
                Pushed::Refused,
                Pushed::Refused
            ]
        );
        assert_eq!(queue.len(), 3);
        assert_eq!(drain(&queue), [0, 1, 2]);
        assert_eq!(queue.push(5), Pushed::Queued);
        assert_eq!(drain(&queue), [5]);
    }

    #[test]
    fn drop_oldest_evicts_when_full() {
        let queue = SeqQueue::new(3, Policy::DropOldest);
        let pushed: Vec<_> = (0..5).map(|seq| queue.push(seq)).collect();
        assert_eq!(
            pushed,
            [
                Pushed::Queued,
                Pushed::Queued,
                Pushed::Queued,
                Pushed::Evicted,
                Pushed::Evicted
            ]
        );
        assert_eq!(drain(&queue), [2, 3, 4]);
        assert_eq!(queue.len(), 0);
    }

    #[test]
    fn wraps_around_many_times() {
        for policy in [Policy::DropNewest, Policy::DropOldest] {
            let queue = SeqQueue::new(5, policy);
            for round in 0..100u64 {
                for i in 0..4 {
                    assert_eq!(queue.push(round * 4 + i), Pushed::Queued);
                }
                assert_eq!(
                    drain(&queue),
                    (round * 4..round * 4 + 4).collect::<Vec<_>>()
                );
            }
        }
    }

    #[test]
    fn one_producer_thread_one_consumer_thread() {
        for policy in [Policy::DropNewest, Policy::DropOldest] {
            let queue = std::sync::Arc::new(SeqQueue::new(4, policy));
            let producer = {
                let queue = queue.clone();
                std::thread::spawn(move || {
                    let mut lost = 0u64;
                    for seq in 0..200_000u64 {
                        if queue.push(seq) != Pushed::Queued {
                            lost += 1;
                        }
                    }
                    lost
                })
            };
            let mut got = 0u64;
            let mut last = None;
            while !producer.is_finished() || queue.len() > 0 {
                if let Some(seq) = queue.pop() {
                    assert!(last.is_none_or(|l| seq > l), "in order, no duplicates");
                    last = Some(seq);
                    got += 1;
                }
            }
            let lost = producer.join().unwrap();
            while queue.pop().is_some() {
                got += 1;
            }
            assert_eq!(got + lost, 200_000, "{policy:?}");
        }
    }
}
