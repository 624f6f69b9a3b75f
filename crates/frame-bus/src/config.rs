//! [`BusConfig`]: where NATS is, who we are, and the bus's few knobs.

use std::time::Duration;

use serde::Deserialize;

/// Settings of a node's bus connection.
#[derive(Debug, Clone)]
pub struct BusConfig {
    /// NATS server URL(s), comma-separated: `nats://10.0.0.5:4222`.
    pub url: String,
    /// The cluster: relays with the same cluster name share cameras (a subject token).
    pub cluster: String,
    /// This node's name, unique in the cluster (a subject token; shown as the owner).
    pub node: String,
    /// Messages buffered per subscription before the client drops (and counts) them. A few
    /// frames: the client's default, 65,536, would be gigabytes of JPEGs. Default 4.
    pub subscription_capacity: usize,
    /// Frames waiting to be handed to NATS per camera publisher; more are dropped (counted).
    /// Default 4.
    pub publish_queue: usize,
    /// How long a lease lasts without renewal (the key-value bucket's max age). Default 2 s.
    pub lease_ttl: Duration,
    /// How often the owner renews its lease. Default 1 s.
    pub renew_every: Duration,
    /// How often a node that wants a camera it does not own tries to take it. Default 250 ms.
    pub claim_every: Duration,
    /// How often a node that wants a camera's detections says so to the owner. Default 1 s.
    pub demand_every: Duration,
    /// How long the owner keeps serving detections after the last such heartbeat. Default 3 s.
    pub demand_ttl: Duration,
    /// Longest wait for a JetStream answer (lease renewals must not outlast the TTL).
    /// Default 1 s.
    pub request_timeout: Duration,
}

impl BusConfig {
    /// Defaults for `url`, `cluster` and `node`.
    pub fn new(
        url: impl Into<String>,
        cluster: impl Into<String>,
        node: impl Into<String>,
    ) -> Self {
        BusConfig {
            url: url.into(),
            cluster: cluster.into(),
            node: node.into(),
            subscription_capacity: 4,
            publish_queue: 4,
            lease_ttl: Duration::from_secs(2),
            renew_every: Duration::from_secs(1),
            claim_every: Duration::from_millis(250),
            demand_every: Duration::from_secs(1),
            demand_ttl: Duration::from_secs(3),
            request_timeout: Duration::from_secs(1),
        }
    }
}

/// The `[nats]` table of a configuration file; every key is optional, and the command line
/// may set `url`, `cluster` and `node` over it.
///
/// ```toml
/// [nats]
/// url = "nats://10.0.0.5:4222"   # comma-separated for a NATS cluster
/// cluster = "site1"              # default "camrelay"
/// node = "relay-a"               # default: the host name
/// subscription_capacity = 4      # frames per subscription
/// lease_ttl = 2.0                # seconds
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusTable {
    /// NATS server URL(s).
    pub url: Option<String>,
    /// The cluster name (default `camrelay`).
    pub cluster: Option<String>,
    /// This node's name (default: the host name).
    pub node: Option<String>,
    /// Frames buffered per subscription (default 4).
    pub subscription_capacity: Option<usize>,
    /// Seconds a lease lasts without renewal (default 2; renewed every half of it).
    pub lease_ttl: Option<f64>,
}

/// The cluster name when none is given.
pub const DEFAULT_CLUSTER: &str = "camrelay";

impl BusTable {
    /// The bus settings, or `None` without a URL (clustering off). A `lease_ttl` below 0.5 s
    /// or a capacity of 0 is refused, as are names that cannot be subject tokens.
    pub fn into_config(self) -> Result<Option<BusConfig>, crate::BusError> {
        let Some(url) = self.url else {
            return Ok(None);
        };
        let cluster = self.cluster.unwrap_or_else(|| DEFAULT_CLUSTER.to_owned());
        let node = self.node.unwrap_or_else(default_node);
        crate::subject::check_name("cluster", &cluster)?;
        crate::subject::check_name("node", &node)?;
        let mut config = BusConfig::new(url, cluster, node.clone());
        if let Some(capacity) = self.subscription_capacity {
            if capacity == 0 {
                return Err(crate::BusError::InvalidSetting {
                    what: "subscription_capacity",
                    why: "must be at least 1",
                });
            }
            config.subscription_capacity = capacity;
        }
        if let Some(ttl) = self.lease_ttl {
            let ttl = Duration::try_from_secs_f64(ttl)
                .ok()
                .filter(|ttl| *ttl >= Duration::from_millis(500))
                .ok_or(crate::BusError::InvalidSetting {
                    what: "lease_ttl",
                    why: "must be a number of seconds >= 0.5",
                })?;
            config.lease_ttl = ttl;
            config.renew_every = ttl / 2;
        }
        Ok(Some(config))
    }
}

/// This machine's host name made a subject token (other characters become `-`), or `node`.
pub fn default_node() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let token: String = host
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if token.is_empty() {
        "node".to_owned()
    } else {
        token
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_without_url_is_off_and_bad_values_are_refused() {
        assert!(BusTable::default().into_config().expect("ok").is_none());
        let table = |ttl, capacity| BusTable {
            url: Some("nats://127.0.0.1:4222".into()),
            node: Some("a".into()),
            lease_ttl: ttl,
            subscription_capacity: capacity,
            ..BusTable::default()
        };
        let config = table(Some(3.0), Some(2))
            .into_config()
            .expect("ok")
            .expect("on");
        assert_eq!(
            (config.cluster.as_str(), config.node.as_str()),
            ("camrelay", "a")
        );
        assert_eq!(config.lease_ttl, Duration::from_secs(3));
        assert_eq!(config.subscription_capacity, 2);
        assert!(table(Some(0.1), None).into_config().is_err());
        assert!(table(None, Some(0)).into_config().is_err());
        let bad_node = BusTable {
            node: Some("a.b".into()),
            ..table(None, None)
        };
        let kind = bad_node.into_config().map(|_| ()).map_err(|e| e.kind());
        assert_eq!(kind, Err(crate::ErrorKind::InvalidName));
        assert!(!default_node().is_empty());
    }
}
