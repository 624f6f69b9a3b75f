//! Behaviour of the channel through its public API: ordering, policies, close, drops.
#![cfg(not(loom))]
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use broadcast_core::{Config, Policy, Publisher, TryRecvError};

fn drain<T: Clone>(subscriber: &mut broadcast_core::Subscriber<T>) -> Vec<u64> {
    std::iter::from_fn(|| subscriber.try_recv().ok())
        .map(|d| d.seq)
        .collect()
}

#[test]
fn every_subscriber_gets_every_item_in_order() {
    let publisher = Publisher::new(Config::new(1000, Policy::DropNewest));
    let mut subscribers: Vec<_> = (0..10).map(|_| publisher.subscribe()).collect();
    for i in 0..500u64 {
        let report = publisher.publish(i * 10);
        assert_eq!((report.seq, report.delivered, report.dropped), (i, 10, 0));
    }
    for subscriber in &mut subscribers {
        let mut expected = 0;
        while let Ok(delivery) = subscriber.try_recv() {
            assert_eq!((delivery.seq, delivery.item), (expected, expected * 10));
            expected += 1;
        }
        assert_eq!(expected, 500);
    }
}

#[test]
fn drop_newest_keeps_the_first_items_of_a_full_queue() {
    let publisher = Publisher::new(Config::new(3, Policy::DropNewest));
    let mut subscriber = publisher.subscribe();
    let reports: Vec<_> = (0..6u32).map(|i| publisher.publish(i)).collect();
    let delivered: Vec<_> = reports.iter().map(|r| (r.delivered, r.dropped)).collect();
    assert_eq!(delivered, [(1, 0), (1, 0), (1, 0), (0, 1), (0, 1), (0, 1)]);
    let stats = subscriber.stats();
    assert_eq!(
        (stats.offered, stats.dropped, stats.queued, stats.lag),
        (6, 3, 3, 6)
    );
    assert_eq!(drain(&mut subscriber), [0, 1, 2]);
    publisher.publish(6);
    assert_eq!(drain(&mut subscriber), [6]);
    let stats = subscriber.stats();
    assert_eq!(
        (stats.delivered, stats.dropped, stats.queued, stats.lag),
        (4, 3, 0, 0)
    );
}

#[test]
fn drop_oldest_keeps_the_newest_items_of_a_full_queue() {
    let publisher = Publisher::new(Config::new(3, Policy::DropOldest));
    let mut subscriber = publisher.subscribe();
    let reports: Vec<_> = (0..6u32).map(|i| publisher.publish(i)).collect();
    let delivered: Vec<_> = reports.iter().map(|r| (r.delivered, r.dropped)).collect();
    assert_eq!(delivered, [(1, 0), (1, 0), (1, 0), (1, 1), (1, 1), (1, 1)]);
    assert_eq!(drain(&mut subscriber), [3, 4, 5]);
    publisher.publish(6);
    assert_eq!(drain(&mut subscriber), [6]);
    let stats = subscriber.stats();
    assert_eq!(
        (stats.offered, stats.delivered, stats.dropped, stats.queued),
        (7, 4, 3, 0)
    );
}

#[test]
fn a_slow_subscriber_does_not_affect_a_fast_one() {
    let publisher = Publisher::new(Config::new(2, Policy::DropNewest));
    let mut fast = publisher.subscribe();
    let slow = publisher.subscribe();
    for i in 0..100u32 {
        publisher.publish(i);
        assert_eq!(fast.try_recv().unwrap().item, i);
    }
    assert_eq!(slow.stats().queued, 2);
    assert_eq!(slow.stats().dropped, 98);
    assert_eq!(fast.stats().dropped, 0);
}

#[test]
fn zero_capacity_is_treated_as_one() {
    let publisher = Publisher::new(Config::new(0, Policy::DropNewest));
    let mut subscriber = publisher.subscribe();
    publisher.publish(1u8);
    publisher.publish(2u8);
    assert_eq!(drain(&mut subscriber), [0]);
}

#[test]
fn drain_to_latest_skips_stale_items_and_counts_them() {
    let publisher = Publisher::new(Config::default());
    let mut subscriber = publisher.subscribe();
    assert!(subscriber.drain_to_latest().is_none());
    for i in 0..4u32 {
        publisher.publish(i);
    }
    assert_eq!(subscriber.drain_to_latest().unwrap().item, 3);
    let stats = subscriber.stats();
    assert_eq!(
        (stats.delivered, stats.dropped, stats.queued, stats.lag),
        (1, 3, 0, 0)
    );
}

#[test]
fn close_drains_the_queue_then_reports_closed() {
    let publisher = Publisher::new(Config::default());
    let handle = publisher.handle();
    let mut subscriber = publisher.subscribe();
    assert_eq!(subscriber.try_recv().unwrap_err(), TryRecvError::Empty);
    publisher.publish("a");
    drop(publisher);
    assert!(handle.is_closed());
    assert_eq!(subscriber.try_recv().unwrap().item, "a");
    assert_eq!(subscriber.try_recv().unwrap_err(), TryRecvError::Closed);
    assert!(subscriber.recv_blocking().is_none());
}

#[test]
fn a_subscriber_made_after_close_gets_none_at_once() {
    let publisher = Publisher::<u8>::new(Config::default());
    let handle = publisher.handle();
    drop(publisher);
    let mut late = handle.subscribe();
    assert_eq!(late.try_recv().unwrap_err(), TryRecvError::Closed);
    assert!(late.recv_blocking().is_none());
    assert_eq!(handle.subscriber_count(), 0);
    drop(late);
    assert_eq!(handle.subscriber_count(), 0);
}

#[test]
fn dropping_a_subscriber_unsubscribes_and_frees_its_queue() {
    let publisher = Publisher::new(Config::default());
    let item = Arc::new([0u8; 64]);
    let subscribers: Vec<_> = (0..100).map(|_| publisher.subscribe()).collect();
    for _ in 0..3 {
        publisher.publish(item.clone());
    }
    // Each item is stored once, in the channel's ring; queues hold sequence numbers.
    assert_eq!(Arc::strong_count(&item), 1 + 3);
    let mut late = publisher.subscribe();
    let mut subscribers = subscribers;
    let got = subscribers[0].try_recv().unwrap();
    assert_eq!(
        Arc::strong_count(&item),
        1 + 3 + 1,
        "a receiver clones its item"
    );
    drop(got);
    assert!(late.try_recv().is_err(), "joined after the publishes");
    assert_eq!(publisher.subscriber_count(), 101);
    drop(subscribers);
    assert_eq!(Arc::strong_count(&item), 1 + 3, "one subscriber left");
    drop(late);
    assert_eq!(publisher.subscriber_count(), 0);
    assert_eq!(publisher.handle().subscriber_stats().len(), 0);
    assert_eq!(
        Arc::strong_count(&item),
        1,
        "stored items freed when the last subscriber leaves"
    );
    assert_eq!(publisher.publish(item.clone()).delivered, 0);
    assert_eq!(Arc::strong_count(&item), 1);
}

#[test]
fn recv_blocking_wakes_when_an_item_arrives_from_another_thread() {
    let publisher = Publisher::new(Config::default());
    let mut subscriber = publisher.subscribe();
    let producer = std::thread::spawn(move || {
        for i in 0..1000u32 {
            publisher.publish(i);
            if i % 100 == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    });
    let mut last = None;
    while let Some(delivery) = subscriber.recv_blocking() {
        assert!(
            last.is_none_or(|l| delivery.seq > l),
            "ordered, no duplicates"
        );
        last = Some(delivery.seq);
    }
    producer.join().unwrap();
    let stats = subscriber.stats();
    assert_eq!(stats.delivered + stats.dropped, 1000);
}

#[test]
fn subscriber_stats_lists_every_live_subscriber() {
    let publisher = Publisher::new(Config::default());
    let handle = publisher.handle();
    let a = handle.subscribe();
    let b = handle.subscribe_with(Config::new(1, Policy::DropOldest));
    publisher.publish(());
    publisher.publish(());
    let mut stats = handle.subscriber_stats();
    stats.sort_by_key(|s| s.id);
    assert_eq!(stats.len(), 2);
    assert_eq!(
        (stats[0].id, stats[0].queued, stats[0].dropped),
        (a.id(), 2, 0)
    );
    assert_eq!(
        (stats[1].id, stats[1].queued, stats[1].dropped),
        (b.id(), 1, 1)
    );
    assert_eq!(handle.published(), 2);
    assert_eq!(publisher.next_seq(), 2);
    // A subscriber that left is not listed, even before the registry is compacted.
    let c = handle.subscribe();
    let c_id = c.id();
    drop(a);
    let ids: Vec<_> = handle.subscriber_stats().iter().map(|s| s.id).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&b.id()) && ids.contains(&c_id));
}

#[test]
fn a_stalled_drop_newest_subscriber_finds_its_old_items_gone_and_counts_them() {
    let publisher = Publisher::new(Config::new(2, Policy::DropNewest));
    let mut stalled = publisher.subscribe();
    let mut reader = publisher.subscribe();
    for i in 0..1000u64 {
        publisher.publish(Arc::new(i));
        assert_eq!(*reader.try_recv().unwrap().item, i);
    }
    // Its queue still lists 0 and 1, but the channel stopped storing them long ago.
    assert_eq!(stalled.stats().queued, 2);
    assert_eq!(stalled.try_recv().unwrap_err(), TryRecvError::Empty);
    let stats = stalled.stats();
    assert_eq!((stats.delivered, stats.dropped, stats.queued), (0, 1000, 0));
    assert_eq!(stats.offered, 1000);
    // Then it goes on with fresh items.
    publisher.publish(Arc::new(1000));
    assert_eq!(*stalled.try_recv().unwrap().item, 1000);
    assert_eq!(stalled.stats().lag, 0);
}
