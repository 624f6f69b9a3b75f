//! The crate's error type.

use thiserror::Error;

/// What went wrong while building a scene or a frame.
///
/// Every variant carries the values that were rejected, so a message is enough to find the
/// offending setting.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum MockError {
    /// The requested image size is zero, larger than JPEG allows (65535) or larger than this
    /// emulator builds (see [`MAX_DIMENSION`](crate::MAX_DIMENSION)).
    #[error("invalid frame size {width}x{height}: each side must be 1..={max}")]
    InvalidSize {
        /// Requested width in pixels.
        width: u32,
        /// Requested height in pixels.
        height: u32,
        /// The largest side accepted.
        max: u32,
    },
    /// The JPEG quality is outside 1..=100.
    #[error("invalid JPEG quality {quality}: must be 1..=100")]
    InvalidQuality {
        /// Requested quality.
        quality: u8,
    },
    /// The pre-encoded loop length is zero or too long.
    #[error("invalid loop length {frames}: must be 1..={max} frames")]
    InvalidLoop {
        /// Requested number of frames.
        frames: usize,
        /// The largest loop accepted.
        max: usize,
    },
    /// One of the bundled sample photos could not be decoded (a broken build).
    #[error("cannot decode bundled asset {name}: {source}")]
    Asset {
        /// File name under `assets/`.
        name: &'static str,
        /// The decoder's error.
        #[source]
        source: image::ImageError,
    },
    /// The JPEG encoder failed.
    #[error("cannot encode {width}x{height} frame {frame} as JPEG: {source}")]
    Encode {
        /// Frame number within the loop (or the requested frame id).
        frame: u64,
        /// Width of the image.
        width: u32,
        /// Height of the image.
        height: u32,
        /// The encoder's error.
        #[source]
        source: jpeg_encoder::EncodingError,
    },
}

/// The kind of a [`MockError`], for callers that match without caring about the context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MockErrorKind {
    /// See [`MockError::InvalidSize`].
    InvalidSize,
    /// See [`MockError::InvalidQuality`].
    InvalidQuality,
    /// See [`MockError::InvalidLoop`].
    InvalidLoop,
    /// See [`MockError::Asset`].
    Asset,
    /// See [`MockError::Encode`].
    Encode,
}

impl MockError {
    /// The kind of this error.
    pub fn kind(&self) -> MockErrorKind {
        match self {
            MockError::InvalidSize { .. } => MockErrorKind::InvalidSize,
            MockError::InvalidQuality { .. } => MockErrorKind::InvalidQuality,
            MockError::InvalidLoop { .. } => MockErrorKind::InvalidLoop,
            MockError::Asset { .. } => MockErrorKind::Asset,
            MockError::Encode { .. } => MockErrorKind::Encode,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_matches_variant_and_message_has_context() {
        let err = MockError::InvalidSize {
            width: 0,
            height: 480,
            max: 4096,
        };
        assert_eq!(err.kind(), MockErrorKind::InvalidSize);
        assert!(err.to_string().contains("0x480"));
        let err = MockError::InvalidQuality { quality: 0 };
        assert_eq!(err.kind(), MockErrorKind::InvalidQuality);
        assert!(err.to_string().contains("quality 0"));
    }
}
