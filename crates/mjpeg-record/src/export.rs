//! Exports of a time range, built from the segments without re-encoding.
//!
//! [`Mp4Export`] is one standalone fragmented MP4 (a fresh init segment, then the frames'
//! fragments renumbered from 1, `tfdt` rebased so the export starts at 0, each sample's
//! duration the exact gap to the next frame). Its length and every byte's place are known
//! from the index alone, so any byte range is produced on demand: the relay can answer
//! HTTP Range requests with `Content-Length`. [`MjpegExport`] iterates the same frames as
//! JPEGs with their ids and times.

use crate::boxes::{fragment_header, init_segment, FragmentInfo, FRAGMENT_HEADER_LEN};
use crate::index::IndexRecord;
use crate::jpeg;
use crate::segment_writer::DEFAULT_DURATION_US;
use bytes::{Bytes, BytesMut};
use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

/// One frame of an export: which segment file, and where in it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ExportFrame {
    pub file: u32,
    pub rec: IndexRecord,
}

/// The frames of a range, with their open segment files (files stay readable even if
/// retention removes them meanwhile).
#[derive(Debug, Clone)]
pub(crate) struct Selection {
    pub files: Vec<Arc<File>>,
    pub frames: Vec<ExportFrame>,
    pub etag: String,
}

/// One MP4 of a time range, served by byte ranges.
#[derive(Debug, Clone)]
pub struct Mp4Export {
    sel: Arc<Selection>,
    init: Bytes,
    /// Export offset of each frame's fragment, plus the total length at the end.
    offsets: Vec<u64>,
    base_us: i64,
}

impl Mp4Export {
    pub(crate) fn new(sel: Selection) -> io::Result<Self> {
        let (w, h) = match sel.frames.first() {
            Some(f) => {
                let head = read_at(
                    &sel.files[f.file as usize],
                    f.rec.offset,
                    f.rec.size.min(65536),
                )?;
                jpeg::dimensions(&head).unwrap_or((0, 0))
            }
            None => (0, 0),
        };
        let init = init_segment(w, h).freeze();
        let mut offsets = Vec::with_capacity(sel.frames.len() + 1);
        let mut at = init.len() as u64;
        for f in &sel.frames {
            offsets.push(at);
            at += FRAGMENT_HEADER_LEN as u64 + u64::from(f.rec.size);
        }
        offsets.push(at);
        let base_us = sel.frames.first().map_or(0, |f| f.rec.capture_us);
        Ok(Mp4Export {
            sel: Arc::new(sel),
            init,
            offsets,
            base_us,
        })
    }

    /// Total length in bytes (the `Content-Length` of the whole file).
    pub fn len(&self) -> u64 {
        self.offsets.last().copied().unwrap_or(0)
    }

    /// Whether the export is empty (never: an empty range is refused).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Frames in the export.
    pub fn frames(&self) -> usize {
        self.sel.frames.len()
    }

    /// A strong ETag (with quotes) from the segments' identity and the range.
    pub fn etag(&self) -> &str {
        &self.sel.etag
    }

    fn duration_of(&self, i: usize) -> u32 {
        let f = &self.sel.frames;
        let gap = |a: usize, b: usize| {
            u32::try_from(f[b].rec.capture_us.saturating_sub(f[a].rec.capture_us))
                .unwrap_or(u32::MAX)
                .max(1)
        };
        if i + 1 < f.len() {
            gap(i, i + 1)
        } else if i > 0 {
            gap(i - 1, i)
        } else {
            DEFAULT_DURATION_US
        }
    }

    /// The bytes of `range` (clamped to the file). Reads only the JPEGs the range touches.
    pub fn read_range(&self, range: Range<u64>) -> io::Result<Bytes> {
        let end = range.end.min(self.len());
        let start = range.start.min(end);
        let mut out = BytesMut::with_capacity((end - start) as usize);
        let mut pos = start;
        if pos < self.init.len() as u64 {
            let stop = end.min(self.init.len() as u64);
            out.extend_from_slice(&self.init[pos as usize..stop as usize]);
            pos = stop;
        }
        // The first frame whose fragment ends after `pos`.
        let mut i = self
            .offsets
            .partition_point(|o| *o <= pos)
            .saturating_sub(1);
        while pos < end && i < self.sel.frames.len() {
            let frag_at = self.offsets[i];
            let f = &self.sel.frames[i];
            let header = fragment_header(&FragmentInfo {
                sequence: (i + 1) as u32,
                frame_id: f.rec.frame_id,
                capture_us: f.rec.capture_us - self.base_us,
                receive_us: f.rec.receive_us,
                duration_us: self.duration_of(i),
                size: f.rec.size,
            });
            let hdr_end = frag_at + FRAGMENT_HEADER_LEN as u64;
            if pos < hdr_end {
                let stop = end.min(hdr_end);
                out.extend_from_slice(&header[(pos - frag_at) as usize..(stop - frag_at) as usize]);
                pos = stop;
            }
            let jpeg_end = self.offsets[i + 1];
            if pos < end && pos < jpeg_end {
                let stop = end.min(jpeg_end);
                let in_jpeg = pos - hdr_end;
                let data = read_at(
                    &self.sel.files[f.file as usize],
                    f.rec.offset + in_jpeg,
                    (stop - pos) as u32,
                )?;
                out.extend_from_slice(&data);
                pos = stop;
            }
            i += 1;
        }
        Ok(out.freeze())
    }

    /// The whole file or a range as chunks of at most `chunk` bytes, for streaming a body.
    pub fn chunks(
        &self,
        range: Range<u64>,
        chunk: u64,
    ) -> impl Iterator<Item = io::Result<Bytes>> + '_ {
        let chunk = chunk.max(1);
        let end = range.end.min(self.len());
        let mut pos = range.start.min(end);
        std::iter::from_fn(move || {
            if pos >= end {
                return None;
            }
            let stop = end.min(pos + chunk);
            let r = self.read_range(pos..stop);
            pos = stop;
            Some(r)
        })
    }
}

/// One JPEG of an MJPEG export.
#[derive(Debug, Clone)]
pub struct ExportedFrame {
    /// The camera's frame id.
    pub frame_id: u64,
    /// Capture time, Unix µs.
    pub capture_us: i64,
    /// Receive time, Unix µs.
    pub receive_us: i64,
    /// The JPEG, bytes as recorded.
    pub jpeg: Bytes,
}

/// The frames of a range as JPEGs, in order. Each `next()` reads one JPEG from disk.
#[derive(Debug)]
pub struct MjpegExport {
    sel: Arc<Selection>,
    next: usize,
}

impl MjpegExport {
    pub(crate) fn new(sel: Selection) -> Self {
        MjpegExport {
            sel: Arc::new(sel),
            next: 0,
        }
    }

    /// Frames in the export.
    pub fn frames(&self) -> usize {
        self.sel.frames.len()
    }

    /// The export's ETag.
    pub fn etag(&self) -> &str {
        &self.sel.etag
    }
}

impl Iterator for MjpegExport {
    type Item = io::Result<ExportedFrame>;

    fn next(&mut self) -> Option<Self::Item> {
        let f = *self.sel.frames.get(self.next)?;
        self.next += 1;
        Some(
            read_at(&self.sel.files[f.file as usize], f.rec.offset, f.rec.size).map(|jpeg| {
                ExportedFrame {
                    frame_id: f.rec.frame_id,
                    capture_us: f.rec.capture_us,
                    receive_us: f.rec.receive_us,
                    jpeg,
                }
            }),
        )
    }
}

fn read_at(file: &File, offset: u64, len: u32) -> io::Result<Bytes> {
    let mut buf = BytesMut::zeroed(len as usize);
    file.read_exact_at(&mut buf, offset)?;
    Ok(buf.freeze())
}

/// FNV-1a, 64 bits: a stable hash for ETags (the same files give the same tag across runs).
pub(crate) fn fnv1a(state: &mut u64, bytes: &[u8]) {
    for b in bytes {
        *state ^= u64::from(*b);
        *state = state.wrapping_mul(0x0100_0000_01b3);
    }
}

/// FNV-1a's starting value.
pub(crate) const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
