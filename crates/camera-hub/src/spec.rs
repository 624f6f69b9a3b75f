//! What a camera is ([`CameraSpec`], [`SourceSpec`]) and how the hub runs it ([`HubSettings`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::CameraError;

/// Where a camera's frames come from.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceSpec {
    /// The built-in synthetic camera (moving photos with a frame-id overlay).
    Demo,
    /// An MJPEG stream URL (`http://HOST:81/stream` on an ESP32-CAM).
    Stream {
        /// The stream URL.
        url: String,
    },
    /// A snapshot URL (`http://HOST/capture`) polled at a fixed rate.
    Snapshot {
        /// The snapshot URL.
        url: String,
        /// Time between two polls.
        interval: Duration,
    },
}

impl SourceSpec {
    /// The URL shown in stats (`demo:` for the built-in camera).
    pub fn url(&self) -> &str {
        match self {
            SourceSpec::Demo => "demo:",
            SourceSpec::Stream { url } | SourceSpec::Snapshot { url, .. } => url,
        }
    }

    /// `stream`, `snapshot` or `demo`.
    pub fn kind(&self) -> &'static str {
        match self {
            SourceSpec::Demo => "demo",
            SourceSpec::Stream { .. } => "stream",
            SourceSpec::Snapshot { .. } => "snapshot",
        }
    }

    /// The source a config file describes for camera `camera`: `url` (`demo` for the built-in
    /// camera), `kind` (`stream`, the default, or `snapshot`) and, for snapshots, `poll_fps`
    /// (default 1, at most 60).
    pub fn from_parts(
        camera: &str,
        url: &str,
        kind: Option<&str>,
        poll_fps: Option<f64>,
    ) -> Result<Self, CameraError> {
        let bad = |what, reason: String| CameraError::Value {
            camera: camera.to_owned(),
            what,
            reason,
        };
        match (url, kind) {
            ("demo", _) => Ok(SourceSpec::Demo),
            (url, None | Some("stream")) => Ok(SourceSpec::Stream {
                url: url.to_owned(),
            }),
            (url, Some("snapshot")) => {
                let fps = poll_fps.unwrap_or(1.0);
                if !(fps > 0.0 && fps <= 60.0) {
                    return Err(bad("poll_fps", "must be in (0, 60]".into()));
                }
                Ok(SourceSpec::Snapshot {
                    url: url.to_owned(),
                    interval: Duration::from_secs_f64(1.0 / fps),
                })
            }
            (_, Some(other)) => Err(bad(
                "kind",
                format!("{other:?} is neither \"stream\" nor \"snapshot\""),
            )),
        }
    }
}

/// One camera: its name, its source and its own detection settings.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraSpec {
    /// Name shown in logs, stats and offline cards.
    pub name: String,
    /// Where its frames come from.
    pub source: SourceSpec,
    /// Run detection for this camera (when detection viewers exist and the hub allows it).
    pub detect: bool,
    /// A model for this camera instead of the hub-wide one.
    pub model: Option<PathBuf>,
    /// ESP32-CAM settings applied through `/control` when the upstream opens.
    pub esp32: BTreeMap<String, i64>,
    /// Base URL of the ESP32 control server (default: the stream's host on port 80).
    pub control_url: Option<String>,
}

impl CameraSpec {
    /// A camera with detection on and no ESP32 settings.
    pub fn new(name: impl Into<String>, source: SourceSpec) -> Self {
        CameraSpec {
            name: name.into(),
            source,
            detect: true,
            model: None,
            esp32: BTreeMap::new(),
            control_url: None,
        }
    }

    /// Parses `NAME=URL` (the command line's `--camera`; `URL` = `demo` for the built-in
    /// camera) and [validates](Self::validate) it.
    pub fn parse_arg(arg: &str) -> Result<Self, CameraError> {
        let (name, url) = arg
            .split_once('=')
            .ok_or_else(|| CameraError::Arg(arg.to_owned()))?;
        let camera = CameraSpec::new(name, SourceSpec::from_parts(name, url, None, None)?);
        camera.validate()?;
        Ok(camera)
    }

    /// Checks the name (it appears in URL paths: letters, digits, `-`, `_`, `.`) and the URL
    /// (`http://HOST[:PORT]/PATH`), so that mistakes surface at start-up with a clear message.
    pub fn validate(&self) -> Result<(), CameraError> {
        let name_ok = !self.name.is_empty()
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
        if !name_ok {
            return Err(CameraError::Name(self.name.clone()));
        }
        let url = match &self.source {
            SourceSpec::Demo => return Ok(()),
            SourceSpec::Stream { url } | SourceSpec::Snapshot { url, .. } => url,
        };
        let uri: http::Uri = url.parse().map_err(|source| CameraError::InvalidUrl {
            camera: self.name.clone(),
            url: url.clone(),
            source,
        })?;
        if uri.scheme_str() != Some("http") || uri.host().is_none() {
            return Err(CameraError::UnsupportedUrl {
                camera: self.name.clone(),
                url: url.clone(),
            });
        }
        Ok(())
    }
}

/// How cameras run: queues, the lazy upstream, keepalive and detection.
#[derive(Debug, Clone)]
pub struct HubSettings {
    /// Every viewer's queue (capacity in frames, what a full queue drops).
    pub queue: broadcast_core::Config,
    /// Close the upstream this long after the last viewer left.
    pub idle_timeout: Duration,
    /// Never close the upstream.
    pub always_on: bool,
    /// Re-send the last frame (or an offline card) when nothing new came for this long.
    pub keepalive: Duration,
    /// Detection on or off for every camera.
    pub detect: bool,
    /// The detection model (`None`: the embedded YOLOX-Nano).
    pub model: Option<PathBuf>,
    /// JPEG quality of annotated frames.
    pub detect_jpeg_quality: u8,
}

impl Default for HubSettings {
    fn default() -> Self {
        HubSettings {
            queue: broadcast_core::Config {
                capacity: 5,
                policy: broadcast_core::Policy::DropNewest,
            },
            idle_timeout: Duration::from_secs(10),
            always_on: false,
            keepalive: Duration::from_secs(1),
            detect: true,
            model: None,
            detect_jpeg_quality: 80,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CameraErrorKind;

    #[test]
    fn camera_args_parse_and_validate() {
        let cam = CameraSpec::parse_arg("door=http://10.0.0.5:81/stream").expect("valid");
        assert_eq!(cam.name, "door");
        assert_eq!(cam.source.kind(), "stream");
        let demo = CameraSpec::parse_arg("d=demo").expect("demo");
        assert_eq!(demo.source, SourceSpec::Demo);
        let kind = |arg| CameraSpec::parse_arg(arg).map(|_| ()).map_err(|e| e.kind());
        assert_eq!(kind("no-equals-sign"), Err(CameraErrorKind::Arg));
        assert_eq!(kind("bad name=http://x/"), Err(CameraErrorKind::Name));
        assert_eq!(kind("cam=rtsp://x/stream"), Err(CameraErrorKind::Url));
        assert_eq!(kind("cam=http//x"), Err(CameraErrorKind::Url));
    }

    #[test]
    fn file_parts_describe_snapshots_and_reject_unknown_kinds() {
        let snapshot = SourceSpec::from_parts("g", "http://x/capture", Some("snapshot"), Some(2.0));
        assert_eq!(
            snapshot.expect("snapshot"),
            SourceSpec::Snapshot {
                url: "http://x/capture".into(),
                interval: Duration::from_millis(500)
            }
        );
        let rtsp = SourceSpec::from_parts("g", "http://x/", Some("rtsp"), None);
        assert_eq!(rtsp.map_err(|e| e.kind()), Err(CameraErrorKind::Value));
        let fast = SourceSpec::from_parts("g", "http://x/", Some("snapshot"), Some(0.0));
        assert_eq!(fast.map_err(|e| e.kind()), Err(CameraErrorKind::Value));
    }
}
