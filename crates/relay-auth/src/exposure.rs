//! Whether the relay is reachable from other machines without tokens.

use std::net::{IpAddr, SocketAddr};

use crate::TokenStore;

/// Whether `ip` only reaches this machine (`127.0.0.0/8`, `::1`, and `::ffff:127.x.y.z`).
/// `0.0.0.0` and `::` are not: they listen on every interface.
pub fn is_loopback_ip(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

/// Whether a listen address only reaches this machine; see [`is_loopback_ip`].
pub fn is_loopback(addr: &SocketAddr) -> bool {
    is_loopback_ip(addr.ip())
}

/// Logs a warning when the relay listens on a non-loopback address while no token is
/// configured: then anyone who reaches the port can watch every camera and change settings.
/// Returns whether it warned. Call it once at start, after binding.
pub fn warn_if_exposed(addr: SocketAddr, store: &TokenStore) -> bool {
    if is_loopback(&addr) || !store.is_open() {
        return false;
    }
    tracing::warn!(
        %addr,
        "camrelay listens on {addr}, which other machines can reach, and no access token is \
         configured: ANYONE who reaches this port can watch every camera and change camera \
         settings. Set --admin-token / --viewer-token (or [[auth.token]] in the config file), \
         or listen on 127.0.0.1"
    );
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Role;
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("addr")
    }

    #[test]
    fn loopback_addresses() {
        for a in [
            "127.0.0.1:8080",
            "127.1.2.3:1",
            "[::1]:8080",
            "[::ffff:127.0.0.1]:80",
        ] {
            assert!(is_loopback(&addr(a)), "{a}");
        }
        for a in [
            "0.0.0.0:8080",
            "[::]:8080",
            "192.168.1.5:8080",
            "[fe80::1]:80",
            "[::ffff:10.0.0.1]:80",
        ] {
            assert!(!is_loopback(&addr(a)), "{a}");
        }
    }

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn warns_only_when_exposed_without_tokens() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let open = TokenStore::open();
        let protected = TokenStore::from_parts(
            &crate::AuthConfig::default(),
            &["admin-token-0123456789".into()],
            &[],
            None,
        )
        .expect("store");
        tracing::subscriber::with_default(subscriber, || {
            assert!(!warn_if_exposed(addr("127.0.0.1:8080"), &open));
            assert!(!warn_if_exposed(addr("0.0.0.0:8080"), &protected));
            assert!(warn_if_exposed(addr("0.0.0.0:8080"), &open));
        });
        let log = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("utf8");
        assert_eq!(log.matches("WARN").count(), 1, "{log}");
        assert!(
            log.contains("0.0.0.0:8080") && log.contains("--admin-token"),
            "{log}"
        );
        assert_eq!(
            protected.check_login_token("admin-token-0123456789"),
            Some(Role::Admin)
        );
    }
}
