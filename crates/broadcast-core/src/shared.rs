//! State shared by the publisher, its handles and its subscribers.

use std::sync::atomic::{fence, AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;
use event_listener::Event;

use crate::handoff::producer_fence;
use crate::ring::Ring;
use crate::slot::Slot;
use crate::sync::{AtomicBool, Ordering};
use crate::Config;

/// The registry snapshot the publisher iterates: replaced, never mutated. May hold slots of
/// subscribers that are gone (inactive) until the next compaction.
pub(crate) type Registry = Vec<Arc<Slot>>;

/// Registry bookkeeping kept under the writer lock.
struct Writers {
    /// Inactive slots still in the current registry snapshot.
    tombstones: usize,
}

/// One channel. Freed when the publisher, every handle and every subscriber are gone.
pub(crate) struct Shared<T> {
    /// Subscribers. The publisher reads it without a lock (`ArcSwap::load`). Subscribing copies
    /// it (leaving gone subscribers out), adds the new slot and swaps it in; unsubscribing only
    /// marks the slot inactive, and copies the registry without the inactive slots once they
    /// are as many as the live ones (amortised O(1) per unsubscribe). Serialised by `writers`.
    pub(crate) registry: ArcSwap<Registry>,
    /// Serialises registry writers so that two concurrent edits cannot lose one another.
    writers: Mutex<Writers>,
    /// Live subscribers (exact; written under `writers`).
    live: AtomicUsize,
    /// The items of the latest publishes; grown by the publisher when a subscriber with a
    /// bigger queue joins (see `ring_len`), cleared when the last subscriber leaves.
    pub(crate) ring: ArcSwap<Ring<T>>,
    /// Slots the ring should have for the biggest queue ever subscribed.
    ring_len: AtomicUsize,
    /// Set once when the publisher is dropped; subscribers then drain and get `None`.
    pub(crate) closed: AtomicBool,
    /// Items published so far = the sequence number of the next item.
    pub(crate) published: AtomicU64,
    /// Source of subscriber ids.
    next_id: AtomicU64,
    /// Notified whenever the subscriber count changes (for `subscribed`/`unsubscribed`).
    pub(crate) membership: Event,
    /// Queue settings of subscribers made with `subscribe()`.
    pub(crate) default_config: Config,
}

impl<T> Shared<T> {
    /// An open channel without subscribers.
    pub(crate) fn new(default_config: Config) -> Self {
        let capacity = default_config.effective_capacity();
        let block_len = Ring::<T>::block_len_for(capacity);
        let ring_len = Ring::<T>::len_for(capacity, block_len);
        Self {
            registry: ArcSwap::from_pointee(Vec::new()),
            writers: Mutex::new(Writers { tombstones: 0 }),
            live: AtomicUsize::new(0),
            ring: ArcSwap::from_pointee(Ring::new(ring_len, block_len)),
            ring_len: AtomicUsize::new(ring_len),
            closed: AtomicBool::new(false),
            published: AtomicU64::new(0),
            next_id: AtomicU64::new(0),
            membership: Event::new(),
            default_config,
        }
    }

    /// Items published so far.
    pub(crate) fn published(&self) -> u64 {
        // Relaxed: a counter; items themselves are published through the queues.
        self.published.load(Ordering::Relaxed)
    }

    /// Whether the publisher is gone.
    pub(crate) fn is_closed(&self) -> bool {
        // Acquire: pairs with the Release store in `close`.
        self.closed.load(Ordering::Acquire)
    }

    /// Makes a slot and adds it to the registry, unless the channel is closed (then the slot
    /// is returned unregistered, and its subscriber sees the close at once).
    pub(crate) fn register(&self, config: Config) -> (Arc<Slot>, bool) {
        // Relaxed: ids only need to be unique, which fetch_add guarantees at any ordering.
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut writers = self.writers.lock().unwrap_or_else(PoisonError::into_inner);
        let slot = Arc::new(Slot::new(id, config, self.published()));
        if self.is_closed() {
            return (slot, false);
        }
        // Relaxed: the registry store below (SeqCst inside arc-swap) publishes it; a publisher
        // that sees the new slot in the registry then sees this too, and grows the ring first.
        let block_len = self.ring.load().block_len();
        self.ring_len.fetch_max(
            Ring::<T>::len_for(config.effective_capacity(), block_len),
            Ordering::Relaxed,
        );
        let current = self.registry.load();
        let mut next = Vec::with_capacity(current.len().saturating_sub(writers.tombstones) + 1);
        next.extend(current.iter().filter(|slot| slot.is_active()).cloned());
        next.push(slot.clone());
        writers.tombstones = 0;
        self.live.store(next.len(), Ordering::SeqCst);
        self.registry.store(Arc::new(next));
        drop(current);
        drop(writers);
        self.membership.notify(usize::MAX);
        (slot, true)
    }

    /// Takes `slot` out of the live subscribers (its subscriber is gone).
    pub(crate) fn unregister(&self, slot: &Slot) {
        let mut writers = self.writers.lock().unwrap_or_else(PoisonError::into_inner);
        slot.deactivate();
        // SeqCst (and the fence): pairs with the fence in `Publisher::publish` between its
        // ring store and its load of `live`: either that publish sees 0 and forgets its item,
        // or the `clear` below sees the item.
        let live = self.live.fetch_sub(1, Ordering::SeqCst) - 1;
        fence(Ordering::SeqCst);
        writers.tombstones += 1;
        if live == 0 {
            writers.tombstones = 0;
            self.registry.store(Arc::new(Vec::new()));
            self.ring.load().clear();
        } else if writers.tombstones >= live {
            let current = self.registry.load();
            let next: Registry = current
                .iter()
                .filter(|slot| slot.is_active())
                .cloned()
                .collect();
            writers.tombstones = 0;
            self.registry.store(Arc::new(next));
        }
        drop(writers);
        self.membership.notify(usize::MAX);
    }

    /// Live subscribers, as the publisher checks them after storing an item.
    pub(crate) fn live_after_store(&self) -> usize {
        // SeqCst after a SeqCst fence: see `unregister`.
        fence(Ordering::SeqCst);
        self.live.load(Ordering::SeqCst)
    }

    /// The ring, grown first if a subscriber with a bigger queue joined.
    pub(crate) fn ring_for_publish(&self) -> arc_swap::Guard<Arc<Ring<T>>> {
        let ring = self.ring.load();
        // Relaxed: see `register`.
        let wanted = self.ring_len.load(Ordering::Relaxed);
        if ring.len() >= wanted {
            return ring;
        }
        // Only publishers write items, so copying here loses none (unless several threads
        // publish at once: an item stored into the old ring meanwhile counts as dropped).
        self.ring.store(Arc::new(ring.grown(wanted)));
        self.ring.load()
    }

    /// Marks the channel closed and wakes every waiting subscriber.
    pub(crate) fn close(&self) {
        // Release: items pushed before the close are visible to a subscriber that reads
        // `closed == true` (Acquire) and then pops.
        self.closed.store(true, Ordering::Release);
        producer_fence();
        for slot in self.registry.load().iter() {
            slot.signal.0.wake_if_waiting();
        }
        self.membership.notify(usize::MAX);
    }

    /// Live subscribers right now.
    pub(crate) fn subscriber_count(&self) -> usize {
        // SeqCst: membership waits re-check it after listening; no reason to be clever here.
        self.live.load(Ordering::SeqCst)
    }
}
