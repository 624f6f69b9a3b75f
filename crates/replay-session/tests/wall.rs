//! The synchronized live wall with paused Tokio time: cameras with different latencies and
//! offset clocks are released aligned, a playout delay after capture.

mod support;

use std::time::Duration;

use replay_session::{FrameRef, SyncWall, WallConfig};
use support::{assert_aligned, LogSink, PERIOD_30FPS, T0};
use tokio::time::{sleep_until, Instant};

/// One live frame: camera, id, capture time, and when it reaches the relay.
struct Arrival {
    camera: usize,
    frame_id: u64,
    capture_us: i64,
    arrives_us: i64,
}

#[tokio::test(start_paused = true)]
async fn cameras_with_different_latencies_are_released_aligned_after_the_delay() {
    let start = Instant::now();
    let sink = LogSink::default();
    let wall = SyncWall::start(2, T0, WallConfig::default(), sink.clone());
    // Camera 0: 20 ms latency. Camera 1: clock 13 ms later, 150 ms latency with jitter.
    let mut arrivals = Vec::new();
    for k in 0..300i64 {
        let c0 = T0 + k * PERIOD_30FPS;
        arrivals.push(Arrival {
            camera: 0,
            frame_id: k as u64,
            capture_us: c0,
            arrives_us: c0 + 20_000,
        });
        let c1 = c0 + 13_000;
        let jitter = (k * 7919 % 40) * 1000; // 0..39 ms
        arrivals.push(Arrival {
            camera: 1,
            frame_id: 10_000 + k as u64,
            capture_us: c1,
            arrives_us: c1 + 130_000 + jitter,
        });
    }
    arrivals.sort_by_key(|a| a.arrives_us);
    for a in &arrivals {
        sleep_until(start + Duration::from_micros((a.arrives_us - T0) as u64)).await;
        let frame = FrameRef {
            frame_id: a.frame_id,
            capture_us: a.capture_us,
            handle: (),
        };
        assert!(wall.push(a.camera, frame), "in order");
    }
    sleep_until(start + Duration::from_secs(11)).await;
    let log = sink.take();
    // Every frame arrived before the delay ran out, so every frame is shown, in order.
    assert_eq!(log.iter().filter(|e| e.camera == 0).count(), 300);
    assert_eq!(log.iter().filter(|e| e.camera == 1).count(), 300);
    // Each is released when the wall's clock (now - 200 ms) reaches its capture time.
    for e in &log {
        let due = start + Duration::from_micros((e.capture_us - T0) as u64 + 200_000);
        assert!(
            e.at >= due && e.at - due <= Duration::from_millis(6),
            "{e:?} not at {due:?}"
        );
    }
    let checks = assert_aligned(&log, 2, PERIOD_30FPS);
    assert!(checks > 250, "{checks} checks");
    assert_eq!(wall.state().last_frame_ids, vec![Some(299), Some(10_299)]);
    assert_eq!(wall.ring(0).map(|r| r.dropped()), Some(300 - 32));
}

#[tokio::test(start_paused = true)]
async fn late_and_out_of_order_frames() {
    let start = Instant::now();
    let sink = LogSink::default();
    let wall = SyncWall::start(1, T0, WallConfig::default(), sink.clone());
    let f = |id: u64, ms: i64| FrameRef {
        frame_id: id,
        capture_us: T0 + ms * 1000,
        handle: (),
    };
    assert!(wall.push(0, f(1, 0)));
    assert!(!wall.push(0, f(0, 0)), "same capture time");
    assert!(!wall.push(0, f(0, -5)), "older");
    assert!(!wall.push(3, f(2, 10)), "no such camera");
    assert_eq!(wall.ring(0).map(|r| r.out_of_order()), Some(2));
    sleep_until(start + Duration::from_millis(500)).await;
    // A frame captured 400 ms ago (later than the delay) is shown at once, still in order.
    assert!(wall.push(0, f(2, 100)));
    sleep_until(start + Duration::from_millis(501)).await;
    let ids: Vec<u64> = sink.take().iter().map(|e| e.frame_id).collect();
    assert_eq!(ids, vec![1, 2]);
    // A resync that moves the clock back never shows an older frame again.
    wall.resync(T0 + 150_000);
    sleep_until(start + Duration::from_millis(600)).await;
    assert!(sink.take().is_empty());
    wall.stop();
}
