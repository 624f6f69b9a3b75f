//! Quality tiers end to end (issue #18): pins on the stream routes and the WebSocket, tier
//! frames with the original's ids at the stated size, nothing encoded for a tier nobody
//! watches, and bad pins answered 400.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use camrelay_suite::*;
use futures_util::StreamExt;
use mock_camera::MockConfig;
use tokio_tungstenite::tungstenite::Message;

fn tier_stats(stats: &serde_json::Value, tier: &str) -> serde_json::Value {
    let tiers = stats["cameras"][0]["quality"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    tiers
        .into_iter()
        .find(|t| t["tier"] == tier)
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pinned_tiers_keep_ids_state_their_size_and_cost_nothing_unwatched() {
    let _serial = serial().await;
    let mock = start_mock(MockConfig::default()).await;
    let relay = start_relay(vec![camera_for("cam", &mock)], |c| c.detect = false).await;
    let addr = relay.local_addr();

    // Without a pin: the camera's own bytes, said to be the original; read all along.
    let mut plain = MjpegViewer::connect(addr, "/cams/cam/stream")
        .await
        .unwrap();
    let first = plain.take(1).await.remove(0);
    assert_eq!(first.quality.as_deref(), Some("original"));
    assert_eq!(mjpeg_codec::jpeg::dimensions(&first.jpeg), Some((640, 480)));
    let plain = tokio::spawn(async move {
        let mut seen = std::collections::HashMap::new();
        while let Some(part) = plain.next_within(Duration::from_secs(10)).await {
            assert_eq!(part.quality.as_deref(), Some("original"));
            seen.insert(part.frame_id, part.timestamp);
            if seen.len() >= 60 {
                break;
            }
        }
        seen
    });

    let mut medium = MjpegViewer::connect(addr, "/cams/cam/stream?quality=medium")
        .await
        .unwrap();
    assert_eq!(medium.status, 200);
    let parts = medium.take(10).await;
    for part in &parts {
        assert_eq!(part.quality.as_deref(), Some("medium"));
        assert_eq!(mjpeg_codec::jpeg::dimensions(&part.jpeg), Some((320, 240)));
        assert!(
            part.jpeg.len() < first.jpeg.len() / 2,
            "a medium frame is small"
        );
    }
    assert!(parts.windows(2).all(|w| w[0].frame_id < w[1].frame_id));
    // The plain viewer saw the same frames under the same ids and capture times.
    let seen = plain.await.unwrap();
    let same: Vec<_> = parts
        .iter()
        .filter(|p| seen.contains_key(&p.frame_id))
        .collect();
    assert!(
        same.len() >= 5,
        "only {} of 10 medium ids seen plain",
        same.len()
    );
    assert!(same.iter().all(|p| seen[&p.frame_id] == p.timestamp));

    let stats = stats(addr).await;
    assert!(tier_stats(&stats, "medium")["frames"].as_u64().unwrap() >= 10);
    assert_eq!(tier_stats(&stats, "medium")["viewers"], 1);
    for unwatched in ["high", "low"] {
        assert_eq!(
            tier_stats(&stats, unwatched)["frames"],
            0,
            "{unwatched} was encoded"
        );
    }
    let list = stats["cameras"][0]["viewer_list"]
        .as_array()
        .unwrap()
        .clone();
    let tiers: Vec<&str> = list.iter().filter_map(|v| v["quality"].as_str()).collect();
    assert_eq!(
        tiers.iter().filter(|t| **t == "medium").count(),
        1,
        "{list:?}"
    );

    // /metrics says the same.
    let (_, _, metrics) = get(addr, "/metrics").await;
    let metrics = String::from_utf8_lossy(&metrics);
    assert!(metrics.contains("camrelay_tier_viewers{camera=\"cam\",tier=\"medium\"} 1"));
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_viewers_take_the_same_pins() {
    let _serial = serial().await;
    let relay = start_relay(Vec::new(), |c| c.detect = false).await; // the demo camera
    let url = format!("ws://{}/ws?quality=low", relay.local_addr());
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let mut frames = 0;
    while frames < 3 {
        let message = tokio::time::timeout(Duration::from_secs(30), ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let Message::Text(text) = message {
            let meta: serde_json::Value = serde_json::from_str(text.as_str()).unwrap();
            assert_eq!(meta["quality"], "low", "{meta}");
            let Message::Binary(jpeg) = ws.next().await.unwrap().unwrap() else {
                panic!("no JPEG after {meta}");
            };
            assert_eq!(mjpeg_codec::jpeg::dimensions(&jpeg), Some((160, 120)));
            assert_eq!(meta["width"], 160);
            frames += 1;
        }
    }
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_pins_are_a_400_that_says_why() {
    let _serial = serial().await;
    let relay = start_relay(Vec::new(), |c| c.detect = false).await;
    let addr = relay.local_addr();
    for (path, says) in [
        ("/stream?quality=ultra", "ultra"),
        ("/cams/demo/stream?maxfps=0", "maxfps"),
        ("/cams/demo/stream?maxfps=fast", "maxfps"),
    ] {
        let (status, _, body) = get(addr, path).await;
        assert_eq!(status, 400, "{path}");
        let body = String::from_utf8_lossy(&body);
        assert!(body.contains(says), "{path}: {body}");
    }
    // maxfps caps the rate: at most 2 frames a second, counted over 3 s.
    let mut capped = MjpegViewer::connect(addr, "/stream?maxfps=2")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut frames = 0;
    while started.elapsed() < Duration::from_secs(3) {
        if capped
            .next_within(Duration::from_millis(500))
            .await
            .is_some()
        {
            frames += 1;
        }
    }
    assert!(
        (1..=8).contains(&frames),
        "{frames} frames in 3 s at maxfps=2"
    );
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_detector_and_the_tiers_share_one_decode_per_frame() {
    let _serial = serial().await;
    let (_mock, relay) = start_detecting_relay().await;
    let addr = relay.local_addr();
    let mut medium = MjpegViewer::connect(addr, "/cams/cam/stream?quality=medium")
        .await
        .unwrap();
    medium.take(2).await; // the tiers are producing
    let mut detect = MjpegViewer::connect(addr, "/cams/cam/stream/detect")
        .await
        .unwrap();
    let mut shared = 0;
    for _ in 0..30 {
        // Both read on: the detector takes the newest frame, the tiers every frame.
        detect.take(1).await;
        medium.take(1).await;
        shared = stats(addr).await["cameras"][0]["detector"]["decodes_shared"]
            .as_u64()
            .unwrap();
        if shared >= 3 {
            break;
        }
    }
    assert!(shared >= 3, "only {shared} decodes shared");
    let (_, _, metrics) = get(addr, "/metrics").await;
    let metrics = String::from_utf8_lossy(&metrics);
    assert!(metrics.contains("camrelay_detector_decodes_shared_total{camera=\"cam\"}"));
    relay.shutdown().await;
}
