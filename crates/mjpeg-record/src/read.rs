//! Reading recorded frames back one at a time (replay): a camera's index records over a range
//! with their open segment files ([`FrameIndex`], from [`crate::Archive::frame_index`]), and
//! one frame's JPEG by segment, offset and size ([`SegmentFile::read_jpeg`]).

use crate::catalog::{self, Span};
use crate::error::{Error, Result};
use crate::index::IndexRecord;
use crate::time::Micros;
use bytes::{Bytes, BytesMut};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One segment's `.mp4`, open: it stays readable even if retention removes it meanwhile.
#[derive(Debug)]
pub struct SegmentFile {
    path: PathBuf,
    slot_us: Micros,
    inode: u64,
    pub(crate) file: Arc<File>,
}

impl SegmentFile {
    pub(crate) fn new(path: PathBuf, slot_us: Micros, inode: u64, file: File) -> SegmentFile {
        SegmentFile {
            path,
            slot_us,
            inode,
            file: Arc::new(file),
        }
    }

    /// The file's path (for logs; the file itself stays open).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The segment's start (its slot), Unix µs.
    pub fn slot_us(&self) -> Micros {
        self.slot_us
    }

    /// The file's inode number when it was opened (part of an export's ETag).
    pub(crate) fn inode(&self) -> u64 {
        self.inode
    }

    /// Reads `size` bytes at `offset`: one frame's JPEG, bytes as recorded (one `pread`).
    /// Blocking: call it from a thread that may block (`tokio::task::spawn_blocking`).
    pub fn read_jpeg(&self, offset: u64, size: u32) -> Result<Bytes> {
        let mut buf = BytesMut::zeroed(size as usize);
        self.file
            .read_exact_at(&mut buf, offset)
            .map_err(|e| Error::io("read frame", &self.path, e))?;
        Ok(buf.freeze())
    }
}

/// One frame of a [`FrameIndex`]: its index record and the segment holding its JPEG.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexedFrame {
    /// Position of its segment in [`FrameIndex::segments`].
    pub segment: u32,
    /// The frame's index record (id, capture and receive times, offset, size, flags).
    pub record: IndexRecord,
}

/// The recorded frames of one camera over a range: every index record whose capture time is
/// in the range and whose JPEG is wholly in its segment as opened, with the open segments.
///
/// Frames are in file order (segment after segment, as written): capture times ascend unless
/// the camera's clock jumped back; sort them if that matters.
#[derive(Debug, Clone, Default)]
pub struct FrameIndex {
    /// The segments holding the frames, oldest first (only segments with frames in range).
    pub segments: Vec<Arc<SegmentFile>>,
    /// The frames, in file order.
    pub frames: Vec<IndexedFrame>,
    /// The recorded spans of the range, as [`crate::Archive::spans`] reports them.
    pub spans: Vec<Span>,
}

impl FrameIndex {
    /// Reads the JPEG of `frame` (blocking, one `pread`).
    pub fn read_jpeg(&self, frame: &IndexedFrame) -> Result<Bytes> {
        let segment = self
            .segments
            .get(frame.segment as usize)
            .ok_or_else(|| Error::InvalidInput(format!("no segment {}", frame.segment)))?;
        segment.read_jpeg(frame.record.offset, frame.record.size)
    }

    /// Appends one segment's records (already restricted to the range).
    pub(crate) fn push_segment(&mut self, segment: SegmentFile, records: Vec<IndexRecord>) {
        let n = self.segments.len() as u32;
        self.spans.extend(catalog::spans_of(&records));
        self.frames.extend(
            records
                .into_iter()
                .map(|record| IndexedFrame { segment: n, record }),
        );
        self.segments.push(Arc::new(segment));
    }

    /// Merges the spans of adjacent segments, as [`crate::Archive::spans`] does.
    pub(crate) fn finish(mut self) -> FrameIndex {
        self.spans = catalog::merge(std::mem::take(&mut self.spans));
        self
    }
}
