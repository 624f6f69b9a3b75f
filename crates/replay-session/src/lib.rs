//! Timing of replay sessions and of the synchronized live wall, independent of storage and
//! HTTP.
//!
//! - [`SessionClock`]: a capture-time position (µs since the Unix epoch) advancing at a
//!   [`Rate`] (1/16x..=16x) unless paused, on Tokio's clock (tests use paused time).
//! - [`Track`]: one camera's recorded frames, looked up by capture time; the recorder's index
//!   implements it, [`MemoryTrack`] holds frames in a `Vec`.
//! - [`ReplaySession`]: one clock drives one reader per camera; a driver task emits each
//!   camera's newest frame at or before the clock into a [`Sink`]; a [`ReplayHandle`] pauses,
//!   plays, seeks, changes the rate, steps and reports the [`SessionState`]. While nothing
//!   new is due (paused, ended, a slow rate) it sends each camera's frame shown again once a
//!   second ([`SessionConfig::keepalive`]), as a live camera's keepalive does, so that
//!   browsers and proxies do not time out a paused stream.
//! - [`Sessions`]: sessions by unguessable [`SessionId`], a maximum, viewer counts and idle
//!   end.
//! - [`SyncWall`]: live cameras held back by a playout delay so that tiles agree in capture
//!   time, built on the same session machinery.
//!
//! # For the relay
//!
//! The recorder keeps, per camera, an index of `(frame_id, capture_us, offset, size)` per
//! frame in its segment files. A `Track` over it holds that index in memory (sorted by capture
//! time, behind a lock the recorder appends to), answers the lookups by binary search, and
//! hands out `(segment, offset, size)` as the frame's handle. The [`Sink`] reads the ~60 KB
//! JPEG at that offset in `tokio::task::spawn_blocking`, awaits it, and publishes it with the
//! original frame id and capture time. Track lookups run under the session's lock: no I/O.
//!
//! # Example
//!
//! Two cameras at 10 fps, the second one's clock 13 ms later, replayed at 2x:
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use std::time::Duration;
//! use replay_session::{FnSink, MemoryTrack, ReplaySession, SessionConfig};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), replay_session::ReplayError> {
//! const T0: i64 = 1_700_000_000_000_000;
//! let door = MemoryTrack::regular(0, T0, 100_000, 100); // 10 s of frames 0..100
//! let yard = MemoryTrack::regular(1000, T0 + 13_000, 100_000, 100);
//!
//! let seen = Arc::new(Mutex::new(Vec::new()));
//! let log = seen.clone();
//! let sink = FnSink(move |camera, frame: replay_session::FrameRef<u64>| {
//!     log.lock().unwrap().push((camera, frame.frame_id, frame.capture_us));
//! });
//! let session = ReplaySession::start(vec![door, yard], T0, 2.0, SessionConfig::default(), sink)?;
//!
//! tokio::time::sleep(Duration::from_millis(1005)).await; // 2.01 s of capture time
//! let state = session.state();
//! assert_eq!(state.position_us, T0 + 2_010_000);
//! assert_eq!(state.last_frame_ids, vec![Some(20), Some(1019)]);
//!
//! session.pause()?;
//! session.seek(T0 + 5_050_000)?; // lands on frame 50 and 1050, emitted while paused
//! tokio::time::sleep(Duration::from_millis(10)).await;
//! assert_eq!(session.state().last_frame_ids, vec![Some(50), Some(1050)]);
//! assert_eq!(seen.lock().unwrap().last().map(|e| e.1), Some(1050));
//! # Ok(())
//! # }
//! ```

mod clock;
mod error;
mod registry;
mod session;
mod track;
mod wall;

pub use clock::{Rate, SessionClock};
pub use error::{ErrorKind, ReplayError};
pub use registry::{RegistryConfig, SessionId, Sessions, ViewerGuard};
pub use session::{FnSink, ReplayHandle, ReplaySession, SessionConfig, SessionState, Sink};
pub use track::{FrameRef, MemoryTrack, Span, Track};
pub use wall::{RingTrack, SyncWall, WallConfig};
