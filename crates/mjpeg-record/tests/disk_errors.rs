//! Disk errors: the recorder reports them in its stats and resumes when the disk works again;
//! `try_record` keeps returning at once throughout.

mod common;
use common::*;
use mjpeg_record::{Archive, RecordConfig, RecordMode, RecordState};
use std::time::{Duration, Instant};

fn wait_for(mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn unwritable_dir_then_resumes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("rec");
    let archive = Archive::open(RecordConfig::new(&root)).expect("open");
    // Root ignores permissions, so make the camera's directory impossible another way: a
    // plain file where the directory should be (ENOTDIR). Unprivileged, a read-only dir too.
    let cam_dir = root.join("door");
    std::fs::write(&cam_dir, b"in the way").expect("file");
    let rec = archive
        .recorder("door", RecordMode::CONTINUOUS)
        .expect("recorder");
    let mut i = 0;
    assert!(rec.try_record(frame(i, T0)));
    rec.flush();
    let st = rec.stats();
    assert_eq!(st.state, RecordState::Error);
    assert!(
        st.error.as_deref().is_some_and(|e| e.contains("door")),
        "{st:?}"
    );
    assert_eq!(st.frames_written, 0);
    assert!(st.errors >= 1 && st.frames_lost_to_errors >= 1);
    // The disk works again: recording resumes within about a second.
    std::fs::remove_file(&cam_dir).expect("rm");
    wait_for(|| {
        i += 1;
        rec.try_record(frame(i, T0));
        rec.flush();
        rec.stats().frames_written > 0
    });
    let st = rec.stats();
    assert_eq!(st.state, RecordState::Recording);
    assert_eq!(st.error, None);
}

#[test]
fn read_only_dir_when_unprivileged() {
    // SAFETY-free check of the effective uid through the environment is not reliable; use the
    // observable behaviour: if a 0o555 directory still accepts a file we are privileged.
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("rec");
    std::fs::create_dir_all(&root).expect("mkdir");
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o555)).expect("chmod");
    let privileged = std::fs::write(root.join("probe"), b"x").is_ok();
    let _ = std::fs::remove_file(root.join("probe"));
    let archive = Archive::open(RecordConfig::new(&root)).expect("open");
    let rec = archive
        .recorder("door", RecordMode::CONTINUOUS)
        .expect("recorder");
    assert!(rec.try_record(frame(0, T0)));
    rec.flush();
    let st = rec.stats();
    if privileged {
        // Running as root: permissions do not apply (the ENOTDIR test covers the error path).
        assert_eq!(st.frames_written, 1);
    } else {
        assert_eq!(st.state, RecordState::Error);
        assert!(
            st.error
                .as_deref()
                .is_some_and(|e| e.contains("Permission denied")),
            "{st:?}"
        );
    }
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

#[test]
fn directory_removed_while_recording() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("rec");
    let mut cfg = RecordConfig::new(&root);
    cfg.sync_interval = Duration::from_millis(50);
    let archive = Archive::open(cfg).expect("open");
    let rec = archive
        .recorder("door", RecordMode::CONTINUOUS)
        .expect("recorder");
    let mut i = 0;
    for _ in 0..5 {
        assert!(rec.try_record(frame(i, T0)));
        i += 1;
    }
    rec.flush();
    std::fs::remove_dir_all(&root).expect("rm -r");
    // The writer notices at its next sync, reports it, and opens a new segment.
    wait_for(|| rec.stats().errors > 0);
    wait_for(|| {
        rec.try_record(frame(i, T0));
        i += 1;
        rec.flush();
        rec.stats().state == RecordState::Recording && mp4s(&root).len() == 1
    });
    rec.flush();
    let segs = mp4s(&root);
    let n = ffprobe_frames(&segs[0]);
    assert!(n >= 1, "new segment has the frames after the removal");
}
