//! A camera's recorder: the handle the live path calls ([`Recorder::try_record`] never
//! blocks) and the writer thread behind a bounded queue that owns the segment files.
//!
//! Drops: when the queue is full (the disk is slower than the camera), the frame is left out
//! of the recording and counted in `frames_dropped`; the first drop of a burst logs a warning
//! and the end of the burst logs how many went. Viewers never wait for the disk.
//!
//! Errors: a failed open or write (disk full, permission denied, directory removed) puts the
//! recorder in the `error` state with the message in its stats, logs once, cuts the segment
//! back to its last whole frame, and retries opening a segment at most once a second; frames
//! meanwhile count in `frames_lost_to_errors`. The first successful write logs the recovery.

use crate::archive::Shared;
use crate::config::RecordMode;
use crate::error::{Error, Result};
use crate::frame::RecordFrame;
use crate::layout::slot_of;
use crate::preroll::PreRoll;
use crate::segment_writer::{SegmentWriter, DEFAULT_DURATION_US};
use crate::stats::{disk_free, RecordState, RecorderStats, StatsCell};
use crate::time::Micros;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

enum Msg {
    Frame(RecordFrame),
    Flush(mpsc::Sender<()>),
}

/// The handle of one camera's recording. Dropping it closes the current segment cleanly.
#[derive(Debug)]
pub struct Recorder {
    camera: String,
    tx: Option<SyncSender<Msg>>,
    stats: Arc<StatsCell>,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Msg")
    }
}

impl Recorder {
    pub(crate) fn start(shared: Arc<Shared>, camera: &str, mode: RecordMode) -> Result<Recorder> {
        let (tx, rx) = mpsc::sync_channel(shared.config.queue.max(1));
        let stats = Arc::new(StatsCell::default());
        stats.set_state(match &mode {
            RecordMode::Events(_) => RecordState::Armed,
            m if m.is_on() => RecordState::Recording,
            _ => RecordState::Off,
        });
        let mut w = Writer {
            camera: camera.to_owned(),
            shared: shared.clone(),
            stats: stats.clone(),
            preroll: match &mode {
                RecordMode::Events(e) => Some(PreRoll::new(
                    e.pre.as_micros() as i64,
                    shared.config.preroll_max_bytes,
                )),
                _ => None,
            },
            mode,
            seg: None,
            slot: 0,
            clip_until: None,
            retry_at: None,
            abandoned: None,
            last_duration: DEFAULT_DURATION_US,
            last_sync: Instant::now(),
        };
        let thread = std::thread::Builder::new()
            .name(format!("record-{camera}"))
            .spawn(move || w.run(rx))
            .map_err(|e| Error::io("spawn writer thread", &shared.config.dir, e))?;
        Ok(Recorder {
            camera: camera.to_owned(),
            tx: Some(tx),
            stats,
            shared,
            thread: Some(thread),
        })
    }

    /// Queues a frame for recording; never blocks. Returns `false` when the frame was dropped
    /// because the queue is full (counted in the stats) or the recorder is off.
    pub fn try_record(&self, frame: RecordFrame) -> bool {
        let Some(tx) = &self.tx else { return false };
        if self.stats.state() == RecordState::Off {
            return false;
        }
        match tx.try_send(Msg::Frame(frame)) {
            Ok(()) => {
                if self.stats.dropping.swap(false, Relaxed) {
                    tracing::info!(camera = %self.camera, dropped_total = self.stats.frames_dropped.load(Relaxed),
                        "recording queue drains again");
                }
                true
            }
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.stats.frames_dropped.fetch_add(1, Relaxed);
                if !self.stats.dropping.swap(true, Relaxed) {
                    tracing::warn!(camera = %self.camera, "recording queue full (disk too slow): dropping frames from the recording");
                }
                false
            }
        }
    }

    /// Waits until every frame queued so far is written and synced. Blocks: for tests and
    /// shutdown, not for the live path.
    pub fn flush(&self) {
        let Some(tx) = &self.tx else { return };
        let (ack, done) = mpsc::channel();
        if tx.send(Msg::Flush(ack)).is_ok() {
            let _ = done.recv();
        }
    }

    /// The camera.
    pub fn camera(&self) -> &str {
        &self.camera
    }

    /// A snapshot of the stats (a few atomic loads and a short catalog lock).
    pub fn stats(&self) -> RecorderStats {
        let oldest = self
            .shared
            .catalog()
            .cams
            .get(&self.camera)
            .and_then(|s| s.keys().next().copied());
        self.stats.snapshot(&self.camera, oldest)
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The writer thread's state.
struct Writer {
    camera: String,
    shared: Arc<Shared>,
    stats: Arc<StatsCell>,
    mode: RecordMode,
    preroll: Option<PreRoll>,
    seg: Option<SegmentWriter>,
    slot: Micros,
    /// Events mode: frames up to this capture time are written (post-roll).
    clip_until: Option<Micros>,
    /// In the error state: when to try opening a segment again.
    retry_at: Option<Instant>,
    /// The segment given up on the last error: its index may lag behind it (it could not be
    /// written), so it is repaired once the disk works again.
    abandoned: Option<crate::layout::SegmentPaths>,
    last_duration: u32,
    last_sync: Instant,
}

const RETRY: Duration = Duration::from_secs(1);

impl Writer {
    fn run(&mut self, rx: mpsc::Receiver<Msg>) {
        let tick = self.shared.config.sync_interval.min(Duration::from_secs(1));
        self.update_disk_free();
        loop {
            match rx.recv_timeout(tick) {
                Ok(Msg::Frame(f)) => self.handle(f),
                Ok(Msg::Flush(ack)) => {
                    self.sync();
                    let _ = ack.send(());
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if self.last_sync.elapsed() >= tick {
                self.sync();
            }
        }
        self.close();
        if self.stats.state() != RecordState::Error {
            self.stats.set_state(RecordState::Off);
        }
    }

    fn handle(&mut self, f: RecordFrame) {
        let seg_us = self.shared.config.segment_us();
        // A frame in a later slot closes the current segment, written or not.
        if self.seg.is_some() && slot_of(f.capture_us, seg_us) != self.slot {
            self.close();
        }
        let RecordMode::Events(ev) = &self.mode else {
            self.write(&f);
            return;
        };
        let matches = f.matches(&ev.labels);
        let post = ev.post.as_micros() as i64;
        let in_clip = self.clip_until.is_some_and(|u| f.capture_us <= u);
        if matches {
            if !in_clip {
                let pre = self
                    .preroll
                    .as_mut()
                    .map(|p| p.drain_before(f.capture_us))
                    .unwrap_or_default();
                tracing::debug!(camera = %self.camera, preroll = pre.len(), "event clip starts");
                for p in &pre {
                    if self.seg.is_some() && slot_of(p.capture_us, seg_us) != self.slot {
                        self.close();
                    }
                    self.write(p);
                }
            }
            self.clip_until = Some(f.capture_us + post);
            self.write(&f);
        } else if in_clip {
            self.write(&f);
        } else {
            if self.clip_until.take().is_some() {
                self.close();
                if self.stats.state() == RecordState::Recording {
                    self.stats.set_state(RecordState::Armed);
                }
            }
            if let Some(p) = self.preroll.as_mut() {
                p.push(f);
            }
        }
    }

    fn write(&mut self, f: &RecordFrame) {
        if let Some(at) = self.retry_at {
            if Instant::now() < at {
                self.stats.frames_lost.fetch_add(1, Relaxed);
                return;
            }
        }
        let started = Instant::now();
        let result = self.open_for(f).and_then(|()| match self.seg.as_mut() {
            Some(s) => s.append(f),
            None => Err(Error::InvalidInput("no open segment".into())),
        });
        match result {
            Ok(bytes) => {
                self.stats
                    .write_latency(started.elapsed().as_micros() as u64);
                self.stats.frames_written.fetch_add(1, Relaxed);
                self.stats.bytes_written.fetch_add(bytes, Relaxed);
                if self.retry_at.take().is_some() {
                    tracing::info!(camera = %self.camera, "recording resumed");
                    self.stats.set_error(None);
                    self.repair_abandoned();
                }
                self.stats.set_state(RecordState::Recording);
            }
            Err(e) => self.fail(e),
        }
    }

    /// Makes sure the segment for `f`'s slot is open.
    fn open_for(&mut self, f: &RecordFrame) -> Result<()> {
        let slot = slot_of(f.capture_us, self.shared.config.segment_us());
        if self.seg.is_some() && slot == self.slot {
            return Ok(());
        }
        self.close();
        let paths = self.shared.paths(&self.camera, slot);
        let seg = SegmentWriter::open(&paths, &f.jpeg, self.last_duration)?;
        self.stats.segments.fetch_add(1, Relaxed);
        self.shared
            .note_segment(&self.camera, slot, seg.mp4_len(), true);
        self.slot = slot;
        self.seg = Some(seg);
        Ok(())
    }

    fn fail(&mut self, e: Error) {
        self.stats.errors.fetch_add(1, Relaxed);
        self.stats.frames_lost.fetch_add(1, Relaxed);
        let first = self.retry_at.is_none();
        if first {
            tracing::error!(camera = %self.camera, error = %e, "recording failed; retrying every second");
        }
        self.stats.set_error(Some(e.to_string()));
        self.stats.set_state(RecordState::Error);
        self.retry_at = Some(Instant::now() + RETRY);
        if let Some(seg) = self.seg.take() {
            // Keep what is there; the `.mp4` was cut back to the last whole frame.
            self.shared
                .note_segment(&self.camera, self.slot, file_bytes(&seg), false);
            self.abandoned = Some(seg.paths().clone());
        }
    }

    /// Brings the index of the segment abandoned on the last error up to date, so no torn
    /// segment is left behind. (Reopening it for the same slot already did: it is then left
    /// alone, as the open writer's index must not change under it.)
    fn repair_abandoned(&mut self) {
        let Some(paths) = self.abandoned.take() else {
            return;
        };
        if !paths.mp4.exists() || self.seg.as_ref().is_some_and(|s| *s.paths() == paths) {
            return;
        }
        match crate::recovery::recover(&paths) {
            Ok(r) if r.index_rebuilt || r.cut_bytes > 0 => {
                tracing::info!(camera = %self.camera, segment = %paths.mp4.display(),
                    frames = r.records.len(), "repaired the segment interrupted by the error");
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(camera = %self.camera, segment = %paths.mp4.display(), error = %e,
                    "cannot repair the segment interrupted by the error; start-up will")
            }
        }
    }

    fn sync(&mut self) {
        self.last_sync = Instant::now();
        self.update_disk_free();
        let Some(seg) = self.seg.as_mut() else { return };
        let r = seg.sync().and_then(|()| seg.check_still_there());
        let bytes = file_bytes(seg);
        match r {
            Ok(()) => self
                .shared
                .note_segment(&self.camera, self.slot, bytes, true),
            Err(e) => self.fail(e),
        }
    }

    fn close(&mut self) {
        if let Some(seg) = self.seg.take() {
            self.last_duration = seg.last_duration();
            let bytes = file_bytes(&seg);
            if let Err(e) = seg.close() {
                self.fail(e);
            }
            self.shared
                .note_segment(&self.camera, self.slot, bytes, false);
        }
    }

    fn update_disk_free(&self) {
        if let Some(free) = disk_free(&self.shared.config.dir) {
            self.stats.disk_free.store(free, Relaxed);
        }
    }
}

/// Bytes of a segment's files, as the writer knows them.
fn file_bytes(seg: &SegmentWriter) -> u64 {
    let p = seg.paths();
    seg.mp4_len()
        + crate::index::HEADER_LEN
        + seg.frames() * crate::index::RECORD_LEN
        + std::fs::metadata(&p.events).map(|m| m.len()).unwrap_or(0)
}
