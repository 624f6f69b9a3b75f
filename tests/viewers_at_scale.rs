//! Viewers at scale and hostile clients, end to end on loopback: dead viewers are evicted, a
//! frozen camera gets keepalive re-sends, a camera that is down gets offline cards, limits
//! answer 503, slowloris clients are cut off, churn leaves nothing behind, and a viewer on a
//! thin link gets fresh frames.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use camrelay_suite::*;
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn no_detect(config: &mut camrelay::config::RelayConfig) {
    config.detect = false;
    config.idle_timeout = Duration::from_millis(300);
}

async fn camera_json(addr: std::net::SocketAddr) -> serde_json::Value {
    stats(addr).await["cameras"][0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_that_accepts_no_bytes_is_evicted_after_the_write_timeout() {
    let _serial = serial().await;
    let mock = start_mock(MockConfig::default()).await;
    let relay = start_relay(vec![camera_for("cam", &mock)], |c| {
        no_detect(c);
        c.write_timeout = Duration::from_secs(1);
    })
    .await;
    let addr = relay.local_addr();
    let _dead = dead_viewer(addr, "/cams/cam/stream").await;
    assert!(
        wait_until(Duration::from_secs(10), || async {
            camera_json(addr).await["evicted_total"] == 1
        })
        .await,
        "dead viewer not evicted: {}",
        camera_json(addr).await
    );
    assert!(
        wait_until(Duration::from_secs(3), || async {
            camera_json(addr).await["viewers"]["total"] == 0
        })
        .await
    );
    relay.shutdown().await;
    mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_camera_gets_its_last_frame_resent_every_second() {
    let _serial = serial().await;
    let mock = start_mock(MockConfig {
        stall_after: Some(10),
        stall_for: Duration::from_secs(4),
        ..MockConfig::default()
    })
    .await;
    let relay = start_relay(vec![camera_for("cam", &mock)], no_detect).await;
    let mut viewer = MjpegViewer::connect(relay.local_addr(), "/cams/cam/stream")
        .await
        .unwrap();
    // Read until the camera comes back (a new frame id after the re-sends) or for 30 s.
    let mut previous: Option<Received> = None;
    let mut resends = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let part = viewer.next_within(Duration::from_secs(5)).await.unwrap();
        if let Some(prev) = &previous {
            if part.frame_id == prev.frame_id {
                // The same frame again, byte for byte.
                assert_eq!(part.jpeg, prev.jpeg);
                resends += 1;
            } else {
                assert!(part.frame_id > prev.frame_id, "ids went backwards");
                if resends > 0 {
                    break;
                }
            }
        }
        previous = Some(part);
    }
    // The camera froze for 4 s: a re-send per keepalive second, not a flood (a busy machine
    // only makes fewer).
    assert!(
        (2..=5).contains(&resends),
        "{resends} keepalive re-sends while the camera was frozen for 4 s"
    );
    let camera = camera_json(relay.local_addr()).await;
    assert!(
        camera["keepalives"].as_u64().unwrap() >= resends,
        "{camera}"
    );
    relay.shutdown().await;
    mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_max_viewers_the_relay_answers_503_with_retry_after() {
    let relay = start_relay(Vec::new(), |c| {
        no_detect(c);
        c.max_viewers = 2;
    })
    .await;
    let addr = relay.local_addr();
    let a = MjpegViewer::connect(addr, "/stream").await.unwrap();
    let b = MjpegViewer::connect(addr, "/stream").await.unwrap();
    assert_eq!((a.status.as_u16(), b.status.as_u16()), (200, 200));
    let (status, headers, _) = get(addr, "/stream").await;
    assert_eq!(status, 503);
    assert_eq!(headers["retry-after"], "5");
    drop(a);
    assert!(
        wait_until(Duration::from_secs(3), || async {
            MjpegViewer::connect(addr, "/stream").await.unwrap().status == 200
        })
        .await
    );
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slowloris_client_is_cut_off() {
    let relay = start_relay(Vec::new(), |c| {
        no_detect(c);
        c.header_read_timeout = Duration::from_millis(500);
    })
    .await;
    let mut stream = tokio::net::TcpStream::connect(relay.local_addr())
        .await
        .unwrap();
    stream
        .write_all(b"GET /stream HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // Keep trickling a header line every 200 ms or more, as slowloris does. The 500 ms head
    // timeout cuts it off after a few lines; the 5 s default would allow 25 or more.
    let mut lines = 0;
    let mut closed = false;
    while lines < 100 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if stream.write_all(b"X-a: b\r\n").await.is_err() {
            closed = true;
            break;
        }
        lines += 1;
        let mut buf = [0u8; 256];
        if let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(10), stream.read(&mut buf)).await
        {
            if n == 0 || buf[..n].starts_with(b"HTTP/1.1 408") {
                closed = true;
                break;
            }
        }
    }
    assert!(
        closed,
        "slow header client still connected after {lines} header lines"
    );
    assert!(lines < 20, "cut off only after {lines} header lines");
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_connect_disconnect_cycles_leave_nothing_behind() {
    let _serial = serial().await;
    let relay = start_relay(Vec::new(), |c| {
        no_detect(c);
        c.always_on = true;
    })
    .await;
    let addr = relay.local_addr();
    // Warm up: the demo scene, buffers, allocator arenas.
    let mut warm = MjpegViewer::connect(addr, "/stream").await.unwrap();
    warm.take(5).await;
    drop(warm);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = rss_bytes().unwrap();
    let fds_before = open_fds().unwrap();
    let tasks_before = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    let cycles = 10_000;
    let concurrency = 50;
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            tokio::spawn(async move {
                for _ in 0..cycles / concurrency {
                    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
                    stream
                        .write_all(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
                        .await
                        .unwrap();
                    let mut buf = [0u8; 64];
                    let n = stream.read(&mut buf).await.unwrap();
                    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    assert!(
        wait_until(Duration::from_secs(10), || async {
            stats(addr).await["viewers_total"] == 0
        })
        .await,
        "viewers left behind"
    );
    assert!(
        wait_until(Duration::from_secs(10), || async {
            tokio::runtime::Handle::current()
                .metrics()
                .num_alive_tasks()
                <= tasks_before
        })
        .await,
        "tasks left behind: {} > {tasks_before}",
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks()
    );
    assert!(
        wait_until(Duration::from_secs(5), || async {
            open_fds().unwrap() <= fds_before + 2
        })
        .await,
        "sockets left behind: {} > {fds_before}",
        open_fds().unwrap()
    );
    let rss_after = rss_bytes().unwrap();
    assert!(
        (rss_after as f64) < rss_before as f64 * 1.10 + 4e6,
        "RSS grew from {rss_before} to {rss_after}"
    );
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thin_link_viewer_gets_fresh_frames_while_others_keep_full_rate() {
    let _serial = serial().await;
    let mock = start_mock(MockConfig::default()).await;
    let relay = start_relay(vec![camera_for("cam", &mock)], no_detect).await;
    let addr = relay.local_addr();
    // Pinned to the camera's bytes: this is the plain path's pacing (on `auto`, the default,
    // the thin viewer moves to a tier that fits instead: tests/quality.rs, mjpeg-serve's
    // tests/tiers.rs).
    let mut thin = thin_viewer(
        addr,
        "/cams/cam/stream?quality=original",
        128 * 1024,
        400_000.0,
    )
    .await
    .unwrap();
    let mut others = Vec::new();
    for _ in 0..100 {
        others.push(
            MjpegViewer::connect(addr, "/cams/cam/stream")
                .await
                .unwrap(),
        );
    }
    let duration = Duration::from_secs(10);
    let counters: Vec<_> = others
        .into_iter()
        .map(|mut viewer| {
            tokio::spawn(async move {
                viewer.take(5).await;
                let started = Instant::now();
                let mut ids = Vec::new();
                while started.elapsed() < duration {
                    if let Some(part) = viewer.next_within(Duration::from_secs(2)).await {
                        ids.push(part.frame_id);
                    }
                }
                ids
            })
        })
        .collect();
    let started = Instant::now();
    let mut ages = Vec::new();
    while started.elapsed() < duration + Duration::from_secs(1) {
        let Ok(Some(Ok(part))) = tokio::time::timeout(Duration::from_secs(3), thin.next()).await
        else {
            panic!("thin viewer stalled");
        };
        let sent = part.timestamp().unwrap().to_system_time();
        let age = std::time::SystemTime::now()
            .duration_since(sent)
            .unwrap_or_default();
        if started.elapsed() > Duration::from_secs(2) {
            ages.push(age);
        }
    }
    // Each normal viewer's share of the frames the camera published while it watched (ids
    // are consecutive at the relay: first..=last is what was published).
    let mut shares = Vec::new();
    for counter in counters {
        let ids = counter.await.unwrap();
        assert!(ids.windows(2).all(|w| w[1] > w[0]), "out of order: {ids:?}");
        let published = ids.last().unwrap() - ids[0] + 1;
        shares.push(ids.len() as f64 / published as f64);
    }
    ages.sort();
    let p99 = ages[(ages.len() * 99 / 100).min(ages.len() - 1)];
    let slowest = shares.iter().cloned().fold(f64::MAX, f64::min);
    eprintln!(
        "thin viewer: {} frames, age p50 {:?} p99 {:?} max {:?}; others: the slowest got {:.0}% \
         of the frames",
        ages.len(),
        ages[ages.len() / 2],
        p99,
        ages.last().unwrap(),
        slowest * 100.0
    );
    assert!(
        ages.len() >= 10,
        "thin viewer got only {} frames",
        ages.len()
    );
    assert!(
        p99 <= Duration::from_millis(1000),
        "thin viewer frame age p99 {p99:?}"
    );
    // A normal viewer next to the thin one misses at most a few frames (on a busy machine its
    // task may not run for a moment); the thin link does not hold it back.
    assert!(
        slowest > 0.8,
        "a normal viewer got only {:.0}% of the frames",
        slowest * 100.0
    );
    // The thin viewer was paced (Linux: TCP_INFO): frames replaced while its link drained are
    // counted apart from queue and age drops.
    let camera = camera_json(addr).await;
    eprintln!(
        "drops: queue {}, age {}, paced {}",
        camera["dropped_queue_total"], camera["dropped_age_total"], camera["dropped_paced_total"]
    );
    if cfg!(target_os = "linux") {
        assert!(
            camera["dropped_paced_total"].as_u64().unwrap_or(0) > 0,
            "the thin viewer was never paced"
        );
    }
    relay.shutdown().await;
    mock.shutdown().await;
}
