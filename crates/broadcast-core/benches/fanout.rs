//! Fan-out side by side with `tokio::sync::broadcast` and `async-broadcast`, in one run.
//!
//! `cargo bench -p broadcast-core --bench fanout -- --warm-up-time 1 --measurement-time 3`
//!
//! * `publish/<impl>/<n>`: time of one publish/send with `n` subscribers whose queues are
//!   drained (untimed) after every publish. tokio and async-broadcast store one copy per
//!   message and let each receiver pay at `recv`, so their send is O(1) in `n`; broadcast-core
//!   also stores the item once but pushes its sequence number into every subscriber's own
//!   queue, so its publish is O(n) — the price of per-viewer queues and policies.
//! * `end_to_end/<impl>/1000`: 1000 consumer tasks on a 2-worker multi-thread tokio runtime
//!   receive 256 items each (queues big enough that nothing is dropped); throughput counts
//!   deliveries (items × subscribers). Every item is a clone of one `Bytes` (so all clones and
//!   drops hit one refcount).
//! * `end_to_end_distinct_items/<impl>/1000`: the same with a distinct `Bytes` per item, as a
//!   camera's frames are.
//!
//! Items are `Bytes` of 66 000 bytes, the size of a VGA ESP32-CAM JPEG (cloning `Bytes` does
//! not copy, so only the refcount traffic shows).
#![allow(clippy::unwrap_used, missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use broadcast_core::{Config, Policy, Publisher};
use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

const SUBSCRIBER_COUNTS: [usize; 5] = [1, 10, 100, 1000, 10_000];
const E2E_SUBSCRIBERS: usize = 1000;
const E2E_ITEMS: usize = 256;

fn frame() -> Bytes {
    Bytes::from(vec![0xA5u8; 66_000])
}

fn publish_cost(c: &mut Criterion) {
    let mut group = c.benchmark_group("publish");
    let item = frame();
    for n in SUBSCRIBER_COUNTS {
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("broadcast-core", n), &n, |b, &n| {
            let publisher = Publisher::new(Config::new(5, Policy::DropNewest));
            let mut subscribers: Vec<_> = (0..n).map(|_| publisher.subscribe()).collect();
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    black_box(publisher.publish(item.clone()));
                    timed += start.elapsed();
                    for subscriber in &mut subscribers {
                        black_box(subscriber.try_recv().ok());
                    }
                }
                timed
            });
        });
        group.bench_with_input(BenchmarkId::new("tokio-broadcast", n), &n, |b, &n| {
            let (sender, first) = tokio::sync::broadcast::channel::<Bytes>(5);
            let mut receivers: Vec<_> = (1..n).map(|_| sender.subscribe()).collect();
            receivers.push(first);
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    black_box(sender.send(item.clone()).ok());
                    timed += start.elapsed();
                    for receiver in &mut receivers {
                        black_box(receiver.try_recv().ok());
                    }
                }
                timed
            });
        });
        group.bench_with_input(BenchmarkId::new("async-broadcast", n), &n, |b, &n| {
            let (mut sender, first) = async_broadcast::broadcast::<Bytes>(5);
            sender.set_overflow(true);
            let mut receivers: Vec<_> = (1..n).map(|_| first.new_receiver()).collect();
            receivers.push(first);
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    black_box(sender.try_broadcast(item.clone()).ok());
                    timed += start.elapsed();
                    for receiver in &mut receivers {
                        black_box(receiver.try_recv().ok());
                    }
                }
                timed
            });
        });
    }
    group.finish();
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Waits for every consumer task and checks it received every item.
fn join_all(rt: &tokio::runtime::Runtime, tasks: Vec<tokio::task::JoinHandle<usize>>) {
    rt.block_on(async {
        for task in tasks {
            assert_eq!(task.await.unwrap(), E2E_ITEMS);
        }
    });
}

fn end_to_end(c: &mut Criterion) {
    // Every item a clone of ONE `Bytes`: every clone and drop hits one refcount.
    let item = frame();
    let shared: Vec<Bytes> = (0..E2E_ITEMS).map(|_| item.clone()).collect();
    end_to_end_group(c, "end_to_end", &shared);
    // A distinct `Bytes` per item, as frames from a camera are.
    let distinct: Vec<Bytes> = (0..E2E_ITEMS).map(|_| frame()).collect();
    end_to_end_group(c, "end_to_end_distinct_items", &distinct);
}

/// 1000 consumer tasks on a 2-worker runtime receive `items` (256), published from this thread.
fn end_to_end_group(c: &mut Criterion, name: &str, items: &[Bytes]) {
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements((E2E_ITEMS * E2E_SUBSCRIBERS) as u64));
    group.sample_size(10);
    let rt = runtime();

    group.bench_function(BenchmarkId::new("broadcast-core", E2E_SUBSCRIBERS), |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            for _ in 0..iters {
                let publisher = Publisher::new(Config::new(E2E_ITEMS, Policy::DropNewest));
                let tasks: Vec<_> = (0..E2E_SUBSCRIBERS)
                    .map(|_| {
                        let mut subscriber = publisher.subscribe();
                        rt.spawn(async move {
                            let mut received = 0;
                            while subscriber.recv().await.is_some() {
                                received += 1;
                            }
                            received
                        })
                    })
                    .collect();
                let start = Instant::now();
                for item in items {
                    publisher.publish(item.clone());
                }
                drop(publisher);
                join_all(&rt, tasks);
                timed += start.elapsed();
            }
            timed
        });
    });

    group.bench_function(BenchmarkId::new("tokio-broadcast", E2E_SUBSCRIBERS), |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            for _ in 0..iters {
                let (sender, _) = tokio::sync::broadcast::channel::<Bytes>(E2E_ITEMS);
                let tasks: Vec<_> = (0..E2E_SUBSCRIBERS)
                    .map(|_| {
                        let mut receiver = sender.subscribe();
                        rt.spawn(async move {
                            let mut received = 0;
                            while receiver.recv().await.is_ok() {
                                received += 1;
                            }
                            received
                        })
                    })
                    .collect();
                let start = Instant::now();
                for item in items {
                    sender.send(item.clone()).unwrap();
                }
                drop(sender);
                join_all(&rt, tasks);
                timed += start.elapsed();
            }
            timed
        });
    });

    group.bench_function(BenchmarkId::new("async-broadcast", E2E_SUBSCRIBERS), |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            for _ in 0..iters {
                let (sender, first) = async_broadcast::broadcast::<Bytes>(E2E_ITEMS);
                let tasks: Vec<_> = (0..E2E_SUBSCRIBERS)
                    .map(|_| {
                        let mut receiver = first.new_receiver();
                        rt.spawn(async move {
                            let mut received = 0;
                            while receiver.recv().await.is_ok() {
                                received += 1;
                            }
                            received
                        })
                    })
                    .collect();
                drop(first);
                let start = Instant::now();
                for item in items {
                    sender.try_broadcast(item.clone()).unwrap();
                }
                drop(sender);
                join_all(&rt, tasks);
                timed += start.elapsed();
            }
            timed
        });
    });
    group.finish();
}

criterion_group!(benches, publish_cost, end_to_end);
criterion_main!(benches);
