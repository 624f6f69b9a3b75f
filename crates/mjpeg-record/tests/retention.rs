//! Retention by age and by size, the open segment never removed, empty directories gone;
//! and the start-up catalog of many segments is fast.

mod common;
use common::*;
use mjpeg_record::{Archive, RecordConfig, RecordMode};
use std::time::{Duration, Instant};

fn record_minutes(archive: &Archive, minutes: i64) {
    let rec = archive
        .recorder("door", RecordMode::CONTINUOUS)
        .expect("recorder");
    for m in 0..minutes {
        for i in 0..3 {
            assert!(rec.try_record(frame(i, T0 + m * 60_000_000)));
            rec.flush();
        }
    }
    drop(rec);
}

#[test]
fn by_age_and_by_size() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = RecordConfig::new(dir.path());
    cfg.keep = Some(Duration::from_secs(3 * 60));
    cfg.retention_interval = Duration::from_secs(3600);
    let archive = Archive::open(cfg.clone()).expect("open");
    record_minutes(&archive, 6); // minutes 30..35 of hour 20, and minute 90 -> next hour
    assert_eq!(mp4s(dir.path()).len(), 6);
    // At 20:36: segments that ended 3 min ago or earlier (20:30..20:32) go.
    let out = archive.enforce_retention_at(T0 + 6 * 60_000_000);
    assert_eq!(out.segments, 3);
    let left: Vec<String> = mp4s(dir.path())
        .iter()
        .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["33.mp4", "34.mp4", "35.mp4"]);
    drop(archive);

    // By size: keep under ~2 segments' worth.
    let seg_bytes = std::fs::metadata(&mp4s(dir.path())[0]).expect("m").len();
    cfg.keep = None;
    cfg.max_size = Some(2 * seg_bytes + 2 * (16 + 3 * 40) + 10);
    let archive = Archive::open(cfg).expect("reopen");
    let out = archive.enforce_retention_at(T0);
    assert_eq!(out.segments, 1);
    assert_eq!(mp4s(dir.path()).len(), 2);
    assert!(archive.total_bytes() <= 2 * seg_bytes + 2 * (16 + 3 * 40) + 10);
}

#[test]
fn never_the_open_segment_and_empty_dirs_go() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = RecordConfig::new(dir.path());
    cfg.max_size = Some(1); // everything is too big
    cfg.retention_interval = Duration::from_secs(3600);
    let archive = Archive::open(cfg).expect("open");
    let rec = archive
        .recorder("door", RecordMode::CONTINUOUS)
        .expect("recorder");
    // One frame an hour earlier (its own day/hour dirs), then the open one.
    assert!(rec.try_record(frame(0, T0 - 3_600_000_000)));
    assert!(rec.try_record(frame(1, T0)));
    rec.flush();
    let out = archive.enforce_retention_at(T0);
    assert_eq!(out.segments, 1);
    assert_eq!(mp4s(dir.path()).len(), 1, "the open segment stays");
    assert!(
        !dir.path().join("door/2025-11-29/19").exists(),
        "empty hour dir removed"
    );
    assert!(rec.try_record(frame(2, T0 + PERIOD)));
    rec.flush();
    assert_eq!(rec.stats().frames_written, 3);
}

#[test]
fn startup_catalog_of_a_week_is_fast() {
    // 4 cameras x 2,520 segments (a week at 4-minute segments would be the same count of
    // files as 1.75 days of 60 s ones): 10,080 segments, 20,160 small files. Each is a real
    // segment of one small frame, so start-up checks every index against its segment's
    // length (the torn-segment check) as it would with real recordings.
    let dir = tempfile::tempdir().expect("tempdir");
    let (mp4, idx) = {
        let scratch = tempfile::tempdir().expect("tempdir");
        let p = mjpeg_record::layout::SegmentPaths::new(scratch.path(), "c", T0, 60_000_000);
        let mut w =
            mjpeg_record::segment_writer::SegmentWriter::open(&p, VGA, 33_333).expect("open");
        let mut f = frame(0, T0);
        f.jpeg = f.jpeg.slice(..200);
        w.append(&f).expect("append");
        w.close().expect("close");
        (
            std::fs::read(&p.mp4).expect("mp4"),
            std::fs::read(&p.idx).expect("idx"),
        )
    };
    for cam in 0..4 {
        for s in 0..2520i64 {
            let t = T0 + s * 60_000_000;
            let p = mjpeg_record::layout::SegmentPaths::new(
                dir.path(),
                &format!("cam{cam}"),
                t,
                60_000_000,
            );
            std::fs::create_dir_all(p.dir()).expect("mkdir");
            std::fs::write(&p.mp4, &mp4).expect("w");
            std::fs::write(&p.idx, &idx).expect("w");
        }
    }
    let started = Instant::now();
    let archive = Archive::open(RecordConfig::new(dir.path())).expect("open");
    let took = started.elapsed();
    assert_eq!(archive.cameras().len(), 4);
    assert_eq!(archive.oldest("cam0"), Some(T0));
    eprintln!("catalog of 10,080 segments built in {took:?}");
    assert!(took < Duration::from_secs(2), "start-up took {took:?}");
    let started = Instant::now();
    let out = archive.enforce_retention_at(T0 + 2520 * 60_000_000 + 86_400_000_000);
    assert_eq!(out.segments, 0, "no limits configured");
    assert!(started.elapsed() < Duration::from_millis(500));
}
