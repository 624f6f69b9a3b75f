//! A byte-faithful ESP32-CAM emulator (stream, capture, status, control) for tests and demos.
//!
//! [`MockCamera`] serves what the arduino-esp32 `CameraWebServer` firmware serves: a chunked
//! `multipart/x-mixed-replace` stream with boundary `123456789000000000000987654321`, a
//! delimiter *before* every part and `X-Timestamp` part headers (the frame's capture time),
//! plus `/capture`, `/status` and `/control`. Like the board it serves one stream client at
//! a time by default, and leaves a second one without an answer ([`WhenBusy`]). Options break
//! it on purpose: end the stream after N parts, send truncated or garbage parts, stall; and
//! [`MockCamera::power_off`] / [`MockCamera::power_on`] reboot it on the same port.
//!
//! The picture is a [`Scene`]: the bundled public-domain/CC0 photos of a person, a cat and a
//! cup of coffee sliding over a room, so an object detector has something to find. Its loop
//! is JPEG-encoded once at start, so streaming costs almost no CPU.
//!
//! ```
//! use mock_camera::{MockCamera, MockConfig};
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let config = MockConfig { width: 320, height: 240, loop_frames: 2, ..MockConfig::default() };
//! let camera = MockCamera::start("127.0.0.1:0".parse().unwrap(), config).await?;
//! println!("stream at {}", camera.stream_url());
//! assert_eq!(camera.stats().stream_clients, 0);
//! camera.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod camera;
mod config;
mod encode;
mod error;
mod framesize;
mod scene;
mod sensor;
mod server;
mod stats;
mod stream;
mod text;

pub use config::{esp_quality_of, jpeg_quality_of, MockConfig, WhenBusy};
pub use error::{MockError, MockErrorKind};
pub use framesize::{framesize_dimensions, framesize_of, FRAME_SIZES};
pub use scene::{Scene, DEFAULT_LOOP_FRAMES, MAX_DIMENSION, MAX_LOOP_FRAMES};
pub use sensor::SensorSettings;
pub use server::MockCamera;
pub use stats::MockStats;
pub use stream::{BOUNDARY, STREAM_CONTENT_TYPE, STREAM_DELIMITER};
pub use text::{draw_text, placeholder_jpeg, text_width, GLYPH_SIZE};
