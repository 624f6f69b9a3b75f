//! The one thing that can go wrong before serving: the address cannot be bound.

use std::net::SocketAddr;

/// What kind of [`ListenError`] it is, for matching without the fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The address is taken by another program.
    AddrInUse,
    /// The address cannot be bound for another reason (not local, no permission).
    Bind,
}

/// Why [`Listener::bind`](crate::Listener::bind) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ListenError {
    /// The address could not be bound (or its bound address not read back).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

impl ListenError {
    /// What kind of error it is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ListenError::Bind { source, .. } if source.kind() == std::io::ErrorKind::AddrInUse => {
                ErrorKind::AddrInUse
            }
            ListenError::Bind { .. } => ErrorKind::Bind,
        }
    }
}
