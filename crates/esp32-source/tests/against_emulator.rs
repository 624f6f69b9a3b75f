//! The source against the ESP32-CAM emulator (`mock-camera`) on loopback: real HTTP, real
//! chunked multipart, real faults.
#![allow(clippy::unwrap_used)]

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use esp32_source::{ErrorKind, Esp32Control, Source, SourceConfig, SourceError};
use mjpeg_codec::jpeg;
use mock_camera::{MockCamera, MockConfig, WhenBusy};
use support::{drive, fast_config, next_frame, wait_for};

const WAIT: Duration = Duration::from_secs(10);

fn small_camera() -> MockConfig {
    MockConfig {
        width: 320,
        height: 240,
        fps: 30.0,
        loop_frames: 2,
        ..MockConfig::default()
    }
}

async fn start(config: MockConfig) -> MockCamera {
    MockCamera::start(SocketAddr::from(([127, 0, 0, 1], 0)), config)
        .await
        .unwrap()
}

#[tokio::test]
async fn frames_and_timestamps_arrive() {
    let camera = start(small_camera()).await;
    let source = Source::new(fast_config("mock", camera.stream_url())).unwrap();
    let status = source.status();
    let mut frames = source.frames();
    let mut last_time = None;
    for _ in 0..5 {
        let frame = next_frame(&mut frames, WAIT).await;
        assert!(jpeg::is_complete(&frame.jpeg));
        assert_eq!(jpeg::dimensions(&frame.jpeg), Some((320, 240)));
        let camera_time = frame.camera_time.expect("the emulator sends X-Timestamp");
        assert!(last_time < Some(camera_time), "timestamps increase");
        last_time = Some(camera_time);
        // Same machine, same clock: capture-to-receive latency is small.
        assert!(frame.latency().unwrap() < Duration::from_secs(1));
    }
    let now = status.snapshot();
    assert_eq!(now.state.name(), "streaming");
    assert_eq!((now.frames, now.connects, now.reconnects), (5, 1, 0));
    assert!(now.bytes > 5 * 1000);
    assert_eq!(camera.stats().stream_connections_total, 1);
}

#[tokio::test]
async fn reconnects_after_the_camera_closes_the_stream() {
    let camera = start(MockConfig {
        close_after: Some(3),
        ..small_camera()
    })
    .await;
    let source = Source::new(fast_config("closer", camera.stream_url())).unwrap();
    let status = source.status();
    let mut frames = source.frames();
    for _ in 0..8 {
        next_frame(&mut frames, WAIT).await;
    }
    let now = status.snapshot();
    assert!(now.connects >= 3, "{now:?}");
    assert!(now.reconnects >= 2, "{now:?}");
    assert_eq!(now.last_error_kind(), Some(ErrorKind::Closed), "{now:?}");
    assert!(camera.stats().stream_connections_total >= 3);
}

#[tokio::test]
async fn survives_the_camera_disappearing_and_coming_back() {
    let camera = start(small_camera()).await;
    let addr = camera.addr();
    let source = Source::new(fast_config("flaky", camera.stream_url())).unwrap();
    let status = source.status();
    let mut frames = source.frames();
    next_frame(&mut frames, WAIT).await;

    camera.shutdown().await;
    // Keep polling while it is gone so the source notices and starts backing off.
    let waiter = tokio::spawn(async move {
        let frame = next_frame(&mut frames, Duration::from_secs(20)).await;
        (frame, frames)
    });
    let gone = wait_for(&status, WAIT, |s| s.reconnects >= 2).await;
    assert_eq!(gone.last_error_kind(), Some(ErrorKind::Connect), "{gone:?}");

    let camera = MockCamera::start(addr, small_camera()).await.unwrap();
    let (frame, _frames) = waiter.await.unwrap();
    assert!(jpeg::is_complete(&frame.jpeg));
    let back = status.snapshot();
    assert_eq!(back.state.name(), "streaming");
    assert!(back.connects >= 2, "{back:?}");
    assert_eq!(camera.stats().stream_connections_total, 1);
}

#[tokio::test]
async fn a_stall_is_detected_and_the_stream_resumes() {
    let camera = start(MockConfig {
        stall_after: Some(2),
        stall_for: Duration::from_secs(2),
        ..small_camera()
    })
    .await;
    let mut config = fast_config("staller", camera.stream_url());
    config.stall_timeout = Duration::from_millis(500);
    let source = Source::new(config).unwrap();
    let status = source.status();
    let mut frames = source.frames();
    next_frame(&mut frames, WAIT).await;
    next_frame(&mut frames, WAIT).await;
    let started = Instant::now();
    next_frame(&mut frames, WAIT).await;
    // Recovered by reconnecting (the emulator serves one client, so the new connection may
    // first wait without an answer until the stalled handler notices the old one is gone).
    assert!(started.elapsed() >= Duration::from_millis(400));
    let now = status.snapshot();
    assert!(now.connects >= 2, "{now:?}");
    assert!(camera.stats().stream_connections_total >= 2);
}

#[tokio::test]
async fn truncated_and_garbage_parts_are_skipped_and_counted() {
    let camera = start(MockConfig {
        truncate_every: Some(3),
        garbage_every: Some(5),
        ..small_camera()
    })
    .await;
    let source = Source::new(fast_config("noisy", camera.stream_url())).unwrap();
    let status = source.status();
    let mut frames = source.frames();
    for _ in 0..10 {
        let frame = next_frame(&mut frames, WAIT).await;
        assert!(jpeg::is_complete(&frame.jpeg));
    }
    let now = status.snapshot();
    // 10 good frames need at least 14 parts: parts 3, 5, 6, 9, 10, 12 are bad.
    assert!(now.corrupt_frames >= 4, "{now:?}");
    assert_eq!(now.connects, 1, "skipping needs no reconnect: {now:?}");
}

#[tokio::test]
async fn snapshot_source_polls_at_the_set_rate() {
    let camera = start(small_camera()).await;
    let mut config =
        SourceConfig::snapshot("snap", camera.capture_url(), Duration::from_millis(100));
    config.backoff = fast_config("x", String::new()).backoff;
    let source = Source::new(config).unwrap();
    let status = source.status();
    let mut frames = source.frames();
    let started = Instant::now();
    for _ in 0..6 {
        let frame = next_frame(&mut frames, WAIT).await;
        assert!(jpeg::is_complete(&frame.jpeg));
        assert!(frame.camera_time.is_some());
    }
    let elapsed = started.elapsed();
    // First capture at once, then one per 100 ms.
    assert!(elapsed >= Duration::from_millis(450), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    let now = status.snapshot();
    assert_eq!(now.frames, 6);
    assert_eq!(now.state.name(), "streaming");
    assert!(now.connects >= 1 && now.connects <= 6, "{now:?}");
    assert!(camera.stats().captures >= 6);
}

#[tokio::test]
async fn control_round_trip_changes_the_frames() {
    let camera = start(MockConfig {
        width: 640,
        height: 480,
        ..small_camera()
    })
    .await;
    let control = Esp32Control::new(&camera.base_url()).unwrap();
    let settings = control.status().await.unwrap();
    assert_eq!(settings["framesize"], 8);

    control.set("framesize", 5).await.unwrap();
    control.set("quality", 20).await.unwrap();
    let settings = control.status().await.unwrap();
    assert_eq!(settings["framesize"], 5);
    assert_eq!(settings["quality"], 20);

    let source = Source::new(fast_config("ctl", camera.stream_url())).unwrap();
    let mut frames = source.frames();
    let frame = next_frame(&mut frames, WAIT).await;
    assert_eq!(jpeg::dimensions(&frame.jpeg), Some((320, 240)));

    let err = control.set("no_such_setting", 1).await.unwrap_err();
    assert!(
        matches!(err, SourceError::Status { status: 500, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn a_busy_camera_is_retried_until_the_first_client_leaves() {
    let camera = start(MockConfig {
        when_busy: WhenBusy::Refuse503,
        ..small_camera()
    })
    .await;
    let first = Source::new(fast_config("first", camera.stream_url())).unwrap();
    let mut first_frames = first.frames();
    next_frame(&mut first_frames, WAIT).await;

    let second = Source::new(fast_config("second", camera.stream_url())).unwrap();
    let status = second.status();
    let driver = drive(second.frames());
    let refused = wait_for(&status, WAIT, |s| s.last_error.is_some()).await;
    let error = refused.last_error.clone().unwrap();
    assert_eq!(error.kind, ErrorKind::Status, "{refused:?}");
    // A busy camera is worth retrying at the steady interval.
    assert!(!error.persistent, "{refused:?}");
    assert_eq!(refused.frames, 0);

    drop(first_frames);
    wait_for(&status, WAIT, |s| s.frames > 0).await;
    assert!(camera.stats().refused_total >= 1);
    driver.abort();
}

#[tokio::test]
async fn a_busy_camera_that_never_answers_times_out_and_is_retried() {
    // The board's behaviour (the emulator's default): the second client's connection is
    // accepted and never answered while the first one streams.
    let camera = start(small_camera()).await;
    let first = Source::new(fast_config("first", camera.stream_url())).unwrap();
    let mut first_frames = first.frames();
    next_frame(&mut first_frames, WAIT).await;

    let mut config = fast_config("second", camera.stream_url());
    config.connect_timeout = Duration::from_millis(300);
    let second = Source::new(config).unwrap();
    let status = second.status();
    let driver = drive(second.frames());
    let silent = wait_for(&status, WAIT, |s| s.reconnects >= 2).await;
    assert_eq!(
        silent.last_error_kind(),
        Some(ErrorKind::Timeout),
        "{silent:?}"
    );
    assert_eq!((silent.frames, silent.connects), (0, 0), "{silent:?}");
    assert!(silent.down_since.is_some(), "{silent:?}");
    assert!(camera.stats().refused_total >= 2);

    // Once the first client leaves, a later attempt is served.
    drop(first_frames);
    let back = wait_for(&status, WAIT, |s| s.frames > 0).await;
    assert_eq!(back.outages, 1, "{back:?}");
    assert!(back.down_since.is_none(), "{back:?}");
    assert!(
        back.last_recovery.unwrap() <= back.last_outage.unwrap(),
        "{back:?}"
    );
    driver.abort();
}
