//! A full disk and a read-only filesystem, on a real small tmpfs (see `common/small_fs.rs`:
//! mounted directly as root, under `unshare -rm` otherwise; made read-only as a mount with
//! `remount,bind,ro`): the error is in the stats and
//! logged once per episode, `try_record` keeps taking frames at once, recording resumes by
//! itself when space comes back or the filesystem is writable again, and no torn segment is
//! left behind.

mod common;
use common::small_fs::{mount, with_tmpfs};
use common::*;
use mjpeg_record::layout::SegmentPaths;
use mjpeg_record::{recovery, Archive, RecordConfig, RecordMode, RecordState, Recorder};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Everything logged in this test binary (one global subscriber).
fn logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let b2 = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || Capture(b2.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("subscriber");
        buf
    })
    .clone()
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("logs").extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Log lines mentioning `camera` and `what`.
fn logged(camera: &str, what: &str) -> usize {
    let logs = logs();
    let text = String::from_utf8_lossy(&logs.lock().expect("logs")).into_owned();
    text.lines()
        .filter(|l| l.contains(what) && l.contains(&format!("camera={camera}")))
        .count()
}

fn wait_for(mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Queues one frame: `try_record` takes it at once whatever the disk does.
fn record(rec: &Recorder, id: u64, t0: i64) {
    let started = Instant::now();
    assert!(rec.try_record(frame(id, t0)), "queue refused frame {id}");
    // Not a timing assertion on the disk: a non-blocking call returns long before this.
    assert!(started.elapsed() < Duration::from_secs(1));
    rec.flush();
}

/// Every segment under `root` is whole (its index ends where its `.mp4` does) and ffprobe reads
/// as many frames as its index lists; returns the frames in all.
fn check_no_torn_segment(root: &Path) -> u64 {
    let mut total = 0;
    for mp4 in mp4s(root) {
        let paths = SegmentPaths {
            idx: mp4.with_extension("idx"),
            events: mp4.with_extension("events.jsonl"),
            mp4: mp4.clone(),
        };
        let len = std::fs::metadata(&mp4).expect("stat").len();
        assert!(
            !recovery::needs_repair(&paths, len),
            "{} is torn",
            mp4.display()
        );
        let n = mjpeg_record::index::read_all(&paths.idx)
            .expect("index")
            .len() as u64;
        assert_eq!(ffprobe_frames(&mp4), n, "{}", mp4.display());
        total += n;
    }
    total
}

#[test]
fn disk_full_is_reported_once_and_recording_resumes() {
    with_tmpfs(
        "disk_full_is_reported_once_and_recording_resumes",
        "2m",
        |dir| {
            let _ = logs();
            // Ballast leaves room for a few dozen VGA frames.
            let ballast = dir.join("ballast");
            std::fs::write(&ballast, vec![1u8; 1_400_000]).expect("ballast");
            let root = dir.join("rec");
            let mut cfg = RecordConfig::new(&root);
            cfg.sync_interval = Duration::from_millis(100);
            let archive = Archive::open(cfg).expect("open");
            let rec = archive
                .recorder("full", RecordMode::CONTINUOUS)
                .expect("recorder");
            let mut i = 0;
            while rec.stats().state != RecordState::Error {
                assert!(i < 200, "the disk never filled: {:?}", rec.stats());
                record(&rec, i, T0);
                i += 1;
            }
            let st = rec.stats();
            assert!(
                st.error
                    .as_deref()
                    .is_some_and(|e| e.contains("No space left on device")),
                "{st:?}"
            );
            assert!(st.errors >= 1 && st.frames_written > 5, "{st:?}");
            let written = st.frames_written;
            // A burst of frames while full: all taken, none written, one log line.
            for _ in 0..30 {
                record(&rec, i, T0);
                i += 1;
            }
            let st = rec.stats();
            assert_eq!(st.state, RecordState::Error);
            assert_eq!(st.frames_written, written);
            assert!(st.frames_lost_to_errors >= 30, "{st:?}");
            assert_eq!(logged("full", "recording failed"), 1);
            // Space comes back; the camera has moved on to the next minute's segment meanwhile.
            std::fs::remove_file(&ballast).expect("rm ballast");
            let t1 = T0 + 60_000_000;
            wait_for(|| {
                record(&rec, i, t1);
                i += 1;
                rec.stats().state == RecordState::Recording
            });
            for _ in 0..10 {
                record(&rec, i, t1);
                i += 1;
            }
            let st = rec.stats();
            assert_eq!(st.error, None);
            assert_eq!(logged("full", "recording resumed"), 1);
            assert_eq!(logged("full", "recording failed"), 1);
            drop(rec);
            assert_eq!(check_no_torn_segment(&root), st.frames_written);
            assert_eq!(mp4s(&root).len(), 2);
        },
    );
}

#[test]
fn read_only_filesystem_is_reported_and_recording_resumes_when_writable() {
    with_tmpfs(
        "read_only_filesystem_is_reported_and_recording_resumes_when_writable",
        "4m",
        |dir| {
            let _ = logs();
            let root = dir.join("rec");
            std::fs::create_dir(&root).expect("mkdir");
            let d = dir.to_string_lossy();
            mount(&["-o", "remount,bind,ro", &d]).expect("remount read-only");
            let archive = Archive::open(RecordConfig::new(&root)).expect("open");
            let rec = archive
                .recorder("rofs", RecordMode::CONTINUOUS)
                .expect("recorder");
            let mut i = 0;
            for _ in 0..20 {
                record(&rec, i, T0);
                i += 1;
            }
            let st = rec.stats();
            assert_eq!(st.state, RecordState::Error);
            assert!(
                st.error
                    .as_deref()
                    .is_some_and(|e| e.contains("Read-only file system")),
                "{st:?}"
            );
            assert_eq!(st.frames_written, 0);
            assert_eq!(st.frames_lost_to_errors, 20);
            assert_eq!(logged("rofs", "recording failed"), 1);
            mount(&["-o", "remount,bind,rw", &d]).expect("remount read-write");
            wait_for(|| {
                record(&rec, i, T0);
                i += 1;
                rec.stats().state == RecordState::Recording
            });
            for _ in 0..10 {
                record(&rec, i, T0);
                i += 1;
            }
            let st = rec.stats();
            assert_eq!(logged("rofs", "recording resumed"), 1);
            drop(rec);
            assert_eq!(check_no_torn_segment(&root), st.frames_written);
            assert!(st.frames_written >= 11, "{st:?}");
        },
    );
}
