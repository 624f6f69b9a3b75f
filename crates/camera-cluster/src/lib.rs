//! camera-hub's [`ClusterLink`] over `frame-bus`: the glue that lets relays on several machines
//! share each camera through NATS. camera-hub knows nothing of NATS and frame-bus nothing of
//! cameras; this crate maps one onto the other:
//!
//! - [`ClusterLink::join`] takes a [`frame_bus::Lease`] on the camera and follows its
//!   [`Ownership`] as a [`Role`] (owner → read the camera, follower → read the bus);
//! - [`ClusterLink::bus_frames`] subscribes to the camera's frames and turns each into a
//!   [`CameraFrame`] whose `upstream_id` is the owner's frame id (so camera-hub shows that id)
//!   and `camera_time` the owner's capture time; a frame whose id is not above the last one
//!   from the same owner (stale, queued during the owner's NATS outage) is skipped;
//! - [`ClusterLink::publish`] hands each live frame this node broadcast from its camera to a
//!   [`frame_bus::CameraPublisher`] (never waits; a full queue drops and counts).
//! - Detections, once per frame per cluster: [`ClusterLink::bus_detections`] (a follower with
//!   detection viewers) asks the owner with a [`frame_bus::DemandBeacon`] and reads the owner's
//!   [`SharedDetections`] (JSON, the frame id as a header) from the detections subject;
//!   [`ClusterLink::detection_demand`] (the owner) follows the followers' heartbeats
//!   ([`frame_bus::DemandWatch`]); [`ClusterLink::publish_detections`] sends one frame's
//!   detections (never waits).
//!
//! ```no_run
//! use std::sync::Arc;
//! use camera_hub::{Camera, CameraSpec, HubSettings, SourceSpec};
//! use frame_bus::{Bus, BusConfig};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let bus = Bus::connect(BusConfig::new("nats://10.0.0.5:4222", "site1", "relay-a")).await?;
//! let settings = HubSettings::default();
//! let spec = CameraSpec::new("porch", SourceSpec::Stream { url: "http://192.168.1.40:81/stream".into() });
//! let (camera, tasks) = Camera::new(spec, &settings)?;
//! let link = camera_cluster::BusLink::new(bus, "porch")?;
//! let shutdown = tokio_util::sync::CancellationToken::new();
//! let _handles = tasks.clustered(Arc::new(link)).spawn(&camera, &settings, Box::new(|_| {}), &shutdown);
//! # Ok(()) }
//! ```
//!
//! A runnable check needs a NATS server: see `tests/two_nodes.rs`.

use std::time::{Duration, Instant};

use camera_hub::cluster::{ClusterLink, DetectionDemand, Membership, Role};
use camera_hub::detect_share::SharedDetections;
use camera_hub::SharedFrame;
use esp32_source::CameraFrame;
use frame_bus::{Bus, BusError, BusFrame, CameraPublisher, DetectionSubscriber, Ownership};
use futures_util::future::BoxFuture;
use futures_util::stream::{self, BoxStream, StreamExt};
use futures_util::FutureExt;
use tokio::sync::watch;

/// How long to wait before subscribing again after a failed subscribe.
const RESUBSCRIBE_AFTER: Duration = Duration::from_secs(1);

/// One camera's link to the cluster, through a node's [`Bus`].
pub struct BusLink {
    bus: Bus,
    camera: String,
    publisher: CameraPublisher,
}

impl BusLink {
    /// The link for `camera` (fails for a name that cannot be a NATS subject token).
    pub fn new(bus: Bus, camera: &str) -> Result<BusLink, BusError> {
        let publisher = bus.publisher(camera)?;
        Ok(BusLink {
            bus,
            camera: camera.to_owned(),
            publisher,
        })
    }
}

/// Keeps a lease and the task that turns its ownership into roles. Dropped (nobody watches
/// any more, or shutdown): the lease is released, so a node that still has viewers takes the
/// camera over at once instead of after the lease's TTL.
struct Seat {
    lease: Option<frame_bus::Lease>,
    forward: tokio::task::JoinHandle<()>,
}

impl Drop for Seat {
    fn drop(&mut self) {
        self.forward.abort();
        let Some(lease) = self.lease.take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(lease.release());
            }
            // No runtime (dropped at exit): the lease expires by itself.
            Err(_) => drop(lease),
        }
    }
}

fn role_of(ownership: &Ownership) -> Role {
    match ownership {
        Ownership::Unknown => Role::Unknown,
        Ownership::Owner { .. } => Role::Camera,
        Ownership::Follower { owner } => Role::Bus {
            owner: owner.clone(),
        },
    }
}

impl ClusterLink for BusLink {
    fn join(&self) -> Membership {
        let lease = match self.bus.lease(&self.camera) {
            Ok(lease) => lease,
            Err(error) => {
                // Only a bad name fails, and `new` checked it: stay unknown.
                tracing::error!(camera = %self.camera, %error, "no lease");
                let (tx, role) = watch::channel(Role::Unknown);
                return Membership {
                    role,
                    guard: Box::new(tx),
                };
            }
        };
        let mut ownership = lease.watch();
        let (tx, role) = watch::channel(role_of(&ownership.borrow_and_update()));
        let forward = tokio::spawn(async move {
            while ownership.changed().await.is_ok() {
                let role = role_of(&ownership.borrow_and_update());
                tx.send_replace(role);
            }
        });
        Membership {
            role,
            guard: Box::new(Seat {
                lease: Some(lease),
                forward,
            }),
        }
    }

    fn bus_frames(&self) -> BoxFuture<'static, BoxStream<'static, CameraFrame>> {
        let (bus, camera) = (self.bus.clone(), self.camera.clone());
        async move {
            // The last frame's publisher and id: a new owner may count lower, the same one not.
            let state = (bus, camera, None, None::<(String, u64)>);
            stream::unfold(state, |(bus, camera, mut subscriber, mut last)| async move {
                loop {
                    let Some(frames) = subscriber.as_mut() else {
                        match bus.subscribe_frames(&camera).await {
                            Ok(frames) => subscriber = Some(frames),
                            Err(error) => {
                                tracing::warn!(%camera, %error, "bus subscription failed");
                                tokio::time::sleep(RESUBSCRIBE_AFTER).await;
                            }
                        }
                        continue;
                    };
                    let Some(received) = frames.next().await else {
                        subscriber = None;
                        tokio::time::sleep(RESUBSCRIBE_AFTER).await;
                        continue;
                    };
                    let id = received.frame.id;
                    if matches!(&last, Some((node, seen)) if *node == received.node && id <= *seen) {
                        // Stale (queued during the owner's outage) or repeated.
                        continue;
                    }
                    last = Some((received.node, id));
                    let frame = CameraFrame {
                        jpeg: received.frame.jpeg,
                        camera_time: Some(received.frame.camera_time),
                        upstream_id: Some(id),
                        upstream_offline: false,
                        received_at: Instant::now(),
                        received_wall: received.received,
                    };
                    return Some((frame, (bus, camera, subscriber, last)));
                }
            })
            .boxed()
        }
        .boxed()
    }

    fn publish(&self, frame: &SharedFrame) {
        self.publisher.publish(BusFrame {
            id: frame.id,
            camera_time: frame.camera_time,
            tier: None,
            jpeg: frame.jpeg.clone(),
        });
    }

    fn detection_demand(&self) -> BoxFuture<'static, DetectionDemand> {
        let (bus, camera) = (self.bus.clone(), self.camera.clone());
        async move {
            match bus.detection_demand(&camera).await {
                Ok(watch) => DetectionDemand {
                    wanted: watch.receiver(),
                    guard: Box::new(watch),
                },
                Err(error) => {
                    tracing::warn!(%camera, %error, "cannot follow the demand for detections");
                    DetectionDemand::none()
                }
            }
        }
        .boxed()
    }

    fn publish_detections(&self, detections: &SharedDetections) {
        match serde_json::to_vec(detections) {
            Ok(json) => {
                self.publisher
                    .publish_detections(detections.frame_id, json.into());
            }
            Err(error) => tracing::warn!(camera = %self.camera, %error, "detections not encoded"),
        }
    }

    fn bus_detections(&self) -> BoxFuture<'static, BoxStream<'static, SharedDetections>> {
        let (bus, camera) = (self.bus.clone(), self.camera.clone());
        async move {
            // Subscribed before asking, so the first answers are not missed.
            let subscriber = bus.subscribe_detections(&camera).await.ok();
            // Asks the owner while the stream lives (the name was checked by `new`).
            let beacon = bus.want_detections(&camera).ok();
            let state = (bus, camera, subscriber, beacon);
            stream::unfold(state, |(bus, camera, subscriber, beacon)| async move {
                let mut subscriber: Option<DetectionSubscriber> = subscriber;
                loop {
                    let Some(detections) = subscriber.as_mut() else {
                        match bus.subscribe_detections(&camera).await {
                            Ok(detections) => subscriber = Some(detections),
                            Err(error) => {
                                tracing::warn!(%camera, %error, "detections subscription failed");
                                tokio::time::sleep(RESUBSCRIBE_AFTER).await;
                            }
                        }
                        continue;
                    };
                    let Some(received) = detections.next().await else {
                        subscriber = None;
                        tokio::time::sleep(RESUBSCRIBE_AFTER).await;
                        continue;
                    };
                    match serde_json::from_slice::<SharedDetections>(&received.json) {
                        Ok(mut shared) => {
                            shared.frame_id = received.frame_id;
                            return Some((shared, (bus, camera, subscriber, beacon)));
                        }
                        Err(error) => {
                            tracing::debug!(%camera, %error, "skipped detections that do not parse")
                        }
                    }
                }
            })
            .boxed()
        }
        .boxed()
    }
}
