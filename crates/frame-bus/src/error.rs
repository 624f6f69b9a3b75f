//! [`BusError`]: everything that can go wrong on the bus, with a [`ErrorKind`] to match on.

/// What kind of failure a [`BusError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A cluster, node or camera name that cannot be a NATS subject token or key.
    InvalidName,
    /// A setting out of range (`lease_ttl`, `subscription_capacity`).
    InvalidSetting,
    /// The NATS server could not be reached (or refused us) at start.
    Connect,
    /// A subscription could not be made.
    Subscribe,
    /// A message on a frame subject without the headers a frame needs.
    Malformed,
    /// The publisher's task is gone (the bus was dropped).
    Closed,
}

/// An error of the frame bus.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// See [`ErrorKind::InvalidName`].
    #[error("invalid {what} name {name:?}: {why}")]
    InvalidName {
        /// `cluster`, `node` or `camera`.
        what: &'static str,
        /// The name as given.
        name: String,
        /// Which rule it breaks.
        why: &'static str,
    },
    /// See [`ErrorKind::InvalidSetting`].
    #[error("nats {what}: {why}")]
    InvalidSetting {
        /// The setting.
        what: &'static str,
        /// What is wrong with it.
        why: &'static str,
    },
    /// See [`ErrorKind::Connect`].
    #[error("cannot connect to NATS at {url}: {source}")]
    Connect {
        /// The server URL(s) tried.
        url: String,
        /// The client's error.
        #[source]
        source: async_nats::ConnectError,
    },
    /// See [`ErrorKind::Subscribe`].
    #[error("cannot subscribe to {subject}: {source}")]
    Subscribe {
        /// The subject.
        subject: String,
        /// The client's error.
        #[source]
        source: async_nats::SubscribeError,
    },
    /// See [`ErrorKind::Malformed`].
    #[error("malformed frame on {subject}: {what}")]
    Malformed {
        /// Where it came from.
        subject: String,
        /// What is missing or wrong.
        what: &'static str,
    },
    /// See [`ErrorKind::Closed`].
    #[error("the bus publisher for {camera} is closed")]
    Closed {
        /// The camera.
        camera: String,
    },
}

impl BusError {
    /// The kind of failure, stable across versions.
    pub fn kind(&self) -> ErrorKind {
        match self {
            BusError::InvalidName { .. } => ErrorKind::InvalidName,
            BusError::InvalidSetting { .. } => ErrorKind::InvalidSetting,
            BusError::Connect { .. } => ErrorKind::Connect,
            BusError::Subscribe { .. } => ErrorKind::Subscribe,
            BusError::Malformed { .. } => ErrorKind::Malformed,
            BusError::Closed { .. } => ErrorKind::Closed,
        }
    }
}
