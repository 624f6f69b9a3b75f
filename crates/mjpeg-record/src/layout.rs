//! Where segments live on disk: `DIR/<camera>/YYYY-MM-DD/HH/MM.mp4` (UTC), with `MM.idx` and
//! `MM.events.jsonl` beside it. Segments shorter than a minute are named `MM-SS.mp4`.

use crate::error::{Error, Result};
use crate::time::{parse_path_parts, path_parts, Micros};
use std::path::{Path, PathBuf};

/// The three files of one segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentPaths {
    /// The fragmented MP4.
    pub mp4: PathBuf,
    /// The index.
    pub idx: PathBuf,
    /// Detections, one JSON line per frame that had any.
    pub events: PathBuf,
}

impl SegmentPaths {
    /// The paths of the segment starting at `slot_us` (a multiple of the segment length).
    pub fn new(root: &Path, camera: &str, slot_us: Micros, segment_us: i64) -> Self {
        let (day, hour, minute) = path_parts(slot_us);
        let stem = if segment_us < 60_000_000 {
            let secs = slot_us.rem_euclid(60_000_000) / 1_000_000;
            format!("{minute}-{secs:02}")
        } else {
            minute
        };
        let dir = root.join(camera).join(day).join(hour);
        SegmentPaths {
            mp4: dir.join(format!("{stem}.mp4")),
            idx: dir.join(format!("{stem}.idx")),
            events: dir.join(format!("{stem}.events.jsonl")),
        }
    }

    /// The hour directory holding the files.
    pub fn dir(&self) -> &Path {
        self.mp4.parent().unwrap_or(Path::new("."))
    }
}

/// The start of a segment from its path parts (`2026-11-29`, `20`, `31` or `31-20`).
pub fn slot_from_parts(day: &str, hour: &str, stem: &str) -> Option<Micros> {
    let (minute, secs) = match stem.split_once('-') {
        Some((m, s)) if s.len() == 2 => (m, s.parse::<i64>().ok()?),
        Some(_) => return None,
        None => (stem, 0),
    };
    Some(parse_path_parts(day, hour, minute)? + secs * 1_000_000)
}

/// The slot (segment start) a capture time falls in.
pub fn slot_of(capture_us: Micros, segment_us: i64) -> Micros {
    capture_us.div_euclid(segment_us) * segment_us
}

/// Refuses camera names that are not one plain path component.
pub fn check_camera(name: &str) -> Result<()> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\', '\0']) {
        return Err(Error::InvalidInput(format!(
            "camera name {name:?} is not usable as a directory name"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let root = Path::new("/rec");
        let t = 1_764_448_263_000_000; // 2025-11-29T20:31:03Z
        let p = SegmentPaths::new(root, "door", slot_of(t, 60_000_000), 60_000_000);
        assert_eq!(p.mp4, Path::new("/rec/door/2025-11-29/20/31.mp4"));
        assert_eq!(p.idx, Path::new("/rec/door/2025-11-29/20/31.idx"));
        assert_eq!(
            slot_from_parts("2025-11-29", "20", "31"),
            Some(slot_of(t, 60_000_000))
        );
        let p = SegmentPaths::new(root, "door", slot_of(t, 10_000_000), 10_000_000);
        assert_eq!(p.mp4, Path::new("/rec/door/2025-11-29/20/31-00.mp4"));
        assert_eq!(
            slot_from_parts("2025-11-29", "20", "31-00"),
            Some(slot_of(t, 10_000_000))
        );
        assert!(check_camera("../x").is_err());
        assert!(check_camera("door").is_ok());
    }
}
