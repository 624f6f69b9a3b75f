//! The async side on tokio: `recv`, `Stream`, `subscribed`/`unsubscribed`, many consumer tasks.
#![cfg(not(loom))]
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use broadcast_core::{Config, Policy, Publisher};
use futures_util::StreamExt;
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn subscriber_is_a_stream() {
    let publisher = Publisher::new(Config::default());
    let subscriber = publisher.subscribe();
    for i in 0..3u8 {
        publisher.publish(i);
    }
    drop(publisher);
    let items: Vec<_> = subscriber.map(|d| d.item).collect().await;
    assert_eq!(items, [0, 1, 2]);
}

#[tokio::test]
async fn subscribed_and_unsubscribed_follow_the_count() {
    let publisher = Publisher::<u8>::new(Config::default());
    let handle = publisher.handle();
    timeout(LIMIT, handle.unsubscribed()).await.unwrap(); // already true
    let waiter = tokio::spawn({
        let handle = handle.clone();
        async move { handle.subscribed().await }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!waiter.is_finished());
    let subscriber = handle.subscribe();
    timeout(LIMIT, waiter).await.unwrap().unwrap();

    let gone = tokio::spawn({
        let handle = handle.clone();
        async move { handle.unsubscribed().await }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!gone.is_finished());
    drop(subscriber);
    timeout(LIMIT, gone).await.unwrap().unwrap();
}

#[tokio::test]
async fn recv_waits_for_the_next_item_and_sees_the_close() {
    let publisher = Publisher::new(Config::default());
    let mut subscriber = publisher.subscribe();
    let reader = tokio::spawn(async move {
        let mut seqs = Vec::new();
        while let Some(delivery) = subscriber.recv().await {
            seqs.push(delivery.seq);
        }
        seqs
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    publisher.publish("late");
    tokio::time::sleep(Duration::from_millis(20)).await;
    drop(publisher);
    assert_eq!(timeout(LIMIT, reader).await.unwrap().unwrap(), [0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_consumer_tasks_on_a_multi_thread_runtime() {
    const SUBSCRIBERS: usize = 200;
    const ITEMS: u64 = 5_000;
    let publisher = Publisher::new(Config::new(16, Policy::DropNewest));
    let tasks: Vec<_> = (0..SUBSCRIBERS)
        .map(|_| {
            let mut subscriber = publisher.subscribe();
            tokio::spawn(async move {
                let mut last = None;
                while let Some(delivery) = subscriber.recv().await {
                    assert!(
                        last.is_none_or(|l| delivery.seq > l),
                        "order, no duplicates"
                    );
                    last = Some(delivery.seq);
                }
                subscriber.stats()
            })
        })
        .collect();
    let producer = std::thread::spawn(move || {
        for i in 0..ITEMS {
            publisher.publish(bytes::Bytes::from(vec![0u8; (i % 64) as usize]));
            if i % 500 == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    });
    producer.join().unwrap();
    for task in tasks {
        let stats = timeout(LIMIT, task).await.unwrap().unwrap();
        assert_eq!(stats.offered, ITEMS);
        assert_eq!(stats.delivered + stats.dropped, ITEMS);
        assert_eq!(stats.queued, 0);
    }
}

/// Counts wake-ups.
struct CountingWaker(std::sync::atomic::AtomicUsize);

impl std::task::Wake for CountingWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[test]
fn after_a_burst_an_empty_queue_yields_once_then_waits() {
    use std::sync::atomic::Ordering::SeqCst;
    use std::task::{Context, Poll, Waker};

    let counter = std::sync::Arc::new(CountingWaker(0.into()));
    let waker = Waker::from(counter.clone());
    let mut cx = Context::from_waker(&waker);
    let publisher = Publisher::new(Config::default());
    let mut subscriber = publisher.subscribe();

    // Steady pace (one item since the queue was last empty): plain wait, no self-wake.
    publisher.publish(0u32);
    assert!(subscriber.poll_recv(&mut cx).is_ready());
    assert!(subscriber.poll_recv(&mut cx).is_pending());
    assert_eq!(counter.0.load(SeqCst), 0);
    publisher.publish(1);
    assert_eq!(counter.0.load(SeqCst), 1, "woken by the publish");

    // A burst (two or more since the queue was last empty): one yield, then a real wait.
    publisher.publish(2);
    publisher.publish(3);
    for expected in [1, 2, 3] {
        match subscriber.poll_recv(&mut cx) {
            Poll::Ready(Some(delivery)) => assert_eq!(delivery.item, expected),
            other => panic!("expected item {expected}, got {other:?}"),
        }
    }
    assert!(subscriber.poll_recv(&mut cx).is_pending());
    assert_eq!(counter.0.load(SeqCst), 2, "yielded: woke itself");
    assert!(subscriber.poll_recv(&mut cx).is_pending());
    assert_eq!(counter.0.load(SeqCst), 2, "then waits for the publisher");
    publisher.publish(4);
    assert_eq!(counter.0.load(SeqCst), 3);
    assert_eq!(subscriber.try_recv().unwrap().item, 4);
}
