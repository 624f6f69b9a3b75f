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
//! Items are cloned once per subscriber, so use cheap clones (`Arc<_>`, `bytes::Bytes`).
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
//! (items it received), `dropped` (lost to its full queue, or skipped by `drain_to_latest`),
//! `queued` (in its queue now), `offered` (items published while it was subscribed) and `lag`
//! (items published after the newest item it received, or since it subscribed if it has
//! received none). When the publisher is quiet, `offered == delivered + dropped + queued`.
//!
//! # How it works, and what is checked
//!
//! * The registry of subscribers is a copy-on-write `Vec` behind `arc_swap::ArcSwap`: the
//!   publisher reads it without a lock; subscribe/unsubscribe copy, edit and swap it under a
//!   mutex of their own. A subscriber dropped during a publish is removed from the registry at
//!   once; the publish may still push into its queue, which is freed with that registry
//!   snapshot.
//! * Queues are `crossbeam_queue::ArrayQueue` (`push` for drop-newest, `force_push` for
//!   drop-oldest).
//! * The wake-up is a per-subscriber `waiting` flag plus an `atomic_waker::AtomicWaker`, with
//!   one SeqCst fence per publish; the argument is in the `handoff` module's source, next to
//!   each atomic's ordering.
//! * `tests/loom.rs` model-checks that handshake (the real `handoff` code on loom's atomics
//!   and waker) against a queue model with the same Release-push / Acquire-pop ordering as
//!   `ArrayQueue`: no lost wake-up between publish and recv, none between close and recv, in
//!   order and without duplicates, and a subscriber dropped mid-publish. (A first version
//!   cleared `waiting` with plain stores; loom, whose modification order is partial, found
//!   schedules where the publisher's swap missed a waiter, so every write to `waiting` is now
//!   a swap.) loom does not see
//!   inside `arc-swap` or `crossbeam-queue` (not loom-aware); those are covered by their own
//!   test suites and by this crate's stress tests.
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

pub use config::{Config, Policy};
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
