//! Start-up repair of a segment torn by a crash: the `.mp4` is cut back to its last complete
//! fragment, the index is checked against the fragments and rebuilt from them when it differs
//! (each fragment's `uuid` box holds the frame id and times), and a torn last line of the
//! events file is dropped.

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
    let init_len = pos;
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
    let _ = init_len;
    Ok((pos, records))
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
    // Keep the index's flags (the fragments do not carry them) where the records agree.
    // An index with a broken header is rewritten whole.
    let old = index::read_all(&paths.idx).ok();
    let agrees = old.as_ref().is_some_and(|old| {
        old.len() >= records.len()
            && old
                .iter()
                .zip(&records)
                .all(|(o, r)| IndexRecord { flags: 0, ..*o } == *r)
    });
    let index_rebuilt;
    if let (true, Some(old)) = (agrees, old) {
        for (r, o) in records.iter_mut().zip(&old) {
            r.flags = o.flags & FLAG_DETECTIONS;
        }
        let want = HEADER_LEN + records.len() as u64 * RECORD_LEN;
        let idx_len = std::fs::metadata(&paths.idx).map(|m| m.len()).unwrap_or(0);
        index_rebuilt = idx_len != want;
        if index_rebuilt {
            let f = OpenOptions::new()
                .write(true)
                .open(&paths.idx)
                .map_err(|e| Error::io("open", &paths.idx, e))?;
            f.set_len(want)
                .map_err(|e| Error::io("truncate", &paths.idx, e))?;
            f.sync_all().map_err(|e| Error::io("sync", &paths.idx, e))?;
        }
    } else {
        index_rebuilt = true;
        write_index(&paths.idx, &records)?;
    }
    repair_events(&paths.events)?;
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
