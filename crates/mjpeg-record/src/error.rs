//! The crate's one error type.

use std::path::PathBuf;

/// What went wrong, coarse enough for callers to match on (HTTP status, stats, retries).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A time, duration, size or configuration value could not be parsed.
    Parse,
    /// The disk refused: full, permission denied, a directory removed, an I/O error.
    Io,
    /// A file on disk is not what this crate writes (bad magic, broken boxes).
    Corrupt,
    /// A query or export asked for something that is not recorded (unknown camera, empty range).
    NotFound,
    /// The request itself is invalid (end before start, a camera name with a slash).
    InvalidInput,
}

/// The errors of `mjpeg-record`. Each variant says where (path, value) it happened.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A value in the configuration or a query could not be parsed.
    #[error("cannot parse {what} {value:?}: {reason}")]
    Parse {
        /// What was expected ("time", "duration", "size").
        what: &'static str,
        /// The text given.
        value: String,
        /// Why it was refused.
        reason: String,
    },
    /// An I/O error on a file or directory.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done ("create", "write", "open"...).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A file is not a segment or an index this crate wrote.
    #[error("{path}: corrupt at byte {offset}: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Where in the file.
        offset: u64,
        /// What was wrong.
        reason: String,
    },
    /// Nothing recorded matches the request.
    #[error("not found: {0}")]
    NotFound(String),
    /// The request is invalid.
    #[error("invalid input: {0}")]
    InvalidInput(String),
}

impl Error {
    /// The coarse kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Parse { .. } => ErrorKind::Parse,
            Error::Io { .. } => ErrorKind::Io,
            Error::Corrupt { .. } => ErrorKind::Corrupt,
            Error::NotFound(_) => ErrorKind::NotFound,
            Error::InvalidInput(_) => ErrorKind::InvalidInput,
        }
    }

    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn parse(what: &'static str, value: &str, reason: impl ToString) -> Self {
        Error::Parse {
            what,
            value: value.to_owned(),
            reason: reason.to_string(),
        }
    }
}

/// Shorthand for this crate's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;
