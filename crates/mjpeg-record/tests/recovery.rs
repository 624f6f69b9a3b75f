//! Torn segments: cut at random byte offsets (the `.mp4` and its index independently), the
//! recovery keeps exactly the whole frames before the cut, bytes identical, and the detections
//! flag of every frame. Readers see the frames whose index records are not written yet, and
//! start-up repairs every torn segment, not just the newest.

mod common;
use common::*;
use mjpeg_record::layout::SegmentPaths;
use mjpeg_record::segment_writer::SegmentWriter;
use mjpeg_record::{index, recovery, RecordFrame};
use proptest::prelude::*;
use std::os::unix::fs::FileExt;

/// Writes `n` small frames (sizes vary) into one segment; returns its paths and the frames.
fn write_segment(dir: &std::path::Path, n: u64) -> (SegmentPaths, Vec<RecordFrame>, Vec<u64>) {
    let paths = SegmentPaths::new(dir, "cam", T0, 60_000_000);
    let mut frames = Vec::new();
    let mut ends = Vec::new(); // .mp4 length after each frame
    let mut w = SegmentWriter::open(&paths, VGA, 33_333).expect("open");
    for i in 0..n {
        let mut f = frame(i, T0);
        // Small JPEG-like payloads keep the property test fast; sizes differ per frame.
        f.jpeg = f.jpeg.slice(..200 + (i as usize * 37) % 300);
        if has_detections(i) {
            f = f.with_detections(&["person"], &b"{}"[..]);
        }
        w.append(&f).expect("append");
        frames.push(f);
        ends.push(w.mp4_len());
    }
    w.close().expect("close");
    (paths, frames, ends)
}

/// Every third frame has detections (a line in the events file, a flag in the index).
fn has_detections(i: u64) -> bool {
    i % 3 == 1
}

fn check_recovered(paths: &SegmentPaths, frames: &[RecordFrame], keep: usize) {
    let rec = recovery::recover(paths).expect("recover");
    assert_eq!(rec.records.len(), keep);
    let idx = index::read_all(&paths.idx).expect("index");
    assert_eq!(idx, rec.records, "index rebuilt to match");
    let mp4 = std::fs::File::open(&paths.mp4).expect("open");
    assert_eq!(mp4.metadata().expect("meta").len(), rec.mp4_len);
    for (r, f) in rec.records.iter().zip(frames) {
        assert_eq!(
            (r.frame_id, r.capture_us, r.receive_us),
            (f.frame_id, f.capture_us, f.receive_us)
        );
        assert_eq!(r.flags, u32::from(f.detections.is_some()), "{r:?}");
        let mut buf = vec![0u8; r.size as usize];
        mp4.read_exact_at(&mut buf, r.offset).expect("read");
        assert!(buf[..] == f.jpeg[..]);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn cut_anywhere(n in 1u64..12, cut_frac in 0.0f64..1.0, idx_cut_frac in 0.0f64..1.2) {
        let dir = tempfile::tempdir().expect("tempdir");
        let (paths, frames, ends) = write_segment(dir.path(), n);
        let len = *ends.last().expect("frames");
        let cut = (len as f64 * cut_frac) as u64;
        let idx_len = std::fs::metadata(&paths.idx).expect("idx").len();
        let idx_cut = ((idx_len as f64 * idx_cut_frac) as u64).min(idx_len);
        std::fs::OpenOptions::new().write(true).open(&paths.mp4).expect("o").set_len(cut).expect("cut");
        std::fs::OpenOptions::new().write(true).open(&paths.idx).expect("o").set_len(idx_cut).expect("cut");
        let keep = ends.iter().filter(|e| **e <= cut).count();
        check_recovered(&paths, &frames, keep);
        // Recovery is idempotent.
        check_recovered(&paths, &frames, keep);
    }
}

#[test]
fn torn_segment_passes_ffprobe_after_repair() {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = SegmentPaths::new(dir.path(), "cam", T0, 60_000_000);
    let mut w = SegmentWriter::open(&paths, VGA, 33_333).expect("open");
    let frames: Vec<_> = (0..10).map(|i| frame(i, T0)).collect();
    for f in &frames {
        w.append(f).expect("append");
    }
    drop(w);
    // Tear the last fragment in the middle of its JPEG, and lose the last 3 index records.
    let len = std::fs::metadata(&paths.mp4).expect("m").len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&paths.mp4)
        .expect("o")
        .set_len(len - 5000)
        .expect("cut");
    let il = std::fs::metadata(&paths.idx).expect("m").len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&paths.idx)
        .expect("o")
        .set_len(il - 3 * 40 - 7)
        .expect("cut");
    let rec = recovery::recover(&paths).expect("recover");
    assert_eq!(rec.records.len(), 9);
    assert!(rec.index_rebuilt);
    assert_eq!(ffprobe_frames(&paths.mp4), 9);
    let want: Vec<u8> = frames[..9]
        .iter()
        .flat_map(|f| f.jpeg.iter().copied())
        .collect();
    assert!(ffmpeg_copy_mjpeg(&paths.mp4) == want);
}

#[test]
fn readers_see_frames_whose_index_records_wait_in_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = SegmentPaths::new(dir.path(), "cam", T0, 60_000_000);
    let mut w = SegmentWriter::open(&paths, VGA, 33_333).expect("open");
    let frames: Vec<_> = (0..5).map(|i| frame(i, T0)).collect();
    for f in &frames[..3] {
        w.append(f).expect("append");
    }
    // Nothing in the index file yet: the records wait for the next sync.
    assert!(index::read_all(&paths.idx).expect("index").is_empty());
    let ids = |recs: Vec<index::IndexRecord>| recs.iter().map(|r| r.frame_id).collect::<Vec<_>>();
    assert_eq!(
        ids(recovery::read_index(&paths).expect("read")),
        [1000, 1001, 1002]
    );
    w.sync().expect("sync");
    assert_eq!(index::read_all(&paths.idx).expect("index").len(), 3);
    for f in &frames[3..] {
        w.append(f).expect("append");
    }
    let all = recovery::read_index(&paths).expect("read");
    assert_eq!(ids(all.clone()), [1000, 1001, 1002, 1003, 1004]);
    let mp4 = std::fs::File::open(&paths.mp4).expect("open");
    for (r, f) in all.iter().zip(&frames) {
        let mut buf = vec![0u8; r.size as usize];
        mp4.read_exact_at(&mut buf, r.offset).expect("read");
        assert!(buf[..] == f.jpeg[..]);
    }
    assert!(recovery::needs_repair(
        &paths,
        mp4.metadata().expect("m").len()
    ));
    w.close().expect("close");
    assert!(!recovery::needs_repair(
        &paths,
        mp4.metadata().expect("m").len()
    ));
}

/// Start-up repairs every torn segment: an older segment cut mid-fragment, another whose
/// index lags, one torn before its first frame (removed), and leaves whole ones alone.
#[test]
fn start_up_repairs_every_torn_segment() {
    use mjpeg_record::{Archive, RecordConfig};
    let dir = tempfile::tempdir().expect("tempdir");
    let minute = 60_000_000;
    let seg = |k: i64| SegmentPaths::new(dir.path(), "cam", T0 + k * minute, minute);
    // Segments 0..4 with 10 frames each.
    let mut lens = Vec::new();
    for k in 0..4 {
        let mut w = SegmentWriter::open(&seg(k), VGA, 33_333).expect("open");
        for i in 0..10 {
            w.append(&frame(i, T0 + k * minute)).expect("append");
        }
        lens.push(w.mp4_len());
        w.close().expect("close");
    }
    let set_len = |p: &std::path::Path, len: u64| {
        std::fs::OpenOptions::new()
            .write(true)
            .open(p)
            .expect("open")
            .set_len(len)
            .expect("cut");
    };
    // 0: torn in the middle of its last JPEG (the index still lists 10 frames).
    set_len(&seg(0).mp4, lens[0] - 5000);
    // 1: the index lost its last 4 records (and a torn one).
    set_len(&seg(1).idx, index::HEADER_LEN + 6 * index::RECORD_LEN + 13);
    // 2: whole. 3 (the newest): whole.
    // 4: created but torn before the end of its init segment.
    let p4 = seg(4);
    std::fs::create_dir_all(p4.dir()).expect("mkdir");
    std::fs::write(&p4.mp4, &mjpeg_record::boxes::init_segment(640, 480)[..100]).expect("w");
    std::fs::write(&p4.idx, index::header()).expect("w");
    let before_whole = std::fs::metadata(&seg(2).idx)
        .expect("m")
        .modified()
        .expect("t");

    let archive = Archive::open(RecordConfig::new(dir.path())).expect("open");
    for (k, want) in [(0, 9u64), (1, 10), (2, 10), (3, 10)] {
        let p = seg(k);
        let len = std::fs::metadata(&p.mp4).expect("m").len();
        assert!(!recovery::needs_repair(&p, len), "segment {k} still torn");
        assert_eq!(
            index::read_all(&p.idx).expect("idx").len() as u64,
            want,
            "segment {k}"
        );
        assert_eq!(ffprobe_frames(&p.mp4), want, "segment {k}");
    }
    assert!(
        !p4.mp4.exists() && !p4.idx.exists(),
        "frameless torn segment removed"
    );
    assert_eq!(
        std::fs::metadata(&seg(2).idx)
            .expect("m")
            .modified()
            .expect("t"),
        before_whole,
        "a whole segment is not rewritten"
    );
    let frames: usize = archive
        .export_mjpeg("cam", T0, T0 + 5 * minute)
        .expect("export")
        .count();
    assert_eq!(frames, 39);
}
