//! [`Bus`]: one node's connection to the NATS cluster.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;

use futures_util::StreamExt;

use crate::demand::{DemandBeacon, DemandWatch};
use crate::lease::Lease;
use crate::publish::CameraPublisher;
use crate::stats::BusStats;
use crate::subscribe::{DetectionSubscriber, FrameSubscriber};
use crate::{subject, BusConfig, BusError, BusSnapshot};

/// Commands (publishes, subscribes) the client queues while it reconnects. Small: a frame
/// queued during an outage is stale by the time it goes out.
const CLIENT_CAPACITY: usize = 128;

/// A node's connection to the bus. Cheap to clone; the connection reconnects by itself (forever)
/// when the server goes away, and everything made from it carries on afterwards.
#[derive(Clone)]
pub struct Bus {
    inner: Arc<Inner>,
}

struct Inner {
    client: async_nats::Client,
    jetstream: jetstream::Context,
    config: BusConfig,
    stats: Arc<BusStats>,
}

impl Bus {
    /// Connects to NATS. Fails when the cluster or node name is not a subject token or the
    /// server cannot be reached now (later outages are survived, not errors).
    pub async fn connect(config: BusConfig) -> Result<Bus, BusError> {
        subject::check_name("cluster", &config.cluster)?;
        subject::check_name("node", &config.node)?;
        let stats = Arc::new(BusStats::default());
        let events = stats.clone();
        let node = config.node.clone();
        let options = async_nats::ConnectOptions::new()
            .name(format!("camrelay {}", config.node))
            .subscription_capacity(config.subscription_capacity.max(1))
            .client_capacity(CLIENT_CAPACITY)
            .request_timeout(Some(config.request_timeout))
            .connection_timeout(Duration::from_secs(2))
            .ping_interval(Duration::from_secs(2))
            .reconnect_delay_callback(|attempts| {
                Duration::from_millis((attempts as u64).saturating_mul(250).min(2_000))
            })
            .event_callback(move |event| {
                let stats = events.clone();
                let node = node.clone();
                async move { on_event(&stats, &node, event) }
            });
        let client = options
            .connect(config.url.as_str())
            .await
            .map_err(|source| BusError::Connect {
                url: config.url.clone(),
                source,
            })?;
        stats.connected.store(true, Ordering::Relaxed);
        let jetstream = jetstream::ContextBuilder::new()
            .timeout(config.request_timeout)
            .build(client.clone());
        tracing::info!(url = %config.url, cluster = %config.cluster, node = %config.node, "bus connected");
        Ok(Bus {
            inner: Arc::new(Inner {
                client,
                jetstream,
                config,
                stats,
            }),
        })
    }

    /// This node's name.
    pub fn node(&self) -> &str {
        &self.inner.config.node
    }

    /// The settings this bus was made with.
    pub fn config(&self) -> &BusConfig {
        &self.inner.config
    }

    /// The node's bus counters now.
    pub fn stats(&self) -> BusSnapshot {
        self.inner.stats.snapshot()
    }

    /// This node's part in the cluster, for a stats document: its names and its counters.
    pub fn view(&self) -> crate::BusView {
        crate::BusView {
            node: self.node().to_owned(),
            cluster: self.config().cluster.clone(),
            counters: self.stats(),
        }
    }

    /// Publishes `camera`'s frames and detections (one NATS publish per frame). Fails only for
    /// a camera name that cannot be a subject token.
    pub fn publisher(&self, camera: &str) -> Result<CameraPublisher, BusError> {
        subject::check_name("camera", camera)?;
        let config = &self.inner.config;
        Ok(CameraPublisher::start(
            self.inner.client.clone(),
            camera,
            &config.cluster,
            &config.node,
            config.publish_queue.max(1),
            self.inner.stats.clone(),
        ))
    }

    /// Subscribes to `camera`'s frames. The subscription buffers
    /// [`BusConfig::subscription_capacity`] frames; when this node reads too slowly, the client
    /// drops frames for this subscription only (counted, see [`FrameSubscriber::lost`]).
    /// Dropping the subscriber unsubscribes.
    pub async fn subscribe_frames(&self, camera: &str) -> Result<FrameSubscriber, BusError> {
        subject::check_name("camera", camera)?;
        let subject = subject::frames(&self.inner.config.cluster, camera);
        let inner = self.subscribe(&subject).await?;
        Ok(FrameSubscriber::new(
            subject,
            inner,
            self.inner.stats.clone(),
        ))
    }

    /// Subscribes to `camera`'s detections (each with its frame id; the document as published).
    pub async fn subscribe_detections(
        &self,
        camera: &str,
    ) -> Result<DetectionSubscriber, BusError> {
        subject::check_name("camera", camera)?;
        let subject = subject::detections(&self.inner.config.cluster, camera);
        let inner = self.subscribe(&subject).await?;
        Ok(DetectionSubscriber::new(inner, self.inner.stats.clone()))
    }

    /// Asks the owner of `camera` for its detections while the returned beacon is held (a
    /// heartbeat at once, then every [`BusConfig::demand_every`]; see [`crate::DemandBeacon`]).
    pub fn want_detections(&self, camera: &str) -> Result<DemandBeacon, BusError> {
        subject::check_name("camera", camera)?;
        let config = &self.inner.config;
        Ok(DemandBeacon::start(
            self.inner.client.clone(),
            subject::detect_demand(&config.cluster, camera),
            config.node.clone(),
            config.demand_every,
        ))
    }

    /// Follows the other nodes' demand for `camera`'s detections (for the owner: run the
    /// detector for them too). Heartbeats from this node itself are ignored.
    pub async fn detection_demand(&self, camera: &str) -> Result<DemandWatch, BusError> {
        subject::check_name("camera", camera)?;
        let config = &self.inner.config;
        let subject = subject::detect_demand(&config.cluster, camera);
        let node = config.node.clone();
        let heartbeats = self.subscribe(&subject).await?.filter_map(move |message| {
            let from = String::from_utf8_lossy(&message.payload).into_owned();
            std::future::ready((from != node).then_some(from))
        });
        Ok(DemandWatch::start(Box::pin(heartbeats), config.demand_ttl))
    }

    /// Starts competing for `camera`: the returned [`Lease`] says whether this node owns it
    /// (reads the camera) or who does (read the bus). Hold it while this node wants the camera
    /// (has viewers); [`Lease::release`] hands it over at once, dropping it lets it expire.
    pub fn lease(&self, camera: &str) -> Result<Lease, BusError> {
        subject::check_name("camera", camera)?;
        Ok(Lease::start(
            self.inner.jetstream.clone(),
            camera,
            &self.inner.config,
        ))
    }

    async fn subscribe(&self, subject: &str) -> Result<async_nats::Subscriber, BusError> {
        self.inner
            .client
            .subscribe(subject.to_owned())
            .await
            .map_err(|source| BusError::Subscribe {
                subject: subject.to_owned(),
                source,
            })
    }
}

fn on_event(stats: &BusStats, node: &str, event: async_nats::Event) {
    match event {
        async_nats::Event::Connected => {
            stats.connected.store(true, Ordering::Relaxed);
            tracing::info!(node, "bus connection (re-)established");
        }
        async_nats::Event::Disconnected => {
            stats.connected.store(false, Ordering::Relaxed);
            BusStats::add(&stats.disconnects, 1);
            tracing::warn!(node, "bus connection lost; reconnecting");
        }
        async_nats::Event::SlowConsumer(_) => BusStats::add(&stats.slow_consumer_events, 1),
        other => tracing::info!(node, event = %other, "bus event"),
    }
}
