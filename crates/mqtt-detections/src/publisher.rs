//! The publishing task: turns frames into MQTT messages, owns what the broker should hold.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rumqttc::{AsyncClient, LastWill, MqttOptions, QoS, TlsConfiguration, Transport};
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio::time::Instant;

use crate::change::ChangeDetector;
use crate::config::{MqttConfig, Resolved};
use crate::connection::Driver;
use crate::error::MqttError;
use crate::event::{CameraInfo, DetectionEvent};
use crate::handle::{Command, MqttHandle, Shared};
use crate::payload::{detection_message, DiscoveryContext};
use crate::rate_limit::RateLimit;
use crate::stats::MqttStats;
use crate::topics::{self, CameraTopics};

/// Frames and snapshots waiting for the publishing task (a few frames of every camera).
const EVENT_QUEUE: usize = 64;
/// MQTT messages waiting for the connection (rumqttc's request channel).
const CLIENT_QUEUE: usize = 16;
/// Largest snapshot published; larger ones are dropped (the broker's default limit is 256 MB,
/// but Home Assistant's recorder and phones do not want more).
pub const MAX_SNAPSHOT_BYTES: usize = 4 << 20;
/// How long one message of a re-publish after (re)connecting may wait for room in the client's
/// queue before the re-publish is abandoned (and retried on the next tick).
const RESYNC_WAIT: Duration = Duration::from_secs(5);
/// How long the goodbye (`offline` states, DISCONNECT) may take when the publisher stops.
const GOODBYE_WAIT: Duration = Duration::from_secs(2);

/// One camera, as the task tracks it.
struct Camera {
    info: CameraInfo,
    segment: String,
    topics: CameraTopics,
    detector: ChangeDetector,
    /// The state last handed to the client, `None` after a reconnect until re-published.
    sent_online: Option<bool>,
    /// At most one fps value per `fps_interval`, one snapshot per `snapshot_interval`.
    fps_limit: RateLimit,
    snapshot_limit: RateLimit,
    /// A detection changed since the last snapshot: publish the next frame's JPEG.
    snapshot_wanted: bool,
}

/// The background task of a publisher: run it with `tokio::spawn(publisher.run())`.
///
/// It connects (with a last will: `<prefix>/status` = `offline`, retained), publishes
/// discovery configs and states after every (re)connect, and turns the handle's events into
/// messages. Dropping every [`MqttHandle`] ends it gracefully: cameras and relay are marked
/// `offline` and the client disconnects. Aborting it (or the process dying) lets the broker
/// send the last will instead.
pub struct MqttPublisher {
    task: Task,
    driver: Driver,
    stop_tx: watch::Sender<bool>,
}

impl std::fmt::Debug for MqttPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttPublisher")
            .field("broker", &self.driver.broker)
            .field("cameras", &self.task.cameras.len())
            .finish_non_exhaustive()
    }
}

/// The state of the publishing half (the connection half is [`Driver`]).
struct Task {
    cfg: Resolved,
    client: AsyncClient,
    shared: Arc<Shared>,
    rx: mpsc::Receiver<Command>,
    connected_rx: watch::Receiver<u64>,
    cameras: Vec<Camera>,
    status_topic: String,
    /// A retained state could not be handed to the client: publish all states on the next tick.
    states_dirty: bool,
    /// A re-publish after connecting was cut short: redo it on the next tick.
    resync_needed: bool,
    /// Snapshot sizes already warned about, to warn once per camera.
    warned_large: HashSet<usize>,
}

impl MqttPublisher {
    /// Checks the configuration and builds the publisher; nothing connects until
    /// [`MqttPublisher::run`] is polled. Camera names are made topic-safe with
    /// [`topics::segment`]; two names that become the same segment are an error.
    pub fn start(
        config: &MqttConfig,
        cameras: &[CameraInfo],
    ) -> Result<(MqttHandle, MqttPublisher), MqttError> {
        let cfg = config.resolve()?;
        let mut camera_index = HashMap::new();
        let mut segments = HashSet::new();
        let mut tracked = Vec::with_capacity(cameras.len());
        for (i, info) in cameras.iter().enumerate() {
            let segment = topics::segment(&info.name);
            if segment.is_empty() {
                return Err(MqttError::InvalidCamera {
                    camera: info.name.clone(),
                    reason: "empty name".into(),
                });
            }
            if !segments.insert(segment.clone()) || camera_index.contains_key(&info.name) {
                return Err(MqttError::InvalidCamera {
                    camera: info.name.clone(),
                    reason: format!("another camera also uses the topic segment {segment:?}"),
                });
            }
            camera_index.insert(info.name.clone(), i);
            tracked.push(Camera {
                info: info.clone(),
                topics: CameraTopics::new(&cfg.topic_prefix, &segment, &cfg.labels),
                segment,
                detector: ChangeDetector::new(&cfg.labels, cfg.min_score, cfg.off_after_frames),
                sent_online: None,
                fps_limit: RateLimit::new(cfg.fps_interval),
                snapshot_limit: RateLimit::new(cfg.snapshot_interval),
                snapshot_wanted: false,
            });
        }

        let status_topic = topics::relay_status(&cfg.topic_prefix);
        let mut options = MqttOptions::new(
            cfg.client_id.clone(),
            cfg.broker.host.clone(),
            cfg.broker.port,
        );
        options
            .set_keep_alive(cfg.keep_alive)
            .set_clean_session(true)
            .set_request_channel_capacity(CLIENT_QUEUE)
            .set_max_packet_size(64 << 10, MAX_SNAPSHOT_BYTES + (64 << 10))
            .set_last_will(LastWill::new(
                status_topic.clone(),
                "offline",
                QoS::AtLeastOnce,
                true,
            ));
        if let Some(tls) = &cfg.tls {
            options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
                tls.clone(),
            )));
        }
        if let Some(user) = &cfg.broker.username {
            options.set_credentials(
                user.clone(),
                cfg.broker.password.clone().unwrap_or_default(),
            );
        }
        let (client, eventloop) = AsyncClient::new(options, CLIENT_QUEUE);

        let stats = Arc::new(MqttStats::default());
        let shared = Arc::new(Shared {
            stats: stats.clone(),
            camera_online: cameras.iter().map(|_| AtomicBool::new(false)).collect(),
            camera_index,
            wake: Notify::new(),
        });
        let (tx, rx) = mpsc::channel(EVENT_QUEUE);
        let (connected_tx, connected_rx) = watch::channel(0);
        let (stop_tx, stop) = watch::channel(false);
        let broker = if cfg.broker.host.contains(':') {
            format!("[{}]:{}", cfg.broker.host, cfg.broker.port)
        } else {
            format!("{}:{}", cfg.broker.host, cfg.broker.port)
        };
        tracing::info!(
            %broker,
            tls = cfg.tls.is_some(),
            client_id = %cfg.client_id,
            user = cfg.broker.username.as_deref().unwrap_or(""),
            cameras = tracked.len(),
            labels = ?cfg.labels,
            "MQTT: publisher configured"
        );
        let driver = Driver {
            eventloop,
            stats,
            broker,
            reconnect_min: cfg.reconnect_min,
            reconnect_max: cfg.reconnect_max,
            connected_tx,
            stop,
        };
        let task = Task {
            cfg,
            client,
            shared: shared.clone(),
            rx,
            connected_rx,
            cameras: tracked,
            status_topic,
            states_dirty: false,
            resync_needed: false,
            warned_large: HashSet::new(),
        };
        Ok((
            MqttHandle { tx, shared },
            MqttPublisher {
                task,
                driver,
                stop_tx,
            },
        ))
    }

    /// The counters, the same as [`MqttHandle::stats`].
    pub fn stats(&self) -> Arc<MqttStats> {
        self.task.shared.stats.clone()
    }

    /// Runs the publisher until every handle is dropped. Never returns an error: a broker that
    /// is away is retried with backoff (`reconnect_min_secs` doubling to `reconnect_max_secs`).
    pub async fn run(self) {
        let MqttPublisher {
            task,
            driver,
            stop_tx,
        } = self;
        let (driver_done_tx, driver_done_rx) = oneshot::channel::<()>();
        let connection = async move {
            driver.run().await;
            let _ = driver_done_tx.send(());
        };
        let publishing = async move {
            task.run().await;
            // The goodbye is queued; give the driver a moment to write it, then stop it.
            let _ = tokio::time::timeout(GOODBYE_WAIT, driver_done_rx).await;
            let _ = stop_tx.send(true);
        };
        tokio::join!(connection, publishing);
    }
}

impl Task {
    async fn run(mut self) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let shared = self.shared.clone();
        loop {
            tokio::select! {
                command = self.rx.recv() => match command {
                    Some(Command::Frame(event)) => self.on_frame(event),
                    Some(Command::Snapshot { camera, jpeg }) => self.on_snapshot(camera, jpeg),
                    None => break,
                },
                Ok(()) = self.connected_rx.changed() => {
                    if self.connected() {
                        self.resync().await;
                    }
                }
                () = shared.wake.notified() => self.publish_camera_states(),
                _ = tick.tick() => {
                    if self.connected() && self.resync_needed {
                        self.resync().await;
                    } else if self.connected() && self.states_dirty {
                        self.publish_all_states();
                    }
                }
            }
        }
        self.goodbye().await;
    }

    fn connected(&self) -> bool {
        self.shared.stats.connected()
    }

    /// Hands one message to the client without waiting; false (and counted) if it was dropped.
    fn try_publish(&self, topic: &str, qos: QoS, retain: bool, payload: Vec<u8>) -> bool {
        if !self.connected() {
            self.shared.stats.count_dropped_message();
            return false;
        }
        match self.client.try_publish(topic, qos, retain, payload) {
            Ok(()) => true,
            Err(error) => {
                tracing::trace!(topic, %error, "MQTT: message dropped");
                self.shared.stats.count_dropped_message();
                false
            }
        }
    }

    /// A retained state message; a drop marks the states for re-publishing.
    fn try_publish_state(&mut self, topic: &str, payload: &'static str) -> bool {
        let ok = self.try_publish(topic, QoS::AtLeastOnce, true, payload.into());
        self.states_dirty |= !ok;
        ok
    }

    fn on_frame(&mut self, event: DetectionEvent) {
        let Some(&i) = self.shared.camera_index.get(&event.camera) else {
            return;
        };
        let now = Instant::now();
        if let Some(fps) = event.fps {
            let cam = &mut self.cameras[i];
            if cam.fps_limit.take(now) {
                let topic = cam.topics.fps.clone();
                self.try_publish(&topic, QoS::AtMostOnce, false, format!("{fps:.1}").into());
            }
        }
        let cam = &mut self.cameras[i];
        let change = cam
            .detector
            .observe(event.detections.iter().map(|d| (d.label.as_str(), d.score)));
        if let Some(change) = change {
            let detector = &cam.detector;
            let message = detection_message(&cam.info.name, &event, &change, |label, score| {
                detector.counts(label, score)
            });
            cam.snapshot_wanted = true;
            tracing::debug!(
                camera = %cam.info.name,
                frame = event.frame_id,
                appeared = ?change.appeared,
                left = ?change.left,
                "MQTT: detection change"
            );
            let detections_topic = cam.topics.detections.clone();
            let mut states = Vec::new();
            for (label, topic) in self.cfg.labels.iter().zip(&cam.topics.labels) {
                if change.appeared.contains(label) {
                    states.push((topic.clone(), "ON"));
                } else if change.left.contains(label) {
                    states.push((topic.clone(), "OFF"));
                }
            }
            self.try_publish(&detections_topic, QoS::AtLeastOnce, false, message);
            for (topic, state) in states {
                self.try_publish_state(&topic, state);
            }
        }
        if self.cameras[i].snapshot_wanted {
            if let Some(jpeg) = event.jpeg {
                self.on_snapshot(i, jpeg);
            }
        }
    }

    /// Publishes a snapshot unless one went out less than `snapshot_interval` ago.
    fn on_snapshot(&mut self, i: usize, jpeg: Bytes) {
        let now = Instant::now();
        let Some(cam) = self.cameras.get_mut(i) else {
            return;
        };
        if !cam.snapshot_limit.ready(now) {
            return;
        }
        if jpeg.len() > MAX_SNAPSHOT_BYTES {
            if self.warned_large.insert(i) {
                tracing::warn!(
                    camera = %cam.info.name,
                    bytes = jpeg.len(),
                    max = MAX_SNAPSHOT_BYTES,
                    "MQTT: snapshot too large, not published"
                );
            }
            self.shared.stats.count_dropped_message();
            return;
        }
        cam.snapshot_limit.take(now);
        cam.snapshot_wanted = false;
        let topic = cam.topics.snapshot.clone();
        self.try_publish(&topic, QoS::AtMostOnce, true, jpeg.to_vec());
    }

    /// Publishes the camera states that changed since they were last handed to the client.
    fn publish_camera_states(&mut self) {
        for i in 0..self.cameras.len() {
            let online = self.shared.camera_online[i].load(Ordering::Relaxed);
            if self.cameras[i].sent_online != Some(online) {
                let topic = self.cameras[i].topics.state.clone();
                if self.try_publish_state(&topic, if online { "online" } else { "offline" }) {
                    self.cameras[i].sent_online = Some(online);
                }
            }
        }
    }

    /// Every retained state again: camera states and label ON/OFF.
    fn publish_all_states(&mut self) {
        self.states_dirty = false;
        for cam in &mut self.cameras {
            cam.sent_online = None;
        }
        self.publish_camera_states();
        for (topic, on) in self.label_states() {
            self.try_publish_state(&topic, if on { "ON" } else { "OFF" });
        }
    }

    fn label_states(&self) -> Vec<(String, bool)> {
        self.cameras
            .iter()
            .flat_map(|cam| {
                cam.topics
                    .labels
                    .iter()
                    .cloned()
                    .zip(cam.detector.states().iter().copied())
            })
            .collect()
    }

    /// After a (re)connect: `online`, discovery configs, camera and label states. Waits for room
    /// in the client's queue (the connection is up and draining it), at most `RESYNC_WAIT` per
    /// message; meanwhile the handle's events queue up or are dropped, never blocked.
    async fn resync(&mut self) {
        let mut messages: Vec<(String, Vec<u8>)> =
            vec![(self.status_topic.clone(), b"online".to_vec())];
        if let Some(prefix) = &self.cfg.discovery_prefix {
            for cam in &self.cameras {
                let ctx = DiscoveryContext {
                    discovery_prefix: prefix,
                    relay_id: &self.cfg.relay_id,
                    status_topic: &self.status_topic,
                    camera: &cam.info,
                    segment: &cam.segment,
                    topics: &cam.topics,
                    labels: &self.cfg.labels,
                };
                messages.extend(ctx.configs());
            }
        }
        let mut online = Vec::with_capacity(self.cameras.len());
        for (i, cam) in self.cameras.iter().enumerate() {
            let on = self.shared.camera_online[i].load(Ordering::Relaxed);
            online.push(on);
            let state: &[u8] = if on { b"online" } else { b"offline" };
            messages.push((cam.topics.state.clone(), state.to_vec()));
        }
        for (topic, on) in self.label_states() {
            let state: &[u8] = if on { b"ON" } else { b"OFF" };
            messages.push((topic, state.to_vec()));
        }
        let count = messages.len();
        for (topic, payload) in messages {
            let send = self.client.publish(topic, QoS::AtLeastOnce, true, payload);
            match tokio::time::timeout(RESYNC_WAIT, send).await {
                Ok(Ok(())) => {}
                _ => {
                    tracing::debug!("MQTT: re-publish after connect cut short; retrying later");
                    self.resync_needed = true;
                    return;
                }
            }
        }
        for (cam, on) in self.cameras.iter_mut().zip(online) {
            cam.sent_online = Some(on);
        }
        self.resync_needed = false;
        self.states_dirty = false;
        tracing::debug!(messages = count, "MQTT: discovery and states published");
        // A state may have changed while we waited.
        self.publish_camera_states();
    }

    /// Every handle is gone: mark cameras and relay offline (the will is only for crashes) and
    /// disconnect.
    async fn goodbye(&mut self) {
        if !self.connected() {
            return;
        }
        let mut topics: Vec<String> = self
            .cameras
            .iter()
            .map(|c| c.topics.state.clone())
            .collect();
        topics.push(self.status_topic.clone());
        let client = self.client.clone();
        let goodbye = async move {
            for topic in topics {
                client
                    .publish(topic, QoS::AtLeastOnce, true, "offline")
                    .await?;
            }
            client.disconnect().await
        };
        match tokio::time::timeout(GOODBYE_WAIT, goodbye).await {
            Ok(Ok(())) => tracing::info!("MQTT: publisher stopped, relay marked offline"),
            _ => tracing::debug!("MQTT: goodbye not sent; the broker's last will says offline"),
        }
    }
}
