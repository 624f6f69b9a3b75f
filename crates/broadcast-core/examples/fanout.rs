//! A publisher thread and three subscribers, one of them slow.
//!
//! Run: `cargo run -p broadcast-core --example fanout`
//!
//! The publisher sends 60 "frames" at 100 per second. Two subscribers keep up and receive every
//! one; the slow one (10 ms of work per frame, and one 200 ms stall) loses frames to its full
//! queue without slowing the publisher or the others; drop-oldest keeps its frames fresh.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use broadcast_core::{Config, Policy, Publisher};

#[tokio::main]
async fn main() {
    let publisher = Publisher::new(Config::default()); // capacity 5, drop-newest
    let handle = publisher.handle();

    let mut viewers = Vec::new();
    for name in ["fast-1", "fast-2"] {
        let mut subscriber = handle.subscribe();
        viewers.push(tokio::spawn(async move {
            while subscriber.recv().await.is_some() {}
            (name, subscriber.stats())
        }));
    }
    let mut slow = handle.subscribe_with(Config::new(5, Policy::DropOldest));
    viewers.push(tokio::spawn(async move {
        let mut seqs = Vec::new();
        while let Some(delivery) = slow.recv().await {
            seqs.push(delivery.seq);
            let stall = if delivery.seq == 10 { 200 } else { 10 };
            tokio::time::sleep(Duration::from_millis(stall)).await;
        }
        println!("slow viewer got seqs {seqs:?}");
        ("slow", slow.stats())
    }));

    // The producer is a plain thread: publish never blocks.
    handle.subscribed().await;
    let producer = std::thread::spawn(move || {
        for i in 0..60u32 {
            let report = publisher.publish(format!("frame {i}"));
            if report.dropped > 0 {
                println!(
                    "seq {}: delivered to {}, dropped {}",
                    report.seq, report.delivered, report.dropped
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        // dropping the publisher closes the channel
    });

    for viewer in viewers {
        let (name, stats) = viewer.await.unwrap();
        println!(
            "{name}: delivered {}, dropped {}, offered {}",
            stats.delivered, stats.dropped, stats.offered
        );
    }
    producer.join().unwrap();
}
