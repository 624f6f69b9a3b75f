//! Lock-free one-to-many fan-out with per-subscriber bounded drop-newest (or drop-oldest)
//! queues.
//!
//! One [`Publisher`] (say, the task reading a camera) offers every item to any number of
//! [`Subscriber`]s (say, HTTP viewers). Each subscriber has its own small queue; when it is full
//! the item is dropped **for that subscriber only**, so a slow or dead viewer never slows the
//! publisher or the other viewers. [`Publisher::publish`] never blocks, never awaits and takes
//! no lock, and wakes only the subscribers that are actually waiting. The core does not depend
//! on an async runtime: `recv` is a plain future, [`Subscriber`] is a `futures_core::Stream`,
//! and [`Subscriber::recv_blocking`] serves threads.
//!
//! Each item is stored once per publish; a subscriber clones it when it receives it, so use
//! cheap clones (`Arc<_>`, `bytes::Bytes`).
//!
//! ```
//! use broadcast_core::{Config, Publisher};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let publisher = Publisher::<&'static str>::new(Config::default());
//! let handle = publisher.handle(); // Clone + Send + Sync: give it to the HTTP server
//! let mut viewer = handle.subscribe();
//!
//! let producer = std::thread::spawn(move || {
//!     for frame in ["frame 0", "frame 1", "frame 2"] {
//!         publisher.publish(frame);
//!     }
//!     // dropping the publisher closes the channel
//! });
//!
//! let mut seen = Vec::new();
//! while let Some(delivery) = viewer.recv().await {
//!     seen.push((delivery.seq, delivery.item));
//! }
//! producer.join().unwrap();
//! assert_eq!(seen, [(0, "frame 0"), (1, "frame 1"), (2, "frame 2")]);
//! assert!(handle.is_closed());
//! # });
//! ```
//!
//! # A full queue, step by step
//!
//! Every subscriber has a queue of [`Config::capacity`] items (default 5) and a [`Policy`] for
//! when it is full. Take two subscribers with capacity 3, one per policy, that read nothing while
//! the publisher sends items 0 to 5:
//!
//! | publish | drop-newest queue | dropped            | drop-oldest queue | dropped            |
//! |---------|-------------------|--------------------|-------------------|--------------------|
//! | 0, 1, 2 | `[0, 1, 2]`       | –                  | `[0, 1, 2]`       | –                  |
//! | 3       | `[0, 1, 2]`       | 3 (the new item)   | `[1, 2, 3]`       | 0 (the oldest)     |
//! | 4       | `[0, 1, 2]`       | 4                  | `[2, 3, 4]`       | 1                  |
//! | 5       | `[0, 1, 2]`       | 5                  | `[3, 4, 5]`       | 2                  |
//!
//! Both have lost 3 items, and both are 6 items behind ([`SubscriberStats::lag`] = 6: items
//! published after the newest one received; none received yet). Now each reads its queue and
//! the publisher sends item 6:
//!
//! * drop-newest receives 0, 1, 2, then 6: it first plays the *old* items, then jumps. Good
//!   for "every item matters until overload"; with a small queue the stale stretch is short.
//! * drop-oldest receives 3, 4, 5, then 6: it always holds the *newest* items. Good for live
//!   video, where a fresh frame beats an old one. [`Subscriber::drain_to_latest`] goes further
//!   and skips straight to the newest queued item.
//!
//! The same, as code:
//!
//! ```
//! use broadcast_core::{Config, Policy, Publisher};
//!
//! let publisher = Publisher::new(Config::default());
//! let handle = publisher.handle();
//! let mut newest = handle.subscribe_with(Config::new(3, Policy::DropNewest));
//! let mut oldest = handle.subscribe_with(Config::new(3, Policy::DropOldest));
//!
//! for item in 0..6u32 {
//!     publisher.publish(item);
//! }
//! let (n, o) = (newest.stats(), oldest.stats());
//! assert_eq!((n.offered, n.dropped, n.queued, n.lag), (6, 3, 3, 6));
//! assert_eq!((o.offered, o.dropped, o.queued, o.lag), (6, 3, 3, 6));
//!
//! let drain = |s: &mut broadcast_core::Subscriber<u32>| {
//!     std::iter::from_fn(|| s.try_recv().ok()).map(|d| d.item).collect::<Vec<_>>()
//! };
//! assert_eq!(drain(&mut newest), [0, 1, 2]);
//! assert_eq!(drain(&mut oldest), [3, 4, 5]);
//! assert_eq!(newest.stats().lag, 3); // 3, 4, 5 were published after 2 and are gone
//! assert_eq!(oldest.stats().lag, 0);
//!
//! publisher.publish(6);
//! assert_eq!(drain(&mut newest), [6]);
//! assert_eq!(drain(&mut oldest), [6]);
//! ```
//!
//! # Counters
//!
//! [`Handle::subscriber_stats`] and [`Subscriber::stats`] give, per subscriber: `delivered`
//! (items it received), `dropped` (lost to its full queue, skipped by `drain_to_latest`, or
//! gone from the channel's store before it got to them; see below),
//! `queued` (in its queue now), `offered` (items published while it was subscribed) and `lag`
//! (items published after the newest item it received, or since it subscribed if it has
//! received none). When the publisher is quiet, `offered == delivered + dropped + queued`.
//!
//! # How it works, and what is checked
//!
//! * **Items are stored once.** `publish` puts the item in a ring of blocks of consecutive
//!   sequence numbers (`ArcSwapOption` slots holding `Arc`'d blocks of `OnceLock` cells) and
//!   pushes only its sequence number into each subscriber's queue. The subscriber clones the
//!   item out of the block when it receives it, and keeps that block for the next items (one
//!   `Arc` clone per block, not per item). So the publisher's cost per subscriber is a queue
//!   push of a `u64`, and the item's refcount is touched by the receiving threads only (as in
//!   `tokio::sync::broadcast`), instead of bouncing between the publisher's and the
//!   consumers' cores.
//! * **How long an item is kept.** Blocks are as long as the default queue (8 to 64 items);
//!   the ring keeps the block being filled plus at least four queues' worth of items of the
//!   biggest queue subscribed (at least 16; it grows when a bigger queue subscribes). A
//!   subscriber that pops a sequence number whose block has already left the ring counts the
//!   item as **dropped**. Only a subscriber whose queue held an item that long can meet this:
//!   a drop-newest subscriber that stopped reading (its queue kept old items while the
//!   publisher went on); it then goes on with fresher items. Drop-oldest queues only ever hold
//!   the newest items, so they never meet it. When the last subscriber leaves, the ring is
//!   cleared (memory back to baseline); with no subscriber, `publish` drops the item at once.
//!   A subscriber also holds the block it last read from (at most one block) until it next
//!   waits for an item or is dropped.
//! * **Queues** are the crate's own bounded single-producer single-consumer queues of `u64`
//!   (`seq_queue.rs`): each side keeps its index on its own cache line and re-reads the other
//!   side's index only when its copy says full/empty, so a subscriber that keeps up costs one
//!   cache-line exchange per batch, not per item. Drop-oldest is the one case where the
//!   publisher moves the consumer's index (eviction), with a compare-exchange on both sides.
//!   `publish` takes `&self`, so a flag makes calls from several threads at once take turns
//!   (one uncontended swap per publish for the usual single publishing thread; it never waits
//!   for a subscriber).
//! * **The registry** of subscribers is a copy-on-write `Vec` behind `arc_swap::ArcSwap`: the
//!   publisher reads it without a lock. Subscribing copies it (leaving gone subscribers out)
//!   under a writers' mutex; unsubscribing only marks the slot inactive (the publisher skips
//!   it) and compacts the list once inactive slots are as many as live ones, so a subscriber
//!   leaving costs O(1) amortised, not a copy of the whole list. The count is kept exactly
//!   apart. A subscriber dropped during a publish is skipped from then on; its queue (numbers
//!   only, no items) is freed with the last registry snapshot holding it.
//! * **Counters** are relaxed atomics written by one side each: `offered` is derived (the
//!   first sequence number offered to the subscriber, against the channel's count), the
//!   publisher counts only drops, the subscriber its own receives and skips.
//! * **Wake-up**: a per-subscriber `waiting` flag plus an `atomic_waker::AtomicWaker`, with
//!   one SeqCst fence per publish; the argument is in the `handoff` module's source, next to
//!   each atomic's ordering.
//! * **Batching on the receiving side**: a subscriber that finds its queue empty although two
//!   or more items were published since it last found it empty (the publisher is in a burst)
//!   yields once to its executor (wakes itself) instead of arming the wake-up, so its next
//!   poll finds a batch and the publisher is not asked for a wake-up per item. At a steady
//!   pace (one item per wake-up, a camera) it waits as usual, and each yield needs two more
//!   publishes, so this never spins.
//! * `tests/loom.rs` model-checks that handshake (the real `handoff` code on loom's atomics
//!   and waker) against a queue model with the same Release-push / Acquire-pop ordering as the
//!   sequence queues: no lost wake-up between publish and recv, none between close and recv,
//!   in order and without duplicates, and a subscriber dropped mid-publish. (A first version
//!   cleared `waiting` with plain stores; loom, whose modification order is partial, found
//!   schedules where the publisher's swap missed a waiter, so every write to `waiting` is now
//!   a swap.) loom does not see inside `arc-swap`, the item ring or the sequence queues; those
//!   are covered by unit tests (including a two-thread queue test) and this crate's stress
//!   tests.
//!
//! [`Handle::subscribed`] and [`Handle::unsubscribed`] wait on an `event_listener::Event`, so
//! they work on any executor.

mod config;
mod error;
mod handle;
mod handoff;
mod publisher;
mod ring;
mod seq_queue;
mod shared;
mod slot;
mod subscriber;
mod sync;

pub use config::{Config, Policy, UnknownPolicy};
pub use error::TryRecvError;
pub use handle::Handle;
pub use publisher::{PublishReport, Publisher};
pub use subscriber::{Delivery, Subscriber, SubscriberStats};

/// The wake-up handshake, exposed only to the loom tests (`--cfg loom`).
#[cfg(loom)]
#[doc(hidden)]
pub mod loom_handoff {
    pub use crate::handoff::{producer_fence, Signal};
}

/// The README's example, run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctest;
