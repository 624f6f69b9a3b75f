//! What the relay serves: cameras and limits, from the command line and an optional TOML file.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::error::ConfigError;

pub use camera_hub::{CameraSpec, SourceSpec};

/// One camera the relay serves: what `camera-hub` runs, and how it is recorded.
#[derive(Debug, Clone)]
pub struct CameraConfig {
    /// Its name, source, detection and ESP32 settings.
    pub spec: CameraSpec,
    /// How this camera is recorded (`None`: continuously when recording is configured).
    pub record: Option<mjpeg_record::RecordMode>,
}

/// Everything the relay needs to run.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// The cameras, in order (the first one serves `/stream`).
    pub cameras: Vec<CameraConfig>,
    /// Per-viewer queue capacity, in frames.
    pub queue: usize,
    /// What a full viewer queue drops.
    pub policy: broadcast_core::Policy,
    /// How long an upstream stays open after its last viewer left.
    pub idle_timeout: Duration,
    /// Keep every upstream open even without viewers.
    pub always_on: bool,
    /// Frames older than this are never sent to a viewer.
    pub max_frame_age: Duration,
    /// A viewer that accepts no bytes for this long is disconnected.
    pub write_timeout: Duration,
    /// Pace viewers that fall behind on slow links (see [`mjpeg_serve::pacing`]).
    pub pace_slow_viewers: bool,
    /// How long a client may take to send its request head.
    pub header_read_timeout: Duration,
    /// Largest request head accepted, in bytes.
    pub max_header_size: usize,
    /// Most viewers over all cameras (0 = unlimited).
    pub max_viewers: usize,
    /// Most viewers of one camera (0 = unlimited).
    pub max_viewers_per_camera: usize,
    /// Re-send the last frame when the camera sent nothing for this long.
    pub keepalive: Duration,
    /// Detection on or off relay-wide.
    pub detect: bool,
    /// The detection model (default: the embedded YOLOX-Nano).
    pub model: Option<PathBuf>,
    /// JPEG quality of annotated frames.
    pub detect_jpeg_quality: u8,
    /// Access tokens and TLS (none: open relay over plain HTTP).
    pub access: relay_auth::AccessSettings,
    /// Publish detections over MQTT for Home Assistant (`--mqtt URL`, `[mqtt]`); `None`: off.
    pub mqtt: Option<mqtt_detections::MqttConfig>,
    /// Recording (`--record DIR` or the file's `[record]` table); `None`: nothing is recorded.
    pub record: Option<mjpeg_record::RecordConfig>,
    /// A cluster of relays sharing each camera over NATS (`--nats URL`, `[nats]`); `None`:
    /// this relay reads its cameras itself.
    pub nats: Option<frame_bus::BusConfig>,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8069)),
            cameras: Vec::new(),
            queue: 5,
            policy: broadcast_core::Policy::DropNewest,
            idle_timeout: Duration::from_secs(10),
            always_on: false,
            max_frame_age: Duration::from_secs(1),
            write_timeout: Duration::from_secs(10),
            pace_slow_viewers: true,
            header_read_timeout: Duration::from_secs(5),
            max_header_size: 16 * 1024,
            max_viewers: 0,
            max_viewers_per_camera: 0,
            keepalive: Duration::from_secs(1),
            detect: true,
            model: None,
            detect_jpeg_quality: 80,
            access: relay_auth::AccessSettings::default(),
            mqtt: None,
            record: None,
            nats: None,
        }
    }
}

impl RelayConfig {
    /// The timeouts and limits of every connection.
    pub fn listener_settings(&self) -> http_listener::Settings {
        http_listener::Settings {
            header_read_timeout: self.header_read_timeout,
            max_header_size: self.max_header_size,
            write_timeout: self.write_timeout,
        }
    }

    /// The built-in demo camera, used when no camera is configured.
    pub fn demo_camera() -> CameraConfig {
        CameraConfig::new("demo", SourceSpec::Demo)
    }

    /// How `camera-hub` runs every camera.
    pub fn hub_settings(&self) -> camera_hub::HubSettings {
        camera_hub::HubSettings {
            queue: broadcast_core::Config {
                capacity: self.queue,
                policy: self.policy,
            },
            idle_timeout: self.idle_timeout,
            always_on: self.always_on,
            keepalive: self.keepalive,
            detect: self.detect,
            model: self.model.clone(),
            detect_jpeg_quality: self.detect_jpeg_quality,
        }
    }
}

impl CameraConfig {
    /// A camera with default settings.
    pub fn new(name: impl Into<String>, source: SourceSpec) -> Self {
        CameraSpec::new(name, source).into()
    }

    /// Its name (in URLs, logs and stats).
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// Parses `NAME=URL` from the command line (`URL` = `demo` for the built-in camera).
    pub fn parse_arg(arg: &str) -> Result<Self, ConfigError> {
        Ok(CameraSpec::parse_arg(arg)?.into())
    }
}

impl From<CameraSpec> for CameraConfig {
    fn from(spec: CameraSpec) -> Self {
        CameraConfig { spec, record: None }
    }
}

/// The TOML file format (`--config cameras.toml`).
///
/// Every relay-wide key is the long option of the same name with `_` for `-`
/// (`max_frame_age = 0.5` is `--max-frame-age 0.5`). An option given on the command line wins
/// over the file, the file over the defaults ([`RelayConfig::default`]).
///
/// ```toml
/// listen = "0.0.0.0:8069"
/// queue = 5
///
/// [[camera]]
/// name = "door"
/// url = "http://192.168.1.50:81/stream"
///
/// [[camera]]
/// name = "garage"
/// url = "http://192.168.1.51/capture"
/// kind = "snapshot"
/// poll_fps = 2.0
/// detect = false
/// [camera.esp32]
/// framesize = 8
/// quality = 12
///
/// [record]
/// dir = "/var/lib/camrelay/rec"
/// keep = "7d"
/// ```
///
/// With a `[record]` table (or `--record DIR`) every camera records continuously unless its
/// `record` key says `"off"` or `{ mode = "events", labels = ["person"] }`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Listen address.
    pub listen: Option<SocketAddr>,
    /// Per-viewer queue capacity.
    pub queue: Option<usize>,
    /// What a full viewer queue drops.
    pub policy: Option<broadcast_core::Policy>,
    /// Idle timeout in seconds.
    pub idle_timeout: Option<f64>,
    /// Keep upstreams open without viewers.
    pub always_on: Option<bool>,
    /// Largest frame age sent to a viewer, in seconds.
    pub max_frame_age: Option<f64>,
    /// Write timeout in seconds.
    pub write_timeout: Option<f64>,
    /// Do not pace viewers on slow links.
    pub no_pacing: Option<bool>,
    /// Most viewers over all cameras (0 = unlimited).
    pub max_viewers: Option<usize>,
    /// Most viewers of one camera (0 = unlimited).
    pub max_viewers_per_camera: Option<usize>,
    /// Request head timeout in seconds.
    pub header_read_timeout: Option<f64>,
    /// The relay-wide detection model.
    pub model: Option<PathBuf>,
    /// Turn detection off.
    pub no_detect: Option<bool>,
    /// The `[mqtt]` table: publish detections for Home Assistant.
    pub mqtt: Option<mqtt_detections::MqttConfig>,
    /// The `[record]` table (`dir`, `segment`, `keep`, `max_size`, ...).
    pub record: Option<mjpeg_record::RecordConfig>,
    /// The `[nats]` table (`url`, `cluster`, `node`, ...): share cameras with other relays.
    pub nats: Option<frame_bus::BusTable>,
    /// The cameras.
    #[serde(default)]
    pub camera: Vec<FileCamera>,
    /// Access tokens (`[[auth.token]]`, `metrics_token`); they add to the token options.
    pub auth: Option<relay_auth::AuthConfig>,
    /// HTTPS/WSS certificate and key (`[tls]` with `cert` and `key`).
    pub tls: Option<relay_auth::tls::TlsFiles>,
}

/// One `[[camera]]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileCamera {
    /// Camera name.
    pub name: String,
    /// Stream or snapshot URL, or `demo`.
    pub url: String,
    /// `stream` (default) or `snapshot`.
    #[serde(default)]
    pub kind: Option<String>,
    /// Snapshot polling rate (frames per second).
    #[serde(default)]
    pub poll_fps: Option<f64>,
    /// Run detection for this camera.
    #[serde(default)]
    pub detect: Option<bool>,
    /// A model for this camera.
    #[serde(default)]
    pub model: Option<PathBuf>,
    /// ESP32 control server base URL.
    #[serde(default)]
    pub control_url: Option<String>,
    /// ESP32 settings (`framesize`, `quality`, ...).
    #[serde(default)]
    pub esp32: BTreeMap<String, i64>,
    /// `record = "off" | "continuous" | { mode = "events", labels = [...], pre, post }`.
    #[serde(default)]
    pub record: Option<mjpeg_record::RecordMode>,
}

impl FileConfig {
    /// Reads and parses a TOML file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| ConfigError::ParseFile {
            path: path.to_owned(),
            source,
        })
    }

    /// The cameras described in the file.
    pub fn cameras(&self) -> Result<Vec<CameraConfig>, ConfigError> {
        self.camera.iter().map(FileCamera::to_camera).collect()
    }
}

impl FileCamera {
    fn to_camera(&self) -> Result<CameraConfig, ConfigError> {
        let kind = self.kind.as_deref();
        let source = SourceSpec::from_parts(&self.name, &self.url, kind, self.poll_fps)?;
        let spec = CameraSpec {
            name: self.name.clone(),
            source,
            detect: self.detect.unwrap_or(true),
            model: self.model.clone(),
            esp32: self.esp32.clone(),
            control_url: self.control_url.clone(),
        };
        spec.validate()?;
        Ok(CameraConfig {
            spec,
            record: self.record.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_file_describes_many_cameras() {
        let file: FileConfig = toml::from_str(
            r#"
            listen = "0.0.0.0:9000"
            [[camera]]
            name = "door"
            url = "http://10.0.0.5:81/stream"
            [camera.esp32]
            framesize = 8
            [[camera]]
            name = "garage"
            url = "http://10.0.0.6/capture"
            kind = "snapshot"
            poll_fps = 2.0
            detect = false
            "#,
        )
        .unwrap();
        let cams = file.cameras().unwrap();
        assert_eq!(cams.len(), 2);
        assert_eq!(cams[0].spec.esp32.get("framesize"), Some(&8));
        assert_eq!(
            cams[1].spec.source,
            SourceSpec::Snapshot {
                url: "http://10.0.0.6/capture".into(),
                interval: Duration::from_millis(500)
            }
        );
        assert!(!cams[1].spec.detect);
    }

    #[test]
    fn toml_rejects_unknown_kind() {
        let file: FileConfig =
            toml::from_str("[[camera]]\nname='a'\nurl='http://x/'\nkind='rtsp'\n").unwrap();
        assert!(file.cameras().is_err());
    }
}
