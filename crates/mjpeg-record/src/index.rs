//! The fixed-record index beside each segment (`MM.idx`).
//!
//! A 16-byte header (`b"CRIDX\0\0\0"`, version u32 LE = 1, reserved u32) then one 40-byte
//! little-endian record per frame: frame id u64, capture µs i64, receive µs i64, offset of the
//! JPEG in the `.mp4` u64, JPEG size u32, flags u32 (bit 0: the frame has detections). Records
//! are in file order, so capture times are ascending unless the camera's clock jumped back.

use crate::error::{Error, Result};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// The index file's magic.
pub const MAGIC: [u8; 8] = *b"CRIDX\0\0\0";
/// The header's length.
pub const HEADER_LEN: u64 = 16;
/// One record's length.
pub const RECORD_LEN: u64 = 40;
/// Flag: the frame has detections (a line in the segment's events file).
pub const FLAG_DETECTIONS: u32 = 1;

/// One frame in a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexRecord {
    /// The camera's frame id (`X-Frame-Id`).
    pub frame_id: u64,
    /// The camera's capture time, Unix µs.
    pub capture_us: i64,
    /// The relay's receive time, Unix µs.
    pub receive_us: i64,
    /// Offset of the JPEG's first byte in the segment's `.mp4`.
    pub offset: u64,
    /// JPEG size in bytes.
    pub size: u32,
    /// Flags ([`FLAG_DETECTIONS`]).
    pub flags: u32,
}

impl IndexRecord {
    /// The 40 bytes of this record.
    pub fn to_bytes(&self) -> [u8; RECORD_LEN as usize] {
        let mut b = [0u8; RECORD_LEN as usize];
        b[0..8].copy_from_slice(&self.frame_id.to_le_bytes());
        b[8..16].copy_from_slice(&self.capture_us.to_le_bytes());
        b[16..24].copy_from_slice(&self.receive_us.to_le_bytes());
        b[24..32].copy_from_slice(&self.offset.to_le_bytes());
        b[32..36].copy_from_slice(&self.size.to_le_bytes());
        b[36..40].copy_from_slice(&self.flags.to_le_bytes());
        b
    }

    /// Reads a record from 40 bytes.
    pub fn from_bytes(b: &[u8; RECORD_LEN as usize]) -> Self {
        let u64_at = |o: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[o..o + 8]);
            u64::from_le_bytes(a)
        };
        let u32_at = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        IndexRecord {
            frame_id: u64_at(0),
            capture_us: u64_at(8) as i64,
            receive_us: u64_at(16) as i64,
            offset: u64_at(24),
            size: u32_at(32),
            flags: u32_at(36),
        }
    }
}

/// The 16-byte header.
pub fn header() -> [u8; HEADER_LEN as usize] {
    let mut h = [0u8; HEADER_LEN as usize];
    h[..8].copy_from_slice(&MAGIC);
    h[8..12].copy_from_slice(&1u32.to_le_bytes());
    h
}

/// Number of whole records in an index file of `len` bytes.
pub fn records_in(len: u64) -> u64 {
    len.saturating_sub(HEADER_LEN) / RECORD_LEN
}

/// Reads records `[from, to)` of an open index file.
pub fn read_records(file: &File, path: &Path, from: u64, to: u64) -> Result<Vec<IndexRecord>> {
    if to <= from {
        return Ok(Vec::new());
    }
    let mut buf = vec![0u8; ((to - from) * RECORD_LEN) as usize];
    file.read_exact_at(&mut buf, HEADER_LEN + from * RECORD_LEN)
        .map_err(|e| Error::io("read index", path, e))?;
    Ok(buf
        .chunks_exact(RECORD_LEN as usize)
        .map(|c| {
            let mut a = [0u8; RECORD_LEN as usize];
            a.copy_from_slice(c);
            IndexRecord::from_bytes(&a)
        })
        .collect())
}

/// Reads every record of the index at `path`, checking its header.
pub fn read_all(path: &Path) -> Result<Vec<IndexRecord>> {
    let file = File::open(path).map_err(|e| Error::io("open index", path, e))?;
    let len = file
        .metadata()
        .map_err(|e| Error::io("stat index", path, e))?
        .len();
    let mut h = [0u8; HEADER_LEN as usize];
    file.read_exact_at(&mut h, 0)
        .map_err(|e| Error::io("read index", path, e))?;
    if h[..8] != MAGIC {
        return Err(Error::Corrupt {
            path: path.to_owned(),
            offset: 0,
            reason: "not an index (bad magic)".into(),
        });
    }
    read_records(&file, path, 0, records_in(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trip() {
        let r = IndexRecord {
            frame_id: u64::MAX - 3,
            capture_us: -5,
            receive_us: 1_764_448_200_000_000,
            offset: 1 << 40,
            size: 18_575,
            flags: FLAG_DETECTIONS,
        };
        assert_eq!(IndexRecord::from_bytes(&r.to_bytes()), r);
        assert_eq!(records_in(HEADER_LEN + 2 * RECORD_LEN + 39), 2);
        assert_eq!(records_in(3), 0);
    }
}
