//! Counters a test reads to check what the camera did.

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of a [`MockCamera`](crate::MockCamera)'s counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MockStats {
    /// `/stream` responses started since the camera started.
    pub stream_connections_total: u64,
    /// `/stream` responses open now.
    pub stream_clients: u64,
    /// `/stream` requests that found `max_clients` streaming: refused with 503, or (by
    /// default, [`WhenBusy::Silent`](crate::WhenBusy)) left waiting without an answer.
    pub refused_total: u64,
    /// Parts queued on `/stream` responses, summed over all clients (faulty parts included).
    pub frames_sent: u64,
    /// `/capture` responses served.
    pub captures: u64,
    /// Id of the most recently captured frame (0 at start, +1 per frame interval; a
    /// `/control` that changes the picture captures one more).
    pub last_frame_id: u64,
}

/// The live counters. Each one is only ever read as a statistic, never to order other
/// memory accesses, so `Relaxed` suffices throughout.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub stream_connections_total: AtomicU64,
    pub stream_clients: AtomicU64,
    pub refused_total: AtomicU64,
    pub frames_sent: AtomicU64,
    pub captures: AtomicU64,
    pub last_frame_id: AtomicU64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> MockStats {
        MockStats {
            stream_connections_total: self.stream_connections_total.load(Ordering::Relaxed),
            stream_clients: self.stream_clients.load(Ordering::Relaxed),
            refused_total: self.refused_total.load(Ordering::Relaxed),
            frames_sent: self.frames_sent.load(Ordering::Relaxed),
            captures: self.captures.load(Ordering::Relaxed),
            last_frame_id: self.last_frame_id.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}
