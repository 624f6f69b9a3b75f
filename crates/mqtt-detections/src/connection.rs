//! Drives rumqttc's event loop: connects, reconnects with backoff, keeps the counters.

use std::sync::Arc;
use std::time::Duration;

use rumqttc::{Event, EventLoop, Outgoing, Packet};
use tokio::sync::watch;

use crate::stats::MqttStats;

/// How the connection driver reconnects and whom it tells.
pub(crate) struct Driver {
    pub eventloop: EventLoop,
    pub stats: Arc<MqttStats>,
    /// `host:port`, for logs (never the credentials).
    pub broker: String,
    pub reconnect_min: Duration,
    pub reconnect_max: Duration,
    /// Bumped on every accepted connection: the publishing task re-publishes on each bump.
    pub connected_tx: watch::Sender<u64>,
    /// Set by the publishing task when the driver should stop at once.
    pub stop: watch::Receiver<bool>,
}

impl Driver {
    /// Runs until the client sent DISCONNECT or `stop` is set.
    pub async fn run(mut self) {
        let mut backoff = self.reconnect_min;
        let mut ever_connected = false;
        let mut failures = 0u32;
        loop {
            let event = tokio::select! {
                biased;
                _ = self.stop.wait_for(|stop| *stop) => break,
                event = self.eventloop.poll() => event,
            };
            match event {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    self.stats.set_connected(true);
                    if ever_connected {
                        self.stats.count_reconnect();
                        tracing::info!(broker = %self.broker, "MQTT: reconnected");
                    } else {
                        tracing::info!(broker = %self.broker, "MQTT: connected");
                    }
                    ever_connected = true;
                    failures = 0;
                    backoff = self.reconnect_min;
                    self.connected_tx.send_modify(|generation| *generation += 1);
                }
                Ok(Event::Outgoing(Outgoing::Publish(_))) => self.stats.count_published(),
                Ok(Event::Outgoing(Outgoing::Disconnect)) => break,
                Ok(_) => {}
                Err(error) => {
                    let was_connected = self.stats.set_connected(false);
                    if was_connected {
                        tracing::warn!(broker = %self.broker, %error, "MQTT: connection lost, reconnecting");
                    } else if failures == 0 {
                        tracing::warn!(broker = %self.broker, %error, "MQTT: cannot connect, retrying with backoff");
                    } else {
                        tracing::debug!(broker = %self.broker, %error, ?backoff, "MQTT: connect failed again");
                    }
                    failures = failures.saturating_add(1);
                    tokio::select! {
                        biased;
                        _ = self.stop.wait_for(|stop| *stop) => break,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(self.reconnect_max);
                }
            }
        }
        self.stats.set_connected(false);
        tracing::debug!(broker = %self.broker, "MQTT: connection driver stopped");
    }
}
