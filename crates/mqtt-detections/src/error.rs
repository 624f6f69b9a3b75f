//! The crate's one error type.

/// What went wrong, for callers that match on it (the error itself carries the details).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The `[mqtt]` configuration or the broker URL is not usable.
    InvalidConfig,
    /// The URL asks for something this build does not do (TLS, websockets).
    Unsupported,
    /// A camera name cannot be used in a topic, or two names map to the same topic.
    InvalidCamera,
}

/// Errors of this crate. Only [`crate::MqttPublisher::start`] returns them: once started, a
/// broker that is away or slow is logged and counted in [`crate::MqttStats`], never an error.
#[derive(Debug, thiserror::Error)]
pub enum MqttError {
    /// The broker URL could not be parsed. The URL is shown without its password.
    #[error("invalid MQTT broker URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL with any password replaced by `***`.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The URL's scheme is not built in (only plain `mqtt://` / `tcp://`).
    #[error(
        "MQTT URL scheme {scheme:?} is not supported by this build (use mqtt:// or tcp://; TLS is not built in)"
    )]
    UnsupportedScheme {
        /// The scheme found.
        scheme: String,
    },
    /// A configuration value is out of range or empty.
    #[error("invalid [mqtt] setting {field}: {reason}")]
    InvalidSetting {
        /// The TOML key.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A camera name is empty, or two camera names become the same topic segment.
    #[error("camera name {camera:?} cannot be used in MQTT topics: {reason}")]
    InvalidCamera {
        /// The camera name as configured.
        camera: String,
        /// Why.
        reason: String,
    },
}

impl MqttError {
    /// The kind of error, stable across versions.
    pub fn kind(&self) -> ErrorKind {
        match self {
            MqttError::InvalidUrl { .. } | MqttError::InvalidSetting { .. } => {
                ErrorKind::InvalidConfig
            }
            MqttError::UnsupportedScheme { .. } => ErrorKind::Unsupported,
            MqttError::InvalidCamera { .. } => ErrorKind::InvalidCamera,
        }
    }
}
