//! Start-up repair of a segment torn by a crash: the `.mp4` is cut back to its last complete
//! fragment, the index is checked against the fragments and rebuilt from them when it differs
//! (each fragment's `uuid` box holds the frame id and times; the detections flag of frames the
//! old index lacks comes from the events file), and a torn last line of the events file is
//! dropped.
//!
//! The writer keeps up to a second of index records in memory and syncs the index only when
//! it closes a segment, so the index of the segment being written, or of one torn by a crash,
//! may lag behind its `.mp4`: [`read_index`] extends it from the fragments that follow its last
//! record, and [`needs_repair`] tells cheaply (one `pread`) whether a segment's index agrees
//! with its length.

use crate::boxes::{parse_fragment_header, FRAGMENT_HEADER_LEN};
use crate::error::{Error, Result};
use crate::index::{self, IndexRecord, FLAG_DETECTIONS, HEADER_LEN, RECORD_LEN};
use crate::layout::SegmentPaths;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// What recovery found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovered {
    /// The frames of the repaired segment, in file order.
    pub records: Vec<IndexRecord>,
    /// Length of the `.mp4` after repair (0: it held no complete init segment).
    pub mp4_len: u64,
    /// Bytes cut from the end of the `.mp4`.
    pub cut_bytes: u64,
    /// Whether the index was rewritten.
    pub index_rebuilt: bool,
}

/// Walks the boxes of a segment: the length of its init segment and its complete fragments.
pub fn scan_mp4(file: &File, path: &Path) -> Result<(u64, Vec<IndexRecord>)> {
    let len = file
        .metadata()
        .map_err(|e| Error::io("stat", path, e))?
        .len();
    // ftyp then moov.
    let mut pos = 0u64;
    for want in [b"ftyp", b"moov"] {
        let mut h = [0u8; 8];
        if pos + 8 > len {
            return Ok((0, Vec::new()));
        }
        file.read_exact_at(&mut h, pos)
            .map_err(|e| Error::io("read", path, e))?;
        let size = u64::from(u32::from_be_bytes([h[0], h[1], h[2], h[3]]));
        if &h[4..8] != want || size < 8 || pos + size > len {
            return Ok((0, Vec::new()));
        }
        pos += size;
    }
    scan_fragments(file, path, pos, len)
}

/// Reads the fragments from `pos` (the start of one) up to `len`: their records (without
/// flags) and the end of the last complete one.
pub fn scan_fragments(
    file: &File,
    path: &Path,
    mut pos: u64,
    len: u64,
) -> Result<(u64, Vec<IndexRecord>)> {
    let mut records = Vec::new();
    let mut h = [0u8; FRAGMENT_HEADER_LEN];
    while pos + FRAGMENT_HEADER_LEN as u64 <= len {
        file.read_exact_at(&mut h, pos)
            .map_err(|e| Error::io("read", path, e))?;
        let Some(f) = parse_fragment_header(&h) else {
            break;
        };
        let jpeg_at = pos + FRAGMENT_HEADER_LEN as u64;
        if jpeg_at + u64::from(f.size) > len {
            break;
        }
        records.push(IndexRecord {
            frame_id: f.frame_id,
            capture_us: f.capture_us,
            receive_us: f.receive_us,
            offset: jpeg_at,
            size: f.size,
            flags: 0,
        });
        pos = jpeg_at + u64::from(f.size);
    }
    Ok((pos, records))
}

/// A segment's frames as its index lists them, followed by those in the `.mp4` after the
/// index's last record (a segment being written, or torn by a crash). Empty when the segment
/// does not exist (any more). The extra records carry no flags.
pub fn read_index(paths: &SegmentPaths) -> Result<Vec<IndexRecord>> {
    let mut records = match index::read_all(&paths.idx) {
        Ok(r) => r,
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            Vec::new()
        }
        Err(e) => return Err(e),
    };
    let mp4 = match File::open(&paths.mp4) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(records),
        Err(e) => return Err(Error::io("open", &paths.mp4, e)),
    };
    let len = mp4
        .metadata()
        .map_err(|e| Error::io("stat", &paths.mp4, e))?
        .len();
    match records.last() {
        None => return Ok(scan_mp4(&mp4, &paths.mp4)?.1),
        Some(last) if last.offset + u64::from(last.size) < len => {
            let from = last.offset + u64::from(last.size);
            records.extend(scan_fragments(&mp4, &paths.mp4, from, len)?.1);
        }
        Some(_) => {}
    }
    Ok(records)
}

/// Whether a segment whose `.mp4` is `mp4_len` bytes needs [`recover`]: its index is missing,
/// not whole records, empty while the `.mp4` is more than an init segment, or its last record
/// does not end where the `.mp4` does. One open and one `pread` of the index.
pub fn needs_repair(paths: &SegmentPaths, mp4_len: u64) -> bool {
    let Ok(idx) = File::open(&paths.idx) else {
        return true;
    };
    let Ok(len) = idx.metadata().map(|m| m.len()) else {
        return true;
    };
    if len < HEADER_LEN || !(len - HEADER_LEN).is_multiple_of(RECORD_LEN) {
        return true;
    }
    if len == HEADER_LEN {
        // No frames: only the init segment may be there.
        return mp4_len != crate::boxes::init_segment(0, 0).len() as u64;
    }
    let mut b = [0u8; RECORD_LEN as usize];
    if idx.read_exact_at(&mut b, len - RECORD_LEN).is_err() {
        return true;
    }
    let last = IndexRecord::from_bytes(&b);
    last.offset + u64::from(last.size) != mp4_len
}

/// Repairs the segment at `paths` in place. A segment without a complete init segment is
/// reported with `mp4_len == 0` (the caller removes it).
pub fn recover(paths: &SegmentPaths) -> Result<Recovered> {
    let mp4 = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&paths.mp4)
        .map_err(|e| Error::io("open", &paths.mp4, e))?;
    let old_len = mp4
        .metadata()
        .map_err(|e| Error::io("stat", &paths.mp4, e))?
        .len();
    let (valid_len, mut records) = scan_mp4(&mp4, &paths.mp4)?;
    if valid_len < old_len {
        mp4.set_len(valid_len)
            .map_err(|e| Error::io("truncate", &paths.mp4, e))?;
        mp4.sync_all()
            .map_err(|e| Error::io("sync", &paths.mp4, e))?;
    }
    repair_events(&paths.events)?;
    // Keep the index's flags (the fragments do not carry them) where its records agree with
    // the fragments; frames after that get theirs from the events file. An index with a
    // broken header counts as empty.
    let old = index::read_all(&paths.idx).ok();
    let header_ok = old.is_some();
    let old = old.unwrap_or_default();
    let agree = old
        .iter()
        .zip(&records)
        .take_while(|(o, r)| IndexRecord { flags: 0, ..**o } == **r)
        .count();
    for (r, o) in records.iter_mut().zip(&old).take(agree) {
        r.flags = o.flags & FLAG_DETECTIONS;
    }
    if agree < records.len() {
        let with_events = event_frame_ids(&paths.events);
        for r in &mut records[agree..] {
            if with_events.contains(&r.frame_id) {
                r.flags = FLAG_DETECTIONS;
            }
        }
    }
    let want = HEADER_LEN + records.len() as u64 * RECORD_LEN;
    let idx_len = std::fs::metadata(&paths.idx).map(|m| m.len()).unwrap_or(0);
    let index_rebuilt = if header_ok && agree == records.len() && old.len() >= records.len() {
        // The index holds every frame (and maybe records of frames cut off): trim it.
        if idx_len != want {
            let f = OpenOptions::new()
                .write(true)
                .open(&paths.idx)
                .map_err(|e| Error::io("open", &paths.idx, e))?;
            f.set_len(want)
                .map_err(|e| Error::io("truncate", &paths.idx, e))?;
            f.sync_all().map_err(|e| Error::io("sync", &paths.idx, e))?;
        }
        idx_len != want
    } else {
        write_index(&paths.idx, &records)?;
        true
    };
    Ok(Recovered {
        records,
        mp4_len: valid_len,
        cut_bytes: old_len - valid_len,
        index_rebuilt,
    })
}

/// Writes a whole index file (header and records) and syncs it.
pub fn write_index(path: &Path, records: &[IndexRecord]) -> Result<()> {
    let mut buf = Vec::with_capacity(HEADER_LEN as usize + records.len() * RECORD_LEN as usize);
    buf.extend_from_slice(&index::header());
    for r in records {
        buf.extend_from_slice(&r.to_bytes());
    }
    let mut f = File::create(path).map_err(|e| Error::io("create", path, e))?;
    f.write_all(&buf).map_err(|e| Error::io("write", path, e))?;
    f.sync_all().map_err(|e| Error::io("sync", path, e))
}

/// The frame ids in an events file (whose lines start `{"t":...,"id":...`).
fn event_frame_ids(path: &Path) -> std::collections::HashSet<u64> {
    #[derive(serde::Deserialize)]
    struct Line {
        id: u64,
    }
    let Ok(data) = std::fs::read(path) else {
        return Default::default();
    };
    data.split(|b| *b == b'\n')
        .filter_map(|l| serde_json::from_slice::<Line>(l).ok())
        .map(|l| l.id)
        .collect()
}

/// Drops a torn last line of an events file.
fn repair_events(path: &Path) -> Result<()> {
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("read", path, e)),
    };
    let keep = data.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
    if keep < data.len() {
        let f = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| Error::io("open", path, e))?;
        f.set_len(keep as u64)
            .map_err(|e| Error::io("truncate", path, e))?;
    }
    Ok(())
}
