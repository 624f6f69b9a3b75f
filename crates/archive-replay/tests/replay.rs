//! Replay of real recordings (two cameras, offset clocks, recorded by the real `Recorder` into
//! a temporary directory), watched through the broadcasts, with paused Tokio time.

mod support;

use std::time::Duration;

use archive_replay::{Action, CreateRequest, ErrorKind, ServiceConfig, Time};
use support::*;
use tokio::time::sleep;

fn create_body(cameras: &[&str], start_us: i64, rate: f64) -> CreateRequest {
    let body = serde_json::json!({
        "cameras": cameras,
        "start": format!("{}.{:06}", start_us / 1_000_000, start_us % 1_000_000),
        "rate": rate,
    });
    CreateRequest::from_json(body.to_string().as_bytes()).expect("request")
}

#[tokio::test(start_paused = true)]
async fn viewers_see_identical_frame_ids_with_the_recorded_bytes_and_times() {
    let rec = record();
    let replay = service(&rec, ServiceConfig::default());
    let start = door_time(15) + 1_000; // between door 15 and yard 15 (yard is 13 ms later)
    let created = replay
        .create(create_body(&["door", "yard"], start, 1.0))
        .await
        .expect("create");
    assert_eq!(
        created.streams["yard"],
        format!("/replay/{}/cams/yard/stream", created.id)
    );
    let (a, b) = (Log::default(), Log::default());
    let mut tasks = Vec::new();
    for camera in ["door", "yard"] {
        for log in [&a, &b] {
            let sub = replay.subscribe(&created.id, camera).expect("subscribe");
            tasks.push(log.watch(camera, sub));
        }
    }
    sleep(Duration::from_millis(2000)).await;
    let state = replay.state(&created.id).expect("state");
    assert_eq!(state.viewers, 4);
    assert_eq!(state.position_us, start + 2_000_000);
    replay.delete(&created.id).expect("delete");
    for t in tasks {
        t.await.expect("viewer ends when the session is deleted");
    }
    for camera in ["door", "yard"] {
        let first = if camera == "door" { 15 } else { YARD_ID + 14 };
        let want: Vec<u64> = (first..first + 61).collect(); // 1x: every frame of 2 s
        assert_eq!(a.ids(camera), want, "{camera}");
        assert_eq!(b.ids(camera), want, "{camera}");
    }
    for seen in a.take().iter().chain(&b.take()) {
        let (capture_us, jpeg) = recorded(&seen.camera, seen.id);
        assert_eq!(seen.capture_us, capture_us, "X-Timestamp of {seen:?}");
        assert!(seen.jpeg == jpeg, "bytes of {} {}", seen.camera, seen.id);
        let head = std::str::from_utf8(&seen.head).expect("ASCII head");
        assert!(
            head.contains(&format!("X-Frame-Id: {}\r\n", seen.id)),
            "{head}"
        );
        let ts = format!(
            "X-Timestamp: {}.{:06}\r\n",
            capture_us / 1_000_000,
            capture_us % 1_000_000
        );
        assert!(head.contains(&ts), "{head}");
    }
}

#[tokio::test(start_paused = true)]
async fn cameras_with_offset_clocks_are_aligned_within_a_frame_period() {
    let rec = record();
    let replay = service(&rec, ServiceConfig::default());
    for rate in [1.0, 0.25, 4.0] {
        let created = replay
            .create(create_body(&["door", "yard"], T0 + 100_000, rate))
            .await
            .expect("create");
        let log = Log::default();
        let tasks: Vec<_> = ["door", "yard"]
            .into_iter()
            .map(|c| log.watch(c, replay.subscribe(&created.id, c).expect("subscribe")))
            .collect();
        sleep(Duration::from_secs_f64(3.0 / rate)).await;
        replay.delete(&created.id).expect("delete");
        for t in tasks {
            t.await.expect("viewer");
        }
        let seen = log.take();
        let checks = assert_aligned(&seen, &["door", "yard"], PERIOD);
        assert!(checks > 20, "{checks} checks at {rate}x");
        for camera in ["door", "yard"] {
            let ids: Vec<u64> = seen
                .iter()
                .filter(|s| s.camera == camera)
                .map(|s| s.id)
                .collect();
            assert!(ids.windows(2).all(|w| w[0] < w[1]), "in order at {rate}x");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn pause_seek_step_and_rate() {
    let rec = record();
    let replay = service(&rec, ServiceConfig::default());
    let created = replay
        .create(create_body(&["door", "yard"], door_time(10), 1.0))
        .await
        .expect("create");
    let id = created.id.as_str();
    let log = Log::default();
    let _tasks: Vec<_> = ["door", "yard"]
        .into_iter()
        .map(|c| log.watch(c, replay.subscribe(id, c).expect("subscribe")))
        .collect();
    sleep(Duration::from_millis(500)).await;

    // Pause: the position and the frames freeze.
    let paused = replay.control(id, Action::Pause).await.expect("pause");
    assert!(paused.paused);
    sleep(Duration::from_millis(20)).await;
    let n = log.ids("door").len();
    let (shown, sent) = (log.last_id("door"), log.sent_ids("door").len());
    sleep(Duration::from_millis(2500)).await;
    let state = replay.state(id).expect("state");
    assert_eq!(state.position_us, paused.position_us);
    assert_eq!(log.ids("door").len(), n, "no new frame while paused");
    // But the frame shown again once a second, so that the stream is not timed out.
    let again = &log.sent_ids("door")[sent..];
    assert_eq!(again.len(), 2, "keepalives: {again:?}");
    assert!(again.iter().all(|&id| Some(id) == shown), "{again:?}");

    // Seek between frames: each camera lands on its frame at or before, while paused.
    let to = door_time(60) + 10_000;
    let body = format!(
        r#"{{"action": "seek", "to": "{}"}}"#,
        mjpeg_record::format_time(to)
    );
    let state = replay
        .control(id, Action::from_json(body.as_bytes()).expect("action"))
        .await
        .expect("seek");
    assert_eq!((state.position_us, state.paused), (to, true));
    sleep(Duration::from_millis(20)).await;
    assert_eq!(log.last_id("door"), Some(60));
    assert_eq!(log.last_id("yard"), Some(YARD_ID + 59)); // yard 60 is 3 ms after `to`
                                                         // Exactly on a frame's capture time: that frame.
    replay
        .control(
            id,
            Action::Seek {
                to: Time(yard_time(75)),
            },
        )
        .await
        .expect("seek");
    sleep(Duration::from_millis(20)).await;
    assert_eq!(log.last_id("yard"), Some(YARD_ID + 75));
    assert_eq!(log.last_id("door"), Some(75));

    // Step: to the next frame of any camera, then back.
    let state = replay
        .control(id, Action::Step { frames: 1 })
        .await
        .expect("step");
    assert_eq!(state.position_us, door_time(76));
    sleep(Duration::from_millis(20)).await;
    assert_eq!(log.last_id("door"), Some(76));
    let state = replay
        .control(id, Action::Step { frames: 2 })
        .await
        .expect("step");
    assert_eq!(state.position_us, door_time(77));
    let state = replay
        .control(id, Action::Step { frames: -3 })
        .await
        .expect("step back");
    assert_eq!(state.position_us, yard_time(75));
    sleep(Duration::from_millis(20)).await;
    assert_eq!(log.last_id("door"), Some(75));
    assert_eq!(log.last_id("yard"), Some(YARD_ID + 75));

    // Rate, then play: the clock advances at 4x, exactly.
    let state = replay
        .control(id, Action::Rate { rate: 4.0 })
        .await
        .expect("rate");
    assert_eq!((state.rate, state.paused), (4.0, true));
    let from = state.position_us;
    replay.control(id, Action::Play).await.expect("play");
    sleep(Duration::from_millis(250)).await;
    let state = replay.state(id).expect("state");
    assert_eq!(state.position_us, from + 1_000_000);
    assert!(!state.paused);
    assert!(log.ids("door").windows(2).all(|w| w[0] != w[1]));

    // A bad rate and a seek outside the recordings change nothing.
    replay.control(id, Action::Pause).await.expect("pause");
    let before = replay.state(id).expect("state");
    for rate in [0.0, 1000.0, -1.0, f64::NAN] {
        let err = replay
            .control(id, Action::Rate { rate })
            .await
            .expect_err("bad rate");
        assert_eq!(err.kind(), ErrorKind::BadRequest, "{rate}");
    }
    let err = replay
        .control(
            id,
            Action::Seek {
                to: Time(T0 - 3_600_000_000),
            },
        )
        .await
        .expect_err("outside");
    assert_eq!(err.kind(), ErrorKind::OutsideRecordings);
    let err = replay
        .control(
            id,
            Action::Seek {
                to: Time(T0 + 60_000_000),
            },
        )
        .await
        .expect_err("outside, in the loaded window");
    assert_eq!(err.kind(), ErrorKind::OutsideRecordings);
    let after = replay.state(id).expect("state");
    assert_eq!(
        (after.position_us, after.rate, after.paused),
        (before.position_us, before.rate, before.paused)
    );
}

#[tokio::test(start_paused = true)]
async fn a_session_ends_when_nobody_watches_and_its_streams_close() {
    let rec = record();
    let replay = service(&rec, ServiceConfig::default());
    // Nobody ever connects: it ends 60 s after creation.
    let lonely = replay
        .create(create_body(&["door"], T0, 1.0))
        .await
        .expect("create");
    sleep(Duration::from_secs(59)).await;
    assert!(replay.state(&lonely.id).is_ok());
    sleep(Duration::from_secs(2)).await;
    let err = replay.state(&lonely.id).expect_err("ended");
    assert_eq!(err.kind(), ErrorKind::NotFound);

    // Watched: it lives on; 60 s after the last viewer leaves, it ends and closes.
    let watched = replay
        .create(create_body(&["door", "yard"], T0, 1.0))
        .await
        .expect("create");
    let sub = replay.subscribe(&watched.id, "door").expect("subscribe");
    let broadcast = sub.broadcast.clone();
    sleep(Duration::from_secs(300)).await;
    let state = replay.state(&watched.id).expect("still there");
    assert_eq!((state.viewers, state.cameras[0].viewers), (1, 1));
    assert!(state.ended, "paused at the end of the recordings");
    assert_eq!(state.cameras[0].frame_id, Some(FRAMES - 1));
    drop(sub);
    sleep(Duration::from_secs(59)).await;
    assert_eq!(replay.state(&watched.id).expect("state").viewers, 0);
    sleep(Duration::from_secs(2)).await;
    assert_eq!(
        replay.state(&watched.id).expect_err("ended").kind(),
        ErrorKind::NotFound
    );
    assert!(broadcast.is_closed(), "the stream ends with the session");
    assert!(replay.is_empty());
}

#[tokio::test(start_paused = true)]
async fn bad_input_gets_the_right_kind_and_changes_nothing() {
    let rec = record();
    let replay = service(
        &rec,
        ServiceConfig {
            registry: archive_replay::RegistryConfig {
                max_sessions: 1,
                ..Default::default()
            },
            ..ServiceConfig::default()
        },
    );
    let kind =
        |r: Result<archive_replay::Created, archive_replay::Error>| r.expect_err("refused").kind();
    assert_eq!(
        kind(
            replay
                .create(create_body(&["door", "garage"], T0, 1.0))
                .await
        ),
        ErrorKind::NotFound
    );
    for rate in [0.0, 1000.0] {
        assert_eq!(
            kind(replay.create(create_body(&["door"], T0, rate)).await),
            ErrorKind::BadRequest
        );
    }
    assert_eq!(
        kind(replay.create(create_body(&[], T0, 1.0)).await),
        ErrorKind::BadRequest
    );
    assert_eq!(
        kind(replay.create(create_body(&["door", "door"], T0, 1.0)).await),
        ErrorKind::BadRequest
    );
    for body in ["{", r#"{"cameras": ["door"], "start": "noon"}"#, "null"] {
        let err = CreateRequest::from_json(body.as_bytes()).expect_err(body);
        assert_eq!(err.kind(), ErrorKind::BadRequest);
        assert!(err.body()["error"].is_string());
    }

    // A start outside the recordings: 416 with each camera's spans.
    let err = replay
        .create(create_body(&["door", "yard"], T0 - 10_000_000, 1.0))
        .await
        .expect_err("outside");
    assert_eq!(err.kind(), ErrorKind::OutsideRecordings);
    let body = err.body();
    assert_eq!(body["kind"], "outside_recordings");
    let spans = body["spans"].as_array().expect("spans");
    assert_eq!(spans.len(), 2);
    assert_eq!(spans[0]["camera"], "door");
    assert_eq!(spans[0]["spans"][0]["start_us"], T0);
    assert_eq!(spans[0]["spans"][0]["frames"], FRAMES);
    assert_eq!(spans[1]["spans"][0]["start_us"], T0 + YARD_OFFSET);
    assert!(replay.is_empty(), "nothing was started");

    // Just after the last frame, within the span's reported end: accepted.
    let created = replay
        .create(create_body(
            &["door"],
            door_time(FRAMES - 1) + PERIOD - 1,
            1.0,
        ))
        .await
        .expect("create at the span's end");
    assert_eq!(
        kind(
            replay
                .create(create_body(&["yard"], T0 + 50_000, 1.0))
                .await
        ),
        ErrorKind::Full
    );

    // Unknown ids and cameras.
    let other = "0123456789abcdef0123456789abcdef";
    for id in ["nope", other, ""] {
        assert_eq!(replay.state(id).expect_err(id).kind(), ErrorKind::NotFound);
        assert_eq!(replay.delete(id).expect_err(id).kind(), ErrorKind::NotFound);
        assert_eq!(
            replay.control(id, Action::Play).await.expect_err(id).kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            replay.subscribe(id, "door").err().expect(id).kind(),
            ErrorKind::NotFound
        );
    }
    assert_eq!(
        replay
            .subscribe(&created.id, "yard")
            .err()
            .expect("not in the session")
            .kind(),
        ErrorKind::NotFound
    );
    assert_eq!(replay.state(&created.id).expect("state").viewers, 0);
    replay.delete(&created.id).expect("delete");
    assert_eq!(
        replay.delete(&created.id).expect_err("gone").kind(),
        ErrorKind::NotFound
    );
}

#[tokio::test(start_paused = true)]
async fn small_windows_move_with_the_position_and_a_seek_loads_another() {
    let rec = record();
    let replay = service(
        &rec,
        ServiceConfig {
            window_before: Duration::from_millis(500),
            window_after: Duration::from_millis(1000),
            window_check: Duration::from_millis(100),
            ..ServiceConfig::default()
        },
    );
    let created = replay
        .create(create_body(&["door"], T0, 1.0))
        .await
        .expect("create");
    let log = Log::default();
    let task = log.watch("door", replay.subscribe(&created.id, "door").expect("sub"));
    sleep(Duration::from_millis(3520)).await;
    // Every frame of 3.5 s, though a window holds 1.5 s.
    assert_eq!(log.ids("door"), (0..=105).collect::<Vec<_>>());
    // A seek far outside the window loads the window there.
    replay
        .control(
            &created.id,
            Action::Seek {
                to: Time(door_time(5)),
            },
        )
        .await
        .expect("seek back");
    sleep(Duration::from_millis(1)).await;
    assert_eq!(log.last_id("door"), Some(5));
    replay.delete(&created.id).expect("delete");
    task.await.expect("viewer");
}

#[tokio::test(start_paused = true)]
async fn a_viewer_joining_a_paused_session_gets_its_frame_at_once() {
    let rec = record();
    let replay = service(&rec, ServiceConfig::default());
    let created = replay
        .create(create_body(&["door"], door_time(30), 1.0))
        .await
        .expect("create");
    replay
        .control(&created.id, Action::Pause)
        .await
        .expect("pause");
    sleep(Duration::from_millis(50)).await;
    let log = Log::default();
    let task = log.watch("door", replay.subscribe(&created.id, "door").expect("sub"));
    sleep(Duration::from_millis(50)).await;
    assert_eq!(log.ids("door"), vec![30]);
    replay.delete(&created.id).expect("delete");
    task.await.expect("viewer");
}

#[tokio::test(start_paused = true)]
async fn a_replay_that_reached_the_end_of_a_growing_recording_follows_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = std::sync::Arc::new(
        mjpeg_record::Archive::open(mjpeg_record::RecordConfig::new(dir.path())).expect("open"),
    );
    let rec = archive
        .recorder("door", mjpeg_record::RecordMode::CONTINUOUS)
        .expect("recorder");
    // Capture times up to the present: the recording is still growing.
    let t0 = mjpeg_record::now_micros() - 3_000_000;
    let record = |ids: std::ops::Range<u64>| {
        for id in ids {
            let t = t0 + id as i64 * 100_000; // 10 fps
            let frame = mjpeg_record::RecordFrame::new(jpeg("door", id), id, t, t);
            assert!(rec.try_record(frame));
        }
        rec.flush();
    };
    record(0..30);
    let replay: archive_replay::ReplayService<()> =
        archive_replay::ReplayService::new(archive.clone(), ServiceConfig::default());
    let created = replay
        .create(create_body(&["door"], t0 + 2_000_000, 1.0))
        .await
        .expect("create");
    let log = Log::default();
    let task = log.watch("door", replay.subscribe(&created.id, "door").expect("sub"));
    sleep(Duration::from_secs(4)).await;
    let state = replay.state(&created.id).expect("state");
    assert!(state.ended, "paused at the newest frame: {state:?}");
    assert_eq!(log.ids("door"), (20..30).collect::<Vec<_>>());

    // More frames are recorded: the session re-reads its window and goes on.
    record(30..60);
    sleep(Duration::from_secs(3)).await;
    let state = replay.state(&created.id).expect("state");
    assert!(!state.ended, "{state:?}");
    let ids = log.ids("door");
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "{ids:?}");
    assert!(ids.len() > 30, "{ids:?}");
    replay.delete(&created.id).expect("delete");
    task.await.expect("viewer");
}
