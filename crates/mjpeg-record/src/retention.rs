//! Retention: whole oldest segments go first, by age (`keep`) and by total size (`max_size`),
//! whichever removes more; a segment a recorder has open is never removed. Works on the
//! in-memory catalog, so a check costs nothing like a directory walk.

use crate::catalog::Catalog;
use crate::layout::SegmentPaths;
use crate::time::Micros;
use std::path::Path;

/// What one retention pass removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionOutcome {
    /// Segments removed.
    pub segments: u64,
    /// Bytes freed.
    pub bytes: u64,
}

/// Picks the segments to remove and takes them out of the catalog. Returns `(camera, slot)`.
pub(crate) fn select(
    cat: &mut Catalog,
    now_us: Micros,
    segment_us: i64,
    keep_us: Option<i64>,
    max_size: Option<u64>,
) -> Vec<(String, Micros, u64)> {
    let mut candidates: Vec<(Micros, String, u64)> = cat
        .cams
        .iter()
        .flat_map(|(cam, segs)| {
            segs.iter()
                .filter(|(_, e)| !e.open)
                .map(move |(slot, e)| (*slot, cam.clone(), e.bytes))
        })
        .collect();
    candidates.sort();
    let mut total = cat.total_bytes();
    let mut out = Vec::new();
    for (slot, cam, bytes) in candidates {
        let too_old = keep_us.is_some_and(|k| slot + segment_us <= now_us - k);
        let too_big = max_size.is_some_and(|m| total > m);
        if !(too_old || too_big) {
            break;
        }
        total -= bytes;
        out.push((cam, slot, bytes));
    }
    for (cam, slot, _) in &out {
        if let Some(segs) = cat.cams.get_mut(cam) {
            segs.remove(slot);
        }
    }
    out
}

/// Deletes a segment's files and the directories it leaves empty (up to the camera's).
pub(crate) fn remove_segment(root: &Path, camera: &str, slot: Micros, segment_us: i64) {
    let p = SegmentPaths::new(root, camera, slot, segment_us);
    for f in [&p.mp4, &p.idx, &p.events] {
        match std::fs::remove_file(f) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(path = %f.display(), error = %e, "retention cannot remove"),
        }
    }
    let hour = p.dir();
    // remove_dir fails on a non-empty directory, which is what we want.
    if std::fs::remove_dir(hour).is_ok() {
        if let Some(day) = hour.parent() {
            let _ = std::fs::remove_dir(day);
        }
    }
}
