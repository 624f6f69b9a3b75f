//! The command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use crate::config::{CameraConfig, FileConfig, RelayConfig};
use crate::error::ConfigError;

/// What a full viewer queue drops.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PolicyArg {
    /// Drop the new frame for that viewer (the default).
    DropNewest,
    /// Drop the oldest queued frame (keep the latest).
    DropOldest,
}

/// camrelay: one upstream connection per camera, any number of viewers on the same frame.
///
/// With no camera given it serves a built-in demo camera, so
/// `camrelay` then http://127.0.0.1:8069/ shows a live stream.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8069", env = "CAMRELAY_LISTEN")]
    pub listen: SocketAddr,
    /// A camera as NAME=URL (repeatable), e.g. door=http://192.168.1.50:81/stream;
    /// NAME=demo for the built-in synthetic camera.
    #[arg(long = "camera", value_name = "NAME=URL")]
    pub cameras: Vec<String>,
    /// A TOML file describing cameras (name, url, kind stream/snapshot, poll_fps, esp32 settings).
    #[arg(long, value_name = "FILE.toml")]
    pub config: Option<PathBuf>,
    /// Frames each viewer's queue holds.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub queue: u16,
    /// What a full viewer queue drops.
    #[arg(long, value_enum, default_value = "drop-newest")]
    pub policy: PolicyArg,
    /// Seconds an upstream stays open after its last viewer left.
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    pub idle_timeout: f64,
    /// Keep every upstream open even without viewers.
    #[arg(long)]
    pub always_on: bool,
    /// Never send a viewer a frame older than this (seconds); slow viewers skip to fresh frames.
    #[arg(long, default_value_t = 1.0, value_name = "SECS")]
    pub max_frame_age: f64,
    /// Disconnect a viewer that accepted no bytes for this long (seconds).
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    pub write_timeout: f64,
    /// Do not pace viewers on slow links (by default a viewer that falls behind gets its next
    /// frame only once it has read what it was sent, so its frames stay fresh).
    #[arg(long)]
    pub no_pacing: bool,
    /// Most viewers over all cameras (0 = unlimited); beyond it viewers get 503.
    #[arg(long, default_value_t = 0)]
    pub max_viewers: usize,
    /// Most viewers of one camera (0 = unlimited).
    #[arg(long, default_value_t = 0)]
    pub max_viewers_per_camera: usize,
    /// Seconds a client may take to send its request head (slowloris protection).
    #[arg(long, default_value_t = 5.0, value_name = "SECS")]
    pub header_read_timeout: f64,
    /// A detection model (ONNX: YOLOv5/v7/v8/11 or YOLOX) instead of the built-in YOLOX-Nano.
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// Turn detection off.
    #[arg(long)]
    pub no_detect: bool,
}

fn seconds(what: &str, value: f64) -> Result<Duration, ConfigError> {
    Duration::try_from_secs_f64(value).map_err(|_| ConfigError::BadValue {
        what: what.into(),
        reason: format!("{value} is not a number of seconds >= 0"),
    })
}

impl Args {
    /// Turns the arguments (and the config file they name) into a relay configuration.
    pub fn into_config(self) -> Result<RelayConfig, ConfigError> {
        let mut config = RelayConfig {
            listen: self.listen,
            queue: usize::from(self.queue),
            policy: match self.policy {
                PolicyArg::DropNewest => broadcast_core::Policy::DropNewest,
                PolicyArg::DropOldest => broadcast_core::Policy::DropOldest,
            },
            idle_timeout: seconds("--idle-timeout", self.idle_timeout)?,
            always_on: self.always_on,
            max_frame_age: seconds("--max-frame-age", self.max_frame_age)?,
            write_timeout: seconds("--write-timeout", self.write_timeout)?,
            pace_slow_viewers: !self.no_pacing,
            header_read_timeout: seconds("--header-read-timeout", self.header_read_timeout)?,
            max_viewers: self.max_viewers,
            max_viewers_per_camera: self.max_viewers_per_camera,
            detect: !self.no_detect,
            model: self.model,
            ..RelayConfig::default()
        };
        if let Some(path) = &self.config {
            let file = FileConfig::load(path)?;
            config.cameras.extend(file.cameras()?);
            if let Some(listen) = file.listen {
                config.listen = listen;
            }
            if let Some(queue) = file.queue {
                config.queue = queue.max(1);
            }
            if let Some(idle) = file.idle_timeout {
                config.idle_timeout = seconds("idle_timeout", idle)?;
            }
            if let Some(always_on) = file.always_on {
                config.always_on = always_on;
            }
            if config.model.is_none() {
                config.model = file.model;
            }
        }
        for arg in &self.cameras {
            config.cameras.push(CameraConfig::parse_arg(arg)?);
        }
        Ok(config)
    }
}
