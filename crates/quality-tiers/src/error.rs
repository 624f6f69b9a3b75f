//! The crate's one error type.

/// What went wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum QualityError {
    /// A JPEG could not be decoded.
    #[error("JPEG of {len} bytes could not be decoded: {reason}")]
    Decode {
        /// Size of the JPEG.
        len: usize,
        /// The decoder's message.
        reason: String,
    },
    /// A picture could not be encoded.
    #[error("{width}x{height} picture could not be encoded: {reason}")]
    Encode {
        /// Picture width.
        width: usize,
        /// Picture height.
        height: usize,
        /// The encoder's message.
        reason: String,
    },
    /// A `quality=` value is not one of the tiers or `auto`.
    #[error("quality={0:?} is not one of original, high, medium, low, auto")]
    BadQuality(String),
    /// A `maxfps=` value is not a whole number from 1 to 1000.
    #[error("maxfps={0:?} is not a whole number of frames per second from 1 to 1000")]
    BadMaxFps(String),
}

/// The kind of a [`QualityError`], stable across crate seams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A JPEG could not be decoded or encoded (the camera sent something odd).
    Codec,
    /// A request parameter was refused (answer 400).
    BadRequest,
}

impl QualityError {
    /// What kind of error this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            QualityError::Decode { .. } | QualityError::Encode { .. } => ErrorKind::Codec,
            QualityError::BadQuality(_) | QualityError::BadMaxFps(_) => ErrorKind::BadRequest,
        }
    }
}
