//! Errors the relay reports at start-up.

use std::path::PathBuf;

/// Why the relay could not start.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `--camera` was not `NAME=URL`.
    #[error("--camera {0:?}: expected NAME=URL (for example door=http://192.168.1.50:81/stream, or demo=demo)")]
    BadCameraArg(String),
    /// A camera name that cannot appear in a URL path.
    #[error("camera name {0:?}: use letters, digits, '-', '_' or '.'")]
    BadCameraName(String),
    /// Two cameras with the same name.
    #[error("camera name {0:?} is used twice")]
    DuplicateCamera(String),
    /// A camera URL that is not a usable http URL.
    #[error("camera {camera}: URL {url:?} is not usable: {reason}")]
    BadUrl {
        /// Camera name.
        camera: String,
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A bad setting.
    #[error("{what}: {reason}")]
    BadValue {
        /// Which setting.
        what: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The config file could not be read.
    #[error("cannot read config file {path}: {source}")]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The config file is not valid TOML for the relay.
    #[error("config file {path}: {reason}")]
    ParseFile {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        reason: String,
    },
    /// The camera source could not be created.
    #[error("camera {camera}: {reason}")]
    Source {
        /// Camera name.
        camera: String,
        /// The source adapter's message.
        reason: String,
    },
    /// The detection model could not be loaded.
    #[error("detection model {model}: {reason}")]
    Model {
        /// Model path or name.
        model: String,
        /// The detector's message.
        reason: String,
    },
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
}
