//! Observable state of a source: [`SourceState`], [`SourceStatus`] and the [`StatusHandle`]
//! that the relay's stats page reads while the frame stream updates it.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use serde::ser::{Serialize, Serializer};

/// What a source is doing right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceState {
    /// Nobody has polled the frame stream yet.
    Idle,
    /// Opening the connection and waiting for the response head.
    Connecting {
        /// Attempt number, counted from 1 since the last frame that arrived.
        attempt: u32,
    },
    /// Frames are flowing (or, for snapshots, captures succeed).
    Streaming {
        /// When the current connection delivered its response head.
        since: Instant,
    },
    /// Waiting before the next connection attempt.
    BackingOff {
        /// The attempt that will be made at `retry_at`.
        attempt: u32,
        /// When the next attempt starts.
        retry_at: Instant,
    },
    /// The frame stream was dropped; the upstream connection is closed.
    Stopped,
}

impl SourceState {
    /// A stable lower-case name: `idle`, `connecting`, `streaming`, `backing_off`, `stopped`.
    pub fn name(&self) -> &'static str {
        match self {
            SourceState::Idle => "idle",
            SourceState::Connecting { .. } => "connecting",
            SourceState::Streaming { .. } => "streaming",
            SourceState::BackingOff { .. } => "backing_off",
            SourceState::Stopped => "stopped",
        }
    }
}

/// A copy of a source's state and counters at one instant.
///
/// Serialises (for JSON stats) with instants turned into ages relative to the moment of
/// serialisation: `state`, `attempt`, `retry_in_ms`, `streaming_for_ms`, `last_error`, the
/// counters and `last_frame_age_ms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceStatus {
    /// Current state.
    pub state: SourceState,
    /// The most recent error (connection failure, stall, skipped corrupt frame...), kept after
    /// recovery so an operator can see what happened last.
    pub last_error: Option<String>,
    /// Frames delivered to the consumer.
    pub frames: u64,
    /// JPEG bytes delivered to the consumer.
    pub bytes: u64,
    /// Connections that got a usable response head.
    pub connects: u64,
    /// Connection attempts after the first one (every retry counts, failed or not).
    pub reconnects: u64,
    /// Parts skipped because they were not a complete JPEG (truncated, garbage).
    pub corrupt_frames: u64,
    /// When the last frame was delivered.
    pub last_frame_at: Option<Instant>,
}

impl SourceStatus {
    fn new() -> Self {
        SourceStatus {
            state: SourceState::Idle,
            last_error: None,
            frames: 0,
            bytes: 0,
            connects: 0,
            reconnects: 0,
            corrupt_frames: 0,
            last_frame_at: None,
        }
    }
}

fn millis_between(earlier: Instant, later: Instant) -> u64 {
    u64::try_from(later.saturating_duration_since(earlier).as_millis()).unwrap_or(u64::MAX)
}

#[derive(serde::Serialize)]
struct StatusView<'a> {
    state: &'static str,
    attempt: Option<u32>,
    retry_in_ms: Option<u64>,
    streaming_for_ms: Option<u64>,
    last_error: Option<&'a str>,
    frames: u64,
    bytes: u64,
    connects: u64,
    reconnects: u64,
    corrupt_frames: u64,
    last_frame_age_ms: Option<u64>,
}

impl Serialize for SourceStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let now = Instant::now();
        let (attempt, retry_in_ms, streaming_for_ms) = match self.state {
            SourceState::Connecting { attempt } => (Some(attempt), None, None),
            SourceState::BackingOff { attempt, retry_at } => {
                (Some(attempt), Some(millis_between(now, retry_at)), None)
            }
            SourceState::Streaming { since } => (None, None, Some(millis_between(since, now))),
            SourceState::Idle | SourceState::Stopped => (None, None, None),
        };
        StatusView {
            state: self.state.name(),
            attempt,
            retry_in_ms,
            streaming_for_ms,
            last_error: self.last_error.as_deref(),
            frames: self.frames,
            bytes: self.bytes,
            connects: self.connects,
            reconnects: self.reconnects,
            corrupt_frames: self.corrupt_frames,
            last_frame_age_ms: self.last_frame_at.map(|t| millis_between(t, now)),
        }
        .serialize(serializer)
    }
}

/// A cheap, cloneable view of one source's status; any thread may read it at any time.
#[derive(Debug, Clone)]
pub struct StatusHandle {
    // One small mutex: written a few times per frame by the frame stream, read by stats pages.
    // Uncontended in practice, and it keeps state and counters consistent with each other.
    inner: Arc<Mutex<SourceStatus>>,
}

impl StatusHandle {
    pub(crate) fn new() -> Self {
        StatusHandle {
            inner: Arc::new(Mutex::new(SourceStatus::new())),
        }
    }

    /// A copy of the current state and counters.
    pub fn snapshot(&self) -> SourceStatus {
        self.lock().clone()
    }

    /// Runs `f` on the status under the lock (crate-internal writer side).
    pub(crate) fn update<R>(&self, f: impl FnOnce(&mut SourceStatus) -> R) -> R {
        f(&mut self.lock())
    }

    fn lock(&self) -> MutexGuard<'_, SourceStatus> {
        // A panic while holding this lock cannot leave the plain counters inconsistent in a
        // way that matters; keep serving them rather than poisoning the stats page.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn serialises_ages_not_instants() {
        let handle = StatusHandle::new();
        handle.update(|s| {
            s.state = SourceState::BackingOff {
                attempt: 4,
                retry_at: Instant::now() + Duration::from_secs(2),
            };
            s.frames = 7;
            s.last_error = Some("boom".into());
        });
        let json = serde_json::to_value(handle.snapshot()).unwrap();
        assert_eq!(json["state"], "backing_off");
        assert_eq!(json["attempt"], 4);
        assert!(json["retry_in_ms"].as_u64().unwrap() > 1000);
        assert_eq!(json["frames"], 7);
        assert_eq!(json["last_error"], "boom");
        assert!(json["last_frame_age_ms"].is_null());
    }

    #[test]
    fn state_names_are_stable() {
        let names: Vec<_> = [
            SourceState::Idle,
            SourceState::Connecting { attempt: 1 },
            SourceState::Streaming {
                since: Instant::now(),
            },
            SourceState::BackingOff {
                attempt: 2,
                retry_at: Instant::now(),
            },
            SourceState::Stopped,
        ]
        .iter()
        .map(SourceState::name)
        .collect();
        assert_eq!(
            names,
            ["idle", "connecting", "streaming", "backing_off", "stopped"]
        );
    }
}
