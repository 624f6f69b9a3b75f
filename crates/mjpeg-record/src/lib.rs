//! Crash-safe recording of MJPEG frames into fragmented MP4 segments.
//!
//! The relay hands each camera's [`Recorder`] its frames ([`RecordFrame`]: the exact JPEG
//! bytes, frame id, capture and receive times, optional detections) with
//! [`Recorder::try_record`], which never blocks: a writer thread behind a bounded queue appends
//! one `moof`+`mdat` fragment per frame to `DIR/<camera>/YYYY-MM-DD/HH/MM.mp4` (UTC, 60 s
//! segments aligned to the wall clock), a 40-byte record per frame to `MM.idx` (written once a
//! second, synced when the segment closes: the `.mp4` alone can rebuild it), and the
//! detections to `MM.events.jsonl`; the data is `fdatasync`ed at least every second.
//! The [`Archive`] owns the directory: it repairs torn segments at start-up, applies
//! retention (age and size), answers queries ([`Archive::recordings`]) and builds exports
//! ([`Archive::export_mp4`] with byte ranges, [`Archive::export_mjpeg`]), and reads frames
//! back one at a time for replay ([`Archive::frame_index`], [`SegmentFile::read_jpeg`]).
//!
//! ```
//! use bytes::Bytes;
//! use mjpeg_record::{Archive, RecordConfig, RecordFrame, RecordMode};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let archive = Archive::open(RecordConfig::new(dir.path()))?;
//! let rec = archive.recorder("door", RecordMode::CONTINUOUS)?;
//! let jpeg = Bytes::from_static(include_bytes!("../../mock-camera/assets/chelsea.jpg"));
//! let t0 = 1_764_448_200_000_000; // Unix µs
//! for i in 0..10u64 {
//!     let t = t0 + i as i64 * 33_333;
//!     assert!(rec.try_record(RecordFrame::new(jpeg.clone(), i, t, t + 2_000)));
//! }
//! rec.flush();
//! assert_eq!(rec.stats().frames_written, 10);
//!
//! // One standalone MP4 of the range, readable by byte ranges.
//! let mp4 = archive.export_mp4("door", t0, t0 + 1_000_000)?;
//! let whole = mp4.read_range(0..mp4.len())?;
//! assert_eq!(&whole[4..8], b"ftyp");
//! // Or the JPEGs themselves, bytes as recorded.
//! let frames: Vec<_> = archive.export_mjpeg("door", t0, t0 + 1_000_000)?.collect::<Result<_, _>>()?;
//! assert_eq!(frames.len(), 10);
//! assert_eq!(frames[3].jpeg, jpeg);
//! assert_eq!(frames[3].frame_id, 3);
//! # Ok(()) }
//! ```
//!
//! See the README for the on-disk layout and what survives a crash.

mod archive;
pub mod boxes;
mod catalog;
mod config;
mod error;
mod export;
mod frame;
pub mod index;
pub mod jpeg;
pub mod layout;
mod preroll;
mod read;
mod recorder;
pub mod recovery;
mod retention;
pub mod segment_writer;
mod stats;
pub mod time;

pub use archive::{Archive, Recordings};
pub use catalog::{EventEntry, Span};
pub use config::{EventsMode, EventsTag, RecordConfig, RecordMode, SimpleMode};
pub use error::{Error, ErrorKind, Result};
pub use export::{ExportedFrame, MjpegExport, Mp4Export};
pub use frame::{Detections, RecordFrame};
pub use read::{FrameIndex, IndexedFrame, SegmentFile};
pub use recorder::Recorder;
pub use retention::RetentionOutcome;
pub use stats::{disk_free, RecordState, RecorderStats};
pub use time::{format_time, now_micros, parse_duration, parse_size, parse_time, Micros};
