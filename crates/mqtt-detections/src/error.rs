//! The crate's one error type.

/// What went wrong, for callers that match on it (the error itself carries the details).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The `[mqtt]` configuration or the broker URL is not usable.
    InvalidConfig,
    /// The URL asks for something this crate does not do (websockets).
    Unsupported,
    /// The CA file for `mqtts://` cannot be read or holds no usable certificate, or the
    /// system has no CA certificates.
    Tls,
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
    /// The URL's scheme is not one of `mqtt://`, `tcp://`, `mqtts://`, `ssl://`.
    #[error(
        "MQTT URL scheme {scheme:?} is not supported (use mqtt:// or tcp://, or mqtts:// or ssl:// for TLS)"
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
    /// The `ca` file could not be read.
    #[error("cannot read the MQTT CA file {}: {source}", path.display())]
    CaFile {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The TLS settings are unusable: no certificate in the `ca` file, a certificate rustls
    /// rejects, or no CA certificate in the system's store.
    #[error("MQTT TLS: {reason}")]
    Tls {
        /// What is wrong.
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
            MqttError::CaFile { .. } | MqttError::Tls { .. } => ErrorKind::Tls,
            MqttError::InvalidCamera { .. } => ErrorKind::InvalidCamera,
        }
    }
}
