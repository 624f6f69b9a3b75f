//! The receiving end of a channel.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

use crate::ring::Block;
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
    /// queued one under drop-oldest), plus those `drain_to_latest` skipped, plus queued items
    /// that the channel no longer stored when the subscriber got to them (only after a long
    /// stall; see the crate docs).
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
    /// The channel, for the closed flag, the sequence counter, the ring and unsubscribing.
    shared: Arc<Shared<T>>,
    /// This subscriber's queue and counters, also held by the registry while registered.
    slot: Arc<Slot>,
    /// The block of the ring the last item came from: the next items are read from it without
    /// touching the ring. Let go when the subscriber waits, so an idle subscriber pins nothing.
    block: Option<Arc<Block<T>>>,
    /// False when made after the close (never entered the registry).
    registered: bool,
    /// The channel's `published` when this subscriber last found its queue empty (to tell a
    /// burst of items from a steady pace, see `poll_recv`).
    seen_published: u64,
}

impl<T> Subscriber<T> {
    pub(crate) fn new(shared: Arc<Shared<T>>, slot: Arc<Slot>, registered: bool) -> Self {
        Self {
            seen_published: shared.published(),
            shared,
            slot,
            block: None,
            registered,
        }
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
}

impl<T: Clone> Subscriber<T> {
    /// The next item; `None` once the publisher is gone and the queue drained.
    pub async fn recv(&mut self) -> Option<Delivery<T>> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// The next item if one is queued, without waiting.
    pub fn try_recv(&mut self) -> Result<Delivery<T>, TryRecvError> {
        if let Some(delivery) = self.take_next() {
            return Ok(delivery);
        }
        if self.shared.is_closed() {
            // Re-check: items pushed before the close are visible after the Acquire load.
            return self.take_next().ok_or(TryRecvError::Closed);
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
        let Self {
            shared,
            slot,
            block,
            seen_published,
            ..
        } = self;
        if let Some(delivery) = take_next(shared, slot, block) {
            return Poll::Ready(Some(delivery));
        }
        // Queue empty. If two or more items were published since the last time it was empty,
        // the publisher is in a burst: yield once (wake ourselves, back of the executor's
        // queue) instead of arming the wake-up, so that the next poll finds a batch and the
        // publisher is spared a wake-up per item. One item or none since then (a camera's
        // steady pace): wait as usual. Bounded: each yield needs two more publishes.
        let published = shared.published();
        let burst = published.wrapping_sub(*seen_published) >= 2;
        *seen_published = published;
        if burst {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let polled = slot
            .signal
            .0
            .poll_pop(&shared.closed, cx, || take_next(shared, slot, block));
        if polled.is_pending() {
            *block = None;
        }
        polled
    }

    /// Pops everything queued and returns only the newest item, to skip stale frames; the
    /// others count as dropped. `None` if nothing is queued (or, after a long stall, if even
    /// the newest queued item was already overwritten in the ring; see the crate docs).
    pub fn drain_to_latest(&mut self) -> Option<Delivery<T>> {
        let mut latest = self.slot.queue.pop()?;
        let mut skipped = 0;
        while let Some(newer) = self.slot.queue.pop() {
            latest = newer;
            skipped += 1;
        }
        let item = item_of(&self.shared, &mut self.block, latest);
        if item.is_none() {
            skipped += 1;
        }
        if skipped > 0 {
            self.slot.note_skipped(skipped);
        }
        let item = item?;
        self.slot.note_taken(latest);
        Some(Delivery { seq: latest, item })
    }

    fn take_next(&mut self) -> Option<Delivery<T>> {
        take_next(&self.shared, &self.slot, &mut self.block)
    }
}

/// Pops sequence numbers until one whose item is still in the ring (the others count as
/// dropped); `None` when the queue is empty.
fn take_next<T: Clone>(
    shared: &Shared<T>,
    slot: &Slot,
    block: &mut Option<Arc<Block<T>>>,
) -> Option<Delivery<T>> {
    loop {
        let seq = slot.queue.pop()?;
        if let Some(item) = item_of(shared, block, seq) {
            slot.note_taken(seq);
            return Some(Delivery { seq, item });
        }
        slot.note_skipped(1);
    }
}

/// A clone of item `seq`: from `block` if it holds it, else from the ring (keeping its block
/// in `block`); `None` if its block has left the ring.
fn item_of<T: Clone>(shared: &Shared<T>, block: &mut Option<Arc<Block<T>>>, seq: u64) -> Option<T> {
    if let Some(held) = block.as_ref().filter(|held| held.covers(seq)) {
        return held.get(seq);
    }
    *block = shared.ring.load().block(seq);
    block.as_ref()?.get(seq)
}

impl<T> Drop for Subscriber<T> {
    fn drop(&mut self) {
        if self.registered {
            self.shared.unregister(&self.slot);
        }
    }
}

impl<T: Clone> futures_core::Stream for Subscriber<T> {
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
