//! Who wants a camera's detections: the demand signal between followers and the owner.
//!
//! YOLO runs once per frame per cluster, on the owner. A follower whose viewers watch the
//! annotated stream holds a [`DemandBeacon`]: it publishes its node name on
//! `camrelay.<cluster>.cam.<camera>.detect_demand` at once and then every
//! [`BusConfig::demand_every`](crate::BusConfig::demand_every) (1 s). The owner holds a
//! [`DemandWatch`] on that subject: demand is live while some other node's last heartbeat is
//! younger than [`BusConfig::demand_ttl`](crate::BusConfig::demand_ttl) (3 s). No state lives
//! in NATS: a follower that dies or stops wanting simply goes quiet, and a new owner learns of
//! the demand from the next heartbeat (within a second).
//!
//! Worked example (TTL 3 s): `b` beats at 0 s, 1 s, 2 s and its viewers leave at 2.5 s; the owner
//! sees demand from 0 s until 5 s (2 s + 3 s). If `c` beat once at 4 s, demand lasts to 7 s.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// At most this many nodes are remembered as wanting detections (heartbeats from more are
/// ignored until some expire): a bound on what a misbehaving client can make the owner keep.
const MAX_NODES: usize = 256;

/// A follower's request for a camera's detections: heartbeats while it is held, none once it
/// is dropped (the owner's demand expires after its TTL).
pub struct DemandBeacon {
    task: JoinHandle<()>,
}

impl DemandBeacon {
    pub(crate) fn start(
        client: async_nats::Client,
        subject: String,
        node: String,
        every: Duration,
    ) -> DemandBeacon {
        let task = tokio::spawn(async move {
            let mut ticker = tokio::time::interval(every.max(Duration::from_millis(10)));
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                ticker.tick().await;
                if let Err(error) = client.publish(subject.clone(), node.clone().into()).await {
                    tracing::debug!(%subject, %error, "detection demand not sent");
                }
            }
        });
        DemandBeacon { task }
    }
}

impl Drop for DemandBeacon {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The owner's view of the other nodes' demand for a camera's detections. Dropping it
/// unsubscribes.
pub struct DemandWatch {
    wanted: watch::Receiver<bool>,
    task: JoinHandle<()>,
}

impl DemandWatch {
    pub(crate) fn start(
        heartbeats: impl Stream<Item = String> + Send + Unpin + 'static,
        ttl: Duration,
    ) -> DemandWatch {
        let (tx, wanted) = watch::channel(false);
        let task = tokio::spawn(track(heartbeats, ttl, tx));
        DemandWatch { wanted, task }
    }

    /// Whether another node wants the detections now.
    pub fn wanted(&self) -> bool {
        *self.wanted.borrow()
    }

    /// Follows [`Self::wanted`] (`false` once the subscription ended).
    pub fn receiver(&self) -> watch::Receiver<bool> {
        self.wanted.clone()
    }
}

impl Drop for DemandWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Turns heartbeats (node names) into "wanted", expiring each node `ttl` after its last one.
async fn track(
    mut heartbeats: impl Stream<Item = String> + Unpin,
    ttl: Duration,
    tx: watch::Sender<bool>,
) {
    let mut demand = DemandTtl::new(ttl);
    loop {
        let expiry = demand.next_expiry();
        tokio::select! {
            heartbeat = heartbeats.next() => match heartbeat {
                Some(node) => demand.heard(node, Instant::now()),
                None => {
                    tx.send_replace(false);
                    return;
                }
            },
            _ = sleep_until(expiry), if expiry.is_some() => {}
            _ = tx.closed() => return,
        }
        let live = demand.live(Instant::now());
        tx.send_if_modified(|wanted| std::mem::replace(wanted, live) != live);
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The last heartbeat of each node that wants detections.
#[derive(Debug)]
struct DemandTtl {
    ttl: Duration,
    last: HashMap<String, Instant>,
}

impl DemandTtl {
    fn new(ttl: Duration) -> DemandTtl {
        DemandTtl {
            ttl,
            last: HashMap::new(),
        }
    }

    fn heard(&mut self, node: String, now: Instant) {
        if self.last.len() < MAX_NODES || self.last.contains_key(&node) {
            self.last.insert(node, now);
        }
    }

    /// Forgets nodes quiet for the TTL; whether any is left.
    fn live(&mut self, now: Instant) -> bool {
        let ttl = self.ttl;
        self.last
            .retain(|_, heard| now.duration_since(*heard) < ttl);
        !self.last.is_empty()
    }

    /// When the demand may next change by itself (the oldest heartbeat expires).
    fn next_expiry(&self) -> Option<Instant> {
        self.last.values().min().map(|heard| *heard + self.ttl)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::mpsc;

    async fn at(secs: f64, start: Instant) {
        tokio::time::sleep_until(start + Duration::from_secs_f64(secs)).await;
    }

    #[tokio::test(start_paused = true)]
    async fn demand_lasts_the_ttl_after_each_nodes_last_heartbeat() {
        let (beat, rx) = mpsc::channel::<String>(8);
        let heartbeats =
            futures_util::stream::unfold(
                rx,
                |mut rx| async move { rx.recv().await.map(|n| (n, rx)) },
            );
        let watch = DemandWatch::start(Box::pin(heartbeats), Duration::from_secs(3));
        let start = Instant::now();
        assert!(!watch.wanted());

        // `b` beats at 0, 1 and 2 s, then goes quiet: wanted until 5 s.
        for t in [0.0, 1.0, 2.0] {
            at(t, start).await;
            beat.send("b".into()).await.expect("open");
            at(t + 0.01, start).await;
            assert!(watch.wanted(), "at {t} s");
        }
        at(4.9, start).await;
        assert!(watch.wanted());
        at(5.01, start).await;
        assert!(!watch.wanted());

        // `b` at 6 s and `c` at 7 s: wanted until 10 s (c's beat plus the TTL).
        at(6.0, start).await;
        beat.send("b".into()).await.expect("open");
        at(7.0, start).await;
        beat.send("c".into()).await.expect("open");
        at(9.5, start).await;
        assert!(watch.wanted(), "c still wants");
        at(10.01, start).await;
        assert!(!watch.wanted());

        // The subscription ends: no demand, for good.
        beat.send("b".into()).await.expect("open");
        at(10.1, start).await;
        assert!(watch.wanted());
        drop(beat);
        at(10.2, start).await;
        assert!(!watch.wanted());
    }

    #[test]
    fn the_number_of_nodes_remembered_is_bounded() {
        let now = Instant::now();
        let mut demand = DemandTtl::new(Duration::from_secs(3));
        for i in 0..MAX_NODES + 10 {
            demand.heard(format!("n{i}"), now);
        }
        assert_eq!(demand.last.len(), MAX_NODES);
        assert!(demand.live(now));
        assert!(!demand.live(now + Duration::from_secs(3)));
        assert_eq!(demand.next_expiry(), None);
    }
}
