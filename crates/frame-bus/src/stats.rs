//! Counters of one node's bus connection.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Live counters, shared by the bus's publishers, subscribers and leases.
#[derive(Debug, Default)]
pub(crate) struct BusStats {
    pub(crate) connected: AtomicBool,
    pub(crate) disconnects: AtomicU64,
    pub(crate) slow_consumer_events: AtomicU64,
    pub(crate) frames_published: AtomicU64,
    pub(crate) publish_dropped: AtomicU64,
    pub(crate) frames_received: AtomicU64,
    pub(crate) frames_lost: AtomicU64,
    pub(crate) malformed: AtomicU64,
    pub(crate) detections_published: AtomicU64,
    pub(crate) detections_received: AtomicU64,
    /// Publish-to-receive time of the last frame received, and the largest, in µs.
    pub(crate) latency_last_us: AtomicU64,
    pub(crate) latency_max_us: AtomicU64,
}

impl BusStats {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> BusSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        BusSnapshot {
            connected: self.connected.load(Ordering::Relaxed),
            disconnects: get(&self.disconnects),
            slow_consumer_events: get(&self.slow_consumer_events),
            frames_published: get(&self.frames_published),
            publish_dropped: get(&self.publish_dropped),
            frames_received: get(&self.frames_received),
            frames_lost: get(&self.frames_lost),
            malformed: get(&self.malformed),
            detections_published: get(&self.detections_published),
            detections_received: get(&self.detections_received),
            latency_last_us: get(&self.latency_last_us),
            latency_max_us: get(&self.latency_max_us),
        }
    }
}

/// One reading of a node's bus counters (for `/api/stats` and `/metrics`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct BusSnapshot {
    /// Whether the node is connected to NATS now.
    pub connected: bool,
    /// Connections lost since start (the client reconnects by itself).
    pub disconnects: u64,
    /// Messages the client dropped because a subscription's small buffer was full (each is
    /// one NATS "slow consumer" event of this node; other nodes are not affected).
    pub slow_consumer_events: u64,
    /// Frames handed to NATS.
    pub frames_published: u64,
    /// Frames not published because the publish queue was full (NATS unreachable or slow).
    pub publish_dropped: u64,
    /// Frames received on subscriptions.
    pub frames_received: u64,
    /// Frames a subscription missed (gaps in the publisher's sequence numbers).
    pub frames_lost: u64,
    /// Messages on a frame or detections subject that were not what it carries (skipped).
    pub malformed: u64,
    /// Detections documents handed to NATS (this node owns a camera another node wants
    /// detections of).
    pub detections_published: u64,
    /// Detections documents received from owners.
    pub detections_received: u64,
    /// The owner's publish to this node's receive, for the last frame received (µs, wall
    /// clocks of two machines: as good as their synchronisation).
    pub latency_last_us: u64,
    /// The largest such time since start (µs).
    pub latency_max_us: u64,
}

/// A node's names and bus counters, as `/api/stats` shows them.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BusView {
    /// This node's name.
    pub node: String,
    /// The cluster's name.
    pub cluster: String,
    /// The counters.
    #[serde(flatten)]
    pub counters: BusSnapshot,
}
