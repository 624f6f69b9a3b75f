//! Observable state of a source: [`SourceState`], [`SourceStatus`] and the [`StatusHandle`]
//! that the relay's stats page reads while the frame stream updates it.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::ser::{Serialize, Serializer};

use crate::{ErrorContext, ErrorKind, SourceError};

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
    /// The connection attempt, counted from 1 since the last frame that arrived, while
    /// connecting or backing off; `None` in the other states.
    pub fn attempt(&self) -> Option<u32> {
        match *self {
            SourceState::Connecting { attempt } | SourceState::BackingOff { attempt, .. } => {
                Some(attempt)
            }
            SourceState::Idle | SourceState::Streaming { .. } | SourceState::Stopped => None,
        }
    }

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

/// The most recent error of a source, typed: match on [`kind`](LastError::kind), show
/// [`message`](LastError::message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastError {
    /// What went wrong, as [`SourceError::kind`] said.
    pub kind: ErrorKind,
    /// Whether it was an answer that would repeat ([`SourceError::is_persistent`]): then the
    /// source backs off exponentially instead of retrying at the steady interval.
    pub persistent: bool,
    /// The error's message followed by its causes (`a: b: c`).
    pub message: String,
    /// Camera, URL and attempt.
    pub context: Option<ErrorContext>,
    /// When it happened.
    pub at: Instant,
}

impl LastError {
    /// Records `error`, which happened just now.
    pub fn new(error: &SourceError) -> Self {
        LastError {
            kind: error.kind(),
            persistent: error.is_persistent(),
            message: with_causes(error),
            context: error.context().cloned(),
            at: Instant::now(),
        }
    }
}

/// The error's message followed by its causes (`a: b: c`), skipping causes whose text the
/// message already contains, so the status shows e.g. why an I/O error happened.
pub(crate) fn with_causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        let text = inner.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        cause = inner.source();
    }
    message
}

/// A copy of a source's state and counters at one instant.
///
/// Serialises (for JSON stats) with instants turned into ages relative to the moment of
/// serialisation and durations into milliseconds: `state`, `attempt`, `retry_in_ms`,
/// `streaming_for_ms`, `last_error` (the message), `last_error_kind` ([`ErrorKind::name`]),
/// the counters, `last_frame_age_ms`, `down_for_ms`, `last_outage_ms`, `last_recovery_ms` and
/// `outages`.
///
/// # Outages
///
/// An outage starts when frames stop: at the last frame before the failure that ended a
/// stream (connection lost, stall), or at the first failure when no frame came yet since the
/// frame stream was first polled. It ends with the next frame. Skipped corrupt parts do not
/// start one. While it lasts, [`down_since`](SourceStatus::down_since) says since when; when it
/// ends, [`last_outage`](SourceStatus::last_outage) says how long it was and
/// [`last_recovery`](SourceStatus::last_recovery) how long the way back took: from the first
/// connection the camera accepted during the outage to the first frame (a board that reboots
/// is back when it accepts connections; what follows is the source's share).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceStatus {
    /// Current state.
    pub state: SourceState,
    /// The most recent error (connection failure, stall, skipped corrupt frame...), kept after
    /// recovery so an operator can see what happened last.
    pub last_error: Option<LastError>,
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
    /// Since when frames are missing, during an outage (see [Outages](#outages)); `None`
    /// while frames flow, before the first poll and after the stream was dropped.
    pub down_since: Option<Instant>,
    /// How long the last finished outage lasted, from frames stopping to the first frame
    /// after it.
    pub last_outage: Option<Duration>,
    /// How long the way back took after the last finished outage: from the first connection
    /// the camera accepted during it to the first frame.
    pub last_recovery: Option<Duration>,
    /// Outages that ended with a frame.
    pub outages: u64,
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
            down_since: None,
            last_outage: None,
            last_recovery: None,
            outages: 0,
        }
    }

    /// The kind of the most recent error, if any.
    pub fn last_error_kind(&self) -> Option<ErrorKind> {
        self.last_error.as_ref().map(|e| e.kind)
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
    last_error_kind: Option<&'static str>,
    frames: u64,
    bytes: u64,
    connects: u64,
    reconnects: u64,
    corrupt_frames: u64,
    last_frame_age_ms: Option<u64>,
    down_for_ms: Option<u64>,
    last_outage_ms: Option<u64>,
    last_recovery_ms: Option<u64>,
    outages: u64,
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
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
            last_error: self.last_error.as_ref().map(|e| e.message.as_str()),
            last_error_kind: self.last_error.as_ref().map(|e| e.kind.name()),
            frames: self.frames,
            bytes: self.bytes,
            connects: self.connects,
            reconnects: self.reconnects,
            corrupt_frames: self.corrupt_frames,
            last_frame_age_ms: self.last_frame_at.map(|t| millis_between(t, now)),
            down_for_ms: self.down_since.map(|t| millis_between(t, now)),
            last_outage_ms: self.last_outage.map(millis),
            last_recovery_ms: self.last_recovery.map(millis),
            outages: self.outages,
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
            s.last_error = Some(LastError::new(&SourceError::Stall {
                ctx: ErrorContext {
                    camera: "porch".into(),
                    url: "http://cam/stream".into(),
                    attempt: 3,
                },
                after: Duration::from_secs(5),
            }));
            s.last_outage = Some(Duration::from_millis(5250));
        });
        let json = serde_json::to_value(handle.snapshot()).unwrap();
        assert_eq!(json["state"], "backing_off");
        assert_eq!(json["attempt"], 4);
        assert!(json["retry_in_ms"].as_u64().unwrap() > 1000);
        assert_eq!(json["frames"], 7);
        assert_eq!(json["last_error_kind"], "stall");
        assert!(json["last_error"].as_str().unwrap().contains("porch"));
        assert!(json["last_frame_age_ms"].is_null());
        assert_eq!(json["last_outage_ms"], 5250);
        assert!(json["last_recovery_ms"].is_null());
        assert!(json["down_for_ms"].is_null());
        assert_eq!(handle.snapshot().last_error_kind(), Some(ErrorKind::Stall));
    }

    #[test]
    fn attempt_is_there_while_connecting_or_backing_off() {
        assert_eq!(SourceState::Connecting { attempt: 2 }.attempt(), Some(2));
        let backing_off = SourceState::BackingOff {
            attempt: 5,
            retry_at: Instant::now(),
        };
        assert_eq!(backing_off.attempt(), Some(5));
        assert_eq!(SourceState::Idle.attempt(), None);
        assert_eq!(SourceState::Stopped.attempt(), None);
        let streaming = SourceState::Streaming {
            since: Instant::now(),
        };
        assert_eq!(streaming.attempt(), None);
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
