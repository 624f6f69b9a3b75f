//! A validated `http://` URL, split into what the connection needs.

use hyper::Uri;

use crate::SourceError;

/// Where to connect and what to request. Built once per source, so bad URLs fail at
/// configuration time, not at the first reconnect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// The URL as configured (for errors and logs).
    pub(crate) url: String,
    /// Host name or IP address, IPv6 without brackets (for `TcpStream::connect`).
    pub(crate) host: String,
    /// TCP port (80 when the URL has none).
    pub(crate) port: u16,
    /// `host[:port]` as written in the URL (for the `Host` header).
    pub(crate) authority: String,
    /// Path and query, `/` when empty.
    pub(crate) path: String,
}

impl Target {
    /// Parses and validates `url`: `http` only, host required, no credentials.
    pub(crate) fn parse(url: &str) -> Result<Target, SourceError> {
        let invalid = |reason| SourceError::InvalidUrl {
            url: url.to_owned(),
            reason,
        };
        let uri: Uri = url.trim().parse().map_err(|_| invalid("not a valid URL"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => return Err(invalid("https is not supported, cameras speak http")),
            Some(_) => return Err(invalid("only http:// URLs are supported")),
            None => return Err(invalid("missing http:// scheme")),
        }
        let authority = uri.authority().ok_or_else(|| invalid("missing host"))?;
        if authority.as_str().contains('@') {
            return Err(invalid("credentials in the URL are not supported"));
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        if host.is_empty() {
            return Err(invalid("missing host"));
        }
        let port = authority.port_u16().unwrap_or(80);
        if port == 0 {
            return Err(invalid("port 0 is not a valid camera port"));
        }
        let path = uri
            .path_and_query()
            .map(|p| p.as_str())
            .filter(|p| !p.is_empty())
            .unwrap_or("/");
        Ok(Target {
            url: url.trim().to_owned(),
            host: host.to_owned(),
            port,
            authority: authority.as_str().to_owned(),
            path: path.to_owned(),
        })
    }

    /// The same server with another path (for `/status` and `/control`).
    pub(crate) fn with_path(&self, path: &str) -> Target {
        Target {
            url: format!("http://{}{}", self.authority, path),
            path: path.to_owned(),
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn parses_esp32_stream_url() {
        let t = Target::parse("http://192.168.1.40:81/stream").unwrap();
        assert_eq!(t.host, "192.168.1.40");
        assert_eq!(t.port, 81);
        assert_eq!(t.authority, "192.168.1.40:81");
        assert_eq!(t.path, "/stream");
    }

    #[test]
    fn defaults_port_and_path_and_strips_ipv6_brackets() {
        let t = Target::parse("http://[::1]").unwrap();
        assert_eq!(t.host, "::1");
        assert_eq!(t.port, 80);
        assert_eq!(t.path, "/");
        let t = Target::parse("http://cam.local/capture?res=1").unwrap();
        assert_eq!(t.path, "/capture?res=1");
        assert_eq!(t.with_path("/status").url, "http://cam.local/status");
    }

    #[test]
    fn rejects_what_it_cannot_serve() {
        for bad in [
            "",
            "cam.local/stream",
            "https://cam.local/stream",
            "rtsp://cam.local/stream",
            "http:///stream",
            "http://user:pw@cam.local/stream",
            "http://cam.local:0/",
            "http://cam local/",
        ] {
            let err = Target::parse(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidUrl, "{bad}: {err}");
            assert!(err.to_string().contains(bad), "{err}");
        }
    }
}
