//! Replay sessions with paused Tokio time: rate, seek, step, alignment, pause, end, gaps.

mod support;

use std::time::Duration;

use replay_session::{
    ErrorKind, FrameRef, MemoryTrack, ReplayError, ReplaySession, SessionConfig, Span, Track,
};
use support::{assert_aligned, LogSink, PERIOD_30FPS, T0};
use tokio::time::{sleep, Instant};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[tokio::test(start_paused = true)]
async fn four_x_for_ten_seconds_advances_forty_seconds_and_skips_frames() {
    let track = MemoryTrack::regular(0, T0, PERIOD_30FPS, 3000); // 100 s
    let sink = LogSink::default();
    let session = ReplaySession::start(
        vec![track.clone()],
        T0,
        4.0,
        SessionConfig::default(),
        sink.clone(),
    )
    .expect("start");
    let start = Instant::now();
    sleep(Duration::from_secs(10)).await;
    let pos = session.state().position_us;
    assert_eq!(pos, T0 + 40_000_000, "exactly 40 s of capture time");
    sleep(ms(1)).await; // let a tick due at this very instant run
    let log = sink.take();
    // 1200 frames were due; ticks are at least 10 ms apart, so at most ~1000 were emitted.
    assert!(
        log.len() <= 1002,
        "{} emissions: frames were queued",
        log.len()
    );
    assert!(log.len() >= 900, "{} emissions: too few ticks", log.len());
    assert!(
        log.windows(2).all(|w| w[0].frame_id < w[1].frame_id),
        "in order"
    );
    // Each emission is due: its capture time is at or before the clock at that instant, and
    // not more than one tick (10 ms wall = 40 ms capture, + timer rounding) plus a frame old.
    for e in &log {
        let clock = T0 + (e.at - start).as_micros() as i64 * 4;
        assert!(e.capture_us <= clock, "{e:?} emitted early (clock {clock})");
        assert!(
            clock - e.capture_us <= 4 * 12_000 + PERIOD_30FPS,
            "{e:?} late (clock {clock})"
        );
    }
    let last = log.last().expect("emissions");
    assert_eq!(
        Some(last.frame_id),
        track.at_or_before(T0 + 40_004_000).map(|f| f.frame_id)
    );
}

#[tokio::test(start_paused = true)]
async fn start_emits_at_once_and_one_x_emits_every_frame_on_time() {
    let track = MemoryTrack::regular(100, T0, 100_000, 50);
    let sink = LogSink::default();
    let _s = ReplaySession::start(
        vec![track],
        T0 + 50_000,
        1.0,
        SessionConfig::default(),
        sink.clone(),
    )
    .expect("start");
    let start = Instant::now();
    sleep(ms(1001)).await;
    let log = sink.take();
    let ids: Vec<u64> = log.iter().map(|e| e.frame_id).collect();
    assert_eq!(ids, (100..=110).collect::<Vec<_>>());
    assert_eq!(
        log[0].at, start,
        "the frame at the start is emitted at once"
    );
    for e in &log[1..] {
        let due = start + Duration::from_micros((e.capture_us - T0 - 50_000) as u64);
        assert!(
            e.at >= due && e.at - due <= ms(1),
            "{e:?} not on time (due {due:?})"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn seek_lands_on_the_exact_frame_at_or_before_and_emits_while_paused() {
    let track = MemoryTrack::regular(0, T0, PERIOD_30FPS, 300);
    let sink = LogSink::default();
    let s = ReplaySession::start(vec![track], T0, 1.0, SessionConfig::default(), sink.clone())
        .expect("start");
    s.pause().expect("pause");
    sleep(ms(5)).await;
    sink.take();
    for (to, want) in [
        (T0 + 150 * PERIOD_30FPS, 150),
        (T0 + 150 * PERIOD_30FPS - 1, 149),
        (T0 + 150 * PERIOD_30FPS + PERIOD_30FPS - 1, 150),
        (T0 + 3, 0),
    ] {
        s.seek(to).expect("seek");
        sleep(ms(1)).await;
        let log = sink.take();
        assert_eq!(
            log.iter().map(|e| e.frame_id).collect::<Vec<_>>(),
            vec![want],
            "seek to {to}"
        );
        let st = s.state();
        assert_eq!(st.position_us, to);
        assert!(st.paused);
        assert_eq!(st.last_frame_ids, vec![Some(want)]);
    }
    // Outside the recordings: a typed error with the spans, nothing changes.
    let err = s.seek(T0 - 1).expect_err("before the recording");
    assert_eq!(err.kind(), ErrorKind::OutsideRecordings);
    let ReplayError::OutsideRecordings {
        requested_us,
        spans,
    } = err
    else {
        panic!("wrong error");
    };
    assert_eq!(requested_us, T0 - 1);
    assert_eq!(
        spans,
        vec![vec![Span {
            start_us: T0,
            end_us: T0 + 299 * PERIOD_30FPS
        }]]
    );
    assert_eq!(s.state().position_us, T0 + 3);
}

#[tokio::test(start_paused = true)]
async fn step_forward_and_back_visits_every_frame_of_every_camera() {
    // Camera B's clock runs 13 ms after A's; both 10 fps.
    let a = MemoryTrack::regular(0, T0, 100_000, 10);
    let b = MemoryTrack::regular(500, T0 + 13_000, 100_000, 10);
    let sink = LogSink::default();
    let s = ReplaySession::start(vec![a, b], T0, 1.0, SessionConfig::default(), sink.clone())
        .expect("start");
    sleep(ms(1)).await;
    assert_eq!(s.state().last_frame_ids, vec![Some(0), None]);

    assert_eq!(s.step(1).expect("step"), T0 + 13_000);
    sleep(ms(1)).await;
    let st = s.state();
    assert!(st.paused, "a step pauses");
    assert_eq!(st.last_frame_ids, vec![Some(0), Some(500)]);

    assert_eq!(s.step(2).expect("step"), T0 + 113_000);
    sleep(ms(1)).await;
    assert_eq!(s.state().last_frame_ids, vec![Some(1), Some(501)]);

    // Back one: from the newest frame shown (B's at +113 ms) to the previous of any camera.
    assert_eq!(s.step(-1).expect("step"), T0 + 100_000);
    sleep(ms(1)).await;
    assert_eq!(s.state().last_frame_ids, vec![Some(1), Some(500)]);
    assert_eq!(s.step(-2).expect("step"), T0);
    sleep(ms(1)).await;
    // Past the first frame: stays there.
    assert_eq!(s.step(-5).expect("step"), T0);
    // Past the last frame: stops on it.
    assert_eq!(s.step(100).expect("step"), T0 + 913_000);
    sleep(ms(1)).await;
    assert_eq!(s.state().last_frame_ids, vec![Some(9), Some(509)]);
    let ids: Vec<(usize, u64)> = sink.take().iter().map(|e| (e.camera, e.frame_id)).collect();
    assert_eq!(
        ids,
        vec![
            (0, 0),
            (1, 500),
            (0, 1),
            (1, 501),
            (1, 500),
            (0, 0),
            (0, 9),
            (1, 509)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn two_cameras_with_offset_clocks_are_emitted_aligned() {
    for rate in [1.0, 0.25, 4.0, 16.0] {
        let a = MemoryTrack::regular(0, T0, PERIOD_30FPS, 1800);
        let b = MemoryTrack::regular(10_000, T0 + 13_000, PERIOD_30FPS, 1800);
        let sink = LogSink::default();
        let s = ReplaySession::start(vec![a, b], T0, rate, SessionConfig::default(), sink.clone())
            .expect("start");
        sleep(Duration::from_secs(5)).await;
        s.stop();
        let log = sink.take();
        let checks = assert_aligned(&log, 2, PERIOD_30FPS);
        assert!(checks > 20, "rate {rate}: only {checks} checks");
    }
}

#[tokio::test(start_paused = true)]
async fn pause_freezes_emissions_and_play_resumes() {
    let track = MemoryTrack::regular(0, T0, 100_000, 600);
    let sink = LogSink::default();
    let s = ReplaySession::start(vec![track], T0, 1.0, SessionConfig::default(), sink.clone())
        .expect("start");
    sleep(ms(1050)).await;
    s.pause().expect("pause");
    let pos = s.state().position_us;
    assert_eq!(pos, T0 + 1_050_000);
    let n = sink.len();
    assert_eq!(n, 11);
    sleep(Duration::from_secs(5)).await;
    // Nothing new while paused: the frame shown again once a second (a keepalive).
    let log = sink.take();
    let again: Vec<(u64, i64)> = log[n..]
        .iter()
        .map(|e| (e.frame_id, e.capture_us))
        .collect();
    assert_eq!(again, vec![(log[n - 1].frame_id, log[n - 1].capture_us); 5]);
    let state = s.state();
    assert_eq!((state.emitted, state.keepalives), (11, 5));
    assert_eq!(state.position_us, pos);
    s.play().expect("play");
    sleep(ms(100)).await;
    assert_eq!(s.state().position_us, pos + 100_000);
    assert_eq!(sink.len(), 1, "playing again: the next frame");
}

#[tokio::test(start_paused = true)]
async fn no_keepalive_when_turned_off() {
    let track = MemoryTrack::regular(0, T0, 100_000, 600);
    let sink = LogSink::default();
    let config = SessionConfig {
        keepalive: None,
        ..SessionConfig::default()
    };
    let s = ReplaySession::start(vec![track], T0, 1.0, config, sink.clone()).expect("start");
    sleep(ms(50)).await;
    s.pause().expect("pause");
    sleep(Duration::from_secs(5)).await;
    assert_eq!(sink.len(), 1, "the first frame only");
    assert_eq!(s.state().keepalives, 0);
}

#[tokio::test(start_paused = true)]
async fn rates_out_of_range_are_refused_and_change_nothing() {
    let track = MemoryTrack::regular(0, T0, 100_000, 100);
    for bad in [0.0, 1000.0, f64::NAN, -1.0] {
        let err = ReplaySession::start(
            vec![track.clone()],
            T0,
            bad,
            SessionConfig::default(),
            LogSink::default(),
        )
        .err()
        .expect("bad rate refused");
        assert_eq!(err.kind(), ErrorKind::InvalidRate);
    }
    let s = ReplaySession::start(
        vec![track],
        T0,
        2.0,
        SessionConfig::default(),
        LogSink::default(),
    )
    .expect("start");
    for bad in [0.0, 1000.0, f64::NAN] {
        assert_eq!(
            s.set_rate(bad).expect_err("refused").kind(),
            ErrorKind::InvalidRate
        );
    }
    assert_eq!(s.state().rate, 2.0);
    s.set_rate(1.0 / 16.0).expect("1/16");
    s.set_rate(16.0).expect("16");
    assert_eq!(s.state().rate, 16.0);
}

#[tokio::test(start_paused = true)]
async fn start_outside_the_recordings_names_the_spans() {
    let a = MemoryTrack::regular(0, T0, 100_000, 10); // T0 .. T0+0.9 s
    let b = MemoryTrack::regular(0, T0 + 60_000_000, 100_000, 10);
    let err = ReplaySession::start(
        vec![a.clone(), b.clone()],
        T0 + 30_000_000,
        1.0,
        SessionConfig::default(),
        LogSink::default(),
    )
    .err()
    .expect("in the gap");
    assert_eq!(
        err,
        ReplayError::OutsideRecordings {
            requested_us: T0 + 30_000_000,
            spans: vec![a.spans(), b.spans()],
        }
    );
    let err = ReplaySession::start(
        Vec::<MemoryTrack<u64>>::new(),
        T0,
        1.0,
        SessionConfig::default(),
        LogSink::default(),
    )
    .err()
    .expect("no cameras");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[tokio::test(start_paused = true)]
async fn the_end_pauses_on_the_last_frame_and_gaps_are_jumped() {
    // Two recordings of 1 s, an hour apart.
    let mut frames = MemoryTrack::regular(0, T0, 100_000, 10).frames().to_vec();
    frames.extend(
        MemoryTrack::regular(10, T0 + 3_600_000_000, 100_000, 10)
            .frames()
            .iter()
            .cloned(),
    );
    let track: MemoryTrack<u64> = MemoryTrack::new(frames);
    let sink = LogSink::default();
    let s = ReplaySession::start(vec![track], T0, 1.0, SessionConfig::default(), sink.clone())
        .expect("start");
    sleep(ms(901)).await;
    assert_eq!(s.state().last_frame_ids, vec![Some(9)]);
    // The gap is jumped over at once: frame 10 follows right after frame 9.
    sleep(ms(10)).await;
    let st = s.state();
    assert_eq!(st.last_frame_ids, vec![Some(10)]);
    assert!(st.position_us >= T0 + 3_600_000_000);
    // 0.9 s to the last frame, then 2 s of grace, then it pauses there.
    sleep(Duration::from_secs(3)).await;
    let st = s.state();
    assert!(st.ended && st.paused, "{st:?}");
    assert_eq!(st.position_us, T0 + 3_600_900_000);
    let sent: Vec<u64> = sink.take().iter().map(|e| e.frame_id).collect();
    let mut shown = sent.clone();
    shown.dedup();
    assert_eq!(shown, (0..20).collect::<Vec<_>>());
    // Over the 2 s of grace and since, the last frame again once a second (keepalives).
    assert!(
        sent.len() > 20 && sent[20..].iter().all(|&id| id == 19),
        "{sent:?}"
    );
    // Play after the end: ends again; a seek back plays on.
    s.play().expect("play");
    assert!(!s.state().ended);
    s.seek(T0).expect("seek");
    sleep(ms(1)).await;
    assert_eq!(s.state().last_frame_ids, vec![Some(0)]);
}

#[tokio::test(start_paused = true)]
async fn dropping_every_handle_stops_the_driver_and_drops_the_sink() {
    let track = MemoryTrack::regular(0, T0, 100_000, 100);
    let sink = LogSink::default();
    let weak = std::sync::Arc::downgrade(&sink.0);
    let s =
        ReplaySession::start(vec![track], T0, 1.0, SessionConfig::default(), sink).expect("start");
    let s2 = s.clone();
    sleep(ms(100)).await;
    drop(s);
    sleep(ms(100)).await;
    assert!(weak.upgrade().is_some(), "a clone still runs it");
    assert!(!s2.is_stopped());
    drop(s2);
    sleep(ms(1)).await;
    assert!(
        weak.upgrade().is_none(),
        "the driver ended and dropped its sink"
    );
}

#[tokio::test(start_paused = true)]
async fn controls_after_stop_say_stopped() {
    let track = MemoryTrack::regular(0, T0, 100_000, 100);
    let s = ReplaySession::start(
        vec![track],
        T0,
        1.0,
        SessionConfig::default(),
        LogSink::default(),
    )
    .expect("start");
    s.stop();
    assert_eq!(s.play().expect_err("stopped").kind(), ErrorKind::Stopped);
    assert_eq!(s.step(1).expect_err("stopped").kind(), ErrorKind::Stopped);
}

/// A handle type with real payload, as the recorder's will be.
#[allow(dead_code)]
#[derive(Clone)]
struct Loc {
    offset: u64,
    len: u32,
}

#[tokio::test(start_paused = true)]
async fn any_handle_type_works() {
    let frames = (0..5)
        .map(|i| FrameRef {
            frame_id: i,
            capture_us: T0 + i as i64 * 1000,
            handle: Loc {
                offset: i * 60_000,
                len: 60_000,
            },
        })
        .collect();
    let s = ReplaySession::start(
        vec![MemoryTrack::new(frames)],
        T0,
        1.0,
        SessionConfig::default(),
        LogSink::default(),
    )
    .expect("start");
    sleep(ms(20)).await;
    assert_eq!(s.state().last_frame_ids, vec![Some(4)]);
}

/// A sink that takes 50 ms per frame, like a slow disk.
#[derive(Clone, Default)]
struct SlowSink(LogSink);

impl<H: Send + 'static> replay_session::Sink<H> for SlowSink {
    async fn emit(&self, camera: usize, frame: FrameRef<H>) {
        replay_session::Sink::emit(&self.0, camera, frame).await;
        sleep(ms(50)).await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_slow_sink_makes_frames_be_skipped_not_queued() {
    let track = MemoryTrack::regular(0, T0, PERIOD_30FPS, 300);
    let sink = SlowSink::default();
    let start = Instant::now();
    let s = ReplaySession::start(vec![track], T0, 1.0, SessionConfig::default(), sink.clone())
        .expect("start");
    sleep(Duration::from_secs(3)).await;
    s.stop();
    let log = sink.0.take();
    assert!(
        log.len() <= 61,
        "{} emissions in 3 s at 50 ms each",
        log.len()
    );
    assert!(log.len() >= 55, "{} emissions", log.len());
    for e in &log {
        let clock = T0 + (e.at - start).as_micros() as i64;
        assert!(
            clock - e.capture_us < PERIOD_30FPS,
            "{e:?} is stale (clock {clock})"
        );
    }
}
