//! One open segment: appends a frame's fragment to the `.mp4` with one `writev` and its
//! detections (if any) to the events file; index records are kept in memory and written to the
//! index in one `write` at each [`SegmentWriter::sync`] (about once a second), after the data
//! they point to.
//!
//! What is synced when: the `.mp4` (and the events file, when it changed) at every `sync`; the
//! index only at [`SegmentWriter::close`]. The `.mp4` alone is enough to rebuild the index (each
//! fragment's `uuid` box holds the frame id and times), so an index that lags behind its
//! segment after a crash or power loss costs nothing but a rebuild at start-up
//! ([`crate::recovery`]), and readers of a segment still being written extend its index from
//! the fragments after the last record ([`crate::recovery::read_index`]).

use crate::boxes::{fragment_header, init_segment, FragmentInfo, FRAGMENT_HEADER_LEN};
use crate::error::{Error, Result};
use crate::frame::RecordFrame;
use crate::index::{self, IndexRecord, FLAG_DETECTIONS};
use crate::jpeg;
use crate::layout::SegmentPaths;
use crate::recovery;
use std::fs::{File, OpenOptions};
use std::io::{IoSlice, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Duration given to a segment's first frame when nothing earlier is known: 1/30 s.
pub const DEFAULT_DURATION_US: u32 = 33_333;

/// An open segment being appended to.
#[derive(Debug)]
pub struct SegmentWriter {
    paths: SegmentPaths,
    mp4: File,
    idx: File,
    events: Option<File>,
    /// The events file has lines not yet synced.
    events_dirty: bool,
    /// Bytes of the `.mp4` known good (the next fragment goes here).
    mp4_len: u64,
    /// Frames in the segment (in the `.mp4`).
    frames: u64,
    /// Records in the index file; the others wait in `pending_index`.
    index_records: u64,
    /// Index records of frames written since the last sync, in file order.
    pending_index: Vec<u8>,
    sequence: u32,
    last_capture: Option<i64>,
    last_duration: u32,
    /// (device, inode) of the `.mp4`, to notice the file or its directory being removed.
    identity: (u64, u64),
}

impl SegmentWriter {
    /// Opens the segment at `paths` for appending: repairs and reuses it when it exists
    /// (a restart within its slot, or a second event clip), else creates it with an init
    /// segment sized from `first_jpeg` and syncs the directories it created.
    pub fn open(paths: &SegmentPaths, first_jpeg: &[u8], last_duration: u32) -> Result<Self> {
        let mut created = false;
        let (mp4_len, frames, last_capture) = if paths.mp4.exists() {
            // Reopened: `recover` leaves the index agreeing with the `.mp4`.
            let rec = recovery::recover(paths)?;
            if rec.mp4_len == 0 {
                // Not even the init segment survived: start the file again.
                std::fs::remove_file(&paths.mp4).map_err(|e| Error::io("remove", &paths.mp4, e))?;
                return Self::open(paths, first_jpeg, last_duration);
            }
            let last = rec.records.last().map(|r| r.capture_us);
            (rec.mp4_len, rec.records.len() as u64, last)
        } else {
            create_dirs(paths.dir())?;
            let (w, h) = jpeg::dimensions(first_jpeg).unwrap_or((0, 0));
            let init = init_segment(w, h);
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&paths.mp4)
                .map_err(|e| Error::io("create", &paths.mp4, e))?;
            f.write_all(&init)
                .map_err(|e| Error::io("write", &paths.mp4, e))?;
            recovery::write_index(&paths.idx, &[])?;
            created = true;
            (init.len() as u64, 0, None)
        };
        let mp4 = OpenOptions::new()
            .append(true)
            .open(&paths.mp4)
            .map_err(|e| Error::io("open", &paths.mp4, e))?;
        let idx = OpenOptions::new()
            .append(true)
            .open(&paths.idx)
            .map_err(|e| Error::io("open", &paths.idx, e))?;
        let meta = mp4
            .metadata()
            .map_err(|e| Error::io("stat", &paths.mp4, e))?;
        if created {
            mp4.sync_all()
                .map_err(|e| Error::io("sync", &paths.mp4, e))?;
            sync_dir(paths.dir())?;
        }
        Ok(SegmentWriter {
            paths: paths.clone(),
            mp4,
            idx,
            events: None,
            events_dirty: false,
            mp4_len,
            frames,
            index_records: frames,
            pending_index: Vec::with_capacity(64 * index::RECORD_LEN as usize),
            sequence: frames as u32,
            last_capture,
            last_duration,
            identity: (meta.dev(), meta.ino()),
        })
    }

    /// The segment's files.
    pub fn paths(&self) -> &SegmentPaths {
        &self.paths
    }

    /// Bytes in the `.mp4`.
    pub fn mp4_len(&self) -> u64 {
        self.mp4_len
    }

    /// Frames in the segment.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// The duration the last fragment was given, carried into the next segment.
    pub fn last_duration(&self) -> u32 {
        self.last_duration
    }

    /// Appends one frame: one `writev` of its fragment (and a line in the events file when it
    /// has detections). The fragment's sample duration is the gap to the previous frame (the
    /// next one is not known yet); `tfdt` is the exact capture time either way. Returns the
    /// bytes the frame adds (fragment and index record). On error the `.mp4` is cut back to the
    /// last whole frame.
    pub fn append(&mut self, frame: &RecordFrame) -> Result<u64> {
        let size = u32::try_from(frame.jpeg.len())
            .map_err(|_| Error::InvalidInput("JPEG over 4 GiB".into()))?;
        if let Some(prev) = self.last_capture {
            let gap = frame.capture_us.saturating_sub(prev);
            if gap > 0 {
                self.last_duration = u32::try_from(gap).unwrap_or(u32::MAX);
            }
        }
        self.sequence = self.sequence.wrapping_add(1);
        let header = fragment_header(&FragmentInfo {
            sequence: self.sequence,
            frame_id: frame.frame_id,
            capture_us: frame.capture_us,
            receive_us: frame.receive_us,
            duration_us: self.last_duration,
            size,
        });
        let total = FRAGMENT_HEADER_LEN + frame.jpeg.len();
        let record = IndexRecord {
            frame_id: frame.frame_id,
            capture_us: frame.capture_us,
            receive_us: frame.receive_us,
            offset: self.mp4_len + FRAGMENT_HEADER_LEN as u64,
            size,
            flags: if frame.detections.is_some() {
                FLAG_DETECTIONS
            } else {
                0
            },
        };
        if let Err(e) = write_two(&mut self.mp4, &header, &frame.jpeg) {
            let _ = self.mp4.set_len(self.mp4_len);
            return Err(Error::io("write", &self.paths.mp4, e));
        }
        self.pending_index.extend_from_slice(&record.to_bytes());
        self.mp4_len += total as u64;
        self.frames += 1;
        self.last_capture = Some(frame.capture_us);
        if let Some(d) = &frame.detections {
            self.write_event(frame, d)?;
        }
        Ok(total as u64 + index::RECORD_LEN)
    }

    fn write_event(&mut self, frame: &RecordFrame, d: &crate::frame::Detections) -> Result<()> {
        if self.events.is_none() {
            let f = OpenOptions::new()
                .append(true)
                .create(true)
                .open(&self.paths.events)
                .map_err(|e| Error::io("open", &self.paths.events, e))?;
            self.events = Some(f);
        }
        let mut line = serde_json::to_vec(&serde_json::json!({
            "t": frame.capture_us,
            "id": frame.frame_id,
            "labels": d.labels,
        }))
        .map_err(|e| Error::InvalidInput(e.to_string()))?;
        // Splice the detector's JSON in as-is when it is one line of valid JSON, else as a string.
        line.pop();
        line.extend_from_slice(b",\"det\":");
        let raw_ok = !d.json.contains(&b'\n')
            && !d.json.is_empty()
            && serde_json::from_slice::<serde::de::IgnoredAny>(&d.json).is_ok();
        if raw_ok {
            line.extend_from_slice(&d.json);
        } else {
            let s = serde_json::to_vec(&String::from_utf8_lossy(&d.json))
                .map_err(|e| Error::InvalidInput(e.to_string()))?;
            line.extend_from_slice(&s);
        }
        line.extend_from_slice(b"}\n");
        if let Some(f) = self.events.as_mut() {
            self.events_dirty = true;
            f.write_all(&line)
                .map_err(|e| Error::io("write", &self.paths.events, e))?;
        }
        Ok(())
    }

    /// Writes the pending index records in one `write`. On error the index is cut back to
    /// its last whole record (the records stay pending).
    fn write_index(&mut self) -> Result<()> {
        if self.pending_index.is_empty() {
            return Ok(());
        }
        if let Err(e) = self.idx.write_all(&self.pending_index) {
            let _ = self
                .idx
                .set_len(index::HEADER_LEN + self.index_records * index::RECORD_LEN);
            return Err(Error::io("write", &self.paths.idx, e));
        }
        self.index_records += self.pending_index.len() as u64 / index::RECORD_LEN;
        self.pending_index.clear();
        Ok(())
    }

    /// Flushes the segment's data to disk (`fdatasync` of the `.mp4`, and of the events file
    /// when it changed) and writes the pending index records (not synced: see the module doc).
    pub fn sync(&mut self) -> Result<()> {
        self.mp4
            .sync_data()
            .map_err(|e| Error::io("sync", &self.paths.mp4, e))?;
        self.write_index()?;
        if let (Some(f), true) = (&self.events, self.events_dirty) {
            f.sync_data()
                .map_err(|e| Error::io("sync", &self.paths.events, e))?;
            self.events_dirty = false;
        }
        Ok(())
    }

    /// Closes the segment: [`SegmentWriter::sync`], then `fdatasync` of the index too, so a
    /// closed segment's index is as durable as its data.
    pub fn close(mut self) -> Result<()> {
        self.sync()?;
        self.idx
            .sync_data()
            .map_err(|e| Error::io("sync", &self.paths.idx, e))
    }

    /// Fails when the `.mp4` at its path is no longer the file being written (removed, or its
    /// directory removed): writes would go to a file nobody can find.
    pub fn check_still_there(&self) -> Result<()> {
        match std::fs::metadata(&self.paths.mp4) {
            Ok(m) if (m.dev(), m.ino()) == self.identity => Ok(()),
            Ok(_) => Err(Error::io(
                "check",
                &self.paths.mp4,
                std::io::Error::other("segment file replaced while recording"),
            )),
            Err(e) => Err(Error::io("check", &self.paths.mp4, e)),
        }
    }
}

impl Drop for SegmentWriter {
    /// A writer dropped without [`SegmentWriter::close`] (after an error, or by a test) still
    /// writes its pending index records, unsynced; recovery rebuilds whatever is missing.
    fn drop(&mut self) {
        let _ = self.write_index();
    }
}

/// One `writev` of header and JPEG; a short write (rare: a signal, a nearly full disk)
/// finishes with plain writes.
fn write_two(f: &mut File, a: &[u8], b: &[u8]) -> std::io::Result<()> {
    let total = a.len() + b.len();
    let n = f.write_vectored(&[IoSlice::new(a), IoSlice::new(b)])?;
    if n == total {
        return Ok(());
    }
    if n < a.len() {
        f.write_all(&a[n..])?;
        f.write_all(b)
    } else {
        f.write_all(&b[n - a.len()..])
    }
}

/// Creates a directory and its parents, syncing each parent whose entries changed.
fn create_dirs(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        create_dirs(parent)?;
    }
    match std::fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(Error::io("create directory", dir, e)),
    }
    if let Some(parent) = dir.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

/// `fsync` of a directory, so a new entry in it survives power loss.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io("sync directory", dir, e))
}
