//! The wake-up handshake between the publisher and one waiting subscriber.
//!
//! A subscriber that finds its queue empty must sleep, and the publisher must wake it after the
//! next push — but only then: a subscriber that is busy (not waiting) costs the publisher one
//! relaxed load and no wake-up. The handshake is a store-buffering ("Dekker") pattern:
//!
//! | subscriber ([`Signal::poll_pop`])          | publisher / closer                         |
//! |--------------------------------------------|--------------------------------------------|
//! | register waker                              | push item (or store `closed`)              |
//! | `waiting.swap(true)` (Release)              | **fence(SeqCst)** ([`producer_fence`])     |
//! | **fence(SeqCst)**                           | if `waiting` (Relaxed) …                   |
//! | pop again; load `closed`                    | … and `waiting.swap(false)` (Acquire): wake|
//!
//! The two SeqCst fences are totally ordered. If the publisher's fence comes first, the
//! subscriber's second pop (after its own fence) sees the push; if the subscriber's comes first,
//! the publisher's load (after its fence) sees `waiting == true` and wakes it. Either way no item
//! is left unseen with the subscriber asleep. The same argument covers `closed`.
//!
//! `tests/loom.rs` model-checks exactly this module (with loom's atomics and waker swapped in
//! through [`crate::sync`]) against a queue model that publishes with a Release store and pops
//! with an Acquire load, as the crate's sequence queues (`seq_queue`) do.

use std::task::{Context, Poll};

use crate::sync::{fence, AtomicBool, Ordering, WakerSlot};

/// Wake-up state of one subscriber: its waker and whether it is parked on it.
#[derive(Default)]
pub struct Signal {
    /// True between "queue found empty, waker registered" and the wake-up (or the subscriber
    /// finding an item itself). Lets the publisher skip subscribers that are not waiting.
    waiting: AtomicBool,
    /// The task (or thread, for `recv_blocking`) to wake.
    waker: WakerSlot,
}

/// The publisher's (or closer's) half of the handshake: issue once after a round of pushes (or
/// after storing `closed`) and before any [`Signal::wake_if_waiting`] of that round.
pub fn producer_fence() {
    // SeqCst: orders the pushes (Release stores inside the queue) before the Relaxed loads of
    // `waiting` that follow; pairs with the fence in `Signal::poll_pop` (see module docs).
    fence(Ordering::SeqCst);
}

impl Signal {
    /// A subscriber that is not waiting.
    pub fn new() -> Self {
        Self::default()
    }

    /// Pops the next item with `pop`, or registers `cx`'s waker and returns `Pending` when there
    /// is none and the channel is open. `Ready(None)` once `closed` is set and `pop` is empty.
    pub fn poll_pop<X>(
        &self,
        closed: &AtomicBool,
        cx: &mut Context<'_>,
        mut pop: impl FnMut() -> Option<X>,
    ) -> Poll<Option<X>> {
        if let Some(item) = pop() {
            return Poll::Ready(Some(item));
        }
        // Acquire: pairs with the Release store of `closed`, so every item pushed before the
        // close is visible to the `pop` below.
        if closed.load(Ordering::Acquire) {
            return Poll::Ready(pop());
        }
        self.waker.register(cx.waker());
        // A swap, not a store: every write to `waiting` is a read-modify-write, so the writes
        // form one chain that each RMW extends (no plain store can slip in between; this is also
        // what lets loom order them). Release: a publisher that reads `true` with its Acquire
        // swap also sees the waker registered just above (so `wake` cannot miss it).
        self.waiting.swap(true, Ordering::Release);
        // SeqCst: orders the store of `waiting` before the re-checks below; pairs with
        // `producer_fence` (see module docs).
        fence(Ordering::SeqCst);
        if let Some(item) = pop() {
            // Relaxed: only spares the publisher a wake-up; a stale `true` costs one spurious wake.
            self.waiting.swap(false, Ordering::Relaxed);
            return Poll::Ready(Some(item));
        }
        // Acquire: as above. Ordered after our `waiting` store by the fence.
        if closed.load(Ordering::Acquire) {
            // Relaxed: as above.
            self.waiting.swap(false, Ordering::Relaxed);
            return Poll::Ready(pop());
        }
        Poll::Pending
    }

    /// The publisher's half: wakes the subscriber if it is waiting. Call after
    /// [`producer_fence`]. Returns whether a wake-up was issued.
    pub fn wake_if_waiting(&self) -> bool {
        // Relaxed: ordered after the push by `producer_fence`; a busy subscriber costs only this
        // load. The Acquire swap makes sure one waiter gets exactly one wake-up even when the
        // publisher and the closer race, and synchronises with the Release store of `true` so the
        // registered waker is visible to `wake`.
        if self.waiting.load(Ordering::Relaxed) && self.waiting.swap(false, Ordering::Acquire) {
            self.waker.wake();
            return true;
        }
        false
    }

    /// Whether the subscriber is parked waiting for an item (a snapshot, for tests).
    #[cfg(all(test, not(loom)))]
    pub fn is_waiting(&self) -> bool {
        // Relaxed: a test snapshot; no data is read on the strength of it.
        self.waiting.load(Ordering::Relaxed)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;
    use std::task::{Wake, Waker};

    #[derive(Default)]
    struct CountingWaker(AtomicUsize);
    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn no_wake_up_for_a_subscriber_that_is_not_waiting() {
        let counter = Arc::new(CountingWaker::default());
        let waker = Waker::from(counter.clone());
        let mut cx = Context::from_waker(&waker);
        let signal = Signal::new();
        let closed = AtomicBool::new(false);
        let mut queue = vec![1];
        // An item is there: taken at once, nothing armed.
        assert_eq!(
            signal.poll_pop(&closed, &mut cx, || queue.pop()),
            Poll::Ready(Some(1))
        );
        producer_fence();
        assert!(!signal.wake_if_waiting());
        assert_eq!(counter.0.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_waiting_subscriber_is_woken_exactly_once() {
        let counter = Arc::new(CountingWaker::default());
        let waker = Waker::from(counter.clone());
        let mut cx = Context::from_waker(&waker);
        let signal = Signal::new();
        let closed = AtomicBool::new(false);
        let mut queue: Vec<u32> = vec![];
        assert_eq!(
            signal.poll_pop(&closed, &mut cx, || queue.pop()),
            Poll::Pending
        );
        assert!(signal.is_waiting());
        producer_fence();
        assert!(signal.wake_if_waiting());
        assert!(!signal.wake_if_waiting());
        assert_eq!(counter.0.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn closed_and_empty_is_ready_none() {
        let waker = Waker::from(Arc::new(CountingWaker::default()));
        let mut cx = Context::from_waker(&waker);
        let closed = AtomicBool::new(true);
        let mut queue = vec![7];
        let signal = Signal::new();
        assert_eq!(
            signal.poll_pop(&closed, &mut cx, || queue.pop()),
            Poll::Ready(Some(7))
        );
        assert_eq!(
            signal.poll_pop(&closed, &mut cx, || queue.pop()),
            Poll::Ready(None)
        );
    }
}
