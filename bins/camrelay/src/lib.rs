//! camrelay: a camera broadcast relay.
//!
//! Reads **one** upstream connection per camera (an ESP32-CAM serves one or two clients at
//! most) and fans every frame out to any number of viewers, each with its own bounded queue, so
//! all viewers see the same frame id at the same time and a slow viewer slows nobody. A YOLO
//! detector runs once per frame (not once per viewer) and broadcasts annotated frames the same
//! way.
//!
//! The binary is a thin shell over [`server::start`]; tests start the same server in-process:
//!
//! ```no_run
//! # async fn demo() -> Result<(), camrelay::error::StartError> {
//! let mut config = camrelay::config::RelayConfig::default();
//! config.listen = "127.0.0.1:0".parse().unwrap();
//! let relay = camrelay::server::start(config).await?; // no camera given: the demo camera
//! println!("open http://{}/stream", relay.local_addr());
//! relay.shutdown().await;
//! # Ok(()) }
//! ```

// Module map (one line each: what it owns). The camera itself (upstream supervisor, raw and
// annotated broadcasts, detector task, counters, the frame) is the `camera-hub` crate; the
// viewer path is `mjpeg-serve`; recording and MQTT feeds are `camera-taps`, `/metrics` is
// `relay-metrics`, the recording routes `archive-http`, tokens and TLS `relay-auth`; this
// crate composes them.
pub use camera_hub as camera; // one camera: its broadcasts, supervisor, detector, counters
pub use camera_hub::frame; // the relay's frame: mjpeg-serve's Frame + detections + WebSocket JSON
pub mod cli; // command-line flags, turned into a RelayConfig
pub mod config; // RelayConfig and its defaults, the TOML file
pub mod error; // ConfigError, StartError: why the relay did not start
pub mod http; // routes: dashboard, MJPEG, WebSocket, SSE, snapshot, stats, metrics
pub mod server; // start-up, the accept loop, graceful shutdown
pub mod state; // RelayState (shared by all) and ConnInfo (one connection)
