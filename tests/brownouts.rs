//! A camera that browns out again and again, seen through the relay (issue #22): the mock camera
//! is powered off and on in a loop while viewers watch. Every viewer stays connected (offline
//! cards in between), frame ids never go back, and after each power-on every viewer gets new
//! live frames again, soon. The rates of a long soak are `examples/brownout_soak.rs`'s job.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use camrelay_suite::brownouts::{watch_stream, Soak, Timeline};
use camrelay_suite::*;

/// Viewers watching through the reboots.
const VIEWERS: usize = 5;
/// Reboots in the loop.
const REBOOTS: usize = 4;
/// Power-on to live at the slowest viewer: the goal is 1 s, asserted loosely (a shared,
/// debug-built machine; the camera is retried every 350 ms ± 25 %).
const BACK_WITHIN: Duration = Duration::from_secs(2);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_stay_and_get_live_frames_after_every_reboot() {
    let _serial = serial().await;
    let fps = 25.0;
    let mock = start_mock(MockConfig {
        width: 320,
        height: 240,
        fps,
        loop_frames: 2,
        ..MockConfig::default()
    })
    .await;
    let relay = start_relay(vec![camera_for("cam", &mock)], |config| {
        config.detect = false;
    })
    .await;
    let addr = relay.local_addr();

    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let viewers: Vec<_> = (0..VIEWERS)
        .map(|_| tokio::spawn(watch_stream(addr, "/cams/cam/stream", stop_rx.clone())))
        .collect();
    let streaming = wait_until(Duration::from_secs(10), || async {
        let stats = stats(addr).await;
        stats["viewers_total"] == VIEWERS && stats["cameras"][0]["upstream"]["state"] == "streaming"
    })
    .await;
    assert!(streaming, "{}", stats(addr).await);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut timeline = Timeline {
        offs: Vec::new(),
        ons: Vec::new(),
        end: Instant::now(),
        fps,
    };
    for _ in 0..REBOOTS {
        timeline.offs.push(Instant::now());
        mock.power_off().await;
        tokio::time::sleep(Duration::from_millis(700)).await;
        mock.power_on().await.unwrap();
        timeline.ons.push(Instant::now());
        tokio::time::sleep(Duration::from_millis(2500)).await;
    }
    timeline.end = Instant::now();
    let upstream = stats(addr).await["cameras"][0]["upstream"].clone();
    stop.send(true).unwrap();
    let mut seen = Vec::new();
    for viewer in viewers {
        seen.push(viewer.await.unwrap());
    }
    let soak = Soak::analyse(&seen, &timeline);
    println!("{}", soak.to_json());

    assert_eq!(soak.connected, VIEWERS, "{:?}", soak.lost);
    assert_eq!(soak.kept, VIEWERS, "viewers lost: {:?}", soak.lost);
    assert_eq!(soak.ids_went_back, 0);
    // Every viewer got new live frames after every power-on, before the next power cut.
    assert_eq!(soak.missed, 0, "{}", soak.to_json());
    assert_eq!(soak.to_live.len(), VIEWERS * REBOOTS);
    for (reboot, back) in soak.all_live.iter().enumerate() {
        let back = back.unwrap();
        assert!(back < BACK_WITHIN, "reboot {reboot}: {back:?} to live");
    }
    // The relay saw each reboot as one outage and reconnected once per power-on.
    assert_eq!(upstream["outages"], REBOOTS, "{upstream}");
    assert_eq!(upstream["connects"], REBOOTS + 1, "{upstream}");
    assert_eq!(upstream["state"], "streaming", "{upstream}");
    relay.shutdown().await;
    mock.shutdown().await;
}
