//! State shared by the publisher, its handles and its subscribers.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;
use event_listener::Event;

use crate::handoff::producer_fence;
use crate::slot::Slot;
use crate::sync::{AtomicBool, Ordering};
use crate::Config;

/// The registry snapshot the publisher iterates: replaced, never mutated.
pub(crate) type Registry<T> = Vec<Arc<Slot<T>>>;

/// One channel. Freed when the publisher, every handle and every subscriber are gone.
pub(crate) struct Shared<T> {
    /// Live subscribers. The publisher reads it without a lock (`ArcSwap::load`); subscribe and
    /// unsubscribe copy it, edit the copy and swap it in, serialised by `writers`.
    pub(crate) registry: ArcSwap<Registry<T>>,
    /// Serialises registry writers so that two concurrent edits cannot lose one another.
    writers: Mutex<()>,
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
        Self {
            registry: ArcSwap::from_pointee(Vec::new()),
            writers: Mutex::new(()),
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
    pub(crate) fn register(&self, config: Config) -> (Arc<Slot<T>>, bool) {
        // Relaxed: ids only need to be unique, which fetch_add guarantees at any ordering.
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let guard = self.writers.lock().unwrap_or_else(PoisonError::into_inner);
        let slot = Arc::new(Slot::new(id, config, self.published()));
        if self.is_closed() {
            return (slot, false);
        }
        let current = self.registry.load();
        let mut next = Vec::with_capacity(current.len() + 1);
        next.extend(current.iter().cloned());
        next.push(slot.clone());
        self.registry.store(Arc::new(next));
        drop(guard);
        self.membership.notify(usize::MAX);
        (slot, true)
    }

    /// Removes the slot `id` from the registry (a no-op if it is not there).
    pub(crate) fn unregister(&self, id: u64) {
        let guard = self.writers.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.registry.load();
        let next: Registry<T> = current
            .iter()
            .filter(|slot| slot.id != id)
            .cloned()
            .collect();
        if next.len() != current.len() {
            self.registry.store(Arc::new(next));
        }
        drop(current);
        drop(guard);
        self.membership.notify(usize::MAX);
    }

    /// Marks the channel closed and wakes every waiting subscriber.
    pub(crate) fn close(&self) {
        // Release: items pushed before the close are visible to a subscriber that reads
        // `closed == true` (Acquire) and then pops.
        self.closed.store(true, Ordering::Release);
        producer_fence();
        for slot in self.registry.load().iter() {
            slot.signal.wake_if_waiting();
        }
        self.membership.notify(usize::MAX);
    }

    /// Live subscribers right now.
    pub(crate) fn subscriber_count(&self) -> usize {
        self.registry.load().len()
    }
}
