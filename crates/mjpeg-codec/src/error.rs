//! The one error type of the crate.

use std::io;

/// What went wrong, for callers that branch on the cause (see [`CodecError::kind`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A part's body is not a complete JPEG (no SOI `FF D8` or no EOI `FF D9`). Recoverable:
    /// skip the part, count it, and go on with the next one.
    InvalidJpeg,
    /// A part is larger than [`DecoderConfig::max_part_size`](crate::DecoderConfig). Fatal.
    PartTooLarge,
    /// A part's header block is larger than
    /// [`DecoderConfig::max_header_size`](crate::DecoderConfig). Fatal.
    HeadersTooLarge,
    /// A part's header block cannot be read (not UTF-8). Recoverable: the part is skipped.
    MalformedHeaders,
    /// The stream ended in the middle of a part, or before its first delimiter. Fatal.
    UnexpectedEof,
    /// Reading from the underlying connection failed. Fatal.
    Io,
}

/// An error of the MJPEG decoder, with the byte offset in the stream and the part number
/// where it happened, so the offending bytes can be found in a capture.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// See [`ErrorKind::InvalidJpeg`].
    #[error("part {part} at byte {offset}: {len}-byte body is not a complete JPEG ({reason})")]
    InvalidJpeg {
        /// Stream offset of the first byte of the body.
        offset: u64,
        /// Part number (0-based).
        part: u64,
        /// Body length in bytes.
        len: usize,
        /// Which check failed.
        reason: &'static str,
    },
    /// See [`ErrorKind::PartTooLarge`].
    #[error(
        "part {part} at byte {offset}: body of {size} bytes or more exceeds max_part_size {limit}"
    )]
    PartTooLarge {
        /// Stream offset of the first byte of the body.
        offset: u64,
        /// Part number (0-based).
        part: u64,
        /// Declared `Content-Length`, or the bytes seen so far without a delimiter.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// See [`ErrorKind::HeadersTooLarge`].
    #[error(
        "part {part} at byte {offset}: header block not ended within max_header_size {limit} bytes"
    )]
    HeadersTooLarge {
        /// Stream offset of the first byte of the header block.
        offset: u64,
        /// Part number (0-based).
        part: u64,
        /// The configured limit.
        limit: usize,
    },
    /// See [`ErrorKind::MalformedHeaders`].
    #[error("part {part} at byte {offset}: malformed headers ({reason})")]
    MalformedHeaders {
        /// Stream offset of the first byte of the header block.
        offset: u64,
        /// Part number (0-based).
        part: u64,
        /// What is wrong with them.
        reason: &'static str,
    },
    /// See [`ErrorKind::UnexpectedEof`].
    #[error(
        "part {part} at byte {offset}: stream ended {reason} ({buffered} bytes left unparsed)"
    )]
    UnexpectedEof {
        /// Stream offset of the first unparsed byte.
        offset: u64,
        /// Number of the part that was cut off (or the next part, before any delimiter).
        part: u64,
        /// Unparsed bytes left when the stream ended.
        buffered: usize,
        /// Where in the stream it ended.
        reason: &'static str,
    },
    /// See [`ErrorKind::Io`].
    #[error("I/O error at stream byte {}", offset.map_or_else(|| "?".to_owned(), |o| o.to_string()))]
    Io {
        /// Bytes of the stream read before the error, when known.
        offset: Option<u64>,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

impl CodecError {
    /// The cause, as a plain enum to match on.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::InvalidJpeg { .. } => ErrorKind::InvalidJpeg,
            Self::PartTooLarge { .. } => ErrorKind::PartTooLarge,
            Self::HeadersTooLarge { .. } => ErrorKind::HeadersTooLarge,
            Self::MalformedHeaders { .. } => ErrorKind::MalformedHeaders,
            Self::UnexpectedEof { .. } => ErrorKind::UnexpectedEof,
            Self::Io { .. } => ErrorKind::Io,
        }
    }

    /// `true` when only the current part is lost and decoding can go on with the next one
    /// ([`ErrorKind::InvalidJpeg`], [`ErrorKind::MalformedHeaders`]); `false` for I/O errors,
    /// exceeded limits and a stream cut mid-part.
    pub fn is_recoverable(&self) -> bool {
        matches!(
            self.kind(),
            ErrorKind::InvalidJpeg | ErrorKind::MalformedHeaders
        )
    }

    /// Byte offset in the stream where the offending bytes start (`None` for an I/O error
    /// whose position is unknown).
    pub fn offset(&self) -> Option<u64> {
        match self {
            Self::InvalidJpeg { offset, .. }
            | Self::PartTooLarge { offset, .. }
            | Self::HeadersTooLarge { offset, .. }
            | Self::MalformedHeaders { offset, .. }
            | Self::UnexpectedEof { offset, .. } => Some(*offset),
            Self::Io { offset, .. } => *offset,
        }
    }

    /// The 0-based number of the part concerned (`None` for I/O errors).
    pub fn part(&self) -> Option<u64> {
        match self {
            Self::InvalidJpeg { part, .. }
            | Self::PartTooLarge { part, .. }
            | Self::HeadersTooLarge { part, .. }
            | Self::MalformedHeaders { part, .. }
            | Self::UnexpectedEof { part, .. } => Some(*part),
            Self::Io { .. } => None,
        }
    }
}

/// Needed by [`tokio_util::codec::Decoder`]; the position is filled in by [`crate::MjpegStream`].
impl From<io::Error> for CodecError {
    fn from(source: io::Error) -> Self {
        Self::Io {
            offset: None,
            source,
        }
    }
}
