//! The crate's one error type.

use std::io;

/// Why a viewer's connection ended with an error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading from or writing to the viewer failed.
    #[error("viewer I/O: {0}")]
    Io(#[from] io::Error),
    /// The viewer accepted no bytes for the write timeout.
    #[error("viewer accepted no bytes for the write timeout")]
    WriteTimeout,
    /// The viewer answered no ping for the pong timeout.
    #[error("viewer answered no ping for the pong timeout")]
    PingTimeout,
    /// A WebSocket client broke the protocol.
    #[error("WebSocket protocol error: {0}")]
    Protocol(&'static str),
    /// A WebSocket client sent a message over the size limit.
    #[error("WebSocket message of {0} bytes is over the limit")]
    TooBig(u64),
    /// A WebSocket client sent a message kind the server does not take (binary).
    #[error("WebSocket client sent an unsupported message")]
    Unsupported,
}

/// What kind of [`Error`] happened, without its details.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// [`Error::Io`].
    Io,
    /// [`Error::WriteTimeout`] (and I/O timeouts).
    WriteTimeout,
    /// [`Error::PingTimeout`].
    PingTimeout,
    /// [`Error::Protocol`], [`Error::TooBig`], [`Error::Unsupported`]: the client misbehaved.
    Protocol,
}

impl Error {
    /// What kind of error this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Io(e) if e.kind() == io::ErrorKind::TimedOut => ErrorKind::WriteTimeout,
            Error::Io(_) => ErrorKind::Io,
            Error::WriteTimeout => ErrorKind::WriteTimeout,
            Error::PingTimeout => ErrorKind::PingTimeout,
            Error::Protocol(_) | Error::TooBig(_) | Error::Unsupported => ErrorKind::Protocol,
        }
    }
}
