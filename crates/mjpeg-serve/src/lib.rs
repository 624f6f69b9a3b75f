//! Serve one broadcast of JPEG frames to any number of viewers, over HTTP (MJPEG,
//! `multipart/x-mixed-replace`) and WebSocket, at the cost of one vectored write per frame and
//! viewer.
//!
//! - [`Frame`]: a JPEG with its multipart part head, built **once** per frame and shared by
//!   every viewer through an `Arc` ([`SharedFrame`]); `M` is the application's opaque metadata.
//! - [`Viewer`]: one subscription to a `broadcast-core` broadcast, with [`Admission`] limits, a
//!   frame-age bound and skip-to-newest for a viewer that fell behind; it reports to the
//!   application's [`ViewerCounters`].
//! - [`pacing`]: viewers on slow links get their next frame only once `TCP_INFO` shows that
//!   the previous ones drained ([`PacedViewer`], [`Pacer`]); [`pacing::tune_viewer_socket`]
//!   sets `TCP_NODELAY` and `TCP_NOTSENT_LOWAT`.
//! - [`MjpegBody`]: the hyper `Body` of an MJPEG viewer; each chunk is `head + JPEG +
//!   delimiter`, three shared `Bytes` that hyper writes with one `writev`.
//! - [`ws::serve`]: a WebSocket viewer on an upgraded connection; per frame one `writev` of
//!   `[text header, text, binary header, JPEG]`.
//! - [`TieredViewer`]: a viewer on its camera's quality tiers ([`CameraTiers`], from the
//!   `quality-tiers` crate, re-exported as [`quality_tiers`]): pinned or chosen from its link,
//!   switching between frames; served by [`MjpegBody::tiered`] and [`ws::serve_tiered`]. Every
//!   part head says `X-Quality`.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use broadcast_core::{Config, Publisher};
//! use mjpeg_serve::{Admission, Frame, FrameState, MjpegBody, PacedViewer, Viewer, ViewerCount};
//!
//! let camera = Publisher::new(Config::default()); // the task reading the camera owns this
//! let admission = Arc::new(Admission::new(100, 0)); // at most 100 viewers
//!
//! // Per request: admit a viewer and answer with its body (with a Pacer on a real socket).
//! let counts = Arc::new(ViewerCount::default()); // or the server's own ViewerCounters
//! let viewer = Viewer::admit(&camera.handle(), &admission, counts, Duration::from_secs(1))
//!     .expect("room for one more");
//! let body: MjpegBody = MjpegBody::new(PacedViewer::new(viewer, None));
//! let response = mjpeg_serve::stream_response(body, mjpeg_serve::content_type());
//!
//! // Per camera frame: build it (and its part head) once, publish it to every viewer.
//! let jpeg = bytes::Bytes::from_static(b"\xFF\xD8\xFF\xD9");
//! let time = mjpeg_codec::Timestamp::now();
//! camera.publish(Arc::new(Frame::new(1, jpeg, time, FrameState::Live, ())));
//! # drop(response);
//! ```
//!
//! `examples/serve_jpegs.rs` serves a few JPEGs in a loop to any number of browsers.

// The one `getsockopt(TCP_INFO)` of `pacing` needs unsafe; it says why it is sound.
#![allow(unsafe_code)]

mod body;
mod error;
mod frame;
pub mod pacing;
mod source;
mod tiered;
mod viewer;
pub mod ws;

pub use body::{content_type, one, stream_response, FrameBuf, MjpegBody};
pub use error::{Error, ErrorKind};
pub use frame::{writer, Frame, FrameState, SharedFrame, BOUNDARY};
pub use pacing::{PacedViewer, Pacer};
pub use quality_tiers;
pub use source::FrameSource;
pub use tiered::{CameraTiers, TierWatch, TieredViewer, SAMPLE_EVERY};
pub use viewer::{Admission, Refused, Viewer, ViewerCount, ViewerCounters};
