//! A recorder's counters: atomics the writer thread updates and the relay reads without
//! locking (the error message alone sits behind a mutex, touched only on state changes).

use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::Mutex;

/// What a recorder is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordState {
    /// Not recording (mode off, or stopped).
    Off,
    /// Writing frames.
    Recording,
    /// Events mode, waiting for a matching detection (pre-roll in memory).
    Armed,
    /// The last write failed; retrying periodically. See the error message.
    Error,
}

impl RecordState {
    fn from_u8(v: u8) -> Self {
        match v {
            1 => RecordState::Recording,
            2 => RecordState::Armed,
            3 => RecordState::Error,
            _ => RecordState::Off,
        }
    }
}

/// The live counters of one recorder. Every field is an independent counter, so `Relaxed`
/// ordering suffices: a reader wants recent values, not a consistent snapshot across fields.
#[derive(Debug, Default)]
pub(crate) struct StatsCell {
    pub state: AtomicU8,
    pub error: Mutex<Option<String>>,
    pub frames_written: AtomicU64,
    pub bytes_written: AtomicU64,
    pub frames_dropped: AtomicU64,
    pub frames_lost: AtomicU64,
    pub errors: AtomicU64,
    pub write_last_us: AtomicU64,
    pub write_max_us: AtomicU64,
    pub disk_free: AtomicU64,
    pub segments: AtomicU64,
    /// Set while the queue is full, so a burst of drops logs once.
    pub dropping: AtomicBool,
}

impl StatsCell {
    pub fn set_state(&self, s: RecordState) {
        self.state.store(s as u8, Relaxed);
    }

    pub fn state(&self) -> RecordState {
        RecordState::from_u8(self.state.load(Relaxed))
    }

    pub fn set_error(&self, msg: Option<String>) {
        if let Ok(mut e) = self.error.lock() {
            *e = msg;
        }
    }

    pub fn write_latency(&self, us: u64) {
        self.write_last_us.store(us, Relaxed);
        self.write_max_us.fetch_max(us, Relaxed);
    }

    pub fn snapshot(&self, camera: &str, oldest_us: Option<i64>) -> RecorderStats {
        RecorderStats {
            camera: camera.to_owned(),
            state: self.state(),
            error: self.error.lock().ok().and_then(|e| e.clone()),
            frames_written: self.frames_written.load(Relaxed),
            bytes_written: self.bytes_written.load(Relaxed),
            frames_dropped: self.frames_dropped.load(Relaxed),
            frames_lost_to_errors: self.frames_lost.load(Relaxed),
            errors: self.errors.load(Relaxed),
            write_latency_last_us: self.write_last_us.load(Relaxed),
            write_latency_max_us: self.write_max_us.load(Relaxed),
            disk_free_bytes: self.disk_free.load(Relaxed),
            segments_opened: self.segments.load(Relaxed),
            oldest_recording: oldest_us.map(crate::time::format_time),
            oldest_recording_us: oldest_us,
        }
    }
}

/// A snapshot of a recorder's stats, ready to serialise as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecorderStats {
    /// The camera.
    pub camera: String,
    /// What the recorder is doing.
    pub state: RecordState,
    /// The last error, while in [`RecordState::Error`].
    pub error: Option<String>,
    /// Frames written to segments.
    pub frames_written: u64,
    /// Bytes written (fragments, index records).
    pub bytes_written: u64,
    /// Frames dropped because the writer's queue was full (a slow disk).
    pub frames_dropped: u64,
    /// Frames not written because of a disk error.
    pub frames_lost_to_errors: u64,
    /// Disk errors seen.
    pub errors: u64,
    /// Time of the last fragment's write, µs.
    pub write_latency_last_us: u64,
    /// Longest fragment write, µs.
    pub write_latency_max_us: u64,
    /// Free bytes on the recording filesystem (for unprivileged users).
    pub disk_free_bytes: u64,
    /// Segment files opened.
    pub segments_opened: u64,
    /// Start of the oldest segment of this camera (RFC 3339).
    pub oldest_recording: Option<String>,
    /// The same, Unix µs.
    pub oldest_recording_us: Option<i64>,
}

/// Free bytes for unprivileged users on the filesystem holding `path` (`statvfs`).
#[allow(unsafe_code)]
pub fn disk_free(path: &std::path::Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs is plain data, so all-zero bytes are a valid value.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a NUL-terminated path that outlives the call, `st` is a valid, writable
    // statvfs; the call writes only into `st`.
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
    (rc == 0).then(|| st.f_bavail as u64 * st.f_frsize as u64)
}
