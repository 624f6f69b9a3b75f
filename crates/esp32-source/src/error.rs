//! The one error type of this crate, [`SourceError`], and its [`ErrorKind`].

use std::fmt;
use std::time::Duration;

/// Where an error happened: which camera, which URL, which connection attempt.
///
/// Every error that comes from talking to a camera carries one, so a log line alone tells a
/// user which camera misbehaved and whether it was the first dial or the 40th retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorContext {
    /// The camera's configured name (for [`crate::Esp32Control`]: the camera's host).
    pub camera: String,
    /// The URL that was requested.
    pub url: String,
    /// The connection attempt, counted from 1 since the last frame that arrived.
    pub attempt: u32,
}

impl fmt::Display for ErrorContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "camera `{}` ({}), attempt {}",
            self.camera, self.url, self.attempt
        )
    }
}

/// Everything that can go wrong while reading or configuring a camera.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// The configured URL cannot be used (not `http://`, no host, credentials, ...).
    #[error("invalid camera URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A caller passed an argument that cannot be sent (e.g. a control variable name).
    #[error("invalid argument: {0}")]
    InvalidInput(String),
    /// The TCP connection could not be opened.
    #[error("{ctx}: cannot connect: {source}")]
    Connect {
        /// Which camera and attempt.
        ctx: ErrorContext,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
    /// A stage (connecting, waiting for the response head, reading a snapshot) took too long.
    #[error("{ctx}: {stage} timed out after {after:?}")]
    Timeout {
        /// Which camera and attempt.
        ctx: ErrorContext,
        /// What was being waited for.
        stage: &'static str,
        /// The configured limit.
        after: Duration,
    },
    /// The HTTP exchange failed (malformed or oversized response head, connection reset...).
    #[error("{ctx}: HTTP error: {source}")]
    Http {
        /// Which camera and attempt.
        ctx: ErrorContext,
        /// hyper's error.
        #[source]
        source: hyper::Error,
    },
    /// The camera answered with a non-success status (404, 500, 503 "busy", ...).
    #[error("{ctx}: camera answered HTTP {status}")]
    Status {
        /// Which camera and attempt.
        ctx: ErrorContext,
        /// The HTTP status code.
        status: u16,
    },
    /// The camera answered with a redirect. Redirects are never followed: the operator should
    /// configure the target URL directly.
    #[error("{ctx}: camera redirects (HTTP {status}) to `{location}`; redirects are not followed, configure that URL instead")]
    Redirect {
        /// Which camera and attempt.
        ctx: ErrorContext,
        /// The HTTP status code (301, 302, 307, ...).
        status: u16,
        /// The `Location` header (shortened, `(none)` when absent).
        location: String,
    },
    /// The response is not what the source expects (`text/html` instead of MJPEG, ...).
    #[error("{ctx}: unexpected content type `{content_type}`, expected {expected}")]
    ContentType {
        /// Which camera and attempt.
        ctx: ErrorContext,
        /// The `Content-Type` the camera sent.
        content_type: String,
        /// What would have been accepted.
        expected: &'static str,
    },
    /// The MJPEG body could not be parsed (part too large, endless part headers, I/O error...).
    #[error("{ctx}: bad MJPEG stream: {source}")]
    Codec {
        /// Which camera and attempt.
        ctx: ErrorContext,
        /// The codec's error, with byte offset and part number.
        #[source]
        source: mjpeg_codec::CodecError,
    },
    /// No complete frame arrived within the stall timeout: the connection is dropped.
    #[error("{ctx}: no complete frame for {after:?}, the stream stalled")]
    Stall {
        /// Which camera and attempt.
        ctx: ErrorContext,
        /// The configured stall timeout.
        after: Duration,
    },
    /// The camera ended the stream.
    #[error("{ctx}: camera closed the stream after {frames} frames")]
    Closed {
        /// Which camera and attempt.
        ctx: ErrorContext,
        /// Frames received on that connection.
        frames: u64,
    },
    /// A response body (snapshot, `/status`) is larger than allowed.
    #[error("{ctx}: response body larger than {limit} bytes")]
    TooLarge {
        /// Which camera and attempt.
        ctx: ErrorContext,
        /// The limit in bytes.
        limit: usize,
    },
    /// A response body is not what was expected (not JSON, not a JPEG, cut short...).
    #[error("{ctx}: invalid response: {reason}")]
    InvalidResponse {
        /// Which camera and attempt.
        ctx: ErrorContext,
        /// What was wrong.
        reason: String,
    },
    /// A part or snapshot was skipped because it is not a complete JPEG (truncated, garbage).
    /// The connection stays up; the source counts it in
    /// [`SourceStatus::corrupt_frames`](crate::SourceStatus::corrupt_frames).
    #[error("{ctx}: skipped {what}")]
    Corrupt {
        /// Which camera and attempt.
        ctx: ErrorContext,
        /// Which part, and why it was skipped.
        what: String,
    },
}

/// The category of a [`SourceError`], for callers that match on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// See [`SourceError::InvalidUrl`].
    InvalidUrl,
    /// See [`SourceError::InvalidInput`].
    InvalidInput,
    /// See [`SourceError::Connect`].
    Connect,
    /// See [`SourceError::Timeout`].
    Timeout,
    /// See [`SourceError::Http`].
    Http,
    /// See [`SourceError::Status`].
    Status,
    /// See [`SourceError::Redirect`].
    Redirect,
    /// See [`SourceError::ContentType`].
    ContentType,
    /// See [`SourceError::Codec`].
    Codec,
    /// See [`SourceError::Stall`].
    Stall,
    /// See [`SourceError::Closed`].
    Closed,
    /// See [`SourceError::TooLarge`].
    TooLarge,
    /// See [`SourceError::InvalidResponse`].
    InvalidResponse,
    /// See [`SourceError::Corrupt`].
    Corrupt,
}

impl ErrorKind {
    /// A stable snake_case name for logs and JSON: `connect`, `timeout`, `status`, ...
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::InvalidUrl => "invalid_url",
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::Connect => "connect",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Http => "http",
            ErrorKind::Status => "status",
            ErrorKind::Redirect => "redirect",
            ErrorKind::ContentType => "content_type",
            ErrorKind::Codec => "codec",
            ErrorKind::Stall => "stall",
            ErrorKind::Closed => "closed",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::InvalidResponse => "invalid_response",
            ErrorKind::Corrupt => "corrupt",
        }
    }
}

impl SourceError {
    /// The category of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            SourceError::InvalidUrl { .. } => ErrorKind::InvalidUrl,
            SourceError::InvalidInput(_) => ErrorKind::InvalidInput,
            SourceError::Connect { .. } => ErrorKind::Connect,
            SourceError::Timeout { .. } => ErrorKind::Timeout,
            SourceError::Http { .. } => ErrorKind::Http,
            SourceError::Status { .. } => ErrorKind::Status,
            SourceError::Redirect { .. } => ErrorKind::Redirect,
            SourceError::ContentType { .. } => ErrorKind::ContentType,
            SourceError::Codec { .. } => ErrorKind::Codec,
            SourceError::Stall { .. } => ErrorKind::Stall,
            SourceError::Closed { .. } => ErrorKind::Closed,
            SourceError::TooLarge { .. } => ErrorKind::TooLarge,
            SourceError::InvalidResponse { .. } => ErrorKind::InvalidResponse,
            SourceError::Corrupt { .. } => ErrorKind::Corrupt,
        }
    }

    /// Whether retrying soon would most likely get the same answer, so the source backs off
    /// exponentially instead of retrying at [`Backoff::waiting_interval`](crate::Backoff):
    /// an HTTP 4xx status (404, 401/403 authentication refused, ...), a redirect, a response
    /// that is not an MJPEG stream or a JPEG (content type), a body over the limit, a response
    /// head that is not HTTP, or a bad URL or argument.
    ///
    /// Everything that a camera that is rebooting, busy or on a bad link produces is not
    /// persistent: refused or timed-out connections, HTTP 5xx (503 "busy"), stalls, closed or
    /// broken streams, corrupt parts.
    pub fn is_persistent(&self) -> bool {
        match self {
            SourceError::Status { status, .. } => (400..500).contains(status),
            SourceError::Http { source, .. } => source.is_parse(),
            SourceError::InvalidUrl { .. }
            | SourceError::InvalidInput(_)
            | SourceError::Redirect { .. }
            | SourceError::ContentType { .. }
            | SourceError::TooLarge { .. }
            | SourceError::InvalidResponse { .. } => true,
            SourceError::Connect { .. }
            | SourceError::Timeout { .. }
            | SourceError::Codec { .. }
            | SourceError::Stall { .. }
            | SourceError::Closed { .. }
            | SourceError::Corrupt { .. } => false,
        }
    }

    /// The camera, URL and attempt, when the error came from talking to a camera.
    pub fn context(&self) -> Option<&ErrorContext> {
        match self {
            SourceError::InvalidUrl { .. } | SourceError::InvalidInput(_) => None,
            SourceError::Connect { ctx, .. }
            | SourceError::Timeout { ctx, .. }
            | SourceError::Http { ctx, .. }
            | SourceError::Status { ctx, .. }
            | SourceError::Redirect { ctx, .. }
            | SourceError::ContentType { ctx, .. }
            | SourceError::Codec { ctx, .. }
            | SourceError::Stall { ctx, .. }
            | SourceError::Closed { ctx, .. }
            | SourceError::TooLarge { ctx, .. }
            | SourceError::InvalidResponse { ctx, .. }
            | SourceError::Corrupt { ctx, .. } => Some(ctx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_camera_url_and_attempt() {
        let err = SourceError::Redirect {
            ctx: ErrorContext {
                camera: "porch".into(),
                url: "http://10.0.0.5:81/stream".into(),
                attempt: 3,
            },
            status: 302,
            location: "http://10.0.0.5/login".into(),
        };
        let text = err.to_string();
        assert!(text.contains("porch"), "{text}");
        assert!(text.contains("http://10.0.0.5:81/stream"), "{text}");
        assert!(text.contains("attempt 3"), "{text}");
        assert!(text.contains("http://10.0.0.5/login"), "{text}");
        assert_eq!(err.kind(), ErrorKind::Redirect);
        assert_eq!(err.context().map(|c| c.attempt), Some(3));
    }

    #[test]
    fn only_answers_that_would_repeat_are_persistent() {
        let ctx = || ErrorContext {
            camera: "porch".into(),
            url: "http://10.0.0.5:81/stream".into(),
            attempt: 1,
        };
        let status = |status| SourceError::Status { ctx: ctx(), status };
        assert!(status(404).is_persistent());
        assert!(status(401).is_persistent());
        assert!(status(403).is_persistent());
        assert!(!status(503).is_persistent());
        assert!(!status(500).is_persistent());
        let content_type = SourceError::ContentType {
            ctx: ctx(),
            content_type: "text/html".into(),
            expected: "multipart/x-mixed-replace",
        };
        assert!(content_type.is_persistent());
        let refused = SourceError::Connect {
            ctx: ctx(),
            source: std::io::ErrorKind::ConnectionRefused.into(),
        };
        assert!(!refused.is_persistent());
        let stall = SourceError::Stall {
            ctx: ctx(),
            after: Duration::from_secs(5),
        };
        assert!(!stall.is_persistent());
        assert_eq!(stall.kind().name(), "stall");
        assert_eq!(ErrorKind::ContentType.name(), "content_type");
    }
}
