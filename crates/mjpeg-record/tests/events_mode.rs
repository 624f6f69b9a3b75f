//! Events mode: a clip starts `pre` before the first matching detection (from memory) and
//! ends `post` after the last one; frames with other labels do not trigger it.

mod common;
use common::*;
use mjpeg_record::{Archive, RecordConfig, RecordFrame, RecordMode};
use std::time::Duration;

#[test]
fn pre_and_post_roll() {
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = Archive::open(RecordConfig::new(dir.path())).expect("open");
    let mode = RecordMode::events(&["person"], Duration::from_secs(1), Duration::from_secs(2));
    let rec = archive.recorder("yard", mode).expect("recorder");
    // 10 fps for 20 s: "cat" at 3 s (ignored), "person" at 5 s and 6 s, "person" at 15 s.
    let at = |i: i64| T0 + i * 100_000;
    let mut sent: Vec<RecordFrame> = Vec::new();
    for i in 0..200 {
        let mut f = RecordFrame::new(jpeg(i as u64), i as u64, at(i), at(i) + 1000);
        match i {
            30 => f = f.with_detections(&["cat"], &b"{\"n\":1}"[..]),
            50 | 60 | 150 => {
                f = f.with_detections(&["person", "dog"], &b"{\"boxes\":[[1,2,3,4]]}"[..])
            }
            _ => {}
        }
        sent.push(f.clone());
        assert!(rec.try_record(f));
        if i % 16 == 0 {
            rec.flush(); // keep the queue from filling
        }
    }
    rec.flush();
    let ids: Vec<u64> = archive
        .export_mjpeg("yard", T0, T0 + 60_000_000)
        .expect("export")
        .map(|f| f.expect("frame").frame_id)
        .collect();
    // Clip 1: 4.0 s (1 s pre-roll before 5.0) .. 8.0 s (2 s after 6.0). Clip 2: 14.0 .. 17.0.
    let want: Vec<u64> = (40..=80).chain(140..=170).collect();
    assert_eq!(ids, want);
    let spans = archive.spans("yard", T0, T0 + 60_000_000).expect("spans");
    assert_eq!(spans.len(), 2, "{spans:?}");
    assert_eq!((spans[0].start_us, spans[0].frames), (at(40), 41));
    assert_eq!((spans[1].start_us, spans[1].frames), (at(140), 31));
    let events = archive.events("yard", T0, T0 + 60_000_000).expect("events");
    let times: Vec<i64> = events.iter().map(|e| e.time_us).collect();
    assert_eq!(times, [at(50), at(60), at(150)]);
    assert_eq!(events[0].labels, ["person", "dog"]);
    // The detector's JSON is stored as-is.
    let seg = mp4s(dir.path())[0].with_extension("events.jsonl");
    let text = std::fs::read_to_string(seg).expect("events file");
    assert!(text.contains("\"det\":{\"boxes\":[[1,2,3,4]]}"), "{text}");
    // Both clips live in one segment file, which ffprobe reads whole.
    assert_eq!(mp4s(dir.path()).len(), 1);
    assert_eq!(ffprobe_frames(&mp4s(dir.path())[0]), want.len() as u64);
}
