//! The in-memory catalog of every camera's segments, built once at start-up from a directory
//! walk (names and sizes only: no file is opened) and kept up to date by the recorders and
//! retention. Queries read the index files of the segments in their range.

use crate::error::{Error, Result};
use crate::index::IndexRecord;
use crate::layout::{slot_from_parts, SegmentPaths};
use crate::time::{format_time, Micros};
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// One segment as the catalog knows it.
#[derive(Debug, Clone, Default)]
pub(crate) struct SegmentEntry {
    /// Bytes on disk: `.mp4`, `.idx` and events file together.
    pub bytes: u64,
    /// Whether a recorder has it open (retention never removes it).
    pub open: bool,
    /// The segment's spans, computed on the first query once it is closed.
    pub spans: Option<Arc<Vec<Span>>>,
    /// Length of the `.mp4` when the directory was scanned at start-up (0 if it had none).
    pub scanned_mp4_len: u64,
}

/// Every camera's segments, by camera then segment start (Unix µs).
#[derive(Debug, Default)]
pub(crate) struct Catalog {
    pub cams: BTreeMap<String, BTreeMap<Micros, SegmentEntry>>,
}

impl Catalog {
    /// Walks `root/<camera>/<day>/<hour>/<stem>.mp4`. Unknown files are ignored.
    pub fn scan(root: &Path) -> Result<Catalog> {
        let mut cat = Catalog::default();
        let cams = match std::fs::read_dir(root) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(cat),
            Err(e) => return Err(Error::io("list", root, e)),
        };
        for cam in cams.flatten() {
            let Ok(cam_name) = cam.file_name().into_string() else {
                continue;
            };
            let segs = cat.cams.entry(cam_name).or_default();
            for day in dirs(&cam.path()) {
                for hour in dirs(&day.path()) {
                    let (Some(d), Some(h)) = (name(&day), name(&hour)) else {
                        continue;
                    };
                    let Ok(files) = std::fs::read_dir(hour.path()) else {
                        continue;
                    };
                    for f in files.flatten() {
                        let Some(fname) = name(&f) else { continue };
                        let (stem, ext) = match fname.split_once('.') {
                            Some(p) => p,
                            None => continue,
                        };
                        let Some(slot) = slot_from_parts(&d, &h, stem) else {
                            continue;
                        };
                        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
                        if matches!(ext, "mp4" | "idx" | "events.jsonl") {
                            let e = segs.entry(slot).or_default();
                            e.bytes += len;
                            if ext == "mp4" {
                                e.scanned_mp4_len = len;
                            }
                        }
                    }
                }
            }
        }
        Ok(cat)
    }

    /// Total bytes of every segment.
    pub fn total_bytes(&self) -> u64 {
        self.cams
            .values()
            .flat_map(|s| s.values())
            .map(|e| e.bytes)
            .sum()
    }
}

fn dirs(p: &Path) -> Vec<std::fs::DirEntry> {
    std::fs::read_dir(p)
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .collect()
        })
        .unwrap_or_default()
}

fn name(e: &std::fs::DirEntry) -> Option<String> {
    e.file_name().into_string().ok()
}

/// A stretch of time recorded without a gap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Capture time of the first frame, Unix µs.
    pub start_us: Micros,
    /// Capture time of the last frame plus one frame period, Unix µs.
    pub end_us: Micros,
    /// Frames in the span.
    pub frames: u64,
    /// JPEG bytes in the span.
    pub bytes: u64,
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Span", 6)?;
        st.serialize_field("start", &format_time(self.start_us))?;
        st.serialize_field("end", &format_time(self.end_us))?;
        st.serialize_field("start_us", &self.start_us)?;
        st.serialize_field("end_us", &self.end_us)?;
        st.serialize_field("frames", &self.frames)?;
        st.serialize_field("bytes", &self.bytes)?;
        st.end()
    }
}

/// One frame's detections, from a segment's events file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventEntry {
    /// Capture time, Unix µs.
    pub time_us: Micros,
    /// The frame id.
    pub frame_id: u64,
    /// What was detected.
    pub labels: Vec<String>,
}

impl Serialize for EventEntry {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("EventEntry", 4)?;
        st.serialize_field("time", &format_time(self.time_us))?;
        st.serialize_field("time_us", &self.time_us)?;
        st.serialize_field("frame_id", &self.frame_id)?;
        st.serialize_field("labels", &self.labels)?;
        st.end()
    }
}

/// The gap beyond which two frames belong to different spans: 1 s, or two frame periods
/// when frames come slower than 2 per second.
pub(crate) fn gap_limit(period_us: i64) -> i64 {
    (2 * period_us).max(1_000_000)
}

/// Cuts a segment's records into spans.
pub(crate) fn spans_of(records: &[IndexRecord]) -> Vec<Span> {
    let mut out: Vec<Span> = Vec::new();
    let period = typical_period(records);
    let mut last = i64::MIN;
    for r in records {
        match out.last_mut() {
            Some(s) if r.capture_us >= last && r.capture_us - last <= gap_limit(period) => {
                s.end_us = r.capture_us + period;
                s.frames += 1;
                s.bytes += u64::from(r.size);
            }
            _ => out.push(Span {
                start_us: r.capture_us,
                end_us: r.capture_us + period,
                frames: 1,
                bytes: u64::from(r.size),
            }),
        }
        last = r.capture_us;
    }
    out
}

/// The median gap between frames (1/30 s with fewer than two frames).
pub(crate) fn typical_period(records: &[IndexRecord]) -> i64 {
    let mut gaps: Vec<i64> = records
        .windows(2)
        .map(|w| w[1].capture_us - w[0].capture_us)
        .filter(|g| *g > 0)
        .collect();
    if gaps.is_empty() {
        return 33_333;
    }
    let mid = gaps.len() / 2;
    *gaps.select_nth_unstable(mid).1
}

/// Merges spans of consecutive segments that touch (gap within [`gap_limit`]).
pub(crate) fn merge(spans: impl IntoIterator<Item = Span>) -> Vec<Span> {
    let mut out: Vec<Span> = Vec::new();
    for s in spans {
        match out.last_mut() {
            Some(m) if s.start_us >= m.start_us && s.start_us - m.end_us <= gap_limit(0) => {
                m.end_us = m.end_us.max(s.end_us);
                m.frames += s.frames;
                m.bytes += s.bytes;
            }
            _ => out.push(s),
        }
    }
    out
}

/// Reads a segment's index records, extended by the frames written since the index was last
/// written (empty when it has none yet).
pub(crate) fn read_index(paths: &SegmentPaths) -> Result<Vec<IndexRecord>> {
    crate::recovery::read_index(paths)
}

/// Reads a segment's events file, keeping the entries in `[start, end)`.
pub(crate) fn read_events(paths: &SegmentPaths, start: Micros, end: Micros) -> Vec<EventEntry> {
    #[derive(serde::Deserialize)]
    struct Line {
        t: i64,
        id: u64,
        labels: Vec<String>,
    }
    let Ok(data) = std::fs::read(&paths.events) else {
        return Vec::new();
    };
    data.split(|b| *b == b'\n')
        .filter_map(|l| serde_json::from_slice::<Line>(l).ok())
        .filter(|l| l.t >= start && l.t < end)
        .map(|l| EventEntry {
            time_us: l.t,
            frame_id: l.id,
            labels: l.labels,
        })
        .collect()
}
