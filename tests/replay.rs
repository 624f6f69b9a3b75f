//! Replay through the relay (issue #17), end to end on loopback: two mock cameras are recorded
//! for a few seconds, then a replay session of both is created, watched, paused, sought,
//! stepped and re-rated through the HTTP API, and bad requests change nothing.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use camrelay::server::RelayHandle;
use camrelay_suite::*;
use serde_json::{json, Value};

async fn call(addr: SocketAddr, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
    call_json(addr, method, path, body).await
}

/// Capture µs of a received part.
fn capture_us(part: &Received) -> i64 {
    let t = part.timestamp.unwrap();
    t.secs as i64 * 1_000_000 + i64::from(t.micros)
}

/// The frames of `camera` recorded in the archive between two times: (id, capture µs, JPEG).
fn recorded(relay: &RelayHandle, camera: &str, start: i64, end: i64) -> Vec<(u64, i64, Bytes)> {
    let recording = relay.state().recording.clone().unwrap();
    recording
        .archive
        .export_mjpeg(camera, start, end)
        .unwrap()
        .map(|f| {
            let f = f.unwrap();
            (f.frame_id, f.capture_us, f.jpeg)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_session_is_a_shared_broadcast_of_the_recording() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let door = start_mock(MockConfig::default()).await;
    let yard = start_mock(MockConfig::default()).await;
    let record_dir = dir.path().to_owned();
    let relay = start_relay(
        vec![camera_for("door", &door), camera_for("yard", &yard)],
        move |c| {
            c.detect = false;
            c.record = Some(mjpeg_record::RecordConfig::new(record_dir));
        },
    )
    .await;
    let addr = relay.local_addr();
    let t0 = mjpeg_record::now_micros();
    let recorded_enough = wait_until(Duration::from_secs(20), || async {
        let s = stats(addr).await;
        (0..2).all(|i| s["cameras"][i]["recording"]["frames_written"].as_u64() >= Some(90))
    })
    .await;
    assert!(recorded_enough, "{:#}", stats(addr).await);
    let t1 = mjpeg_record::now_micros();
    let door_frames = recorded(&relay, "door", t0 - 1_000_000, t1);
    assert!(door_frames.len() >= 60, "{} door frames", door_frames.len());

    // A session of both cameras from the 10th recorded door frame, at 1x.
    let start = door_frames[10].1;
    let body = json!({"cameras": ["door", "yard"], "start": start as f64 / 1e6, "rate": 1.0});
    let (status, created) = call(addr, "POST", "/api/replay", Some(&body.to_string())).await;
    assert_eq!(status, 201, "{created:#}");
    let id = created["id"].as_str().unwrap().to_owned();
    let stream = created["streams"]["door"].as_str().unwrap().to_owned();
    assert_eq!(stream, format!("/replay/{id}/cams/door/stream"));

    // Two viewers of the same session see the same frames: the recorded ids, bytes and times.
    let mut a = MjpegViewer::connect(addr, &stream).await.unwrap();
    let mut b = MjpegViewer::connect(addr, &stream).await.unwrap();
    assert_eq!(a.status, 200);
    let (seen_a, seen_b) = tokio::join!(a.take(20), b.take(20));
    let first_common = seen_b[0].frame_id.max(seen_a[0].frame_id);
    let ids = |seen: &[Received]| -> Vec<u64> {
        seen.iter()
            .map(|p| p.frame_id)
            .filter(|id| *id >= first_common)
            .collect()
    };
    let (ids_a, ids_b) = (ids(&seen_a), ids(&seen_b));
    let n = ids_a.len().min(ids_b.len());
    assert!(n >= 15, "{ids_a:?} / {ids_b:?}");
    assert_eq!(ids_a[..n], ids_b[..n], "both viewers see the same sequence");
    assert!(consecutive(&ids_a), "no frame skipped at 1x: {ids_a:?}");
    for part in &seen_a {
        let (id, capture, jpeg) = door_frames
            .iter()
            .find(|f| f.0 == part.frame_id)
            .unwrap_or_else(|| panic!("frame {} was not recorded", part.frame_id));
        assert_eq!(*id, part.frame_id);
        assert_eq!(
            capture_us(part),
            *capture,
            "X-Timestamp is the recorded one"
        );
        assert_eq!(&part.jpeg, jpeg, "the recorded bytes");
        assert!(
            *capture >= start - 40_000,
            "replay starts at the requested instant"
        );
    }

    // The state: both cameras, the viewers, playing.
    let (status, state) = call(addr, "GET", &format!("/api/replay/{id}"), None).await;
    assert_eq!(status, 200, "{state:#}");
    assert_eq!(state["viewers"], 2, "{state:#}");
    assert_eq!(state["paused"], false);

    // Pause, then seek to a recorded frame's exact capture time: lands on that frame.
    let control = |action: Value| {
        let id = id.clone();
        async move {
            call(
                addr,
                "POST",
                &format!("/api/replay/{id}"),
                Some(&action.to_string()),
            )
            .await
        }
    };
    let (status, paused) = control(json!({"action": "pause"})).await;
    assert_eq!(
        (status, &paused["paused"]),
        (200, &Value::Bool(true)),
        "{paused:#}"
    );
    let target = &door_frames[40];
    let (status, sought) = control(json!({"action": "seek", "to": target.1 as f64 / 1e6})).await;
    assert_eq!(status, 200, "{sought:#}");
    let frame_of = |state: &Value, camera: &str| {
        state["cameras"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == camera)
            .and_then(|c| c["frame_id"].as_u64())
    };
    let landed = wait_until(Duration::from_secs(5), || async {
        let (_, s) = call(addr, "GET", &format!("/api/replay/{id}"), None).await;
        frame_of(&s, "door") == Some(target.0)
    })
    .await;
    assert!(landed, "seek lands on frame {}", target.0);
    // The viewer gets it too (after whatever was queued before the pause).
    let mut got_target = false;
    while let Some(part) = a.next_within(Duration::from_secs(2)).await {
        if part.frame_id == target.0 {
            assert_eq!(part.jpeg, target.2);
            got_target = true;
            break;
        }
    }
    assert!(got_target, "the viewer got the frame sought to");

    // Aligned: the yard frame shown is the newest recorded at or before the door frame's time
    // (usually within a frame period; more where the yard's recording has a gap, as when its
    // camera stalled on a loaded machine).
    let (_, state) = call(addr, "GET", &format!("/api/replay/{id}"), None).await;
    let yard_id = frame_of(&state, "yard").unwrap();
    let yard_frames = recorded(&relay, "yard", t0 - 1_000_000, t1);
    let yard_capture = yard_frames.iter().find(|f| f.0 == yard_id).unwrap().1;
    let newest_before = yard_frames
        .iter()
        .filter(|f| f.1 <= target.1)
        .max_by_key(|f| f.1)
        .map(|f| (f.0, f.1));
    assert_eq!(
        Some((yard_id, yard_capture)),
        newest_before,
        "door at {}: the yard frame shown is not the newest at or before it",
        target.1
    );

    // Step forward and back: a step goes to the next frame of any camera, so the door's next
    // frame comes within two steps (one yard frame lies between two door frames), and stepping
    // back returns to the frame sought to.
    // (More steps where the door's recording has a gap: one per yard frame between the two.)
    let between = yard_frames
        .iter()
        .filter(|f| f.1 > door_frames[40].1 && f.1 < door_frames[41].1)
        .count();
    for (frames, want) in [(1, door_frames[41].0), (-1, door_frames[40].0)] {
        let mut steps = 0;
        loop {
            let (status, _) = control(json!({"action": "step", "frames": frames})).await;
            assert_eq!(status, 200);
            steps += 1;
            let (_, s) = call(addr, "GET", &format!("/api/replay/{id}"), None).await;
            assert_eq!(s["paused"], true, "stepping pauses");
            let door_now = frame_of(&s, "door");
            if door_now == Some(want) {
                break;
            }
            assert!(
                steps < between + 3,
                "step {frames}: door at {door_now:?}, want {want} ({between} yard frames between): {s:#}"
            );
        }
    }

    // Rate, then play.
    let (status, s) = control(json!({"action": "rate", "rate": 4.0})).await;
    assert_eq!((status, s["rate"].as_f64()), (200, Some(4.0)), "{s:#}");
    let (status, s) = control(json!({"action": "play"})).await;
    assert_eq!((status, &s["paused"]), (200, &Value::Bool(false)));

    // Bad requests: clear 4xx, and the session is unchanged.
    let (_, before) = call(addr, "GET", &format!("/api/replay/{id}"), None).await;
    for (method, path, body, want) in [
        (
            "POST",
            "/api/replay".to_owned(),
            r#"{"cameras": ["nope"], "start": 1}"#.to_owned(),
            404,
        ),
        (
            "POST",
            "/api/replay".to_owned(),
            json!({"cameras": ["door"], "start": 1000}).to_string(),
            416,
        ),
        (
            "POST",
            "/api/replay".to_owned(),
            json!({"cameras": ["door"], "start": start as f64 / 1e6, "rate": 0}).to_string(),
            400,
        ),
        (
            "POST",
            "/api/replay".to_owned(),
            json!({"cameras": ["door"], "start": start as f64 / 1e6, "rate": 1000}).to_string(),
            400,
        ),
        (
            "POST",
            "/api/replay".to_owned(),
            "{not json".to_owned(),
            400,
        ),
        (
            "POST",
            format!("/api/replay/{id}"),
            r#"{"action": "fly"}"#.to_owned(),
            400,
        ),
        (
            "POST",
            format!("/api/replay/{id}"),
            r#"{"action": "rate", "rate": 0}"#.to_owned(),
            400,
        ),
        (
            "GET",
            "/api/replay/00000000000000000000000000000000".to_owned(),
            String::new(),
            404,
        ),
        (
            "POST",
            "/api/replay/zz".to_owned(),
            r#"{"action": "pause"}"#.to_owned(),
            404,
        ),
        ("DELETE", "/api/replay/zz".to_owned(), String::new(), 404),
        (
            "GET",
            format!("/replay/{id}/cams/nope/stream"),
            String::new(),
            404,
        ),
    ] {
        let (status, body) = call(addr, method, &path, Some(&body)).await;
        assert_eq!(status, want, "{method} {path}: {body:#}");
    }
    let (_, outside) = call(
        addr,
        "POST",
        "/api/replay",
        Some(&json!({"cameras": ["door"], "start": 1000}).to_string()),
    )
    .await;
    assert!(
        outside.to_string().contains("spans"),
        "416 names the recorded spans: {outside:#}"
    );
    let (_, after) = call(addr, "GET", &format!("/api/replay/{id}"), None).await;
    assert_eq!(before["rate"], after["rate"]);
    assert_eq!(before["paused"], after["paused"]);

    // The WebSocket of the session answers the upgrade.
    let (status, _, _) = get(addr, &format!("/replay/{id}/ws?camera=yard")).await;
    assert_eq!(
        status, 400,
        "a plain GET of a WebSocket route is told to upgrade"
    );

    // DELETE ends it: the streams end, the id is gone.
    let (status, _) = call(addr, "DELETE", &format!("/api/replay/{id}"), None).await;
    assert_eq!(status, 204);
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while a.next().await.is_some() {}
    })
    .await;
    assert!(ended.is_ok(), "the viewers' streams end with the session");
    let (status, _) = call(addr, "GET", &format!("/api/replay/{id}"), None).await;
    assert_eq!(status, 404);

    relay.shutdown().await;
    door.shutdown().await;
    yard.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_recording_replay_says_so() {
    let _serial = serial().await;
    let relay = start_relay(vec![], |c| c.detect = false).await;
    let addr = relay.local_addr();
    let (status, _) = call(
        addr,
        "POST",
        "/api/replay",
        Some(r#"{"cameras": ["demo"], "start": 1}"#),
    )
    .await;
    assert_eq!(status, 404);
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_synchronized_wall_shows_live_cameras_aligned_by_capture_time() {
    let _serial = serial().await;
    let door = start_mock(MockConfig::default()).await;
    let yard = start_mock(MockConfig::default()).await;
    let relay = start_relay(
        vec![camera_for("door", &door), camera_for("yard", &yard)],
        |c| c.detect = false,
    )
    .await;
    let addr = relay.local_addr();
    assert!(
        !relay.state().wall.is_running(),
        "nobody watches the wall yet"
    );
    let mut a = MjpegViewer::connect(addr, "/live/sync/cams/door/stream")
        .await
        .unwrap();
    let mut b = MjpegViewer::connect(addr, "/live/sync/cams/yard/stream")
        .await
        .unwrap();
    assert_eq!((a.status.as_u16(), b.status.as_u16()), (200, 200));
    assert!(relay.state().wall.is_running());
    // Both walls' streams, merged in arrival order: at each arrival, the newest frame of each
    // camera (what two tiles would show) differ in capture time by about one frame period.
    let (door_parts, yard_parts) = tokio::join!(a.take(90), b.take(90));
    for parts in [&door_parts, &yard_parts] {
        let ids: Vec<u64> = parts.iter().map(|p| p.frame_id).collect();
        assert!(ids.windows(2).all(|w| w[1] > w[0]), "in order: {ids:?}");
        assert!(
            parts.iter().all(|p| p.camera_state.is_none()),
            "live frames only"
        );
    }
    let mut events: Vec<(std::time::Instant, usize, i64)> = door_parts
        .iter()
        .map(|p| (p.at, 0, capture_us(p)))
        .chain(yard_parts.iter().map(|p| (p.at, 1, capture_us(p))))
        .collect();
    events.sort_by_key(|e| e.0);
    let mut newest = [None::<i64>; 2];
    let mut spreads = Vec::new();
    for (_, camera, capture) in events {
        newest[camera] = Some(capture);
        if let [Some(d), Some(y)] = newest {
            spreads.push((d - y).abs());
        }
    }
    spreads.sort_unstable();
    let p90 = spreads[spreads.len() * 9 / 10];
    assert!(
        p90 <= 40_000,
        "90 % of samples within one frame period (+7 ms): p90 {p90} µs"
    );
    let (status, _, _) = get(addr, "/live/sync/cams/nope/stream").await;
    assert_eq!(status, 404);
    drop((a, b));
    let stopped = wait_until(Duration::from_secs(5), || async {
        !relay.state().wall.is_running()
    })
    .await;
    assert!(stopped, "the last viewer leaving stops the wall");
    relay.shutdown().await;
    door.shutdown().await;
    yard.shutdown().await;
}
