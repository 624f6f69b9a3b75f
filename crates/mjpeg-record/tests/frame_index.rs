//! Reading frames back one at a time (replay): the index of a range and single JPEG reads.

mod common;
use common::*;
use mjpeg_record::{Archive, RecordConfig, RecordMode};

#[test]
fn frame_index_lists_the_range_and_reads_each_jpeg_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = Archive::open(RecordConfig::new(dir.path())).expect("open");
    let rec = archive
        .recorder("door", RecordMode::CONTINUOUS)
        .expect("recorder");
    // 60 frames from 1 s before a minute boundary: two segments.
    let start = T0 - 1_000_000;
    let frames: Vec<_> = (0..60).map(|i| frame(i, start)).collect();
    for f in &frames {
        assert!(rec.try_record(f.clone()));
    }
    rec.flush();
    drop(rec);

    let index = archive
        .frame_index("door", start, start + 60 * PERIOD)
        .expect("index");
    assert_eq!(index.segments.len(), 2);
    assert_eq!(index.frames.len(), 60);
    assert_eq!(
        index.spans,
        archive
            .spans("door", start, start + 60 * PERIOD)
            .expect("spans")
    );
    for (f, want) in index.frames.iter().zip(&frames) {
        assert_eq!(f.record.frame_id, want.frame_id);
        assert_eq!(f.record.capture_us, want.capture_us);
        assert_eq!(index.read_jpeg(f).expect("read"), want.jpeg);
        let seg = &index.segments[f.segment as usize];
        assert_eq!(
            seg.read_jpeg(f.record.offset, f.record.size).expect("read"),
            want.jpeg
        );
    }
    assert_eq!(index.segments[1].slot_us(), T0);

    // A sub-range, and ranges with nothing in them (an empty index, not an error).
    let part = archive
        .frame_index("door", start + 10 * PERIOD, start + 20 * PERIOD)
        .expect("part");
    let ids: Vec<u64> = part.frames.iter().map(|f| f.record.frame_id).collect();
    assert_eq!(ids, (1010..1020).collect::<Vec<_>>());
    let none = archive
        .frame_index("door", T0 + 3_600_000_000, T0 + 3_700_000_000)
        .expect("empty");
    assert!(none.frames.is_empty() && none.segments.is_empty() && none.spans.is_empty());
    assert!(archive
        .frame_index("yard", start, T0)
        .expect("unknown camera")
        .frames
        .is_empty());
    assert!(archive.frame_index("../x", start, T0).is_err());
}
