//! [`BusConfig`]: where NATS is, who we are, and the bus's few knobs.

use std::time::Duration;

/// Settings of a node's bus connection.
#[derive(Debug, Clone)]
pub struct BusConfig {
    /// NATS server URL(s), comma-separated: `nats://10.0.0.5:4222`.
    pub url: String,
    /// The cluster: relays with the same cluster name share cameras (a subject token).
    pub cluster: String,
    /// This node's name, unique in the cluster (a subject token; shown as the owner).
    pub node: String,
    /// Messages buffered per subscription before the client drops (and counts) them. A few
    /// frames: the client's default, 65,536, would be gigabytes of JPEGs. Default 4.
    pub subscription_capacity: usize,
    /// Frames waiting to be handed to NATS per camera publisher; more are dropped (counted).
    /// Default 4.
    pub publish_queue: usize,
    /// How long a lease lasts without renewal (the key-value bucket's max age). Default 2 s.
    pub lease_ttl: Duration,
    /// How often the owner renews its lease. Default 1 s.
    pub renew_every: Duration,
    /// How often a node that wants a camera it does not own tries to take it. Default 250 ms.
    pub claim_every: Duration,
    /// Longest wait for a JetStream answer (lease renewals must not outlast the TTL).
    /// Default 1 s.
    pub request_timeout: Duration,
}

impl BusConfig {
    /// Defaults for `url`, `cluster` and `node`.
    pub fn new(
        url: impl Into<String>,
        cluster: impl Into<String>,
        node: impl Into<String>,
    ) -> Self {
        BusConfig {
            url: url.into(),
            cluster: cluster.into(),
            node: node.into(),
            subscription_capacity: 4,
            publish_queue: 4,
            lease_ttl: Duration::from_secs(2),
            renew_every: Duration::from_secs(1),
            claim_every: Duration::from_millis(250),
            request_timeout: Duration::from_secs(1),
        }
    }
}
