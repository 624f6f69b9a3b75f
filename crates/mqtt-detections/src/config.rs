//! The `[mqtt]` table of the configuration file.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::broker_url::{redact, BrokerUrl};
use crate::error::MqttError;

/// The `[mqtt]` table. Every key has a default except `url`.
///
/// ```toml
/// [mqtt]
/// url = "mqtt://homeassistant.lan:1883?client_id=camrelay-garage"
/// # url = "mqtts://homeassistant.lan:8883" with TLS, and then optionally:
/// # ca = "/etc/camrelay/mqtt-ca.pem"
/// username = "camrelay"          # or in the URL: mqtt://camrelay:secret@host
/// password = "secret"
/// topic_prefix = "camrelay"
/// labels = ["person", "car", "dog", "cat"]
/// min_score = 0.5
/// discovery_prefix = "homeassistant"
/// relay_id = "garage"
/// ```
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MqttConfig {
    /// Broker, `mqtt://[user[:password]@]host[:port][?client_id=id]`; `mqtts://` for TLS.
    pub url: String,
    /// For `mqtts://`: a PEM file with the CA certificate(s) the broker's certificate must
    /// chain to (a private CA, or the broker's self-signed certificate). Default: the
    /// system's CA store. Not allowed with a plain `mqtt://` URL.
    pub ca: Option<PathBuf>,
    /// Client id; overrides the URL's `client_id`. Default `camrelay-<relay_id>`.
    pub client_id: Option<String>,
    /// User name; overrides the URL's.
    pub username: Option<String>,
    /// Password; overrides the URL's. Never logged.
    pub password: Option<String>,
    /// First topic level of everything published except discovery. Default `camrelay`.
    pub topic_prefix: String,
    /// The detector labels to report (others are ignored). Default person, car, dog, cat.
    pub labels: Vec<String>,
    /// A detection counts only at or above this score. Default 0.5.
    pub min_score: f32,
    /// Home Assistant's discovery prefix. Default `homeassistant`.
    pub discovery_prefix: String,
    /// Publish Home Assistant discovery configs. Default true.
    pub discovery: bool,
    /// Names this relay in unique ids and device identifiers, so two relays with a camera of
    /// the same name stay apart in Home Assistant. Default `camrelay`.
    pub relay_id: String,
    /// A label goes OFF after it was missing from this many frames in a row (1 = at once).
    /// Default 5: a detector that misses a person for a frame or two does not flap.
    pub off_after_frames: u32,
    /// Seconds between fps values of one camera. Default 5.
    pub fps_interval_secs: f64,
    /// Fewest seconds between two snapshots of one camera. Default 1.
    pub snapshot_interval_secs: f64,
    /// MQTT keep-alive in seconds (at least 1); the broker sends the last will after 1.5 times
    /// this without a packet. Default 30.
    pub keep_alive_secs: u64,
    /// First wait before reconnecting, doubled after each failure. Default 0.5.
    pub reconnect_min_secs: f64,
    /// Longest wait between reconnect attempts. Default 30.
    pub reconnect_max_secs: f64,
}

impl Default for MqttConfig {
    fn default() -> Self {
        MqttConfig {
            url: String::new(),
            ca: None,
            client_id: None,
            username: None,
            password: None,
            topic_prefix: "camrelay".into(),
            labels: ["person", "car", "dog", "cat"].map(String::from).to_vec(),
            min_score: 0.5,
            discovery_prefix: "homeassistant".into(),
            discovery: true,
            relay_id: "camrelay".into(),
            off_after_frames: 5,
            fps_interval_secs: 5.0,
            snapshot_interval_secs: 1.0,
            keep_alive_secs: 30,
            reconnect_min_secs: 0.5,
            reconnect_max_secs: 30.0,
        }
    }
}

impl std::fmt::Debug for MqttConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttConfig")
            .field("url", &redact(&self.url))
            .field("ca", &self.ca)
            .field("client_id", &self.client_id)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("topic_prefix", &self.topic_prefix)
            .field("labels", &self.labels)
            .field("min_score", &self.min_score)
            .field("discovery_prefix", &self.discovery_prefix)
            .field("discovery", &self.discovery)
            .field("relay_id", &self.relay_id)
            .field("off_after_frames", &self.off_after_frames)
            .field("fps_interval_secs", &self.fps_interval_secs)
            .field("snapshot_interval_secs", &self.snapshot_interval_secs)
            .field("keep_alive_secs", &self.keep_alive_secs)
            .field("reconnect_min_secs", &self.reconnect_min_secs)
            .field("reconnect_max_secs", &self.reconnect_max_secs)
            .finish()
    }
}

impl MqttConfig {
    /// A configuration with defaults for everything but the URL (the `--mqtt URL` flag).
    pub fn with_url(url: impl Into<String>) -> Self {
        MqttConfig {
            url: url.into(),
            ..MqttConfig::default()
        }
    }
}

/// The configuration checked and with the URL resolved: what the publishing task runs on.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub broker: BrokerUrl,
    /// The TLS client settings when the URL is `mqtts://`.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    pub client_id: String,
    pub topic_prefix: String,
    pub labels: Vec<String>,
    pub min_score: f32,
    pub discovery_prefix: Option<String>,
    pub relay_id: String,
    pub off_after_frames: u32,
    pub fps_interval: Duration,
    pub snapshot_interval: Duration,
    pub keep_alive: Duration,
    pub reconnect_min: Duration,
    pub reconnect_max: Duration,
}

fn secs(field: &'static str, v: f64) -> Result<Duration, MqttError> {
    Duration::try_from_secs_f64(v).map_err(|_| MqttError::InvalidSetting {
        field,
        reason: format!("{v} is not a number of seconds >= 0"),
    })
}

fn topic_level(field: &'static str, v: &str) -> Result<String, MqttError> {
    let v = v.trim_matches('/');
    if v.is_empty() || v.contains(['+', '#', '\0']) {
        return Err(MqttError::InvalidSetting {
            field,
            reason: format!("{v:?} must be non-empty and free of '+', '#' and NUL"),
        });
    }
    Ok(v.to_owned())
}

impl MqttConfig {
    pub(crate) fn resolve(&self) -> Result<Resolved, MqttError> {
        let mut broker = BrokerUrl::parse(&self.url)?;
        if self.username.is_some() {
            broker.username.clone_from(&self.username);
        }
        if self.password.is_some() {
            broker.password.clone_from(&self.password);
        }
        let tls = match (&self.ca, broker.tls) {
            (ca, true) => Some(crate::tls::client_config(ca.as_deref())?),
            (Some(_), false) => {
                return Err(MqttError::InvalidSetting {
                    field: "ca",
                    reason: "a CA file is for TLS: use an mqtts:// URL".into(),
                })
            }
            (None, false) => None,
        };
        if broker.password.is_some() && broker.username.is_none() {
            return Err(MqttError::InvalidSetting {
                field: "password",
                reason: "a password needs a username".into(),
            });
        }
        let relay_id = crate::topics::segment(&self.relay_id);
        if relay_id.is_empty() {
            return Err(MqttError::InvalidSetting {
                field: "relay_id",
                reason: "must not be empty".into(),
            });
        }
        let client_id = self
            .client_id
            .clone()
            .or_else(|| broker.client_id.clone())
            .unwrap_or_else(|| format!("camrelay-{relay_id}"));
        if !(0.0..=1.0).contains(&self.min_score) {
            return Err(MqttError::InvalidSetting {
                field: "min_score",
                reason: format!("{} is not in 0..=1", self.min_score),
            });
        }
        if self.keep_alive_secs == 0 {
            return Err(MqttError::InvalidSetting {
                field: "keep_alive_secs",
                reason: "must be at least 1 (the last will depends on it)".into(),
            });
        }
        let mut labels: Vec<String> = Vec::new();
        for label in &self.labels {
            if label.trim().is_empty() {
                return Err(MqttError::InvalidSetting {
                    field: "labels",
                    reason: "a label is empty".into(),
                });
            }
            if !labels.contains(label) {
                labels.push(label.clone());
            }
        }
        let reconnect_min = secs("reconnect_min_secs", self.reconnect_min_secs)?;
        let reconnect_max = secs("reconnect_max_secs", self.reconnect_max_secs)?.max(reconnect_min);
        Ok(Resolved {
            broker,
            tls,
            client_id,
            topic_prefix: topic_level("topic_prefix", &self.topic_prefix)?,
            labels,
            min_score: self.min_score,
            discovery_prefix: if self.discovery {
                Some(topic_level("discovery_prefix", &self.discovery_prefix)?)
            } else {
                None
            },
            relay_id,
            off_after_frames: self.off_after_frames.max(1),
            fps_interval: secs("fps_interval_secs", self.fps_interval_secs)?,
            snapshot_interval: secs("snapshot_interval_secs", self.snapshot_interval_secs)?,
            keep_alive: Duration::from_secs(self.keep_alive_secs),
            reconnect_min,
            reconnect_max,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_table_with_defaults() {
        let cfg: MqttConfig = toml::from_str(
            r#"
            url = "mqtt://u:pw@broker:1884?client_id=from-url"
            labels = ["person"]
            min_score = 0.6
            "#,
        )
        .expect("valid TOML");
        assert_eq!(cfg.topic_prefix, "camrelay");
        assert_eq!(cfg.discovery_prefix, "homeassistant");
        let r = cfg.resolve().expect("valid");
        assert_eq!(r.client_id, "from-url");
        assert_eq!(r.broker.username.as_deref(), Some("u"));
        assert_eq!(r.labels, ["person"]);
        assert_eq!(r.off_after_frames, 5);
    }

    #[test]
    fn fields_override_the_url_and_client_id_defaults_from_relay_id() {
        let cfg = MqttConfig {
            username: Some("other".into()),
            password: Some("pw2".into()),
            relay_id: "Garage Relay".into(),
            ..MqttConfig::with_url("mqtt://u:pw@broker")
        };
        let r = cfg.resolve().expect("valid");
        assert_eq!(r.broker.username.as_deref(), Some("other"));
        assert_eq!(r.broker.password.as_deref(), Some("pw2"));
        assert_eq!(r.relay_id, "garage_relay");
        assert_eq!(r.client_id, "camrelay-garage_relay");
    }

    #[test]
    fn mqtts_with_a_ca_file_from_toml() {
        let cfg: MqttConfig =
            toml::from_str("url = \"mqtts://h\"\nca = \"/nonexistent/ca.pem\"").expect("TOML");
        assert_eq!(
            cfg.ca.as_deref(),
            Some(std::path::Path::new("/nonexistent/ca.pem"))
        );
        let err = cfg.resolve().expect_err("no such file");
        assert_eq!(err.kind(), crate::ErrorKind::Tls, "{err}");
        assert!(cfg
            .resolve()
            .is_err_and(|e| e.to_string().contains("/nonexistent/ca.pem")));
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = toml::from_str::<MqttConfig>("url = \"mqtt://h\"\nprefix = \"x\"");
        assert!(err.is_err());
    }

    #[test]
    fn bad_settings_are_invalid_config() {
        for cfg in [
            MqttConfig {
                min_score: 1.5,
                ..MqttConfig::with_url("mqtt://h")
            },
            MqttConfig {
                topic_prefix: "a/#".into(),
                ..MqttConfig::with_url("mqtt://h")
            },
            MqttConfig {
                keep_alive_secs: 0,
                ..MqttConfig::with_url("mqtt://h")
            },
            MqttConfig {
                fps_interval_secs: -1.0,
                ..MqttConfig::with_url("mqtt://h")
            },
            MqttConfig::with_url(""),
            MqttConfig {
                ca: Some("/etc/ssl/certs/ca-certificates.crt".into()),
                ..MqttConfig::with_url("mqtt://h")
            },
        ] {
            let err = cfg.resolve().expect_err("invalid");
            assert_eq!(err.kind(), crate::ErrorKind::InvalidConfig, "{err}");
        }
    }

    #[test]
    fn debug_hides_passwords() {
        let cfg = MqttConfig {
            password: Some("hunter2".into()),
            ..MqttConfig::with_url("mqtt://u:sesame@h")
        };
        let shown = format!("{cfg:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("sesame"),
            "{shown}"
        );
    }
}
