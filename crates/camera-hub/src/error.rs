//! Why a camera could not be created.

/// What kind of [`CameraError`] it is, for matching without the variants' fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CameraErrorKind {
    /// The upstream source could not be created (its own kind inside).
    Source(esp32_source::ErrorKind),
}

/// A camera could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CameraError {
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
            CameraError::Source { source, .. } => CameraErrorKind::Source(source.kind()),
        }
    }
}
