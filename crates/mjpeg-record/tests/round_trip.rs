//! Frames in = frames out: segments on disk, ffprobe/ffmpeg on every segment and export,
//! queries and exports over ranges.

mod common;
use common::*;
use mjpeg_record::{Archive, RecordConfig, RecordMode};

#[test]
fn segments_and_exports_round_trip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = Archive::open(RecordConfig::new(dir.path())).expect("open");
    let rec = archive
        .recorder("door", RecordMode::CONTINUOUS)
        .expect("recorder");
    // 90 frames from 1.5 s before a minute boundary: two segments.
    let start = T0 - 1_500_000;
    let frames: Vec<_> = (0..90).map(|i| frame(i, start)).collect();
    for (i, f) in frames.iter().enumerate() {
        assert!(rec.try_record(f.clone()));
        if i % 30 == 29 {
            rec.flush(); // the queue holds 64
        }
    }
    rec.flush();
    let st = rec.stats();
    assert_eq!(st.frames_written, 90);
    assert_eq!(st.frames_dropped, 0);
    assert_eq!(st.segments_opened, 2);
    drop(rec);

    let segs = mp4s(dir.path());
    let names: Vec<String> = segs
        .iter()
        .map(|p| {
            p.strip_prefix(dir.path())
                .expect("under")
                .display()
                .to_string()
        })
        .collect();
    assert_eq!(
        names,
        ["door/2025-11-29/20/29.mp4", "door/2025-11-29/20/30.mp4"]
    );
    let in_first = frames.iter().filter(|f| f.capture_us < T0).count();
    assert_eq!(in_first, 46);
    let mut concat = Vec::new();
    for (seg, n) in segs.iter().zip([in_first, 90 - in_first]) {
        assert_eq!(ffprobe_frames(seg), n as u64, "{}", seg.display());
        concat.extend(ffmpeg_copy_mjpeg(seg));
    }
    let want: Vec<u8> = frames.iter().flat_map(|f| f.jpeg.iter().copied()).collect();
    assert!(
        concat == want,
        "ffmpeg -c copy gives the original JPEG bytes"
    );

    // Spans: one, across the segment boundary.
    let spans = archive
        .spans("door", start - 10_000_000, start + 10_000_000)
        .expect("spans");
    assert_eq!(spans.len(), 1, "{spans:?}");
    assert_eq!(spans[0].frames, 90);
    assert_eq!(spans[0].start_us, start);
    let json = serde_json::to_string(
        &archive
            .recordings("door", start, start + 5_000_000)
            .expect("rec"),
    )
    .expect("json");
    assert!(
        json.contains("\"start\":\"2025-11-29T20:29:58.500000Z\""),
        "{json}"
    );

    // MJPEG export of a range inside both segments: ids, times and bytes kept.
    let (a, b) = (start + 1_000_000, start + 2_000_000);
    let got: Vec<_> = archive
        .export_mjpeg("door", a, b)
        .expect("export")
        .collect::<Result<_, _>>()
        .expect("read");
    let want: Vec<_> = frames
        .iter()
        .filter(|f| f.capture_us >= a && f.capture_us < b)
        .collect();
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(
            (g.frame_id, g.capture_us, g.receive_us),
            (w.frame_id, w.capture_us, w.receive_us)
        );
        assert_eq!(g.jpeg, w.jpeg);
    }

    // MP4 export: whole, and assembled from odd-sized ranges, identical; ffprobe reads it.
    let mp4 = archive.export_mp4("door", a, b).expect("export mp4");
    assert_eq!(mp4.frames(), want.len());
    let whole = mp4.read_range(0..mp4.len()).expect("read");
    assert_eq!(whole.len() as u64, mp4.len());
    let mut pieces = Vec::new();
    for c in mp4.chunks(0..mp4.len(), 7_001) {
        pieces.extend_from_slice(&c.expect("chunk"));
    }
    assert!(pieces == whole[..]);
    let mid = mp4.read_range(1000..50_000).expect("range");
    assert!(mid[..] == whole[1000..50_000]);
    assert!(
        mp4.read_range(mp4.len() - 10..mp4.len() + 100)
            .expect("tail")[..]
            == whole[whole.len() - 10..]
    );
    let path = dir.path().join("export.mp4");
    std::fs::write(&path, &whole).expect("write");
    assert_eq!(ffprobe_frames(&path), want.len() as u64);
    let copied = ffmpeg_copy_mjpeg(&path);
    let want_bytes: Vec<u8> = want.iter().flat_map(|f| f.jpeg.iter().copied()).collect();
    assert!(copied == want_bytes);
    // The same range gives the same ETag; another range another.
    assert_eq!(
        archive.export_mp4("door", a, b).expect("again").etag(),
        mp4.etag()
    );
    assert_ne!(
        archive.export_mp4("door", a, b + 1).expect("other").etag(),
        mp4.etag()
    );
    // Nothing recorded: NotFound.
    let err = archive
        .export_mp4("door", T0 + 3_600_000_000, T0 + 3_601_000_000)
        .expect_err("empty");
    assert_eq!(err.kind(), mjpeg_record::ErrorKind::NotFound);
}

#[test]
fn restart_appends_to_the_same_segment() {
    let dir = tempfile::tempdir().expect("tempdir");
    for round in 0..2u64 {
        let archive = Archive::open(RecordConfig::new(dir.path())).expect("open");
        let rec = archive
            .recorder("door", RecordMode::CONTINUOUS)
            .expect("recorder");
        for i in 0..10 {
            assert!(rec.try_record(frame(round * 10 + i, T0)));
        }
        rec.flush();
    }
    let segs = mp4s(dir.path());
    assert_eq!(segs.len(), 1);
    assert_eq!(ffprobe_frames(&segs[0]), 20);
    let archive = Archive::open(RecordConfig::new(dir.path())).expect("open");
    let ids: Vec<u64> = archive
        .export_mjpeg("door", T0, T0 + 60_000_000)
        .expect("export")
        .map(|f| f.expect("frame").frame_id)
        .collect();
    assert_eq!(ids, (1000..1020).collect::<Vec<_>>());
}
