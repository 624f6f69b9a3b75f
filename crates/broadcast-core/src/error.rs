//! The crate's error type.

/// Why [`Subscriber::try_recv`](crate::Subscriber::try_recv) returned no item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum TryRecvError {
    /// Nothing queued right now; the publisher is still alive.
    #[error("no item queued for this subscriber yet")]
    Empty,
    /// The publisher is gone and every queued item has been received.
    #[error("the publisher is gone and the queue is drained")]
    Closed,
}

impl TryRecvError {
    /// The kind of error, for callers that match on it (the enum is its own kind).
    pub fn kind(&self) -> Self {
        *self
    }

    /// True for [`TryRecvError::Closed`]: no item will ever arrive.
    pub fn is_closed(&self) -> bool {
        matches!(self, Self::Closed)
    }
}
