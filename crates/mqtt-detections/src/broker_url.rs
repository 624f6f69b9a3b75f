//! Parsing `mqtt://user:pass@host:port?client_id=x` (and `mqtts://` for TLS) without a URL
//! crate.

use crate::error::MqttError;

/// Where and as whom to connect, parsed from the `url` setting.
#[derive(Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    /// Host name or IP address (IPv6 without the brackets).
    pub host: String,
    /// TCP port; when the URL has none, 1883, or 8883 with TLS.
    pub port: u16,
    /// Whether to connect with TLS (`mqtts://` or `ssl://`).
    pub tls: bool,
    /// User name from the URL's user info, %-decoded.
    pub username: Option<String>,
    /// Password from the URL's user info, %-decoded. Never logged.
    pub password: Option<String>,
    /// `client_id` query parameter.
    pub client_id: Option<String>,
}

impl std::fmt::Debug for BrokerUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerUrl")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("client_id", &self.client_id)
            .finish()
    }
}

/// The URL with the password (if any) replaced by `***`, for errors and logs.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => match rest[..at].split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***{}", &rest[at..]),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

fn decode(part: &str) -> Option<String> {
    percent_encoding::percent_decode_str(part)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

impl BrokerUrl {
    /// Parses `mqtt://[user[:password]@]host[:port][/][?client_id=id]` (also `tcp://`), and
    /// the same with `mqtts://` (also `ssl://`) for MQTT over TLS, port 8883 by default.
    ///
    /// ```
    /// use mqtt_detections::BrokerUrl;
    /// let url = BrokerUrl::parse("mqtt://ha:s%40cret@broker.lan:1884?client_id=relay1").unwrap();
    /// assert_eq!((url.host.as_str(), url.port, url.tls), ("broker.lan", 1884, false));
    /// assert_eq!(url.password.as_deref(), Some("s@cret"));
    /// assert_eq!(url.client_id.as_deref(), Some("relay1"));
    /// let url = BrokerUrl::parse("mqtts://broker.lan").unwrap();
    /// assert_eq!((url.port, url.tls), (8883, true));
    /// ```
    pub fn parse(url: &str) -> Result<BrokerUrl, MqttError> {
        let bad = |reason| MqttError::InvalidUrl {
            url: redact(url),
            reason,
        };
        let (scheme, rest) = url.split_once("://").ok_or(bad("no scheme (mqtt://)"))?;
        let tls = match scheme.to_ascii_lowercase().as_str() {
            "mqtt" | "tcp" => false,
            "mqtts" | "ssl" => true,
            _ => {
                return Err(MqttError::UnsupportedScheme {
                    scheme: scheme.to_owned(),
                })
            }
        };
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (rest, None),
        };
        let authority = match rest.split_once('/') {
            Some((a, "")) => a,
            Some(_) => return Err(bad("a path is not allowed")),
            None => rest,
        };
        let (userinfo, hostport) = match authority.rfind('@') {
            Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
            None => (None, authority),
        };
        let (username, password) = match userinfo {
            None => (None, None),
            Some(info) => {
                let (user, pass) = match info.split_once(':') {
                    Some((u, p)) => (u, Some(p)),
                    None => (info, None),
                };
                let user = decode(user).ok_or(bad("user name is not UTF-8"))?;
                let pass = match pass {
                    Some(p) => Some(decode(p).ok_or(bad("password is not UTF-8"))?),
                    None => None,
                };
                ((!user.is_empty()).then_some(user), pass)
            }
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or(bad("unclosed '[' in host"))?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or(bad("junk after ']'"))?),
            };
            (host, port)
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let port = match port {
            None if tls => 8883,
            None => 1883,
            Some(p) => match p.parse::<u16>() {
                Ok(p) if p != 0 => p,
                _ => return Err(bad("port is not a number in 1..=65535")),
            },
        };
        let mut client_id = None;
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("client_id", v)) => {
                    client_id = Some(decode(v).ok_or(bad("client_id is not UTF-8"))?)
                }
                _ => return Err(bad("the only query parameter understood is client_id")),
            }
        }
        Ok(BrokerUrl {
            host: host.to_owned(),
            port,
            tls,
            username,
            password,
            client_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn plain_host_defaults_to_1883() {
        let u = BrokerUrl::parse("mqtt://localhost").expect("parses");
        assert_eq!((u.host.as_str(), u.port, u.tls), ("localhost", 1883, false));
        assert_eq!((u.username, u.password, u.client_id), (None, None, None));
    }

    #[test]
    fn user_password_port_and_trailing_slash() {
        let u = BrokerUrl::parse("tcp://me:p:w@10.0.0.2:1999/").expect("parses");
        assert_eq!((u.host.as_str(), u.port), ("10.0.0.2", 1999));
        assert_eq!(u.username.as_deref(), Some("me"));
        assert_eq!(u.password.as_deref(), Some("p:w"));
    }

    #[test]
    fn ipv6_host() {
        let u = BrokerUrl::parse("mqtt://[::1]:1884").expect("parses");
        assert_eq!((u.host.as_str(), u.port), ("::1", 1884));
        let u = BrokerUrl::parse("mqtt://[fe80::1]").expect("parses");
        assert_eq!((u.host.as_str(), u.port), ("fe80::1", 1883));
    }

    #[test]
    fn rejects_bad_urls_without_showing_the_password() {
        for url in [
            "broker:1883",
            "mqtt://",
            "mqtt://host:99999",
            "mqtt://host:0",
            "mqtt://host/topic",
            "mqtt://host?qos=1",
        ] {
            let err = BrokerUrl::parse(url).expect_err(url);
            assert_eq!(err.kind(), ErrorKind::InvalidConfig, "{url}");
        }
        let err = BrokerUrl::parse("mqtt://u:hunter2@h:x").expect_err("bad port");
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(err.to_string().contains("u:***@h:x"), "{err}");
    }

    #[test]
    fn tls_schemes_default_to_8883() {
        let u = BrokerUrl::parse("mqtts://u:pw@host").expect("parses");
        assert_eq!((u.host.as_str(), u.port, u.tls), ("host", 8883, true));
        let u = BrokerUrl::parse("SSL://[::1]:8884/").expect("parses");
        assert_eq!((u.host.as_str(), u.port, u.tls), ("::1", 8884, true));
    }

    #[test]
    fn websockets_are_unsupported() {
        for url in ["ws://host:8080", "wss://host", "http://host"] {
            let err = BrokerUrl::parse(url).expect_err(url);
            assert_eq!(err.kind(), ErrorKind::Unsupported, "{url}");
        }
    }

    #[test]
    fn debug_hides_the_password() {
        let u = BrokerUrl::parse("mqtt://u:hunter2@h").expect("parses");
        assert!(!format!("{u:?}").contains("hunter2"));
    }
}
