//! Publishes camera detections over MQTT, with Home Assistant discovery.
//!
//! The relay hands in each frame's detections ([`DetectionEvent`], its own small type: this
//! crate knows nothing of the detector). Per camera, the publisher sends **one message per
//! change** -- a configured label at or above the minimum score appears, or has been gone for
//! `off_after_frames` frames -- plus retained `ON`/`OFF` states for Home Assistant's binary
//! sensors, a retained `online`/`offline` per camera and for the relay (the last will), the
//! detector's fps every few seconds, and the frame's JPEG as the camera entity's image.
//! Unchanged frames publish nothing.
//!
//! Topics, with the default `topic_prefix = "camrelay"`:
//!
//! | topic | payload | retained |
//! |---|---|---|
//! | `camrelay/status` | `online` / `offline` (last will) | yes |
//! | `camrelay/<camera>/state` | `online` / `offline` | yes |
//! | `camrelay/<camera>/detections` | JSON, one per change | no |
//! | `camrelay/<camera>/<label>` | `ON` / `OFF` | yes |
//! | `camrelay/<camera>/fps` | e.g. `14.8`, at most every `fps_interval_secs` | no |
//! | `camrelay/<camera>/snapshot` | JPEG bytes, on a change, at most every `snapshot_interval_secs` | yes |
//! | `homeassistant/{binary_sensor,sensor,camera}/<relay_id>/<object>/config` | discovery JSON | yes |
//!
//! Camera names and labels become topic segments through [`topics::segment`] (`Front Door` ->
//! `front_door`).
//!
//! # Never in the caller's way
//!
//! [`MqttHandle`]'s methods never wait: events go into a small bounded queue with `try_send`;
//! the task hands messages to rumqttc's small bounded queue without waiting. When the broker
//! is away or slow, messages are dropped and counted ([`MqttStats`]), never queued without
//! bound. The connection is retried with backoff; after every (re)connect the publisher
//! re-publishes `online`, the discovery configs and the current states, so Home Assistant
//! converges on the truth even after a broker restart that lost its retained messages.
//!
//! # TLS
//!
//! An `mqtts://` (or `ssl://`) URL connects with rustls (its `ring` provider), checking the
//! broker's certificate against the PEM file in [`MqttConfig::ca`] or, without one, against
//! the system's CA store. A `ca` file that cannot be read is an error of
//! [`MqttPublisher::start`] ([`ErrorKind::Tls`]); a certificate that does not check out is
//! logged and retried like a broker that is away.
//!
//! # Example
//!
//! Start the publisher and feed it a frame (needs a broker on localhost:1883):
//!
//! ```no_run
//! use mqtt_detections::{CameraInfo, DetectionBox, DetectionEvent, MqttConfig, MqttPublisher};
//!
//! # async fn demo() -> Result<(), mqtt_detections::MqttError> {
//! let config: MqttConfig = toml::from_str(r#"
//!     url = "mqtt://camrelay:secret@localhost:1883"
//!     labels = ["person", "car"]
//! "#).expect("valid [mqtt] table");
//! let cameras = [CameraInfo::new("front")];
//! let (mqtt, publisher) = MqttPublisher::start(&config, &cameras)?;
//! tokio::spawn(publisher.run());
//!
//! mqtt.set_camera_online("front", true);
//! mqtt.frame(DetectionEvent {
//!     camera: "front".into(),
//!     frame_id: 1,
//!     capture_us: 1_764_448_340_000_000,
//!     detections: vec![DetectionBox {
//!         label: "person".into(), score: 0.87, x: 10.0, y: 20.0, w: 50.0, h: 120.0,
//!     }],
//!     fps: Some(14.8),
//!     jpeg: None,
//! });
//! println!("published so far: {}", mqtt.stats().published());
//! # Ok(()) }
//! ```
//!
//! The change detection on its own, which runs anywhere:
//!
//! ```
//! use mqtt_detections::ChangeDetector;
//!
//! let mut front = ChangeDetector::new(&["person".to_string()], 0.5, 1);
//! assert_eq!(front.observe([("person", 0.9)]).map(|c| c.appeared), Some(vec!["person".into()]));
//! assert_eq!(front.observe([("person", 0.8)]), None); // same labels: nothing to send
//! assert_eq!(front.observe([]).map(|c| c.left), Some(vec!["person".into()]));
//! ```

mod broker_url;
mod change;
mod config;
mod connection;
mod error;
mod event;
mod handle;
mod payload;
mod publisher;
mod rate_limit;
mod stats;
mod tls;
pub mod topics;

pub use broker_url::BrokerUrl;
pub use change::{Change, ChangeDetector};
pub use config::MqttConfig;
pub use error::{ErrorKind, MqttError};
pub use event::{CameraInfo, DetectionBox, DetectionEvent};
pub use handle::MqttHandle;
pub use payload::rfc3339_micros;
pub use publisher::{MqttPublisher, MAX_SNAPSHOT_BYTES};
pub use stats::{MqttStats, StatsSnapshot};
