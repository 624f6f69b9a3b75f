//! Replay sessions over the recording archive, fanned out through the same broadcast and
//! viewer machinery as live video (issue #17).
//!
//! A replay session is a virtual camera: one clock (`replay-session`) drives one reader per
//! camera; at each tick every camera emits its newest recorded frame whose capture time is at
//! or before the clock. Here:
//!
//! - [`ArchiveTrack`]: a camera's recordings in an `mjpeg_record::Archive` as a
//!   `replay_session::Track`: a window of its index in memory, sorted by capture time,
//!   looked up by binary search; each frame's handle is a [`FrameLocation`] (open segment,
//!   offset, size).
//! - [`ArchiveSink`]: reads each emitted frame's JPEG in `spawn_blocking` and publishes it
//!   into the camera's `broadcast_core` broadcast of `mjpeg_serve::SharedFrame<M>` with its
//!   **original** frame id and capture time (so `X-Frame-Id` and `X-Timestamp` of a replayed
//!   frame are the recorded ones). In order per camera; a frame that arrives while the disk
//!   is still reading the previous one replaces the waiting one (skipped and counted, never
//!   queued).
//! - [`ReplayService`]: the operations behind the routes: [`create`](ReplayService::create)
//!   (`POST /api/replay`), [`control`](ReplayService::control) (`POST /api/replay/ID`),
//!   [`state`](ReplayService::state) (`GET`), [`delete`](ReplayService::delete) (`DELETE`),
//!   [`subscribe`](ReplayService::subscribe) (`GET /replay/ID/cams/NAME/stream`, and per
//!   camera for `/replay/ID/ws`). The JSON bodies are in [`CreateRequest`], [`Action`],
//!   [`Created`] and [`StateBody`]; errors have a [`kind`](Error::kind) for the HTTP status
//!   and a JSON [`body`](Error::body).
//!
//! [`api`] answers the routes' requests (method, id, JSON body) with a status and a JSON
//! body, so a server only reads the body, checks access and writes the answer.
//!
//! Every viewer of a session's camera subscribes to the same broadcast, so all of them see the
//! same frame ids; the cameras of a session are aligned by capture time by the one clock.
//!
//! # Example
//!
//! Record a second of a camera, replay it at 2x and watch it with two viewers:
//!
//! ```
//! use std::sync::Arc;
//! use archive_replay::{CreateRequest, ReplayService, ServiceConfig};
//! use mjpeg_record::{Archive, RecordConfig, RecordFrame, RecordMode};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let archive = Arc::new(Archive::open(RecordConfig::new(dir.path()))?);
//! let jpeg = bytes::Bytes::from_static(include_bytes!("../../mock-camera/assets/chelsea.jpg"));
//! let t0 = 1_764_448_200_000_000; // Unix µs
//! let rec = archive.recorder("door", RecordMode::CONTINUOUS)?;
//! for i in 0..10u64 {
//!     let t = t0 + i as i64 * 100_000; // 10 fps
//!     rec.try_record(RecordFrame::new(jpeg.clone(), 500 + i, t, t));
//! }
//! rec.flush();
//!
//! let replay: ReplayService<()> = ReplayService::new(archive, ServiceConfig::default());
//! let body = br#"{"cameras": ["door"], "start": "2025-11-29T20:30:00.35Z", "rate": 2.0}"#;
//! let created = replay.create(CreateRequest::from_json(body)?).await?;
//! assert_eq!(created.streams["door"], format!("/replay/{}/cams/door/stream", created.id));
//!
//! // Two viewers (the relay admits them as `mjpeg_serve::Viewer`s: `Subscription::admit`).
//! let a = replay.subscribe(&created.id, "door")?;
//! let b = replay.subscribe(&created.id, "door")?;
//! let (mut va, mut vb) = (a.broadcast.subscribe(), b.broadcast.subscribe());
//! for want in 503..=505 {
//!     let (fa, fb) = (va.recv().await.expect("a").item, vb.recv().await.expect("b").item);
//!     assert_eq!((fa.id, fb.id), (want, want)); // the recorded frame ids
//!     assert_eq!(fa.jpeg, jpeg); // the recorded bytes
//! }
//! assert_eq!(replay.state(&created.id)?.viewers, 2);
//! replay.delete(&created.id)?;
//! # Ok(()) }
//! ```

pub mod api;
mod error;
mod request;
mod service;
mod sink;
mod track;

pub use error::{CameraSpans, Error, ErrorKind, Result};
pub use request::{Action, CameraState, CreateRequest, Created, StateBody, Time};
pub use service::{ReplayService, ReplayViewerGuard, ServiceConfig, Subscription};
pub use sink::{ArchiveSink, CameraStats};
pub use track::{ArchiveTrack, FrameLocation};

/// The session and registry settings inside [`ServiceConfig`], from `replay-session`.
pub use replay_session::{RegistryConfig, SessionConfig};
