//! A camera that browns out again and again (issue #22): the emulator is powered off and on
//! in a loop on the same port while the source is polled. The source must be live again
//! within about a second of the camera accepting connections, every time, and its frames
//! must never go back in time.
#![allow(clippy::unwrap_used)]

mod support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use esp32_source::{ErrorKind, Source, SourceConfig};
use futures_util::StreamExt;
use mock_camera::{MockCamera, MockConfig};
use support::wait_for;

/// Latency after an event, not a rate: asserted loosely (the goal is 1 s).
const BACK_WITHIN: Duration = Duration::from_millis(1500);

/// Uniformly random in `from..to`.
fn between(from: Duration, to: Duration) -> Duration {
    from + (to - from).mul_f64(fastrand::f64())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_again_within_a_second_of_each_reboot() {
    let camera = MockCamera::start(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        MockConfig {
            width: 320,
            height: 240,
            fps: 25.0,
            loop_frames: 2,
            ..MockConfig::default()
        },
    )
    .await
    .unwrap();
    // Default timeouts and retry policy: what a relay runs with.
    let source = Source::new(SourceConfig::stream("brownout", camera.stream_url())).unwrap();
    let status = source.status();
    let mut frames = source.frames();
    // Every frame's receive time and camera time, in order.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let poller = {
        let seen = seen.clone();
        tokio::spawn(async move {
            while let Some(frame) = frames.next().await {
                let mut seen = seen.lock().unwrap();
                seen.push((frame.received_at, frame.camera_time));
            }
        })
    };
    wait_for(&status, Duration::from_secs(10), |s| s.frames > 0).await;

    let mut rows = Vec::new();
    for reboot in 1..=3u64 {
        tokio::time::sleep(between(Duration::from_secs(1), Duration::from_secs(2))).await;
        camera.power_off().await;
        let off_at = Instant::now();
        let down = between(Duration::from_secs(1), Duration::from_secs(2));
        tokio::time::sleep(down).await;
        camera.power_on().await.unwrap();
        let on_at = Instant::now();
        let back = wait_for(&status, Duration::from_secs(10), |s| s.outages == reboot).await;
        let first = seen
            .lock()
            .unwrap()
            .iter()
            .map(|(at, _)| *at)
            .find(|at| *at > on_at)
            .expect("a frame after power-on");
        rows.push((
            reboot,
            on_at - off_at,
            first - on_at,
            back.last_outage.unwrap(),
            back.last_recovery.unwrap(),
            back.reconnects,
        ));
    }
    poller.abort();

    println!(
        "reboot | down ms | power-on to frame ms | source: outage ms | recovery ms | reconnects"
    );
    for (n, down, to_frame, outage, recovery, reconnects) in &rows {
        println!(
            "{n} | {} | {} | {} | {} | {reconnects}",
            down.as_millis(),
            to_frame.as_millis(),
            outage.as_millis(),
            recovery.as_millis()
        );
    }
    for (n, down, to_frame, outage, recovery, _) in &rows {
        assert!(
            *to_frame < BACK_WITHIN,
            "reboot {n}: {to_frame:?} to the first frame"
        );
        // The outage spans the power cut; the way back is within it.
        assert!(
            outage >= down,
            "reboot {n}: outage {outage:?} < down {down:?}"
        );
        assert!(recovery <= outage, "reboot {n}");
        assert!(
            *recovery <= *to_frame,
            "reboot {n}: {recovery:?} > {to_frame:?}"
        );
    }
    let times: Vec<_> = {
        let seen = seen.lock().expect("frames seen");
        seen.iter().map(|(_, t)| t.expect("X-Timestamp")).collect()
    };
    assert!(
        times.windows(2).all(|w| w[0] < w[1]),
        "camera times went back"
    );
    let now = status.snapshot();
    assert_eq!(now.outages, 3, "{now:?}");
    assert_eq!(now.connects, 4, "one connection per power-on: {now:?}");
    // Refused while off: the last error of the outage was a refused connection.
    assert!(
        matches!(
            now.last_error_kind(),
            Some(ErrorKind::Connect | ErrorKind::Codec | ErrorKind::Closed)
        ),
        "{now:?}"
    );
    camera.shutdown().await;
}
