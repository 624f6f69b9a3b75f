//! Recording through the relay onto a disk that fills up (issue #16): a 2 MB tmpfs (mounted
//! directly as root, as in CI; under `unshare -rm` otherwise; skipped with a message only
//! when neither can mount). While the disk is full the camera's recording stats say `error`
//! with the reason, a viewer keeps getting every frame, and once space comes back recording
//! resumes by itself.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use camrelay_suite::*;

const CHILD_DIR: &str = "CAMRELAY_DISK_FULL_DIR";
const CHILD_MARK: &str = "disk-full child running in its own mount namespace";
const TEST: &str = "a_full_disk_stops_the_recording_not_the_viewers_and_recording_resumes";

fn mount_tmpfs(dir: &Path) -> Result<(), String> {
    let out = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=2m,mode=0755", "tmpfs"])
        .arg(dir)
        .output()
        .map_err(|e| format!("cannot run mount: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

struct Unmount(PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_stops_the_recording_not_the_viewers_and_recording_resumes() {
    if let Ok(dir) = std::env::var(CHILD_DIR) {
        println!("{CHILD_MARK}");
        let dir = PathBuf::from(dir);
        mount_tmpfs(&dir).expect("mount tmpfs in the namespace");
        return run(&dir);
    }
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("small");
    std::fs::create_dir(&dir).unwrap();
    match mount_tmpfs(&dir) {
        Ok(()) => {
            let _unmount = Unmount(dir.clone());
            run(&dir);
        }
        Err(why) => {
            let out = Command::new("unshare")
                .args(["-rm", "--"])
                .arg(std::env::current_exe().unwrap())
                .args(["--exact", TEST, "--nocapture", "--test-threads=1"])
                .env(CHILD_DIR, &dir)
                .output();
            let Ok(out) = out else {
                eprintln!("SKIPPED: cannot mount a tmpfs ({why}) nor run unshare");
                return;
            };
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            if !stdout.contains(CHILD_MARK) {
                eprintln!(
                    "SKIPPED: cannot mount a tmpfs ({why}) and `unshare -rm` failed: {}",
                    stderr.trim()
                );
                return;
            }
            assert!(
                out.status.success(),
                "under unshare -rm:\n{stdout}\n{stderr}"
            );
        }
    }
}

fn run(dir: &Path) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(run_async(dir));
}

async fn run_async(dir: &Path) {
    // Ballast leaves room for a few seconds of the mock camera's VGA frames.
    let ballast = dir.join("ballast");
    std::fs::write(&ballast, vec![1u8; 1_500_000]).unwrap();
    let mock = start_mock(MockConfig::default()).await;
    let record_dir = dir.join("rec");
    let relay = start_relay(vec![camera_for("cam", &mock)], move |c| {
        c.detect = false;
        let mut rec = mjpeg_record::RecordConfig::new(record_dir);
        rec.sync_interval = Duration::from_millis(200);
        c.record = Some(rec);
    })
    .await;
    let addr = relay.local_addr();
    let recording = |s: &serde_json::Value| s["cameras"][0]["recording"].clone();

    // The disk fills up: the stats say so, with the reason.
    let full = wait_until(Duration::from_secs(60), || async {
        recording(&stats(addr).await)["state"] == "error"
    })
    .await;
    assert!(full, "{:#}", stats(addr).await);
    let r = recording(&stats(addr).await);
    assert!(
        r["error"]
            .as_str()
            .is_some_and(|e| e.contains("No space left on device")),
        "{r:#}"
    );
    assert!(r["errors"].as_u64() >= Some(1), "{r:#}");
    let written = r["frames_written"].as_u64().unwrap();
    assert!(written > 0, "{r:#}");

    // Live viewers are unaffected: every frame, in order, while recording fails.
    let mut viewer = MjpegViewer::connect(addr, "/cams/cam/stream")
        .await
        .unwrap();
    let frames = viewer.take(30).await;
    let ids: Vec<u64> = frames.iter().map(|f| f.frame_id).collect();
    assert_eq!(ids.len(), 30);
    assert!(
        consecutive(&ids),
        "viewer lost frames while the disk was full: {ids:?}"
    );
    let r = recording(&stats(addr).await);
    assert_eq!(r["state"], "error", "{r:#}");
    assert_eq!(r["frames_written"].as_u64(), Some(written), "{r:#}");
    assert!(r["frames_lost_to_errors"].as_u64() >= Some(30), "{r:#}");

    // Space comes back: recording resumes by itself.
    std::fs::remove_file(&ballast).unwrap();
    let resumed = wait_until(Duration::from_secs(30), || async {
        let r = recording(&stats(addr).await);
        r["state"] == "recording" && r["frames_written"].as_u64() > Some(written + 10)
    })
    .await;
    assert!(resumed, "{:#}", stats(addr).await);
    let r = recording(&stats(addr).await);
    assert!(r["error"].is_null(), "{r:#}");
    let more = viewer.take(5).await;
    assert_eq!(more.len(), 5);
    drop(viewer);
    relay.shutdown().await;
    mock.shutdown().await;
}
