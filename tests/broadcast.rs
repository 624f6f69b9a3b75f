//! The relay's promise, end to end on loopback: one upstream connection per camera, every
//! viewer on the same frame ids, nobody slowed by a stuck viewer, lazy upstream, reconnects.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use camrelay_suite::*;

fn fast_idle(config: &mut camrelay::config::RelayConfig) {
    config.idle_timeout = Duration::from_millis(300);
    config.detect = false;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_viewer_sees_the_same_frame_ids() {
    let _serial = serial().await;
    let mock = start_mock(MockConfig::default()).await;
    let relay = start_relay(vec![camera_for("cam", &mock)], fast_idle).await;
    let addr = relay.local_addr();
    let mut viewers = Vec::new();
    for _ in 0..5 {
        viewers.push(
            MjpegViewer::connect(addr, "/cams/cam/stream")
                .await
                .unwrap(),
        );
    }
    // Every viewer reads at the same time, as real viewers do.
    let readers: Vec<_> = viewers
        .into_iter()
        .map(|mut viewer| {
            assert_eq!(viewer.status, 200);
            tokio::spawn(async move { viewer.take(30).await })
        })
        .collect();
    let mut sequences = Vec::new();
    for reader in readers {
        sequences.push(reader.await.unwrap());
    }
    // Align on the first id every viewer has, then compare 20 ids.
    let start = sequences.iter().map(|s| s[0].frame_id).max().unwrap();
    let ids: Vec<Vec<u64>> = sequences
        .iter()
        .map(|s| {
            s.iter()
                .map(|r| r.frame_id)
                .filter(|id| *id >= start)
                .take(20)
                .collect()
        })
        .collect();
    for other in &ids[1..] {
        assert_eq!(other, &ids[0], "viewers saw different frame ids");
    }
    // Consecutive: nothing dropped for viewers that keep up.
    assert!(consecutive(&ids[0]), "{:?}", ids[0]);
    // And the same timestamps (the camera's X-Timestamp passes through).
    assert!(sequences[0].iter().all(|r| r.timestamp.is_some()));
    relay.shutdown().await;
    mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_viewers_share_one_upstream_of_a_one_client_camera() {
    let _serial = serial().await;
    let mock = start_mock(MockConfig {
        max_clients: 1,
        ..MockConfig::default()
    })
    .await;
    let relay = start_relay(vec![camera_for("cam", &mock)], fast_idle).await;
    let addr = relay.local_addr();
    let mut viewers = Vec::new();
    for _ in 0..50 {
        viewers.push(
            MjpegViewer::connect(addr, "/cams/cam/stream")
                .await
                .unwrap(),
        );
    }
    let tasks: Vec<_> = viewers
        .into_iter()
        .map(|mut v| {
            tokio::spawn(async move {
                let n = v.take(10).await.len();
                (v, n)
            })
        })
        .collect();
    let mut viewers = Vec::new();
    for task in tasks {
        let (viewer, n) = task.await.unwrap();
        assert_eq!(n, 10);
        viewers.push(viewer);
    }
    let stats = mock.stats();
    assert_eq!(stats.stream_connections_total, 1, "{stats:?}");
    assert_eq!(stats.refused_total, 0, "{stats:?}");
    let json = stats_json_camera(addr).await;
    assert_eq!(json["viewers"]["http_raw"], 50);
    drop(viewers);
    relay.shutdown().await;
    mock.shutdown().await;
}

async fn stats_json_camera(addr: std::net::SocketAddr) -> serde_json::Value {
    stats(addr).await["cameras"][0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_that_stops_reading_does_not_slow_the_others() {
    let _serial = serial().await;
    let mock = start_mock(MockConfig::default()).await;
    let relay = start_relay(vec![camera_for("cam", &mock)], fast_idle).await;
    let addr = relay.local_addr();
    let _stuck = dead_viewer(addr, "/cams/cam/stream").await;
    let mut viewer = MjpegViewer::connect(addr, "/cams/cam/stream")
        .await
        .unwrap();
    viewer.take(5).await; // warm up
    let frames = viewer.take(60).await;
    // The healthy viewer got every frame the camera published meanwhile, in order, no gaps
    // (a viewer held back would fall behind, fill its queue and lose frames).
    let ids: Vec<u64> = frames.iter().map(|f| f.frame_id).collect();
    assert_eq!(ids.len(), 60, "healthy viewer stalled next to a stuck one");
    assert!(consecutive(&ids), "{ids:?}");
    // The stuck viewer's queue is full and it drops (drop-newest), counted.
    let camera = stats_json_camera(addr).await;
    assert!(
        camera["dropped_queue_total"].as_u64().unwrap() > 0,
        "{camera}"
    );
    let list = camera["viewer_list"].as_array().unwrap();
    let stuck = list
        .iter()
        .min_by_key(|v| v["delivered"].as_u64().unwrap())
        .unwrap();
    assert!(stuck["dropped"].as_u64().unwrap() > 0, "{camera}");
    relay.shutdown().await;
    mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_opens_with_the_first_viewer_and_closes_after_the_last() {
    let _serial = serial().await;
    let mock = start_mock(MockConfig::default()).await;
    let relay = start_relay(vec![camera_for("cam", &mock)], fast_idle).await;
    let addr = relay.local_addr();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        mock.stats().stream_connections_total,
        0,
        "opened without viewers"
    );
    let mut a = MjpegViewer::connect(addr, "/cams/cam/stream")
        .await
        .unwrap();
    let mut b = MjpegViewer::connect(addr, "/stream").await.unwrap();
    a.take(3).await;
    b.take(3).await;
    assert_eq!(mock.stats().stream_clients, 1);
    drop(a);
    drop(b);
    assert!(
        wait_until(Duration::from_secs(5), || async {
            mock.stats().stream_clients == 0
        })
        .await,
        "upstream still open after the last viewer left"
    );
    assert!(
        wait_until(Duration::from_secs(2), || async {
            stats_json_camera(addr).await["viewers"]["total"] == 0
        })
        .await
    );
    // And it opens again for the next viewer.
    let mut c = MjpegViewer::connect(addr, "/cams/cam/stream")
        .await
        .unwrap();
    c.take(3).await;
    assert_eq!(mock.stats().stream_connections_total, 2);
    relay.shutdown().await;
    mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn always_on_keeps_the_upstream_open_without_viewers() {
    let _serial = serial().await;
    let mock = start_mock(MockConfig::default()).await;
    let relay = start_relay(vec![camera_for("cam", &mock)], |c| {
        fast_idle(c);
        c.always_on = true;
    })
    .await;
    assert!(
        wait_until(Duration::from_secs(5), || async {
            mock.stats().stream_clients == 1
        })
        .await
    );
    relay.shutdown().await;
    mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_camera_restart_keeps_viewers_connected() {
    let _serial = serial().await;
    let mock = start_mock(MockConfig::default()).await;
    let mock_addr = mock.addr();
    let relay = start_relay(vec![camera_for("cam", &mock)], fast_idle).await;
    let addr = relay.local_addr();
    let mut viewer = MjpegViewer::connect(addr, "/cams/cam/stream")
        .await
        .unwrap();
    let before = viewer.take(5).await;
    mock.shutdown().await; // the camera disappears
                           // While it is gone the viewer gets "offline" cards on the same connection...
    let mut saw_offline = false;
    for _ in 0..10 {
        let part = viewer.next_within(Duration::from_secs(3)).await.unwrap();
        if part.camera_state.as_deref() == Some("offline") {
            saw_offline = true;
            break;
        }
    }
    assert!(
        saw_offline,
        "no offline placeholder while the camera was down"
    );
    // ...and live frames again once it is back.
    let mock = MockCamera::start(mock_addr, MockConfig::default())
        .await
        .unwrap();
    let mut live_again = None;
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let part = viewer.next_within(Duration::from_secs(5)).await.unwrap();
        if part.camera_state.is_none() && part.frame_id > before[4].frame_id {
            live_again = Some(part);
            break;
        }
    }
    assert!(live_again.is_some(), "live frames did not resume");
    let camera = stats_json_camera(addr).await;
    assert!(
        camera["upstream"]["reconnects"].as_u64().unwrap() >= 1,
        "{camera}"
    );
    relay.shutdown().await;
    mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_answer_as_documented() {
    let _serial = serial().await;
    let relay = start_relay(Vec::new(), |c| c.detect = false).await; // the demo camera
    let addr = relay.local_addr();
    let (status, _, body) = get(addr, "/healthz").await;
    assert_eq!((status.as_u16(), &body[..]), (200, &b"ok\n"[..]));
    let (status, _, body) = get(addr, "/cams/nope/stream").await;
    assert_eq!(status, 404);
    assert!(String::from_utf8_lossy(&body).contains("unknown camera"));
    let (status, headers, body) = get(addr, "/").await;
    assert_eq!(status, 200);
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(!body.is_empty());
    // Old per-viewer endpoint: same broadcast.
    let mut proxy = MjpegViewer::connect(addr, "/stream/proxy").await.unwrap();
    let mut direct = MjpegViewer::connect(addr, "/cams/demo/stream")
        .await
        .unwrap();
    assert!(proxy.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("multipart/x-mixed-replace"));
    let (a, b) = tokio::join!(proxy.take(10), direct.take(10));
    let common = a
        .iter()
        .filter(|x| b.iter().any(|y| y.frame_id == x.frame_id))
        .count();
    assert!(
        common >= 5,
        "proxy and direct viewers are not on one broadcast"
    );
    // The snapshot is the latest broadcast frame.
    let (status, headers, body) = get(addr, "/cams/demo/snapshot.jpg").await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "image/jpeg");
    assert!(headers.contains_key("x-frame-id"));
    assert_eq!(&body[..2], &[0xFF, 0xD8]);
    let json = stats(addr).await;
    let camera = &json["cameras"][0];
    for key in [
        "broadcaster_id",
        "url",
        "upstream",
        "frame_id",
        "fps",
        "viewers",
        "dropped_queue_total",
        "bytes",
    ] {
        assert!(!camera[key].is_null(), "stats lack {key}: {camera}");
    }
    let (status, _, metrics) = get(addr, "/metrics").await;
    assert_eq!(status, 200);
    let metrics = String::from_utf8_lossy(&metrics);
    assert!(
        metrics.contains("camrelay_frames_total{camera=\"demo\"}"),
        "{metrics}"
    );
    drop((proxy, direct));
    assert!(
        wait_until(Duration::from_secs(3), || async {
            stats(addr).await["viewers_total"] == 0
        })
        .await,
        "viewer count did not return to zero"
    );
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn esp32_settings_from_the_config_are_applied_when_the_upstream_opens() {
    let _serial = serial().await;
    let mock = start_mock(MockConfig::default()).await;
    let mut camera = camera_for("cam", &mock);
    camera.spec.esp32.insert("framesize".into(), 5); // QVGA
    let relay = start_relay(vec![camera], fast_idle).await;
    let mut viewer = MjpegViewer::connect(relay.local_addr(), "/cams/cam/stream")
        .await
        .unwrap();
    let mut qvga = false;
    for _ in 0..90 {
        let part = viewer.next_within(Duration::from_secs(5)).await.unwrap();
        if mjpeg_codec::jpeg::dimensions(&part.jpeg) == Some((320, 240)) {
            qvga = true;
            break;
        }
    }
    assert!(qvga, "framesize=5 was not applied through /control");
    relay.shutdown().await;
    mock.shutdown().await;
}
