//! Consumers of [`camera_hub`] cameras that are not viewers, each fed like a viewer from the
//! camera's broadcast with its own bounded queue, so they never slow the live path, and each
//! keeping its camera open (the supervisor reads a camera while it has subscribers):
//!
//! - [`record`]: feeds each recorded camera's raw frames to an `mjpeg-record` [`Recorder`];
//!   in events mode it also follows the annotated broadcast (which runs the detector) and
//!   records the raw JPEGs with their detections, joined by frame id.
//! - [`mqtt`]: follows each detecting camera's annotated broadcast and hands every detection
//!   result to `mqtt-detections`, so Home Assistant gets detections whether or not anyone
//!   watches.
//! - [`wall`]: the synchronized live wall: the cameras held back by a small playout delay so
//!   that the frames shown agree in capture time; runs only while someone watches it.
//!
//! Errors are those of the crate underneath, unchanged (`mjpeg_record::Error`,
//! `mqtt_detections::MqttError`), so their kinds reach the caller.
//!
//! [`Recorder`]: mjpeg_record::Recorder
//!
//! ```
//! use camera_hub::{Camera, CameraSpec, HubSettings, SourceSpec};
//! use mjpeg_record::RecordConfig;
//! use tokio_util::sync::CancellationToken;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let hub = HubSettings::default();
//! let (camera, camera_tasks) = Camera::new(CameraSpec::new("demo", SourceSpec::Demo), &hub)?;
//! let shutdown = CancellationToken::new();
//! let mut tasks = camera_tasks.spawn(&camera, &hub, Box::new(|_latency| {}), &shutdown);
//! let recording = camera_taps::record::start(
//!     RecordConfig::new(dir.path()),
//!     &[camera],
//!     |_camera| None, // the default mode: continuous
//!     &shutdown,
//!     &mut tasks,
//! )?;
//! // The demo camera is now read without viewers, and recorded.
//! while recording.stats("demo").map_or(0, |s| s.frames_written) < 3 {
//!     tokio::time::sleep(std::time::Duration::from_millis(50)).await;
//! }
//! shutdown.cancel();
//! for task in tasks {
//!     task.await?;
//! }
//! # Ok(()) }
//! ```

pub mod mqtt;
pub mod record;
pub mod wall;
