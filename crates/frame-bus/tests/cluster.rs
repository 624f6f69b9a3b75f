//! The bus against a real `nats-server` (Debian package `nats-server`) on loopback: one owner
//! per camera, identical frame ids on every node, failover, a restarted server, a slow node.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use frame_bus::{BusConfig, BusFrame, Ownership};
use mjpeg_codec::Timestamp;
use support::{node, one_owner, NatsServer};

fn frame(id: u64) -> BusFrame {
    let mut jpeg = vec![0xFF, 0xD8];
    jpeg.extend_from_slice(&id.to_be_bytes());
    jpeg.resize(20_000, (id % 251) as u8);
    jpeg.extend_from_slice(&[0xFF, 0xD9]);
    BusFrame {
        id,
        camera_time: Timestamp {
            secs: 1_700_000_000 + id,
            micros: (id % 1_000_000) as u32,
        },
        tier: id.is_multiple_of(2).then(|| "low".to_owned()),
        jpeg: Bytes::from(jpeg),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_and_three_nodes_elect_exactly_one_owner() {
    let server = NatsServer::start();
    let names = ["n1", "n2", "n3"];
    let a = node(&server, names[0]).await;
    let b = node(&server, names[1]).await;
    let la = a.lease("porch").unwrap();
    let lb = b.lease("porch").unwrap();
    let owner = one_owner(&[&la, &lb], &names[..2], Duration::from_secs(5)).await;
    // A third node joins: the owner stays.
    let c = node(&server, names[2]).await;
    let lc = c.lease("porch").unwrap();
    let again = one_owner(&[&la, &lb, &lc], &names, Duration::from_secs(5)).await;
    assert_eq!(again, owner);
    // And stays over several renewals.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(
        one_owner(&[&la, &lb, &lc], &names, Duration::ZERO).await,
        owner
    );
    // Another camera is an independent election.
    let other = [a.lease("garage").unwrap(), b.lease("garage").unwrap()];
    one_owner(&[&other[0], &other[1]], &names[..2], Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_receives_each_frame_once_with_the_owners_ids() {
    let server = NatsServer::start();
    let owner = node(&server, "owner").await;
    let b = node(&server, "b").await;
    let c = node(&server, "c").await;
    let mut sub_b = b.subscribe_frames("porch").await.unwrap();
    let mut sub_c = c.subscribe_frames("porch").await.unwrap();
    let mut detections = c.subscribe_detections("porch").await.unwrap();
    let publisher = owner.publisher("porch").unwrap();
    // Subscriptions reach the server before the first publish.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let ids: Vec<u64> = (5000..5100).collect();
    let read_b = tokio::spawn(async move {
        let mut got = Vec::new();
        while got.len() < 100 {
            got.push(sub_b.next().await.unwrap());
        }
        (got, sub_b.lost())
    });
    let read_c = tokio::spawn(async move {
        let mut got = Vec::new();
        while got.len() < 100 {
            got.push(sub_c.next().await.unwrap());
        }
        (got, sub_c.lost())
    });
    for id in &ids {
        publisher.send(frame(*id)).await.unwrap();
        // About 200 frames a second: well within what a subscriber reads.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(publisher.publish_detections(5099, Bytes::from_static(br#"{"detections":[]}"#)));
    for (got, lost) in [read_b.await.unwrap(), read_c.await.unwrap()] {
        assert_eq!(lost, 0);
        let got_ids: Vec<u64> = got.iter().map(|r| r.frame.id).collect();
        assert_eq!(got_ids, ids);
        for received in &got {
            assert_eq!(received.frame, frame(received.frame.id));
            assert_eq!(received.node, "owner");
            assert_eq!(received.lost_before, 0);
            assert!(received.latency().is_some());
        }
    }
    let received = detections.next().await.unwrap();
    assert_eq!(
        (received.frame_id, received.node.as_str(), received.json),
        (5099, "owner", Bytes::from_static(br#"{"detections":[]}"#))
    );
    assert_eq!(owner.stats().detections_published, 1);
    assert_eq!(c.stats().detections_received, 1);
    assert_eq!(owner.stats().frames_published, 100);
    assert_eq!(b.stats().frames_received, 100);
    assert_eq!(c.stats().frames_lost, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_owner_stops_renewing_another_node_takes_over_within_3_s() {
    let server = NatsServer::start();
    let names = ["n1", "n2", "n3"];
    let nodes = [
        node(&server, names[0]).await,
        node(&server, names[1]).await,
        node(&server, names[2]).await,
    ];
    let mut leases: Vec<Option<_>> = nodes
        .iter()
        .map(|n| Some(n.lease("porch").unwrap()))
        .collect();
    let all: Vec<&_> = leases.iter().map(|l| l.as_ref().unwrap()).collect();
    let first = one_owner(&all, &names, Duration::from_secs(5)).await;

    // The owner dies (its lease task stops without a word, like kill -9).
    drop(leases[first].take());
    let died = Instant::now();
    let rest: Vec<usize> = (0..3).filter(|i| *i != first).collect();
    let left: Vec<&_> = rest.iter().map(|i| leases[*i].as_ref().unwrap()).collect();
    let left_names: Vec<&str> = rest.iter().map(|i| names[*i]).collect();
    let second = one_owner(&left, &left_names, Duration::from_secs(3)).await;
    let took = died.elapsed();
    assert!(took <= Duration::from_secs(3), "failover took {took:?}");
    eprintln!("failover after the owner stopped: {took:?}");

    // A graceful release hands over at once (well before the TTL).
    let owner_lease = leases[rest[second]].take().unwrap();
    let released = Instant::now();
    owner_lease.release().await;
    let last = rest[1 - second];
    let lease = leases[last].as_ref().unwrap();
    while !lease.is_owner() {
        assert!(released.elapsed() < Duration::from_secs(3));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        released.elapsed() < BusConfig::new("", "", "").lease_ttl,
        "{:?}",
        released.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_nats_server_is_survived_and_the_cluster_recovers() {
    let mut server = NatsServer::start();
    let names = ["n1", "n2"];
    let a = node(&server, names[0]).await;
    let b = node(&server, names[1]).await;
    let la = a.lease("porch").unwrap();
    let lb = b.lease("porch").unwrap();
    let owner = one_owner(&[&la, &lb], &names, Duration::from_secs(5)).await;
    let owner_lease = [&la, &lb][owner];

    server.kill();
    // The owner keeps its camera while NATS is gone.
    let deadline = Instant::now() + Duration::from_secs(5);
    while owner_lease.ownership() != (Ownership::Owner { connected: false }) {
        assert!(Instant::now() < deadline, "{:?}", owner_lease.ownership());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!a.stats().connected || !b.stats().connected);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(owner_lease.is_owner());

    server.restart();
    // Both reconnect; again exactly one owner, and frames flow from it to the other.
    let owner = one_owner(&[&la, &lb], &names, Duration::from_secs(10)).await;
    assert_eq!(
        [&la, &lb][owner].ownership(),
        Ownership::Owner { connected: true }
    );
    let (publisher_bus, follower_bus) = if owner == 0 { (&a, &b) } else { (&b, &a) };
    let mut frames = follower_bus.subscribe_frames("porch").await.unwrap();
    let publisher = publisher_bus.publisher("porch").unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut next_id = 1;
    let received = loop {
        publisher.send(frame(next_id)).await.unwrap();
        next_id += 1;
        match tokio::time::timeout(Duration::from_millis(100), frames.next()).await {
            Ok(Some(received)) => break received,
            _ => assert!(next_id < 100, "no frame after the restart"),
        }
    };
    assert_eq!(received.frame, frame(received.frame.id));
    assert!(a.stats().disconnects >= 1 && b.stats().disconnects >= 1);
    assert!(a.stats().connected && b.stats().connected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_node_loses_frames_for_itself_only() {
    let server = NatsServer::start();
    let owner = node(&server, "owner").await;
    let slow = node(&server, "slow").await;
    // The fast node gets more room, to be safe on a loaded machine; both are small.
    let mut config = BusConfig::new(server.url(), "test", "fast");
    config.subscription_capacity = 64;
    let fast = frame_bus::Bus::connect(config).await.unwrap();
    let mut slow_sub = slow.subscribe_frames("porch").await.unwrap();
    let mut fast_sub = fast.subscribe_frames("porch").await.unwrap();
    let publisher = owner.publisher("porch").unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let reader = tokio::spawn(async move {
        let mut ids = Vec::new();
        while ids.len() < 200 {
            ids.push(fast_sub.next().await.unwrap().frame.id);
        }
        (ids, fast_sub.lost())
    });
    // The slow node reads nothing while 200 frames go by.
    for id in 1..=200 {
        publisher.send(frame(id)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    let (fast_ids, fast_lost) = tokio::time::timeout(Duration::from_secs(10), reader)
        .await
        .expect("the fast node is not held up")
        .unwrap();
    assert_eq!(fast_ids, (1..=200).collect::<Vec<_>>());
    assert_eq!(fast_lost, 0);
    assert_eq!(fast.stats().slow_consumer_events, 0);

    // The slow node kept a few frames (its buffer) and lost the rest, counted.
    let mut kept = Vec::new();
    while let Ok(Some(received)) =
        tokio::time::timeout(Duration::from_millis(300), slow_sub.next()).await
    {
        kept.push(received.frame.id);
    }
    assert!(
        !kept.is_empty() && kept.len() <= 8,
        "kept {} frames: {kept:?}",
        kept.len()
    );
    assert!(kept.windows(2).all(|w| w[0] < w[1]), "{kept:?}");
    let stats = slow.stats();
    assert!(stats.slow_consumer_events >= 150, "{stats:?}");
    // Frames the subscription saw a gap for (from the publisher's sequence numbers).
    assert_eq!(slow_sub.lost() + kept.len() as u64, *kept.last().unwrap());
    // The owner published every frame: a slow node never held it up.
    assert_eq!(owner.stats().frames_published, 200);
    assert_eq!(owner.stats().publish_dropped, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_sees_a_followers_demand_for_detections_until_it_goes_quiet() {
    let server = NatsServer::start();
    let owner = node(&server, "owner").await;
    let b = node(&server, "b").await;
    let demand = owner.detection_demand("porch").await.unwrap();
    let mut wanted = demand.receiver();
    // The owner's own heartbeats do not count.
    let _own = owner.want_detections("porch").unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!demand.wanted());

    // `b` wants the detections: at once (the first heartbeat goes out immediately).
    let asked = Instant::now();
    let beacon = b.want_detections("porch").unwrap();
    tokio::time::timeout(Duration::from_secs(2), wanted.wait_for(|w| *w))
        .await
        .expect("demand seen within 2 s")
        .unwrap();
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "{:?}",
        asked.elapsed()
    );
    // Held over several heartbeats: still wanted.
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    assert!(demand.wanted());

    // `b` stops wanting: the demand expires after the TTL (3 s), not before 2 s.
    drop(beacon);
    let stopped = Instant::now();
    tokio::time::timeout(Duration::from_secs(5), wanted.wait_for(|w| !*w))
        .await
        .expect("demand gone within 5 s")
        .unwrap();
    let gone = stopped.elapsed();
    assert!(gone >= Duration::from_secs(2), "{gone:?}");
    // Another camera's demand is its own.
    assert!(!owner.detection_demand("garage").await.unwrap().wanted());
}
