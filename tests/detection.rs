//! The detection stream, end to end: the model runs once per frame whatever the number of
//! detection viewers, annotated frames keep the raw frame's id, detections arrive as SSE, and
//! raw viewers keep every frame while the detector is saturated. Assertions are on counts and
//! frame ids, not on rates, so a busy machine slows the tests without failing them.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use camrelay_suite::*;
use futures_util::StreamExt;
use http_body_util::BodyExt;

/// The detector's run count and the camera's newest frame id, read together.
async fn runs_and_frame_id(addr: std::net::SocketAddr) -> (u64, u64) {
    let camera = stats(addr).await["cameras"][0].clone();
    (
        camera["detector"]["runs"].as_u64().unwrap(),
        camera["frame_id"].as_u64().unwrap(),
    )
}

/// Waits until the detector ran `runs` more times, then checks that it ran at most once per
/// camera frame published meanwhile (once per frame, whatever the number of viewers).
async fn assert_once_per_frame(addr: std::net::SocketAddr, runs: u64, viewers: usize) {
    let (runs_before, frame_before) = runs_and_frame_id(addr).await;
    assert!(
        wait_until(Duration::from_secs(120), || async {
            runs_and_frame_id(addr).await.0 >= runs_before + runs
        })
        .await,
        "the detector did not run {runs} times with {viewers} viewers"
    );
    let (runs_after, frame_after) = runs_and_frame_id(addr).await;
    let (ran, frames) = (runs_after - runs_before, frame_after - frame_before);
    eprintln!("{viewers} viewers: {ran} detector runs over {frames} camera frames");
    // One frame may have been in the detector when the window opened.
    assert!(
        ran <= frames + 1,
        "{viewers} viewers: {ran} detector runs over only {frames} camera frames"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_detector_runs_once_per_frame_not_once_per_viewer() {
    let _serial = serial().await;
    // Most viewers are not read for many seconds here (see `start_detecting_relay`).
    let (mock, relay) = start_detecting_relay().await;
    let addr = relay.local_addr();
    let mut first = MjpegViewer::connect(addr, "/cams/cam/stream/detect")
        .await
        .unwrap();
    first.take(3).await; // model loaded, detector running
    assert_once_per_frame(addr, 5, 1).await;
    let mut viewers = Vec::new();
    for _ in 0..19 {
        viewers.push(
            MjpegViewer::connect(addr, "/cams/cam/stream/detect")
                .await
                .unwrap(),
        );
    }
    for viewer in &mut viewers {
        viewer.take(1).await;
    }
    assert_once_per_frame(addr, 5, 20).await;
    // Every detection viewer sees the same annotated frames (same ids). The viewers were not
    // read for seconds, so their socket buffers hold old frames first: read past them.
    let (a, b) = tokio::join!(first.take(60), viewers[0].take(60));
    let a: Vec<u64> = a.iter().map(|r| r.frame_id).collect();
    let b: Vec<u64> = b.iter().map(|r| r.frame_id).collect();
    assert!(a.iter().any(|id| b.contains(id)), "{a:?} vs {b:?}");
    let json = stats(addr).await;
    assert_eq!(json["cameras"][0]["viewers"]["http_detect"], 20);
    relay.shutdown().await;
    mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn annotated_frames_keep_the_raw_frame_id_and_raw_viewers_keep_their_rate() {
    let _serial = serial().await;
    let mock = start_mock(MockConfig::default()).await;
    let relay = start_relay(vec![camera_for("cam", &mock)], |_| {}).await;
    let addr = relay.local_addr();
    let mut raw = MjpegViewer::connect(addr, "/cams/cam/stream")
        .await
        .unwrap();
    let mut detect = MjpegViewer::connect(addr, "/cams/cam/stream/detect")
        .await
        .unwrap();
    let annotated = detect.take(3).await;
    raw.take(5).await;
    let runs_before = stats(addr).await["cameras"][0]["detector"]["runs"]
        .as_u64()
        .unwrap();
    let raw_frames = raw.take(60).await;
    // The raw viewer gets every frame the camera published, in order, while detection runs:
    // the detector never holds the raw stream back.
    let ids: Vec<u64> = raw_frames.iter().map(|f| f.frame_id).collect();
    assert_eq!(ids.len(), 60, "raw viewer stalled while detection runs");
    assert!(consecutive(&ids), "raw viewer skipped frames: {ids:?}");
    // The annotated frame's id is a raw frame id (raw ids are consecutive from 1).
    let last_raw = raw_frames.last().unwrap().frame_id;
    for frame in &annotated {
        assert!(frame.frame_id <= last_raw);
        assert_eq!(&frame.jpeg[..2], &[0xFF, 0xD8]);
    }
    // Detection was running all along: the annotated viewer keeps getting frames.
    let more = detect.take(2).await;
    assert_eq!(more.len(), 2, "annotated stream stopped");
    let detector = stats(addr).await["cameras"][0]["detector"].clone();
    assert_eq!(detector["active"], true, "{detector}");
    eprintln!(
        "raw ids {}..={last_raw} gap-free; detector ran {} times meanwhile, skipped {} frames \
         to stay on the newest",
        ids[0],
        detector["runs"].as_u64().unwrap() - runs_before,
        detector["skipped"],
    );
    relay.shutdown().await;
    mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detections_arrive_as_server_sent_events() {
    let _serial = serial().await;
    let mock = start_mock(MockConfig {
        fps: 5.0,
        ..MockConfig::default()
    })
    .await;
    let relay = start_relay(vec![camera_for("cam", &mock)], |_| {}).await;
    let (status, headers, body) = get_streaming(relay.local_addr(), "/cams/cam/detections")
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "text/event-stream");
    let mut body = body.into_data_stream();
    let mut text = String::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut events = Vec::new();
    while events.len() < 3 && Instant::now() < deadline {
        let chunk = tokio::time::timeout(Duration::from_secs(30), body.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = text.find("\n\n") {
            let event: String = text.drain(..end + 2).collect();
            let json = event.trim().strip_prefix("data: ").unwrap();
            events.push(serde_json::from_str::<serde_json::Value>(json).unwrap());
        }
    }
    assert!(events.len() >= 3);
    for event in &events {
        assert!(event["frame_id"].as_u64().is_some(), "{event}");
        assert!(event["detections"].is_array(), "{event}");
        assert!(event["inference_ms"].as_f64().is_some(), "{event}");
    }
    // The mock camera shows people, a cat and a cup: something is found.
    let found: usize = events
        .iter()
        .map(|e| e["detections"].as_array().unwrap().len())
        .sum();
    assert!(found > 0, "no detections in {events:?}");
    relay.shutdown().await;
    mock.shutdown().await;
}
