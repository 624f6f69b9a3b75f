//! kill -9 while recording: after recovery the recording is a gapless prefix of the frames the
//! child queued, at most 2 short of it (queue of 1 plus the frame being written), and every
//! segment passes ffprobe.

mod common;
use common::*;
use mjpeg_record::{Archive, RecordConfig, RecordMode};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

const CHILD_ENV: &str = "MJPEG_RECORD_KILL9_CHILD_DIR";

/// The child: records frames forever, printing each accepted frame id. Does nothing as a
/// plain test.
#[test]
fn child_entry() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut cfg = RecordConfig::new(dir);
    cfg.queue = 1;
    let archive = Archive::open(cfg).expect("open");
    let rec = archive
        .recorder("door", RecordMode::CONTINUOUS)
        .expect("recorder");
    let mut out = std::io::stdout().lock();
    // 1 s before a segment boundary so the kill lands after a segment change.
    let start = T0 - 1_000_000;
    for i in 0.. {
        if rec.try_record(frame(i, start)) {
            writeln!(out, "accepted {}", 1000 + i).expect("stdout");
            out.flush().expect("flush");
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[test]
fn kill_9_loses_at_most_two_frames() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(std::env::current_exe().expect("exe"))
        .args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("stdout");
    let mut accepted = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("line");
        if let Some((_, id)) = line.split_once("accepted ") {
            accepted.push(id.parse::<u64>().expect("id"));
            if accepted.len() == 300 {
                child.kill().expect("SIGKILL");
                break;
            }
        }
    }
    child.wait().expect("wait");
    assert_eq!(accepted.len(), 300);

    let archive = Archive::open(RecordConfig::new(dir.path())).expect("reopen and repair");
    let got: Vec<u64> = archive
        .export_mjpeg("door", T0 - 3_600_000_000, T0 + 3_600_000_000)
        .expect("export")
        .map(|f| f.expect("frame").frame_id)
        .collect();
    let n = got.len().min(accepted.len());
    assert_eq!(
        got[..n],
        accepted[..n],
        "a gapless prefix of what was queued"
    );
    assert!(
        got.len() + 2 >= accepted.len(),
        "lost {} frames",
        accepted.len() - got.len()
    );
    let mut total = 0;
    for seg in mp4s(dir.path()) {
        total += ffprobe_frames(&seg);
    }
    assert_eq!(total, got.len() as u64);
}
