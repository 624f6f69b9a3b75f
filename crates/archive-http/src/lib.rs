//! Serves an [`mjpeg_record::Archive`] over HTTP, for any hyper server:
//!
//! - [`list`]: `GET /api/recordings?camera=NAME&start=T&end=T`, the recorded spans and
//!   detection events of a camera in a range, as JSON;
//! - [`export`]: `GET|HEAD /cams/NAME/recording.mp4?start=T&end=T`, one standalone MP4 of the
//!   range with `Content-Length`, `Accept-Ranges`, `ETag`, `If-None-Match` (304) and single
//!   byte ranges (206, 416), so browsers and players seek in it; `&format=mjpeg` gives the
//!   recorded JPEGs, bytes as recorded, as a multipart download whose parts carry `X-Frame-Id`
//!   and `X-Timestamp`.
//!
//! Times are RFC 3339 or Unix seconds ([`mjpeg_record::parse_time`]). Every `mjpeg-record`
//! error becomes a status in one place, [`status_of`]. Disk reads run on blocking threads and
//! stream ~256 KiB at a time with two chunks in flight, so an export of an hour costs the
//! server no more memory than one of a second. Who may call these routes is the server's
//! business (camrelay's route table gives exports to admins).
//!
//! ```
//! use std::sync::Arc;
//! use bytes::Bytes;
//! use http_body_util::BodyExt;
//! use mjpeg_record::{Archive, RecordConfig, RecordFrame, RecordMode};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let archive = Arc::new(Archive::open(RecordConfig::new(dir.path()))?);
//! let recorder = archive.recorder("door", RecordMode::CONTINUOUS)?;
//! let jpeg = Bytes::from_static(include_bytes!("../../mock-camera/assets/chelsea.jpg"));
//! let t0 = 1_764_448_200_000_000; // Unix µs
//! for i in 0..10u64 {
//!     let t = t0 + i as i64 * 33_333;
//!     recorder.try_record(RecordFrame::new(jpeg.clone(), i, t, t));
//! }
//! recorder.flush();
//!
//! let query = "camera=door&start=1764448200&end=1764448201";
//! let spans = archive_http::list(archive.clone(), query, |name| name == "door").await;
//! assert_eq!(spans.status(), 200);
//!
//! // The first 100 bytes of the MP4, as a video element asks for them.
//! let mut headers = http::HeaderMap::new();
//! headers.insert(http::header::RANGE, "bytes=0-99".parse()?);
//! let mp4 = archive_http::export(archive.clone(), "door", query, false, &headers).await;
//! assert_eq!(mp4.status(), 206);
//! let body = mp4.into_body().collect().await?.to_bytes();
//! assert_eq!(&body[4..8], b"ftyp");
//! assert_eq!(body.len(), 100);
//! # Ok(()) }
//! ```

mod body;
mod query;
mod range;
mod routes;

pub use body::ArchiveBody;
pub use query::{param, percent_decode, time_range};
pub use range::parse_range;
pub use routes::{export, list, status_of, text};
