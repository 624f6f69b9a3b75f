//! Torn segments: cut at random byte offsets (the `.mp4` and its index independently), the
//! recovery keeps exactly the whole frames before the cut, bytes identical.

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
        w.append(&f).expect("append");
        frames.push(f);
        ends.push(w.mp4_len());
    }
    w.sync().expect("sync");
    (paths, frames, ends)
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
