//! Shared by the integration tests: two cameras recorded with the real `Recorder`, and
//! viewers that log what they receive.

#![allow(dead_code, missing_docs)]

use std::sync::{Arc, Mutex};

use archive_replay::{ReplayService, ServiceConfig, Subscription};
use broadcast_core::{Config, Policy};
use bytes::Bytes;
use mjpeg_record::{Archive, RecordConfig, RecordFrame, RecordMode};
use tokio::time::Instant;

/// 2025-11-29T20:30:10Z in Unix µs: the recordings start here (inside one 60 s segment).
pub const T0: i64 = 1_764_448_210_000_000;
/// 30 fps.
pub const PERIOD: i64 = 33_333;
/// Frames recorded per camera (4 s).
pub const FRAMES: u64 = 120;
/// The yard camera's clock runs 13 ms after the door's.
pub const YARD_OFFSET: i64 = 13_000;
/// The yard camera's first frame id.
pub const YARD_ID: u64 = 10_000;

const CHELSEA: &[u8] = include_bytes!("../../../mock-camera/assets/chelsea.jpg");

/// A distinct valid JPEG per camera and frame: a COM segment after SOI names it.
pub fn jpeg(camera: &str, id: u64) -> Bytes {
    let text = format!("{camera} {id}");
    let mut v = Vec::with_capacity(CHELSEA.len() + 4 + text.len());
    v.extend_from_slice(&CHELSEA[..2]);
    v.extend_from_slice(&[0xFF, 0xFE]);
    v.extend_from_slice(&((text.len() + 2) as u16).to_be_bytes());
    v.extend_from_slice(text.as_bytes());
    v.extend_from_slice(&CHELSEA[2..]);
    Bytes::from(v)
}

/// Capture time of door frame `k` (id `k`).
pub fn door_time(k: u64) -> i64 {
    T0 + k as i64 * PERIOD
}

/// Capture time of yard frame `k` (id `YARD_ID + k`).
pub fn yard_time(k: u64) -> i64 {
    T0 + YARD_OFFSET + k as i64 * PERIOD
}

/// What was recorded for `camera` with frame id `id`: (capture µs, JPEG).
pub fn recorded(camera: &str, id: u64) -> (i64, Bytes) {
    match camera {
        "door" => (door_time(id), jpeg(camera, id)),
        _ => (yard_time(id - YARD_ID), jpeg(camera, id)),
    }
}

/// A temporary archive with `door` and `yard` recorded for 4 s at 30 fps by the real
/// recorder, the yard's clock 13 ms later.
pub struct Recorded {
    pub dir: tempfile::TempDir,
    pub archive: Arc<Archive>,
}

pub fn record() -> Recorded {
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = Arc::new(Archive::open(RecordConfig::new(dir.path())).expect("archive"));
    for (camera, first_id, offset) in [("door", 0, 0), ("yard", YARD_ID, YARD_OFFSET)] {
        let rec = archive
            .recorder(camera, RecordMode::CONTINUOUS)
            .expect("recorder");
        for k in 0..FRAMES {
            let t = T0 + offset + k as i64 * PERIOD;
            let id = first_id + k;
            assert!(rec.try_record(RecordFrame::new(jpeg(camera, id), id, t, t + 2_000)));
            if k % 30 == 29 {
                rec.flush(); // the queue holds 64
            }
        }
        rec.flush();
        assert_eq!(rec.stats().frames_written, FRAMES);
    }
    Recorded { dir, archive }
}

pub fn service(rec: &Recorded, config: ServiceConfig) -> ReplayService<()> {
    ReplayService::new(rec.archive.clone(), config)
}

/// One frame a viewer received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub camera: String,
    pub id: u64,
    pub capture_us: i64,
    pub head: Bytes,
    pub jpeg: Bytes,
    pub at: Instant,
}

/// A viewer that logs every frame until the broadcast closes (a queue large enough that
/// nothing is dropped for it).
#[derive(Clone, Default)]
pub struct Log(pub Arc<Mutex<Vec<Seen>>>);

impl Log {
    pub fn watch(&self, camera: &str, sub: Subscription<()>) -> tokio::task::JoinHandle<()> {
        let mut rx = sub
            .broadcast
            .subscribe_with(Config::new(4096, Policy::DropNewest));
        let log = self.clone();
        let camera = camera.to_owned();
        tokio::spawn(async move {
            let _guard = sub.guard;
            while let Some(d) = rx.recv().await {
                let f = d.item;
                let t = f.camera_time;
                log.0.lock().expect("log").push(Seen {
                    camera: camera.clone(),
                    id: f.id,
                    capture_us: t.secs as i64 * 1_000_000 + i64::from(t.micros),
                    head: f.head.clone(),
                    jpeg: f.jpeg.clone(),
                    at: Instant::now(),
                });
            }
        })
    }

    pub fn take(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.0.lock().expect("log"))
    }

    /// The ids of the frames the camera showed, in order: a keepalive re-send of the frame
    /// shown (the same id again) is not repeated.
    pub fn ids(&self, camera: &str) -> Vec<u64> {
        let mut ids = self.sent_ids(camera);
        ids.dedup();
        ids
    }

    /// Every frame published for the camera, keepalive re-sends included.
    pub fn sent_ids(&self, camera: &str) -> Vec<u64> {
        self.0
            .lock()
            .expect("log")
            .iter()
            .filter(|s| s.camera == camera)
            .map(|s| s.id)
            .collect()
    }

    pub fn last_id(&self, camera: &str) -> Option<u64> {
        self.ids(camera).last().copied()
    }
}

/// Checks that once every camera has shown a frame, the shown frames' capture times lie
/// within `within_us` of each other after each instant's publications. Returns the checks.
pub fn assert_aligned(log: &[Seen], cameras: &[&str], within_us: i64) -> usize {
    let mut shown: Vec<Option<i64>> = vec![None; cameras.len()];
    let mut checks = 0;
    for (i, s) in log.iter().enumerate() {
        let c = cameras.iter().position(|c| *c == s.camera).expect("camera");
        shown[c] = Some(s.capture_us);
        let next_same_instant = log.get(i + 1).is_some_and(|n| n.at == s.at);
        if next_same_instant || shown.iter().any(Option::is_none) {
            continue;
        }
        let times: Vec<i64> = shown.iter().flatten().copied().collect();
        let spread = times.iter().max().expect("t") - times.iter().min().expect("t");
        assert!(spread < within_us, "tiles {spread} µs apart at {s:?}");
        checks += 1;
    }
    checks
}
