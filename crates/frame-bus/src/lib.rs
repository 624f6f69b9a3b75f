//! Frames and detections between camrelay nodes over NATS, and one owner per camera.
//!
//! Several relays that share a configuration form a cluster on one NATS server (or cluster of
//! servers). For each camera exactly one node, the **owner**, reads the camera; it publishes
//! every frame once on the camera's subject, and every other node that has viewers of that
//! camera subscribes and fans out to its own viewers. This crate moves the frames and holds the
//! leases; it knows nothing of HTTP or of viewers.
//!
//! | subject / key | what |
//! | --- | --- |
//! | `camrelay.<cluster>.cam.<camera>.frames` | one message per frame: the JPEG as payload; headers `Camrelay-Frame-Id`, `Camrelay-Timestamp` (`SEC.USEC`), `Camrelay-Tier` (optional), `Camrelay-Sent`, `Camrelay-Seq`, `Camrelay-Node` |
//! | `camrelay.<cluster>.cam.<camera>.detections` | one frame's detections: a JSON document as payload (its shape is the caller's); headers `Camrelay-Frame-Id`, `Camrelay-Node` |
//! | `camrelay.<cluster>.cam.<camera>.detect_demand` | a follower that wants the detections: its node name, every [`BusConfig::demand_every`] while it wants them ([`DemandBeacon`], [`DemandWatch`]) |
//! | key-value bucket `camrelay_<cluster>_owners`, key `<camera>` | the owner's node name; expires after [`BusConfig::lease_ttl`] unless renewed |
//!
//! - [`Bus::publisher`]: one publish per frame, never waiting (a full queue drops and counts).
//! - [`Bus::subscribe_frames`]: a subscription that buffers a few frames, not the client's
//!   default 65,536 messages; a node that reads too slowly loses frames for itself only
//!   ([`FrameSubscriber::lost`], [`BusSnapshot::slow_consumer_events`]).
//! - [`Bus::want_detections`] / [`Bus::detection_demand`]: the demand signal for detections
//!   (heartbeats with a TTL, [`BusConfig::demand_ttl`]); [`CameraPublisher::publish_detections`]
//!   and [`Bus::subscribe_detections`] carry them, each with its frame id.
//! - [`Bus::lease`]: who owns the camera ([`Ownership`]); failover within
//!   `lease_ttl + claim_every` (2.25 s by default) after the owner stops renewing; an owner that
//!   loses NATS keeps serving and re-joins.
//!
//! Names (cluster, node, camera) are single subject tokens: ASCII letters, digits, `-`, `_`.
//!
//! ```
//! use frame_bus::{subject, BusConfig, BusFrame, ErrorKind};
//!
//! let config = BusConfig::new("nats://127.0.0.1:4222", "site1", "relay-a");
//! assert_eq!(config.subscription_capacity, 4);
//! assert_eq!(subject::frames("site1", "porch"), "camrelay.site1.cam.porch.frames");
//! let err = subject::check_name("camera", "front.door").unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::InvalidName);
//! let _frame = BusFrame {
//!     id: 1,
//!     camera_time: mjpeg_codec::Timestamp::now(),
//!     tier: None,
//!     jpeg: bytes::Bytes::from_static(b"\xFF\xD8\xFF\xD9"),
//! };
//! ```
//!
//! Two nodes, one camera (needs a `nats-server -js` on port 4222):
//!
//! ```no_run
//! use frame_bus::{Bus, BusConfig, BusFrame};
//!
//! # async fn run() -> Result<(), frame_bus::BusError> {
//! let a = Bus::connect(BusConfig::new("nats://127.0.0.1:4222", "site1", "relay-a")).await?;
//! let b = Bus::connect(BusConfig::new("nats://127.0.0.1:4222", "site1", "relay-b")).await?;
//! let mut lease_a = a.lease("porch")?;
//! let lease_b = b.lease("porch")?;
//! lease_a.changed().await; // one of them owns "porch" now
//!
//! let mut frames = b.subscribe_frames("porch").await?;
//! let publisher = a.publisher("porch")?;
//! publisher.publish(BusFrame {
//!     id: 42,
//!     camera_time: mjpeg_codec::Timestamp::now(),
//!     tier: None,
//!     jpeg: bytes::Bytes::from_static(b"\xFF\xD8\xFF\xD9"),
//! });
//! let received = frames.next().await.expect("connected");
//! assert_eq!(received.frame.id, 42);
//! println!("owner: {:?}, bus latency {:?}", lease_b.ownership(), received.latency());
//! # Ok(())
//! # }
//! ```

mod bus;
mod config;
mod demand;
mod error;
mod frame;
mod lease;
mod publish;
mod stats;
pub mod subject;
mod subscribe;

pub use bus::Bus;
pub use config::{default_node, BusConfig, BusTable, DEFAULT_CLUSTER};
pub use demand::{DemandBeacon, DemandWatch};
pub use error::{BusError, ErrorKind};
pub use frame::{
    BusFrame, ReceivedDetections, ReceivedFrame, FRAME_ID, NODE, SENT, SEQ, TIER, TIMESTAMP,
};
pub use lease::{Lease, Ownership};
pub use publish::CameraPublisher;
pub use stats::{BusSnapshot, BusView};
pub use subscribe::{DetectionSubscriber, FrameSubscriber};
