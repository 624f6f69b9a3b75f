//! Errors the relay reports at start-up, in two kinds: [`ConfigError`] (the input is wrong: fix
//! the command line or the config file; exit code 2) and [`StartError`] (the input is fine but
//! the relay could not start with it: the address is taken, the model does not load; exit code
//! 1). Both keep the error that caused them as their [`source`](std::error::Error::source).

use std::path::PathBuf;

/// What kind of [`ConfigError`] it is, for matching without the variants' fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigErrorKind {
    /// A camera's description is wrong (see [`camera_hub::CameraErrorKind`]).
    Camera(camera_hub::CameraErrorKind),
    /// Two cameras with the same name.
    DuplicateCamera,
    /// A setting out of range.
    Value,
    /// The config file could not be read.
    ReadFile,
    /// The config file is not valid TOML for the relay.
    ParseFile,
    /// The NATS settings are wrong (see [`frame_bus::ErrorKind`]).
    Nats(frame_bus::ErrorKind),
}

/// The command line or the config file asks for something the relay cannot do.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A camera's description is wrong: `NAME=URL`, its name, URL or settings.
    #[error(transparent)]
    Camera(#[from] camera_hub::CameraError),
    /// Two cameras with the same name.
    #[error("camera name {0:?} is used twice")]
    DuplicateCamera(String),
    /// The NATS settings are wrong (a name that cannot be a subject token, a bad lease TTL).
    #[error("nats: {0}")]
    Nats(#[source] frame_bus::BusError),
    /// A bad setting.
    #[error("{what}: {reason}")]
    BadValue {
        /// Which setting.
        what: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The config file could not be read.
    #[error("cannot read config file {}: {source}", path.display())]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The config file is not valid TOML for the relay.
    #[error("config file {}: {source}", path.display())]
    ParseFile {
        /// The file.
        path: PathBuf,
        /// The parser's error (with line and column).
        #[source]
        source: toml::de::Error,
    },
}

impl ConfigError {
    /// What kind of error it is.
    pub fn kind(&self) -> ConfigErrorKind {
        match self {
            ConfigError::Camera(error) => ConfigErrorKind::Camera(error.kind()),
            ConfigError::DuplicateCamera(_) => ConfigErrorKind::DuplicateCamera,
            ConfigError::BadValue { .. } => ConfigErrorKind::Value,
            ConfigError::ReadFile { .. } => ConfigErrorKind::ReadFile,
            ConfigError::ParseFile { .. } => ConfigErrorKind::ParseFile,
            ConfigError::Nats(error) => ConfigErrorKind::Nats(error.kind()),
        }
    }
}

/// What kind of [`StartError`] it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartErrorKind {
    /// The configuration is wrong (see [`ConfigErrorKind`]).
    Config(ConfigErrorKind),
    /// A camera could not be created (see [`camera_hub::CameraErrorKind`]).
    Camera(camera_hub::CameraErrorKind),
    /// The detection model could not be loaded.
    Model,
    /// The listen address could not be bound (see [`http_listener::ErrorKind`]).
    Listen(http_listener::ErrorKind),
    /// A token or the TLS certificate is unusable (see [`relay_auth::ErrorKind`]).
    Auth(relay_auth::ErrorKind),
    /// The MQTT settings are wrong (see [`mqtt_detections::ErrorKind`]).
    Mqtt(mqtt_detections::ErrorKind),
    /// The recordings directory could not be opened (`mjpeg-record`'s kind).
    Recording(mjpeg_record::ErrorKind),
    /// The NATS server could not be reached (`frame-bus`'s kind).
    Bus(frame_bus::ErrorKind),
}

/// Why [`crate::server::start`] could not start the relay.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A camera could not be created (its source cannot use the URL).
    #[error(transparent)]
    Camera(#[from] camera_hub::CameraError),
    /// The detection model could not be loaded.
    #[error("detection model: {source}")]
    Model {
        /// Model path.
        model: PathBuf,
        /// The detector's error.
        #[source]
        source: yolo_detect::DetectError,
    },
    /// The listen address could not be bound.
    #[error(transparent)]
    Listen(#[from] http_listener::ListenError),
    /// A token or the TLS certificate is unusable (the error never shows a token).
    #[error("access control: {0}")]
    Auth(#[from] relay_auth::AuthError),
    /// The MQTT settings are wrong (bad URL, camera names that clash as topics).
    #[error("mqtt: {0}")]
    Mqtt(#[from] mqtt_detections::MqttError),
    /// Recording could not start.
    #[error("recording: {0}")]
    Recording(#[source] mjpeg_record::Error),
    /// The cluster could not be joined (NATS unreachable).
    #[error("nats: {0}")]
    Bus(#[source] frame_bus::BusError),
}

impl StartError {
    /// Recording could not start (used as `map_err(StartError::recording)`).
    pub fn recording(error: mjpeg_record::Error) -> Self {
        StartError::Recording(error)
    }

    /// The model file `model` does not exist (checked at start-up, before the model is loaded
    /// when the first detection viewer arrives).
    pub fn model_file_missing(model: &std::path::Path) -> Self {
        StartError::Model {
            model: model.to_owned(),
            source: yolo_detect::DetectError::Io {
                what: "model",
                path: model.to_owned(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
            },
        }
    }

    /// What kind of error it is.
    pub fn kind(&self) -> StartErrorKind {
        match self {
            StartError::Config(error) => StartErrorKind::Config(error.kind()),
            StartError::Camera(error) => StartErrorKind::Camera(error.kind()),
            StartError::Model { .. } => StartErrorKind::Model,
            StartError::Listen(error) => StartErrorKind::Listen(error.kind()),
            StartError::Auth(error) => StartErrorKind::Auth(error.kind()),
            StartError::Mqtt(error) => StartErrorKind::Mqtt(error.kind()),
            StartError::Recording(error) => StartErrorKind::Recording(error.kind()),
            StartError::Bus(error) => StartErrorKind::Bus(error.kind()),
        }
    }

    /// The process exit code for it: 2 for a configuration error (like clap's usage errors),
    /// 1 for anything else.
    pub fn exit_code(&self) -> u8 {
        match self.kind() {
            StartErrorKind::Config(_) | StartErrorKind::Mqtt(_) => 2,
            StartErrorKind::Auth(
                relay_auth::ErrorKind::InvalidToken | relay_auth::ErrorKind::DuplicateToken,
            ) => 2,
            _ => 1,
        }
    }

    /// A hint for the user on what to do about it, if there is a useful one.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            StartError::Listen(error) if error.kind() == http_listener::ErrorKind::AddrInUse => {
                Some("another program (another camrelay?) listens there; choose an address with --listen")
            }
            StartError::Listen(_) => Some("choose another address with --listen"),
            StartError::Bus(_) => {
                Some("start nats-server with JetStream (nats-server -js), or check --nats")
            }
            StartError::Model { .. } => {
                Some("give an ONNX YOLO model with --model, or run without detection (--no-detect)")
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_exit_codes_separate_bad_input_from_failed_start() {
        let config: StartError = ConfigError::DuplicateCamera("a".into()).into();
        assert_eq!(
            config.kind(),
            StartErrorKind::Config(ConfigErrorKind::DuplicateCamera)
        );
        assert_eq!(config.exit_code(), 2);
        let bind = StartError::Listen(http_listener::ListenError::Bind {
            addr: std::net::SocketAddr::from(([127, 0, 0, 1], 1)),
            source: std::io::Error::from(std::io::ErrorKind::AddrInUse),
        });
        let in_use = StartErrorKind::Listen(http_listener::ErrorKind::AddrInUse);
        assert_eq!(bind.kind(), in_use);
        assert_eq!(bind.exit_code(), 1);
        assert!(std::error::Error::source(&bind).is_some());
        assert!(bind.hint().is_some_and(|h| h.contains("--listen")));
    }

    #[test]
    fn a_toml_error_is_kept_as_the_source() {
        let source = toml::from_str::<toml::Value>("a = ").expect_err("bad toml");
        let error = ConfigError::ParseFile {
            path: "cameras.toml".into(),
            source,
        };
        assert_eq!(error.kind(), ConfigErrorKind::ParseFile);
        let kept = std::error::Error::source(&error).expect("source kept");
        assert!(kept.downcast_ref::<toml::de::Error>().is_some());
        assert!(error.to_string().starts_with("config file cameras.toml: "));
    }
}
