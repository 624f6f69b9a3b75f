//! The recordings directory as a whole: the catalog, retention, and the queries and exports
//! the relay's HTTP routes need. Recorders are made from it and report their segments to it.

use crate::catalog::{self, Catalog, EventEntry, Span};
use crate::config::{RecordConfig, RecordMode};
use crate::error::{Error, Result};
use crate::export::{fnv1a, ExportFrame, MjpegExport, Mp4Export, Selection, FNV_OFFSET};
use crate::layout::{check_camera, slot_of, SegmentPaths};
use crate::read::{FrameIndex, SegmentFile};
use crate::recorder::Recorder;
use crate::retention::{self, RetentionOutcome};
use crate::time::{now_micros, Micros};
use serde::Serialize;
use std::os::unix::fs::MetadataExt;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

/// State shared by the archive, its recorders and the retention thread.
#[derive(Debug)]
pub(crate) struct Shared {
    pub config: RecordConfig,
    pub catalog: Mutex<Catalog>,
}

impl Shared {
    pub fn catalog(&self) -> MutexGuard<'_, Catalog> {
        // A panic while holding the lock cannot leave the catalog half-updated in a way that
        // matters (entries are whole values), so a poisoned lock is still used.
        self.catalog.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn paths(&self, camera: &str, slot: Micros) -> SegmentPaths {
        SegmentPaths::new(&self.config.dir, camera, slot, self.config.segment_us())
    }

    /// Records that a segment is open (or closed) and how big it is.
    pub fn note_segment(&self, camera: &str, slot: Micros, bytes: u64, open: bool) {
        let mut cat = self.catalog();
        let e = cat
            .cams
            .entry(camera.to_owned())
            .or_default()
            .entry(slot)
            .or_default();
        e.bytes = bytes;
        e.open = open;
        e.spans = None;
    }

    pub fn enforce_retention(&self, now_us: Micros) -> RetentionOutcome {
        let seg = self.config.segment_us();
        let keep = self.config.keep.map(|k| k.as_micros() as i64);
        let victims =
            retention::select(&mut self.catalog(), now_us, seg, keep, self.config.max_size);
        let mut out = RetentionOutcome::default();
        for (cam, slot, bytes) in victims {
            retention::remove_segment(&self.config.dir, &cam, slot, seg);
            out.segments += 1;
            out.bytes += bytes;
        }
        if out.segments > 0 {
            tracing::info!(
                segments = out.segments,
                bytes = out.bytes,
                "retention removed old segments"
            );
        }
        out
    }
}

/// The recordings under one directory. Cheap to query; owns the retention thread.
#[derive(Debug)]
pub struct Archive {
    shared: Arc<Shared>,
    stop: Option<mpsc::Sender<()>>,
    retention: Option<JoinHandle<()>>,
}

/// The answer to `GET /api/recordings`: spans and events of one camera in a range.
#[derive(Debug, Clone, Serialize)]
pub struct Recordings {
    /// The camera.
    pub camera: String,
    /// Recorded stretches, oldest first.
    pub spans: Vec<Span>,
    /// Frames with detections, oldest first.
    pub events: Vec<EventEntry>,
}

impl Archive {
    /// Opens (creating if needed) the recordings directory: builds the catalog from a directory
    /// walk, repairs every torn segment (the newest of every camera, which a crash may have
    /// torn, and any other whose index disagrees with its length: one `pread` each), and
    /// starts retention. A directory that cannot be created is logged, not fatal: recorders
    /// report the error in their stats and retry.
    pub fn open(config: RecordConfig) -> Result<Archive> {
        if let Err(e) = std::fs::create_dir_all(&config.dir) {
            tracing::warn!(dir = %config.dir.display(), error = %e, "cannot create the recordings directory");
        }
        let catalog = Catalog::scan(&config.dir)?;
        let shared = Arc::new(Shared {
            config,
            catalog: Mutex::new(catalog),
        });
        shared.recover_torn();
        let (stop, rx) = mpsc::channel::<()>();
        let s2 = shared.clone();
        let interval = shared
            .config
            .retention_interval
            .max(std::time::Duration::from_millis(10));
        let retention = std::thread::Builder::new()
            .name("record-retention".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = rx.recv_timeout(interval) {
                    s2.enforce_retention(now_micros());
                }
            })
            .map_err(|e| Error::io("spawn retention thread", &shared.config.dir, e))?;
        Ok(Archive {
            shared,
            stop: Some(stop),
            retention: Some(retention),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &RecordConfig {
        &self.shared.config
    }

    /// Starts recording `camera` in `mode` (a writer thread with a bounded queue).
    pub fn recorder(&self, camera: &str, mode: RecordMode) -> Result<Recorder> {
        check_camera(camera)?;
        Recorder::start(self.shared.clone(), camera, mode)
    }

    /// Cameras with recordings.
    pub fn cameras(&self) -> Vec<String> {
        let cat = self.shared.catalog();
        cat.cams
            .iter()
            .filter(|(_, s)| !s.is_empty())
            .map(|(c, _)| c.clone())
            .collect()
    }

    /// Start of the oldest segment of `camera`, Unix µs.
    pub fn oldest(&self, camera: &str) -> Option<Micros> {
        let cat = self.shared.catalog();
        cat.cams.get(camera)?.keys().next().copied()
    }

    /// Bytes of all recordings.
    pub fn total_bytes(&self) -> u64 {
        self.shared.catalog().total_bytes()
    }

    /// Runs retention now (it also runs every `retention_interval`).
    pub fn enforce_retention(&self) -> RetentionOutcome {
        self.shared.enforce_retention(now_micros())
    }

    /// Runs retention as if it were `now_us` (tests, tools).
    pub fn enforce_retention_at(&self, now_us: Micros) -> RetentionOutcome {
        self.shared.enforce_retention(now_us)
    }

    /// Slots of `camera`'s segments overlapping `[start, end)`, with whether each is closed
    /// and wholly inside the range (its spans may then come from the cache).
    fn slots(&self, camera: &str, start: Micros, end: Micros) -> Result<Vec<(Micros, bool)>> {
        check_camera(camera)?;
        if end <= start {
            return Err(Error::InvalidInput("end must be after start".into()));
        }
        let seg = self.shared.config.segment_us();
        let cat = self.shared.catalog();
        let Some(segs) = cat.cams.get(camera) else {
            return Ok(Vec::new());
        };
        Ok(segs
            .range(slot_of(start, seg)..end)
            .map(|(s, e)| (*s, !e.open && *s >= start && *s + seg <= end))
            .collect())
    }

    /// The recorded spans of `camera` in `[start, end)`, adjacent segments merged.
    pub fn spans(&self, camera: &str, start: Micros, end: Micros) -> Result<Vec<Span>> {
        let mut all = Vec::new();
        for (slot, whole) in self.slots(camera, start, end)? {
            if whole {
                let cached = self
                    .shared
                    .catalog()
                    .cams
                    .get(camera)
                    .and_then(|s| s.get(&slot))
                    .and_then(|e| e.spans.clone());
                let spans = match cached {
                    Some(s) => s,
                    None => {
                        let recs = catalog::read_index(&self.shared.paths(camera, slot))?;
                        let s = Arc::new(catalog::spans_of(&recs));
                        let mut cat = self.shared.catalog();
                        if let Some(e) = cat.cams.get_mut(camera).and_then(|c| c.get_mut(&slot)) {
                            if !e.open {
                                e.spans = Some(s.clone());
                            }
                        }
                        s
                    }
                };
                all.extend(spans.iter().copied());
            } else {
                let mut recs = catalog::read_index(&self.shared.paths(camera, slot))?;
                recs.retain(|r| r.capture_us >= start && r.capture_us < end);
                all.extend(catalog::spans_of(&recs));
            }
        }
        Ok(catalog::merge(all))
    }

    /// The detections recorded for `camera` in `[start, end)`.
    pub fn events(&self, camera: &str, start: Micros, end: Micros) -> Result<Vec<EventEntry>> {
        let mut out = Vec::new();
        for (slot, _) in self.slots(camera, start, end)? {
            out.extend(catalog::read_events(
                &self.shared.paths(camera, slot),
                start,
                end,
            ));
        }
        Ok(out)
    }

    /// Spans and events together: the JSON of `GET /api/recordings`.
    pub fn recordings(&self, camera: &str, start: Micros, end: Micros) -> Result<Recordings> {
        Ok(Recordings {
            camera: camera.to_owned(),
            spans: self.spans(camera, start, end)?,
            events: self.events(camera, start, end)?,
        })
    }

    /// The frames of `camera` recorded in `[start, end)`: their index records with the open
    /// segment files to read them from, and the range's spans. Only frames whose JPEG is
    /// wholly in its segment as opened are listed (the index is written after the data). An
    /// empty range is an empty index, not an error. Blocking: reads one index per segment.
    pub fn frame_index(&self, camera: &str, start: Micros, end: Micros) -> Result<FrameIndex> {
        let mut out = FrameIndex::default();
        for (slot, _) in self.slots(camera, start, end)? {
            let paths = self.shared.paths(camera, slot);
            let file = match std::fs::File::open(&paths.mp4) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io("open", &paths.mp4, e)),
            };
            let meta = file
                .metadata()
                .map_err(|e| Error::io("stat", &paths.mp4, e))?;
            let mut recs = catalog::read_index(&paths)?;
            recs.retain(|r| r.offset + u64::from(r.size) <= meta.len());
            recs.retain(|r| r.capture_us >= start && r.capture_us < end);
            if recs.is_empty() {
                continue;
            }
            out.push_segment(SegmentFile::new(paths.mp4, slot, meta.ino(), file), recs);
        }
        Ok(out.finish())
    }

    fn select(&self, camera: &str, start: Micros, end: Micros) -> Result<Selection> {
        let index = self.frame_index(camera, start, end)?;
        if index.frames.is_empty() {
            return Err(Error::NotFound(format!(
                "no recording of {camera} in that range"
            )));
        }
        let mut h = FNV_OFFSET;
        fnv1a(&mut h, camera.as_bytes());
        fnv1a(&mut h, &start.to_le_bytes());
        fnv1a(&mut h, &end.to_le_bytes());
        for (n, seg) in index.segments.iter().enumerate() {
            let in_seg = index.frames.iter().filter(|f| f.segment as usize == n);
            let (count, last) = in_seg.fold((0u64, None), |(c, _), f| (c + 1, Some(f.record)));
            fnv1a(&mut h, seg.path().as_os_str().as_encoded_bytes());
            fnv1a(&mut h, &seg.inode().to_le_bytes());
            fnv1a(&mut h, &count.to_le_bytes());
            if let Some(last) = last {
                fnv1a(&mut h, &last.to_bytes());
            }
        }
        Ok(Selection {
            files: index.segments.iter().map(|s| s.file.clone()).collect(),
            etag: format!("\"{h:016x}-{:x}\"", index.frames.len()),
            frames: index
                .frames
                .iter()
                .map(|f| ExportFrame {
                    file: f.segment,
                    rec: f.record,
                })
                .collect(),
        })
    }

    /// One standalone MP4 of `camera` in `[start, end)`, served by byte ranges.
    pub fn export_mp4(&self, camera: &str, start: Micros, end: Micros) -> Result<Mp4Export> {
        let sel = self.select(camera, start, end)?;
        Mp4Export::new(sel).map_err(|e| Error::io("read", camera, e))
    }

    /// The frames of `camera` in `[start, end)` as JPEGs with ids and times.
    pub fn export_mjpeg(&self, camera: &str, start: Micros, end: Micros) -> Result<MjpegExport> {
        Ok(MjpegExport::new(self.select(camera, start, end)?))
    }
}

impl Shared {
    /// Repairs the segments a crash may have torn (see [`crate::recovery`]): the newest of
    /// each camera, and every other whose index does not end where its `.mp4` does. A
    /// segment without even a whole init segment (no frames) is removed.
    fn recover_torn(&self) {
        let torn: Vec<(String, Micros)> = {
            let cat = self.catalog();
            cat.cams
                .iter()
                .flat_map(|(c, segs)| {
                    let newest = segs.keys().next_back().copied();
                    segs.iter()
                        .filter(move |(slot, e)| {
                            Some(**slot) == newest
                                || (e.scanned_mp4_len > 0
                                    && crate::recovery::needs_repair(
                                        &self.paths(c, **slot),
                                        e.scanned_mp4_len,
                                    ))
                        })
                        .map(move |(slot, _)| (c.clone(), *slot))
                })
                .collect()
        };
        for (cam, slot) in torn {
            let paths = self.paths(&cam, slot);
            if !paths.mp4.exists() {
                continue;
            }
            match crate::recovery::recover(&paths) {
                Ok(r) if r.mp4_len == 0 => {
                    tracing::warn!(segment = %paths.mp4.display(), "removed a segment torn before its first frame");
                    for p in [&paths.mp4, &paths.idx, &paths.events] {
                        let _ = std::fs::remove_file(p);
                    }
                    if let Some(segs) = self.catalog().cams.get_mut(&cam) {
                        segs.remove(&slot);
                    }
                }
                Ok(r) => {
                    if r.cut_bytes > 0 || r.index_rebuilt {
                        tracing::warn!(segment = %paths.mp4.display(), cut_bytes = r.cut_bytes,
                            index_rebuilt = r.index_rebuilt, frames = r.records.len(),
                            "repaired a segment torn by a crash");
                    }
                    let bytes = [&paths.mp4, &paths.idx, &paths.events]
                        .iter()
                        .filter_map(|p| std::fs::metadata(p).ok())
                        .map(|m| m.len())
                        .sum();
                    self.note_segment(&cam, slot, bytes, false);
                }
                Err(e) => {
                    tracing::warn!(segment = %paths.mp4.display(), error = %e, "cannot repair segment")
                }
            }
        }
    }
}

impl Drop for Archive {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(t) = self.retention.take() {
            let _ = t.join();
        }
    }
}
