//! Resilient camera source adapter: ESP32-CAM and any MJPEG stream or snapshot URL, with
//! reconnects.
//!
//! A [`Source`] holds one camera's configuration; [`Source::frames`] is an endless stream of
//! [`CameraFrame`]s read over exactly ONE upstream HTTP/1.1 connection (cheap cameras serve one
//! or two clients at most). The stream:
//!
//! - parses `multipart/x-mixed-replace` with `mjpeg-codec`, also when the server sends
//!   `application/octet-stream` without a boundary (VLC, ffmpeg), or polls a snapshot URL
//!   ([`SourceKind::Snapshot`]);
//! - stamps every frame with the camera's `X-Timestamp` and the local receive time;
//! - skips and counts truncated or garbage parts, rejects HTML pages, error statuses and
//!   redirects (never followed: the error names the `Location`), caps header and part sizes;
//! - reconnects forever on connect failure (also the very first), connection loss or a stall
//!   (no complete frame for [`SourceConfig::stall_timeout`]): every 350 ms or so while the
//!   camera is down, busy or silent and someone waits for it ([`Demand`]), with exponential
//!   backoff where retrying fast is pointless (HTTP 4xx, not MJPEG) or nobody waits; see
//!   [`Backoff`];
//! - publishes its [`SourceState`], the typed [`LastError`], outage timings and counters
//!   through a [`StatusHandle`].
//!
//! [`Esp32Control`] reads and changes the ESP32-CAM firmware's sensor settings.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use esp32_source::{Source, SourceConfig, SourceKind};
//!
//! let mut config = SourceConfig::stream("porch", "http://192.168.1.40:81/stream");
//! config.stall_timeout = Duration::from_secs(3);
//! let source = Source::new(config)?;
//! // Nothing connects until the frame stream is polled.
//! assert_eq!(source.status().snapshot().state.name(), "idle");
//!
//! // Bad URLs fail here, not at the first reconnect.
//! let err = Source::new(SourceConfig::stream("x", "https://cam/stream")).unwrap_err();
//! assert_eq!(err.kind(), esp32_source::ErrorKind::InvalidUrl);
//!
//! let snapshots = SourceConfig::snapshot("garage", "http://192.168.1.41/capture", Duration::from_millis(500));
//! assert!(matches!(snapshots.kind, SourceKind::Snapshot { .. }));
//! # Ok::<(), esp32_source::SourceError>(())
//! ```
//!
//! Reading frames (needs a camera; `examples/watch_camera.rs` is the runnable version):
//!
//! ```no_run
//! use futures_util::StreamExt;
//! use esp32_source::{Source, SourceConfig};
//!
//! # async fn run() -> Result<(), esp32_source::SourceError> {
//! let source = Source::new(SourceConfig::stream("porch", "http://192.168.1.40:81/stream"))?;
//! let status = source.status();
//! let mut frames = source.frames();
//! while let Some(frame) = frames.next().await {
//!     println!("{} bytes, latency {:?}, {}", frame.jpeg.len(), frame.latency(), status.snapshot().state.name());
//! }
//! # Ok(())
//! # }
//! ```

mod config;
mod control;
mod demand;
mod error;
mod frame;
mod http;
mod runner;
mod snapshot;
mod source;
mod status;
mod stream_session;
mod target;

pub use config::{Backoff, SourceConfig, SourceKind};
pub use control::Esp32Control;
pub use demand::Demand;
pub use error::{ErrorContext, ErrorKind, SourceError};
pub use frame::CameraFrame;
pub use source::{FrameStream, Source};
pub use status::{LastError, SourceState, SourceStatus, StatusHandle};
