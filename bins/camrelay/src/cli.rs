//! The command line.
//!
//! Every default is [`RelayConfig::default`]'s, and one rule decides every setting: a value given
//! on the command line (or through its environment variable) wins over the config file, the
//! file wins over the default. Cameras add up: the file's first, then each `--camera`.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser};

use crate::config::{CameraConfig, FileConfig, RelayConfig};
use crate::error::ConfigError;
use relay_auth::{AccessSettings, Secret};

fn defaults() -> RelayConfig {
    RelayConfig::default()
}

/// camrelay: one upstream connection per camera, any number of viewers on the same frame.
///
/// With no camera given it serves a built-in demo camera, so
/// `camrelay` then http://127.0.0.1:8069/ shows a live stream.
///
/// Build it with [`Args::from_command_line`] or [`Args::try_from_iter`]: they record which
/// options the user gave, so that those win over the config file (`Args::parse` does not, and
/// then the file wins over every option).
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, default_value_t = defaults().listen, env = "CAMRELAY_LISTEN")]
    pub listen: SocketAddr,
    /// A camera as NAME=URL (repeatable), e.g. door=http://192.168.1.50:81/stream;
    /// NAME=demo for the built-in synthetic camera.
    #[arg(long = "camera", value_name = "NAME=URL")]
    pub cameras: Vec<String>,
    /// A TOML file describing cameras (name, url, kind stream/snapshot, poll_fps, esp32
    /// settings) and any of these options (`max_frame_age = 0.5`); options given here win.
    #[arg(long, value_name = "FILE.toml")]
    pub config: Option<PathBuf>,
    /// Frames each viewer's queue holds.
    #[arg(long, default_value_t = u16::try_from(defaults().queue).unwrap_or(u16::MAX),
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub queue: u16,
    /// What a full viewer queue drops.
    #[arg(long, default_value_t = defaults().policy, value_name = "drop-newest|drop-oldest")]
    pub policy: broadcast_core::Policy,
    /// Seconds an upstream stays open after its last viewer left.
    #[arg(long, default_value_t = defaults().idle_timeout.as_secs_f64(), value_name = "SECS")]
    pub idle_timeout: f64,
    /// Keep every upstream open even without viewers.
    #[arg(long)]
    pub always_on: bool,
    /// Never send a viewer a frame older than this (seconds); slow viewers skip to fresh frames.
    #[arg(long, default_value_t = defaults().max_frame_age.as_secs_f64(), value_name = "SECS")]
    pub max_frame_age: f64,
    /// Disconnect a viewer that accepted no bytes for this long (seconds).
    #[arg(long, default_value_t = defaults().write_timeout.as_secs_f64(), value_name = "SECS")]
    pub write_timeout: f64,
    /// Do not pace viewers on slow links (by default a viewer that falls behind gets its next
    /// frame only once it has read what it was sent, so its frames stay fresh).
    #[arg(long)]
    pub no_pacing: bool,
    /// Most viewers over all cameras (0 = unlimited); beyond it viewers get 503.
    #[arg(long, default_value_t = defaults().max_viewers)]
    pub max_viewers: usize,
    /// Most viewers of one camera (0 = unlimited).
    #[arg(long, default_value_t = defaults().max_viewers_per_camera)]
    pub max_viewers_per_camera: usize,
    /// Seconds a client may take to send its request head (slowloris protection).
    #[arg(long, default_value_t = defaults().header_read_timeout.as_secs_f64(), value_name = "SECS")]
    pub header_read_timeout: f64,
    /// A detection model (ONNX: YOLOv5/v7/v8/11 or YOLOX) instead of the built-in YOLOX-Nano.
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// Turn detection off.
    #[arg(long)]
    pub no_detect: bool,
    /// A token with admin rights on every camera (repeatable; comma-separated in the
    /// environment). Adds to the file's `[[auth.token]]` entries.
    #[arg(
        long = "admin-token",
        value_name = "TOKEN",
        env = "CAMRELAY_ADMIN_TOKEN",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub admin_tokens: Vec<Secret>,
    /// A token that may watch every camera (repeatable; comma-separated in the environment).
    #[arg(
        long = "viewer-token",
        value_name = "TOKEN",
        env = "CAMRELAY_VIEWER_TOKEN",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub viewer_tokens: Vec<Secret>,
    /// A token that may read /metrics only (wins over the file's `metrics_token`).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "CAMRELAY_METRICS_TOKEN",
        hide_env_values = true
    )]
    pub metrics_token: Option<Secret>,
    /// Serve HTTPS/WSS with this PEM certificate chain (needs --tls-key; reloaded on SIGHUP).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key for --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Publish detections to this MQTT broker for Home Assistant (discovery included), e.g.
    /// mqtt://user:password@broker:1883; replaces the url of the config file's mqtt table.
    #[arg(long, value_name = "URL", env = "CAMRELAY_MQTT")]
    pub mqtt: Option<String>,
    /// For an mqtts:// broker: trust the CA certificate(s) in this PEM file instead of the
    /// system's store (replaces the mqtt table's `ca`).
    #[arg(long, value_name = "FILE.pem", env = "CAMRELAY_MQTT_CA")]
    pub mqtt_ca: Option<PathBuf>,
    /// Record every camera continuously under DIR (the file's `[record]` table sets
    /// retention; this wins over its `dir`).
    #[arg(long, value_name = "DIR")]
    pub record: Option<PathBuf>,
    /// Share cameras with the relays of a cluster over this NATS server (JetStream on), e.g.
    /// nats://10.0.0.5:4222: one node reads each camera; replaces the nats table's url.
    #[arg(long, value_name = "URL", env = "CAMRELAY_NATS")]
    pub nats: Option<String>,
    /// This relay's name in the cluster (default: the host name).
    #[arg(long, value_name = "NAME", env = "CAMRELAY_NODE")]
    pub node: Option<String>,
    /// The cluster: relays with the same cluster name share cameras (default camrelay).
    #[arg(long = "cluster", value_name = "NAME", env = "CAMRELAY_CLUSTER")]
    pub cluster_name: Option<String>,
    /// The options the user gave (clap ids), which win over the config file.
    #[arg(skip)]
    given: BTreeSet<String>,
}

impl Args {
    /// Parses the process's command line; prints help or a usage error and exits on error.
    pub fn from_command_line() -> Self {
        let matches = Self::command().get_matches();
        Self::from_matches(&matches).unwrap_or_else(|error| error.exit())
    }

    /// Parses these arguments (the first is the program name).
    pub fn try_from_iter<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        Self::from_matches(&Self::command().try_get_matches_from(args)?)
    }

    fn from_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut args = Self::from_arg_matches(matches)?;
        args.given = matches
            .ids()
            .filter(|id| {
                matches!(
                    matches.value_source(id.as_str()),
                    Some(ValueSource::CommandLine | ValueSource::EnvVariable)
                )
            })
            .map(|id| id.as_str().to_owned())
            .collect();
        Ok(args)
    }

    /// The one precedence rule: the command line's value if the user gave option `id`, else
    /// the file's if it has the key, else the command line's (which is then the default).
    fn pick<T>(&self, id: &str, cli: T, file: Option<T>) -> T {
        match file {
            Some(file) if !self.given.contains(id) => file,
            _ => cli,
        }
    }

    /// How to name setting `id` in an error: as the option if the user gave it, else as the
    /// file's key.
    fn name(&self, id: &str) -> String {
        if self.given.contains(id) {
            format!("--{}", id.replace('_', "-"))
        } else {
            format!("{id} (config file)")
        }
    }

    fn seconds(&self, id: &str, cli: f64, file: Option<f64>) -> Result<Duration, ConfigError> {
        let value = self.pick(id, cli, file);
        Duration::try_from_secs_f64(value).map_err(|_| ConfigError::BadValue {
            what: self.name(id),
            reason: format!("{value} is not a number of seconds >= 0"),
        })
    }

    /// Tokens add up (the file's `[[auth.token]]` entries, then the options); a
    /// `--metrics-token` replaces the file's metrics token, `--tls-cert`/`--tls-key` its `[tls]`.
    fn access(
        &self,
        file_auth: Option<relay_auth::AuthConfig>,
        file_tls: Option<relay_auth::tls::TlsFiles>,
    ) -> AccessSettings {
        let mut file = file_auth.unwrap_or_default();
        if self.given.contains("metrics_token") {
            file.metrics_token = None;
            file.metrics_token_sha256 = None;
        }
        let cli_tls = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(relay_auth::tls::TlsFiles::new(cert, key)),
            _ => None,
        };
        AccessSettings {
            file,
            admin_tokens: self.admin_tokens.iter().map(|t| t.0.clone()).collect(),
            viewer_tokens: self.viewer_tokens.iter().map(|t| t.0.clone()).collect(),
            metrics_token: self.metrics_token.as_ref().map(|t| t.0.clone()),
            tls: self.pick("tls_cert", cli_tls, file_tls.map(Some)),
        }
    }

    /// Turns the arguments (and the config file they name) into a relay configuration.
    pub fn into_config(self) -> Result<RelayConfig, ConfigError> {
        let file = match &self.config {
            Some(path) => FileConfig::load(path)?,
            None => FileConfig::default(),
        };
        let queue = self.pick("queue", usize::from(self.queue), file.queue);
        if !(1..=1000).contains(&queue) {
            return Err(ConfigError::BadValue {
                what: self.name("queue"),
                reason: format!("{queue} is not in 1..=1000"),
            });
        }
        let mut mqtt = match (self.mqtt.clone(), file.mqtt.clone()) {
            (Some(url), Some(table)) => Some(mqtt_detections::MqttConfig { url, ..table }),
            (Some(url), None) => Some(mqtt_detections::MqttConfig::with_url(url)),
            (None, table) => table,
        };
        if let Some(ca) = &self.mqtt_ca {
            let Some(mqtt) = mqtt.as_mut() else {
                return Err(ConfigError::BadValue {
                    what: "--mqtt-ca".into(),
                    reason: "needs an MQTT broker (--mqtt URL or an [mqtt] table)".into(),
                });
            };
            mqtt.ca = Some(ca.clone());
        }
        let mut nats = file.nats.clone().unwrap_or_default();
        nats.url = self.nats.clone().or(nats.url);
        nats.node = self.node.clone().or(nats.node);
        nats.cluster = self.cluster_name.clone().or(nats.cluster);
        let nats = nats.into_config().map_err(ConfigError::Nats)?;
        let mut cameras = file.cameras()?;
        for arg in &self.cameras {
            cameras.push(CameraConfig::parse_arg(arg)?);
        }
        Ok(RelayConfig {
            listen: self.pick("listen", self.listen, file.listen),
            cameras,
            queue,
            policy: self.pick("policy", self.policy, file.policy),
            idle_timeout: self.seconds("idle_timeout", self.idle_timeout, file.idle_timeout)?,
            always_on: self.pick("always_on", self.always_on, file.always_on),
            max_frame_age: self.seconds("max_frame_age", self.max_frame_age, file.max_frame_age)?,
            write_timeout: self.seconds("write_timeout", self.write_timeout, file.write_timeout)?,
            pace_slow_viewers: !self.pick("no_pacing", self.no_pacing, file.no_pacing),
            header_read_timeout: self.seconds(
                "header_read_timeout",
                self.header_read_timeout,
                file.header_read_timeout,
            )?,
            max_viewers: self.pick("max_viewers", self.max_viewers, file.max_viewers),
            max_viewers_per_camera: self.pick(
                "max_viewers_per_camera",
                self.max_viewers_per_camera,
                file.max_viewers_per_camera,
            ),
            detect: !self.pick("no_detect", self.no_detect, file.no_detect),
            model: self.pick("model", self.model.clone(), file.model.map(Some)),
            access: self.access(file.auth, file.tls),
            mqtt,
            record: match (self.record.clone(), file.record) {
                (Some(dir), Some(file)) => Some(mjpeg_record::RecordConfig { dir, ..file }),
                (Some(dir), None) => Some(mjpeg_record::RecordConfig::new(dir)),
                (None, file) => file,
            },
            nats,
            ..RelayConfig::default()
        })
    }
}
