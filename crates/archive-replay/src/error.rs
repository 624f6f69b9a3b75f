//! The crate's one error type, with the kinds the relay maps to HTTP statuses.

use serde::Serialize;

/// What went wrong, for callers that match on it (the error itself carries the details).
///
/// Suggested HTTP statuses: [`BadRequest`](Self::BadRequest) 400,
/// [`NotFound`](Self::NotFound) 404, [`OutsideRecordings`](Self::OutsideRecordings) 416 (with
/// the spans: [`Error::body`]), [`Full`](Self::Full) 503 (or 429),
/// [`Storage`](Self::Storage) 500.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The request is malformed: bad JSON, a bad time, a rate outside 1/16..16, no cameras.
    BadRequest,
    /// Unknown (or ended) session, or a camera that is not recorded / not in the session.
    NotFound,
    /// The start or seek instant lies outside every recorded span of the session's cameras.
    OutsideRecordings,
    /// The relay already runs its maximum number of replay sessions.
    Full,
    /// The recordings could not be read.
    Storage,
}

impl ErrorKind {
    /// A stable lowercase name (`"bad_request"`, `"not_found"`, ...), for JSON bodies.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::NotFound => "not_found",
            ErrorKind::OutsideRecordings => "outside_recordings",
            ErrorKind::Full => "full",
            ErrorKind::Storage => "storage",
        }
    }
}

/// One camera's recorded spans, as `GET /api/recordings` reports them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CameraSpans {
    /// The camera.
    pub camera: String,
    /// Its recorded stretches, oldest first.
    pub spans: Vec<mjpeg_record::Span>,
}

/// Errors of this crate. Each says what was asked for.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The body is not the JSON the route takes.
    #[error("bad JSON: {0}")]
    BadJson(String),
    /// A time that is neither RFC 3339 nor Unix seconds.
    #[error("bad time {value:?}: {reason}")]
    BadTime {
        /// The value given.
        value: String,
        /// Why it was refused.
        reason: String,
    },
    /// A rate outside 1/16..=16 or not a finite number.
    #[error("rate {rate} is out of range (1/16 to 16)")]
    InvalidRate {
        /// The rate asked for.
        rate: f64,
    },
    /// The request makes no sense (no cameras, a camera twice, too many cameras).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// No session has this id (or it ended).
    #[error("no replay session {0:?}")]
    UnknownSession(String),
    /// The camera has no recordings, or is not part of the session.
    #[error("no recorded camera {0:?}")]
    UnknownCamera(String),
    /// The instant is outside every recorded span of the session's cameras.
    #[error("{} is outside the recordings", mjpeg_record::format_time(*requested_us))]
    OutsideRecordings {
        /// The instant asked for, Unix µs.
        requested_us: i64,
        /// The recorded spans of each camera asked for.
        spans: Vec<CameraSpans>,
    },
    /// The maximum number of sessions is reached.
    #[error("too many replay sessions (at most {max})")]
    TooManySessions {
        /// The configured maximum.
        max: usize,
    },
    /// Reading the recordings failed.
    #[error("recordings: {0}")]
    Archive(#[from] mjpeg_record::Error),
    /// A blocking read of the recordings panicked or was cancelled.
    #[error("reading the recordings failed: {0}")]
    Task(String),
}

impl Error {
    /// The kind of error, stable across versions.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::BadJson(_)
            | Error::BadTime { .. }
            | Error::InvalidRate { .. }
            | Error::InvalidRequest(_) => ErrorKind::BadRequest,
            Error::UnknownSession(_) | Error::UnknownCamera(_) => ErrorKind::NotFound,
            Error::OutsideRecordings { .. } => ErrorKind::OutsideRecordings,
            Error::TooManySessions { .. } => ErrorKind::Full,
            Error::Task(_) => ErrorKind::Storage,
            Error::Archive(e) => match e.kind() {
                mjpeg_record::ErrorKind::Parse | mjpeg_record::ErrorKind::InvalidInput => {
                    ErrorKind::BadRequest
                }
                mjpeg_record::ErrorKind::NotFound => ErrorKind::NotFound,
                mjpeg_record::ErrorKind::Io | mjpeg_record::ErrorKind::Corrupt => {
                    ErrorKind::Storage
                }
            },
        }
    }

    /// The JSON body of the error response: `{"error": MESSAGE, "kind": KIND}`, plus
    /// `"spans": [{"camera": NAME, "spans": [...]}, ...]` for
    /// [`ErrorKind::OutsideRecordings`].
    pub fn body(&self) -> serde_json::Value {
        let mut body = serde_json::json!({
            "error": self.to_string(),
            "kind": self.kind().as_str(),
        });
        if let (Error::OutsideRecordings { spans, .. }, Some(map)) = (self, body.as_object_mut()) {
            map.insert(
                "spans".into(),
                serde_json::to_value(spans).unwrap_or_default(),
            );
        }
        body
    }

    /// This crate's error for one of `replay-session`'s, for the session's `cameras`.
    pub(crate) fn from_session(e: replay_session::ReplayError) -> Error {
        use replay_session::ReplayError as R;
        match e {
            R::InvalidRate { rate } => Error::InvalidRate { rate },
            R::NoCameras => Error::InvalidRequest("a session needs at least one camera".into()),
            R::TooManySessions { max } => Error::TooManySessions { max },
            // The callers check the spans themselves and report the archive's.
            R::OutsideRecordings { requested_us, .. } => Error::OutsideRecordings {
                requested_us,
                spans: Vec::new(),
            },
            R::Stopped => Error::UnknownSession("(ended)".into()),
        }
    }
}

/// Shorthand for this crate's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;
