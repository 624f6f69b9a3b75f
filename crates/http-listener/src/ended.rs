//! Why a connection ended with an error, in the terms a streaming server acts on.

use std::net::SocketAddr;

/// How a connection ended badly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The peer accepted no bytes for the write timeout: a viewer that stopped reading.
    WriteTimedOut,
    /// The request head did not arrive within the header timeout.
    HeadTimedOut,
    /// Anything else (reset, protocol error): not worth more than a debug line.
    Failed,
}

impl Ended {
    /// Classifies hyper's error: a `TimedOut` I/O error anywhere in its source chain is the
    /// write timeout (the socket is wrapped in a [`tokio_io_timeout::TimeoutStream`]).
    pub fn of(error: &hyper::Error) -> Ended {
        let mut chain =
            std::iter::successors(Some(error as &(dyn std::error::Error + 'static)), |e| {
                e.source()
            });
        let timed_out = chain.any(|e| {
            e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        });
        if timed_out {
            Ended::WriteTimedOut
        } else if error.is_timeout() {
            Ended::HeadTimedOut
        } else {
            Ended::Failed
        }
    }

    /// Logs it at debug level (a write timeout is logged by the handler that counts it).
    pub(crate) fn log(self, peer: SocketAddr, error: &hyper::Error) {
        match self {
            Ended::WriteTimedOut => {
                tracing::debug!(%peer, "connection accepted no bytes for the write timeout")
            }
            Ended::HeadTimedOut => {
                tracing::debug!(%peer, "request head not received in time; connection closed")
            }
            Ended::Failed => tracing::debug!(%peer, %error, "connection ended with an error"),
        }
    }
}
