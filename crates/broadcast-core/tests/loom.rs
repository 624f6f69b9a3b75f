//! loom model checks of the publish/recv/close wake-up handshake.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p broadcast-core --release --test loom`.
//!
//! What is checked: the crate's real handshake code (`Signal::poll_pop`,
//! `Signal::wake_if_waiting`, `producer_fence`), compiled against loom's atomics, fence and
//! `AtomicWaker`, driven by a queue model below that makes items visible the way the crate's
//! sequence queues (`src/seq_queue.rs`) do (a Release store of the producer's index per push,
//! an Acquire load of it per pop). loom
//! explores every interleaving (and the weak-memory outcomes it models) and fails on a lost
//! wake-up (a consumer parked forever = deadlock), a wrong order, a duplicate, or a leaked
//! `Arc`. Not checked here: `arc-swap`, the item ring and the sequence queues themselves (they
//! are not loom-aware; their unit tests and `tests/stress.rs` hammer the real ones).
#![cfg(loom)]
#![allow(clippy::unwrap_used)]

use std::future::poll_fn;

use broadcast_core::loom_handoff::{producer_fence, Signal};
use loom::future::block_on;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;

/// Single-producer single-consumer model of a subscriber queue holding items `1..=len`.
/// `published` is advanced by the producer with a Release store (like the queues' `tail`); the
/// consumer reads it with Acquire and remembers how many it took.
struct ModelQueue {
    published: AtomicUsize,
}

impl ModelQueue {
    fn new() -> Self {
        Self {
            published: AtomicUsize::new(0),
        }
    }

    fn push(&self) {
        let next = self.published.load(Ordering::Relaxed) + 1;
        self.published.store(next, Ordering::Release);
    }

    fn pop(&self, taken: &mut usize) -> Option<usize> {
        if self.published.load(Ordering::Acquire) > *taken {
            *taken += 1;
            Some(*taken)
        } else {
            None
        }
    }
}

struct Channel {
    queue: ModelQueue,
    signal: Signal,
    closed: AtomicBool,
}

impl Channel {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            queue: ModelQueue::new(),
            signal: Signal::new(),
            closed: AtomicBool::new(false),
        })
    }

    /// What `Publisher::publish` does for one subscriber.
    fn publish(&self) {
        self.queue.push();
        producer_fence();
        self.signal.wake_if_waiting();
    }

    /// What dropping the publisher does.
    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        producer_fence();
        self.signal.wake_if_waiting();
    }

    /// What `Subscriber::recv` does.
    fn recv(&self, taken: &mut usize) -> Option<usize> {
        block_on(poll_fn(|cx| {
            self.signal
                .poll_pop(&self.closed, cx, || self.queue.pop(taken))
        }))
    }
}

#[test]
fn a_published_item_always_wakes_a_waiting_subscriber() {
    loom::model(|| {
        let channel = Channel::new();
        let producer = {
            let channel = channel.clone();
            thread::spawn(move || channel.publish())
        };
        let mut taken = 0;
        assert_eq!(channel.recv(&mut taken), Some(1));
        producer.join().unwrap();
    });
}

#[test]
fn two_items_arrive_in_order_without_duplicates() {
    loom::model(|| {
        let channel = Channel::new();
        let producer = {
            let channel = channel.clone();
            thread::spawn(move || {
                channel.publish();
                channel.publish();
            })
        };
        let mut taken = 0;
        assert_eq!(channel.recv(&mut taken), Some(1));
        assert_eq!(channel.recv(&mut taken), Some(2));
        producer.join().unwrap();
    });
}

#[test]
fn close_after_publish_delivers_the_item_then_none() {
    loom::model(|| {
        let channel = Channel::new();
        let producer = {
            let channel = channel.clone();
            thread::spawn(move || {
                channel.publish();
                channel.close();
            })
        };
        let mut taken = 0;
        assert_eq!(channel.recv(&mut taken), Some(1));
        assert_eq!(channel.recv(&mut taken), None);
        producer.join().unwrap();
    });
}

#[test]
fn a_subscriber_leaving_during_publish_leaks_nothing() {
    loom::model(|| {
        let channel = Channel::new();
        let subscriber = channel.clone();
        let leaver = thread::spawn(move || {
            // Polls once (may register its waker and arm `waiting`), then drops its side.
            let mut taken = 0;
            let waker = futures_noop_waker();
            let mut cx = std::task::Context::from_waker(&waker);
            let _ = subscriber.signal.poll_pop(&subscriber.closed, &mut cx, || {
                subscriber.queue.pop(&mut taken)
            });
            drop(subscriber);
        });
        channel.publish();
        channel.close();
        leaver.join().unwrap();
    });
}

fn futures_noop_waker() -> std::task::Waker {
    std::task::Waker::noop().clone()
}
