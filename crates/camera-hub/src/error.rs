//! Why a camera could not be created: a description that is wrong, or a source that cannot
//! use it.

/// What kind of [`CameraError`] it is, for matching without the variants' fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CameraErrorKind {
    /// `NAME=URL` was not of that form.
    Arg,
    /// A camera name that cannot appear in a URL path.
    Name,
    /// A camera URL that is not a usable `http://` URL.
    Url,
    /// A setting out of range (`poll_fps`, `kind`).
    Value,
    /// The upstream source could not be created (its own kind inside).
    Source(esp32_source::ErrorKind),
}

/// A camera could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CameraError {
    /// `NAME=URL` (the command line's `--camera`) was not of that form.
    #[error("--camera {0:?}: expected NAME=URL (for example door=http://192.168.1.50:81/stream, or demo=demo)")]
    Arg(String),
    /// A camera name that cannot appear in a URL path.
    #[error("camera name {0:?}: use letters, digits, '-', '_' or '.'")]
    Name(String),
    /// A camera URL that does not parse.
    #[error("camera {camera}: URL {url:?} is not usable: {source}")]
    InvalidUrl {
        /// Camera name.
        camera: String,
        /// The URL given.
        url: String,
        /// The parser's error.
        #[source]
        source: http::uri::InvalidUri,
    },
    /// A camera URL that parses but is not `http://HOST[:PORT]/PATH`.
    #[error("camera {camera}: URL {url:?} is not usable: only http://HOST[:PORT]/PATH URLs are supported")]
    UnsupportedUrl {
        /// Camera name.
        camera: String,
        /// The URL given.
        url: String,
    },
    /// A setting out of range.
    #[error("camera {camera}: {what}: {reason}")]
    Value {
        /// Camera name.
        camera: String,
        /// Which setting.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The camera source could not be created (a URL `esp32-source` cannot use).
    #[error("camera {camera}: {source}")]
    Source {
        /// Camera name.
        camera: String,
        /// The source adapter's error (boxed: it is large and start-up errors are rare).
        #[source]
        source: Box<esp32_source::SourceError>,
    },
}

impl CameraError {
    /// What kind of error it is.
    pub fn kind(&self) -> CameraErrorKind {
        match self {
            CameraError::Arg(_) => CameraErrorKind::Arg,
            CameraError::Name(_) => CameraErrorKind::Name,
            CameraError::InvalidUrl { .. } | CameraError::UnsupportedUrl { .. } => {
                CameraErrorKind::Url
            }
            CameraError::Value { .. } => CameraErrorKind::Value,
            CameraError::Source { source, .. } => CameraErrorKind::Source(source.kind()),
        }
    }
}
