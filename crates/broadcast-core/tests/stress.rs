//! Thousands of subscribers joining and leaving while a publisher runs on another thread.
#![cfg(not(loom))]
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use broadcast_core::{Config, Policy, Publisher, Subscriber};

/// A frame-like item; every clone holds `token`, so a leaked queue slot shows in its count.
#[derive(Clone)]
struct Item {
    _token: Arc<()>,
}

#[test]
fn churn_while_publishing_keeps_every_counter_consistent_and_frees_everything() {
    const CHURN_THREADS: usize = 4;
    const JOINS_PER_THREAD: usize = 1000;
    const LONG_LIVED: usize = 50;

    let token = Arc::new(());
    let publisher = Publisher::new(Config::default());
    let handle = publisher.handle();
    let mut long_lived: Vec<Subscriber<Item>> = (0..LONG_LIVED)
        .map(|i| {
            let policy = if i % 2 == 0 {
                Policy::DropNewest
            } else {
                Policy::DropOldest
            };
            handle.subscribe_with(Config::new(1 + i % 7, policy))
        })
        .collect();

    let stop = Arc::new(AtomicBool::new(false));
    let reported_delivered = Arc::new(AtomicU64::new(0));
    let producer = {
        let stop = stop.clone();
        let token = token.clone();
        let reported_delivered = reported_delivered.clone();
        thread::spawn(move || {
            let mut published = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let report = publisher.publish(Item {
                    _token: token.clone(),
                });
                assert_eq!(report.seq, published);
                reported_delivered.fetch_add(report.delivered as u64, Ordering::Relaxed);
                published += 1;
            }
            published
            // the publisher is dropped here: the channel closes
        })
    };

    let churners: Vec<_> = (0..CHURN_THREADS)
        .map(|t| {
            let handle = handle.clone();
            thread::spawn(move || {
                let mut received = 0u64;
                for j in 0..JOINS_PER_THREAD {
                    let policy = if j % 2 == 0 {
                        Policy::DropNewest
                    } else {
                        Policy::DropOldest
                    };
                    let joined_at = handle.published();
                    let mut subscriber =
                        handle.subscribe_with(Config::new(1 + (t + j) % 5, policy));
                    let mut last: Option<u64> = None;
                    let mut got = 0;
                    for _ in 0..(j % 20) {
                        match subscriber.try_recv() {
                            Ok(delivery) => {
                                // One publish may be in flight across the join.
                                assert!(delivery.seq + 1 >= joined_at);
                                assert!(last.is_none_or(|l| delivery.seq > l), "order");
                                last = Some(delivery.seq);
                                received += 1;
                                got += 1;
                            }
                            Err(_) => thread::yield_now(),
                        }
                    }
                    assert_eq!(subscriber.stats().delivered, got);
                    // dropped here, possibly in the middle of a publish
                }
                received
            })
        })
        .collect();

    // The long-lived subscribers read on this thread meanwhile.
    let mut last_seen = vec![None::<u64>; LONG_LIVED];
    while churners.iter().any(|c| !c.is_finished()) {
        for (subscriber, last) in long_lived.iter_mut().zip(&mut last_seen) {
            if let Ok(delivery) = subscriber.try_recv() {
                assert!(
                    last.is_none_or(|l| delivery.seq > l),
                    "order, no duplicates"
                );
                *last = Some(delivery.seq);
            }
        }
    }
    let churned: u64 = churners.into_iter().map(|c| c.join().unwrap()).sum();
    assert!(churned > 0);
    stop.store(true, Ordering::Relaxed);
    let published = producer.join().unwrap();
    assert!(handle.is_closed());

    // Quiet now: each long-lived subscriber saw every publish, and its counters add up.
    assert_eq!(handle.subscriber_count(), LONG_LIVED);
    for subscriber in &long_lived {
        let stats = subscriber.stats();
        assert_eq!(stats.offered, published);
        assert_eq!(
            stats.delivered + stats.dropped + stats.queued as u64,
            stats.offered
        );
    }
    let long_lived_delivered: u64 = long_lived.iter().map(|s| s.stats().delivered).sum();
    assert!(reported_delivered.load(Ordering::Relaxed) >= long_lived_delivered);
    // Drain to the end: `None` after the last queued item.
    for (subscriber, last) in long_lived.iter_mut().zip(&mut last_seen) {
        while let Some(delivery) = subscriber.recv_blocking() {
            assert!(last.is_none_or(|l| delivery.seq > l));
            *last = Some(delivery.seq);
        }
        assert_eq!(subscriber.stats().queued, 0);
    }

    // Back to baseline: nothing registered, no item left in any queue.
    drop(long_lived);
    assert_eq!(handle.subscriber_count(), 0);
    assert!(handle.subscriber_stats().is_empty());
    assert_eq!(
        Arc::strong_count(&token),
        1,
        "no leaked queue slot holds an item"
    );
}

/// An item whose drop drops a subscriber. The channel stores each item once, in a ring, and
/// drops it when a later publish overwrites its slot: that drop runs inside `publish`, after
/// the publish has loaded the registry (which still lists the victim).
#[derive(Clone)]
struct TrapItem {
    victim: Option<Arc<Mutex<Option<Subscriber<TrapItem>>>>>,
    /// Counts live clones, to check nothing leaks.
    _token: Arc<()>,
}

impl Drop for TrapItem {
    fn drop(&mut self) {
        if let Some(victim) = &self.victim {
            drop(victim.lock().unwrap().take());
        }
    }
}

#[test]
fn a_subscriber_dropped_during_publish_is_removed_and_freed() {
    let publisher = Publisher::new(Config::default());
    let mut before = publisher.subscribe();
    let victim = Arc::new(Mutex::new(Some(publisher.subscribe())));
    let mut after = publisher.subscribe();
    let token = Arc::new(());
    let item = |victim: Option<&Arc<Mutex<Option<Subscriber<TrapItem>>>>>| TrapItem {
        victim: victim.cloned(),
        _token: token.clone(),
    };

    let report = publisher.publish(item(Some(&victim)));
    assert_eq!((report.seq, report.delivered), (0, 3));
    let mut sprung_at = None;
    for seq in 1..10_000u64 {
        let report = publisher.publish(item(None));
        if victim.lock().unwrap().is_none() {
            // Dropped in this publish, after it loaded the registry: it is skipped, not fed.
            assert_eq!((report.delivered, report.dropped), (2, 0));
            sprung_at = Some(seq);
            break;
        }
        // The victim never reads: its queue fills up and refuses the rest.
        assert_eq!(report.delivered + report.dropped, 3);
        before.drain_to_latest().unwrap();
        after.drain_to_latest().unwrap();
    }
    let sprung_at = sprung_at.expect("the trap item was overwritten in the ring");
    assert_eq!(publisher.subscriber_count(), 2);
    assert_eq!(before.try_recv().unwrap().seq, sprung_at);
    assert_eq!(after.try_recv().unwrap().seq, sprung_at);
    let report = publisher.publish(item(None));
    assert_eq!(report.delivered, 2);
    drop((before, after));
    assert_eq!(Arc::strong_count(&token), 1, "nothing leaked");
}
