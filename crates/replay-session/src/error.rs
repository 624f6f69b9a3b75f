//! The crate's one error type.

use crate::track::Span;

/// What went wrong, for callers that match on it (the error itself carries the details).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A rate outside 1/16x..=16x, or not a number (HTTP: 400).
    InvalidRate,
    /// The requested instant is outside every recorded span (HTTP: 416 with the spans).
    OutsideRecordings,
    /// The request itself makes no sense, e.g. a session without cameras (HTTP: 400).
    InvalidInput,
    /// The registry already holds its maximum number of sessions (HTTP: 503 or 429).
    Full,
    /// The session was stopped (ended idle, deleted); controls no longer apply (HTTP: 404).
    Stopped,
}

/// Errors of this crate.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReplayError {
    /// The rate is outside [`crate::Rate::MIN`]..=[`crate::Rate::MAX`] or is NaN.
    #[error("rate {rate} is out of range (1/16 to 16, a finite number)")]
    InvalidRate {
        /// The rate asked for.
        rate: f64,
    },
    /// The instant is not inside any camera's recorded spans.
    #[error("instant {requested_us} µs is outside the recordings")]
    OutsideRecordings {
        /// The instant asked for, µs since the Unix epoch.
        requested_us: i64,
        /// Per camera of the session (same order), its recorded spans.
        spans: Vec<Vec<Span>>,
    },
    /// A session needs at least one camera.
    #[error("a session needs at least one camera")]
    NoCameras,
    /// The registry holds `max` sessions already.
    #[error("too many replay sessions (at most {max})")]
    TooManySessions {
        /// The configured maximum.
        max: usize,
    },
    /// The session was stopped; its handle no longer controls anything.
    #[error("the replay session has ended")]
    Stopped,
}

impl ReplayError {
    /// The kind of error, stable across versions.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ReplayError::InvalidRate { .. } => ErrorKind::InvalidRate,
            ReplayError::OutsideRecordings { .. } => ErrorKind::OutsideRecordings,
            ReplayError::NoCameras => ErrorKind::InvalidInput,
            ReplayError::TooManySessions { .. } => ErrorKind::Full,
            ReplayError::Stopped => ErrorKind::Stopped,
        }
    }
}
