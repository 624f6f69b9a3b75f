//! The crate's single error type.

use std::path::PathBuf;

/// A boxed source error (tract reports `anyhow` errors, which are converted into this).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong while loading a model or detecting objects.
///
/// Each variant carries the context needed to find the culprit: the model name, the file
/// path, the frame number or the size of the offending JPEG. Match on [`DetectError::kind`]
/// rather than on the variants, which may grow.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DetectError {
    /// A model or labels file could not be read.
    #[error("cannot read {what} file {path}: {source}")]
    Io {
        /// What the file was for (`"model"`, `"labels"`).
        what: &'static str,
        /// The path that failed.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// tract could not parse, type or optimise the ONNX graph.
    #[error("cannot load ONNX model {model}: {source}")]
    ModelLoad {
        /// The model's name (file name or `"<bytes>"`).
        model: String,
        /// tract's error chain.
        source: BoxError,
    },
    /// The graph loaded, but its inputs or outputs match no supported YOLO layout.
    #[error("unsupported model {model}: {reason}")]
    UnsupportedModel {
        /// The model's name.
        model: String,
        /// Why it was rejected, with the shapes that were found.
        reason: String,
    },
    /// Running the graph failed.
    #[error("inference of {model} failed on frame {frame}: {source}")]
    Inference {
        /// The model's name.
        model: String,
        /// Number of the frame (counted from 0 per detector).
        frame: u64,
        /// tract's error chain.
        source: BoxError,
    },
    /// The JPEG could not be decoded.
    #[error("cannot decode JPEG of {len} bytes: {source}")]
    JpegDecode {
        /// Size of the JPEG in bytes.
        len: usize,
        /// The decoder's error.
        source: BoxError,
    },
    /// The annotated frame could not be encoded.
    #[error("cannot encode {width}x{height} frame as JPEG: {source}")]
    JpegEncode {
        /// Frame width.
        width: u32,
        /// Frame height.
        height: u32,
        /// The encoder's error.
        source: BoxError,
    },
    /// An image is empty or larger than this crate accepts.
    #[error("image of {width}x{height} pixels rejected: {reason}")]
    ImageSize {
        /// Image width.
        width: u32,
        /// Image height.
        height: u32,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A [`DetectorConfig`](crate::DetectorConfig) value is out of range.
    #[error("invalid detector configuration: {0}")]
    InvalidConfig(String),
}

/// Coarse classification of a [`DetectError`], stable for callers to match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A file could not be read.
    Io,
    /// The model could not be loaded, or has an unsupported layout.
    Model,
    /// Inference failed at run time.
    Inference,
    /// The input image (JPEG bytes or pixels) is bad: a per-frame problem, skip the frame.
    BadInput,
    /// Encoding the annotated frame failed.
    Encode,
    /// The configuration is invalid.
    Config,
}

impl DetectError {
    /// The kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            DetectError::Io { .. } => ErrorKind::Io,
            DetectError::ModelLoad { .. } | DetectError::UnsupportedModel { .. } => {
                ErrorKind::Model
            }
            DetectError::Inference { .. } => ErrorKind::Inference,
            DetectError::JpegDecode { .. } | DetectError::ImageSize { .. } => ErrorKind::BadInput,
            DetectError::JpegEncode { .. } => ErrorKind::Encode,
            DetectError::InvalidConfig(_) => ErrorKind::Config,
        }
    }
}

/// Converts tract's `anyhow` error (with its whole context chain) into a [`BoxError`].
pub(crate) fn tract_error(e: tract_onnx::prelude::TractError) -> BoxError {
    format!("{e:#}").into()
}
