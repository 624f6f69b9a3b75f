//! Counters the relay reads for its status page and metrics.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Live counters of one publisher, shared with every [`crate::MqttHandle`].
///
/// Each value is independent and only ever read for display, so `Relaxed` ordering suffices
/// everywhere: no other memory is published through these atomics.
#[derive(Debug, Default)]
pub struct MqttStats {
    connected: AtomicBool,
    published: AtomicU64,
    dropped_events: AtomicU64,
    dropped_messages: AtomicU64,
    reconnects: AtomicU64,
}

/// A copy of [`MqttStats`] at one moment (serialised as the `mqtt` object of camrelay's
/// `/api/stats`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct StatsSnapshot {
    /// Whether the broker has accepted the current connection.
    pub connected: bool,
    /// MQTT PUBLISH packets written to the broker.
    pub published: u64,
    /// Events and messages dropped (broker away or slow): `dropped_events + dropped_messages`.
    pub dropped: u64,
    /// Frames and snapshots the caller handed in that the publishing task had no room for.
    pub dropped_events: u64,
    /// MQTT messages not sent: broker away, the client's queue full, or a snapshot too large.
    pub dropped_messages: u64,
    /// Successful connections after the first.
    pub reconnects: u64,
}

impl MqttStats {
    /// Whether the broker has accepted the current connection.
    pub fn connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    /// MQTT PUBLISH packets written to the broker.
    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }

    /// Events ([`crate::MqttHandle::frame`], [`crate::MqttHandle::snapshot`]) dropped because
    /// the publishing task's queue was full.
    pub fn dropped_events(&self) -> u64 {
        self.dropped_events.load(Ordering::Relaxed)
    }

    /// MQTT messages dropped: broker away, the client's queue full, or a snapshot too large.
    pub fn dropped_messages(&self) -> u64 {
        self.dropped_messages.load(Ordering::Relaxed)
    }

    /// Both kinds of drops together.
    pub fn dropped(&self) -> u64 {
        self.dropped_events() + self.dropped_messages()
    }

    /// Successful connections after the first.
    pub fn reconnects(&self) -> u64 {
        self.reconnects.load(Ordering::Relaxed)
    }

    /// All counters at once.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            connected: self.connected(),
            published: self.published(),
            dropped: self.dropped_events() + self.dropped_messages(),
            dropped_events: self.dropped_events(),
            dropped_messages: self.dropped_messages(),
            reconnects: self.reconnects(),
        }
    }

    pub(crate) fn set_connected(&self, connected: bool) -> bool {
        self.connected.swap(connected, Ordering::Relaxed)
    }

    pub(crate) fn count_published(&self) {
        self.published.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_dropped_event(&self) {
        self.dropped_events.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_dropped_message(&self) {
        self.dropped_messages.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_reconnect(&self) {
        self.reconnects.fetch_add(1, Ordering::Relaxed);
    }
}
