//! Streaming MJPEG (`multipart/x-mixed-replace`) parser and writer that survives real cameras
//! and hostile bytes.
//!
//! * [`MjpegDecoder`] turns the bytes of an MJPEG HTTP body into [`Part`]s (JPEG frame +
//!   headers). It is a [`tokio_util::codec::Decoder`]; [`MjpegStream`] and [`body_stream`] wrap
//!   it for an `AsyncRead` or a hyper body and carry on after a bad frame.
//! * [`MultipartWriter`] writes the stream for viewers without copying the JPEG.
//! * [`jpeg`] has cheap checks on JPEG bytes (completeness, dimensions).
//!
//! Bodies are zero-copy slices of the read buffer; the buffer never grows past
//! [`DecoderConfig`]'s limits; every error says at which byte and in which part it happened.
//!
//! ```
//! use bytes::{Bytes, BytesMut};
//! use mjpeg_codec::{DecoderConfig, MjpegDecoder, MultipartWriter, PartHead};
//! use tokio_util::codec::Decoder;
//!
//! // An ESP32-CAM-like stream written by our own writer ...
//! let writer = MultipartWriter::new("123456789000000000000987654321");
//! let jpeg = Bytes::from_static(&[0xFF, 0xD8, 0xFF, 0xD9]);
//! let mut wire = BytesMut::from(&writer.preamble()[..]);
//! for id in 0..3 {
//!     let head = PartHead { content_length: jpeg.len(), frame_id: Some(id), ..Default::default() };
//!     for bytes in writer.part(&head, &jpeg) {
//!         wire.extend_from_slice(&bytes);
//!     }
//! }
//!
//! // ... parsed back, boundary taken from the Content-Type header.
//! let mut decoder = MjpegDecoder::from_content_type(writer.content_type(), DecoderConfig::default());
//! let mut frames = Vec::new();
//! while let Some(part) = decoder.decode(&mut wire)? {
//!     assert_eq!(part.frame_id(), Some(part.index()));
//!     frames.push(part.into_body());
//! }
//! assert_eq!(frames, vec![jpeg.clone(), jpeg.clone(), jpeg]);
//! # Ok::<(), mjpeg_codec::CodecError>(())
//! ```

mod config;
mod content_type;
mod decoder;
mod delimiter;
mod error;
mod headers;
pub mod jpeg;
mod part;
mod stream;
mod timestamp;
mod writer;

pub use config::DecoderConfig;
pub use content_type::boundary_from_content_type;
pub use decoder::MjpegDecoder;
pub use error::{CodecError, ErrorKind};
pub use headers::PartHeaders;
pub use part::Part;
pub use stream::{body_stream, BodyReader, MjpegStream};
pub use timestamp::Timestamp;
pub use writer::{MultipartWriter, PartHead, DEFAULT_BOUNDARY};
