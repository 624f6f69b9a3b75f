//! The receiving end of a channel.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

use crate::shared::Shared;
use crate::slot::Slot;
use crate::TryRecvError;

/// One item as a subscriber receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery<T> {
    /// The item's sequence number (same for every subscriber; gaps mean drops).
    pub seq: u64,
    /// The item.
    pub item: T,
}

/// Counters of one subscriber (a snapshot; the fields are read one by one).
///
/// Once the publisher is quiet, `offered == delivered + dropped + queued`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SubscriberStats {
    /// The subscriber's id, unique within the channel.
    pub id: u64,
    /// Items the subscriber has received (`recv`, `try_recv`, `recv_blocking`, the stream, and
    /// the one item a `drain_to_latest` returns).
    pub delivered: u64,
    /// Items it lost: dropped by its full queue (the new item under drop-newest, the oldest
    /// queued one under drop-oldest), plus those `drain_to_latest` skipped.
    pub dropped: u64,
    /// Items in its queue now.
    pub queued: usize,
    /// How far behind the publisher it is: items published after the newest item it has
    /// received (or, before it has received any, since it subscribed). 0 when it is up to date;
    /// counts queued items and items dropped after that newest one.
    pub lag: u64,
    /// Items offered to it since it subscribed (queued or dropped).
    pub offered: u64,
}

/// A receiver with its own bounded queue. Dropping it unsubscribes (safe at any moment, even
/// in the middle of a publish).
pub struct Subscriber<T> {
    /// The channel, for the closed flag, the sequence counter and unsubscribing.
    shared: Arc<Shared<T>>,
    /// This subscriber's queue and counters, also held by the registry while registered.
    slot: Arc<Slot<T>>,
    /// False when made after the close (never entered the registry).
    registered: bool,
}

impl<T> Subscriber<T> {
    pub(crate) fn new(shared: Arc<Shared<T>>, slot: Arc<Slot<T>>, registered: bool) -> Self {
        Self {
            shared,
            slot,
            registered,
        }
    }

    /// The next item; `None` once the publisher is gone and the queue is drained.
    pub async fn recv(&mut self) -> Option<Delivery<T>> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// The next item if one is queued, without waiting.
    pub fn try_recv(&mut self) -> Result<Delivery<T>, TryRecvError> {
        if let Some(delivery) = self.pop() {
            return Ok(delivery);
        }
        if self.shared.is_closed() {
            // Re-check: items pushed before the close are visible after the Acquire load.
            return self.pop().ok_or(TryRecvError::Closed);
        }
        Err(TryRecvError::Empty)
    }

    /// Like [`recv`](Self::recv), parking the current thread; for callers outside async code.
    pub fn recv_blocking(&mut self) -> Option<Delivery<T>> {
        let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
        let mut cx = Context::from_waker(&waker);
        loop {
            match self.poll_recv(&mut cx) {
                Poll::Ready(delivery) => return delivery,
                // Spurious unparks just loop; an unpark before the park is not lost.
                Poll::Pending => thread::park(),
            }
        }
    }

    /// Polls for the next item, registering `cx`'s waker when there is none.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Delivery<T>>> {
        let slot = &self.slot;
        let polled = slot
            .signal
            .poll_pop(&self.shared.closed, cx, || slot.queue.pop());
        if let Poll::Ready(Some(delivery)) = &polled {
            slot.note_taken(delivery.seq);
        }
        polled
    }

    /// The subscriber's id, unique within the channel.
    pub fn id(&self) -> u64 {
        self.slot.id
    }

    /// Items dropped for this subscriber so far (the `dropped` of [`Subscriber::stats`]),
    /// cheap enough to read on every receive: two relaxed loads.
    pub fn dropped(&self) -> u64 {
        self.slot.dropped_total()
    }

    /// A snapshot of this subscriber's counters.
    pub fn stats(&self) -> SubscriberStats {
        self.slot.stats(self.shared.published())
    }

    /// Pops everything queued and returns only the newest item (`None` if nothing is queued),
    /// to skip stale frames; the others count as dropped.
    pub fn drain_to_latest(&mut self) -> Option<Delivery<T>> {
        let mut latest = self.slot.queue.pop()?;
        let mut skipped = 0;
        while let Some(newer) = self.slot.queue.pop() {
            latest = newer;
            skipped += 1;
        }
        if skipped > 0 {
            self.slot.note_skipped(skipped);
        }
        self.slot.note_taken(latest.seq);
        Some(latest)
    }

    fn pop(&mut self) -> Option<Delivery<T>> {
        let delivery = self.slot.queue.pop()?;
        self.slot.note_taken(delivery.seq);
        Some(delivery)
    }
}

impl<T> Drop for Subscriber<T> {
    fn drop(&mut self) {
        if self.registered {
            self.shared.unregister(self.slot.id);
        }
    }
}

impl<T> futures_core::Stream for Subscriber<T> {
    type Item = Delivery<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_recv(cx)
    }
}

impl<T> fmt::Debug for Subscriber<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscriber")
            .field("id", &self.slot.id)
            .field("queued", &self.slot.queue.len())
            .finish()
    }
}

/// Wakes a thread blocked in `recv_blocking`.
struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}
