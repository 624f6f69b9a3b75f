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

pub mod camera;
pub mod cli;
pub mod config;
pub mod error;
pub mod frame;
pub mod http;
pub mod metrics;
pub mod pacing;
pub mod server;
