//! Events-mode recording through the relay (issue #16), end to end on loopback with the real
//! detector: a camera that shows an empty grey room, then a person (the YOLOX test photo) for
//! a few seconds, then the empty room again. With `record = { mode = "events", labels =
//! ["person"], pre, post }` the relay records exactly the frames from `pre` before the first
//! detection of a person to `post` after the last one, lists the detections with their labels
//! in `/api/recordings`, and records nothing else. Assertions are on frames and capture times
//! (the camera stamps each frame 100 ms after the previous one), not on rates.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use camrelay::config::{CameraConfig, SourceSpec};
use camrelay_suite::*;
use mjpeg_codec::{MultipartWriter, PartHead, Timestamp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PERSON: &[u8] = include_bytes!("../crates/yolo-detect/testdata/astronaut.jpg");
/// Capture-time step between frames: a 10 fps camera.
const STEP_US: i64 = 100_000;
const PRE: Duration = Duration::from_secs(1);
const POST: Duration = Duration::from_secs(2);

/// A scripted MJPEG camera: 10 fps, each frame stamped `X-Timestamp` = `base + n x 100 ms`,
/// showing the person while `person` is set. Remembers what it sent (capture µs, person?).
struct ScriptedCamera {
    url: String,
    person: Arc<AtomicBool>,
    sent: Arc<Mutex<Vec<(i64, bool)>>>,
    task: tokio::task::JoinHandle<()>,
}

async fn scripted_camera() -> ScriptedCamera {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/stream", listener.local_addr().unwrap());
    let person = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(Mutex::new(Vec::new()));
    let next = Arc::new(AtomicU64::new(0));
    // Whole seconds, so frame times are exact multiples of 100 ms.
    let base_us = (mjpeg_record::now_micros() / 1_000_000) * 1_000_000;
    let empty = mock_camera::placeholder_jpeg(512, 512, &[]);
    let (p, s) = (person.clone(), sent.clone());
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let (p, s, next, empty) = (p.clone(), s.clone(), next.clone(), empty.clone());
            tokio::spawn(async move {
                let mut req = [0u8; 2048];
                let _ = sock.read(&mut req).await;
                let w = MultipartWriter::default();
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nCache-Control: no-cache\r\n\r\n",
                    w.content_type()
                );
                if sock.write_all(head.as_bytes()).await.is_err()
                    || sock.write_all(&w.preamble()).await.is_err()
                {
                    return;
                }
                let mut tick = tokio::time::interval(Duration::from_micros(STEP_US as u64));
                loop {
                    tick.tick().await;
                    let n = next.fetch_add(1, Ordering::SeqCst);
                    let t = base_us + n as i64 * STEP_US;
                    let with_person = p.load(Ordering::SeqCst);
                    let jpeg = if with_person {
                        Bytes::from_static(PERSON)
                    } else {
                        empty.clone()
                    };
                    let part = w.part(
                        &PartHead {
                            content_length: jpeg.len(),
                            frame_id: Some(n + 1),
                            timestamp: Some(Timestamp {
                                secs: (t / 1_000_000) as u64,
                                micros: (t % 1_000_000) as u32,
                            }),
                            extra: &[],
                        },
                        &jpeg,
                    );
                    s.lock().unwrap().push((t, with_person));
                    for b in part {
                        if sock.write_all(&b).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    ScriptedCamera {
        url,
        person,
        sent,
        task,
    }
}

/// What events mode keeps of the frames at `times` (capture µs, in order) given the capture
/// times of the frames whose detections matched: the recorder's rule, frame by frame (a match
/// starts a clip with the pre-roll still in memory and extends it to `post` after itself).
fn expected_frames(times: &[i64], matches: &BTreeSet<i64>) -> BTreeSet<i64> {
    let (pre, post) = (PRE.as_micros() as i64, POST.as_micros() as i64);
    let mut kept = BTreeSet::new();
    let mut clip_until: Option<i64> = None;
    let mut preroll: Vec<i64> = Vec::new();
    for &t in times {
        let in_clip = clip_until.is_some_and(|u| t <= u);
        if matches.contains(&t) {
            if !in_clip {
                kept.extend(preroll.drain(..).filter(|p| t - p <= pre));
            }
            clip_until = Some(t + post);
            kept.insert(t);
        } else if in_clip {
            kept.insert(t);
        } else {
            clip_until = None;
            preroll.push(t);
            preroll.retain(|p| t - p <= pre);
        }
    }
    kept
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_mode_records_pre_and_post_roll_around_detections_and_nothing_else() {
    let _serial = serial().await;
    let camera = scripted_camera().await;
    let dir = tempfile::tempdir().unwrap();
    let record_dir = dir.path().to_owned();
    let mut cam = CameraConfig::new(
        "yard",
        SourceSpec::Stream {
            url: camera.url.clone(),
        },
    );
    cam.record = Some(mjpeg_record::RecordMode::events(&["person"], PRE, POST));
    let relay = start_relay(vec![cam], move |c| {
        c.record = Some(mjpeg_record::RecordConfig::new(record_dir));
    })
    .await;
    let addr = relay.local_addr();

    // No viewer: events mode alone opens the camera and runs the detector. Wait until it has
    // run a few times on the empty room (model loaded), then show the person for 3 s.
    let ready = wait_until(Duration::from_secs(120), || async {
        let s = stats(addr).await;
        s["cameras"][0]["detector"]["runs"].as_u64() >= Some(3)
    })
    .await;
    assert!(ready, "the detector never ran: {:#}", stats(addr).await);
    // And 3 s of the empty room recorded by nobody, more than the pre-roll reaches back.
    let sent_before = wait_until(Duration::from_secs(60), || async {
        camera.sent.lock().unwrap().len() >= 30
    })
    .await;
    assert!(sent_before);
    let s = stats(addr).await;
    assert_eq!(s["cameras"][0]["recording"]["state"], "armed", "{s:#}");
    camera.person.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(3)).await;
    camera.person.store(false, Ordering::SeqCst);
    // Well past the post-roll, and past a few more detector runs on the empty room.
    let runs = stats(addr).await["cameras"][0]["detector"]["runs"]
        .as_u64()
        .unwrap();
    tokio::time::sleep(POST + Duration::from_secs(2)).await;
    assert!(
        wait_until(Duration::from_secs(60), || async {
            stats(addr).await["cameras"][0]["detector"]["runs"].as_u64() >= Some(runs + 3)
        })
        .await,
        "the detector stopped"
    );
    let recorder = relay.state().recording.clone().unwrap();
    tokio::task::spawn_blocking(move || recorder.recorder("yard").unwrap().flush())
        .await
        .unwrap();
    let sent = camera.sent.lock().unwrap().clone();
    let (first, last) = (sent[0].0, sent.last().unwrap().0);
    let person_times: BTreeSet<i64> = sent.iter().filter(|f| f.1).map(|f| f.0).collect();
    assert!(
        person_times.len() >= 20,
        "{} person frames",
        person_times.len()
    );
    let range = format!(
        "start={}&end={}",
        first as f64 / 1e6 - 1.0,
        last as f64 / 1e6 + 1.0
    );

    // /api/recordings: the detections of a person, with their labels, on person frames.
    let (status, _, body) = get(addr, &format!("/api/recordings?camera=yard&{range}")).await;
    assert_eq!(status, 200, "{body:?}");
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let events = json["events"].as_array().unwrap();
    let matches: BTreeSet<i64> = events
        .iter()
        .filter(|e| {
            e["labels"]
                .as_array()
                .unwrap()
                .iter()
                .any(|l| l == "person")
        })
        .map(|e| e["time_us"].as_i64().unwrap())
        .collect();
    assert!(!matches.is_empty(), "no person detected: {json:#}");
    assert!(
        matches.is_subset(&person_times),
        "a person detected on an empty frame: {matches:?}"
    );
    let (t_first, t_last) = (*matches.first().unwrap(), *matches.last().unwrap());
    let (pre, post) = (PRE.as_micros() as i64, POST.as_micros() as i64);

    // The recorded frames, with their capture times, through the MJPEG export.
    let mut export = MjpegViewer::connect(
        addr,
        &format!("/cams/yard/recording.mp4?{range}&format=mjpeg"),
    )
    .await
    .unwrap();
    assert_eq!(export.status, 200);
    let mut recorded = Vec::new();
    while let Some(part) = export.next_within(Duration::from_secs(5)).await {
        let ts = part.timestamp.unwrap();
        recorded.push(ts.secs as i64 * 1_000_000 + i64::from(ts.micros));
    }
    let recorded_set: BTreeSet<i64> = recorded.iter().copied().collect();
    assert_eq!(recorded.len(), recorded_set.len(), "a frame recorded twice");
    // Nothing outside [first detection - pre, last detection + post].
    assert!(
        recorded
            .iter()
            .all(|t| *t >= t_first - pre && *t <= t_last + post),
        "recorded outside the clip: {recorded:?} vs {t_first}..{t_last}"
    );
    // And everything the recorder's rule keeps, frame for frame.
    let times: Vec<i64> = sent.iter().map(|f| f.0).collect();
    let want = expected_frames(&times, &matches);
    assert_eq!(recorded_set, want, "matches at {matches:?}");
    // The clip reaches from pre before the first detection to post after the last (within a
    // frame period: frames are 100 ms apart).
    assert!(
        *recorded.first().unwrap() - (t_first - pre) < STEP_US,
        "{recorded:?}"
    );
    assert!(
        (t_last + post) - *recorded.last().unwrap() < STEP_US,
        "{recorded:?}"
    );
    // The spans say the same: they start and end with the clip(s).
    let spans = json["spans"].as_array().unwrap();
    assert!(!spans.is_empty(), "{json:#}");
    let frames: u64 = spans.iter().map(|s| s["frames"].as_u64().unwrap()).sum();
    assert_eq!(frames, recorded.len() as u64, "{json:#}");
    assert_eq!(spans[0]["start_us"].as_i64().unwrap(), recorded[0]);
    let end = spans.last().unwrap()["end_us"].as_i64().unwrap();
    assert!(
        end > *recorded.last().unwrap() && end <= recorded.last().unwrap() + STEP_US + 1,
        "{json:#}"
    );
    // Frames were sent before and after the clip, and none of them was recorded.
    assert!(times.iter().any(|t| *t < t_first - pre - STEP_US));
    assert!(times.iter().any(|t| *t > t_last + post + STEP_US));
    let st = stats(addr).await;
    assert_eq!(
        st["cameras"][0]["recording"]["frames_written"].as_u64(),
        Some(recorded.len() as u64),
        "{st:#}"
    );
    eprintln!(
        "{} frames sent, {} with a person, {} detections of a person, {} frames recorded in {} span(s)",
        sent.len(),
        person_times.len(),
        matches.len(),
        recorded.len(),
        spans.len()
    );
    relay.shutdown().await;
    camera.task.abort();
}
