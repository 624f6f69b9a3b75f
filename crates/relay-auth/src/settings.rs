//! A server's access-control and TLS settings as they come from its command line and
//! configuration file (`--admin-token`, `--viewer-token`, `--metrics-token`, `[auth]`,
//! `--tls-cert`/`--tls-key`), turned into a [`TokenStore`] and a reloadable TLS acceptor at
//! start-up.
//!
//! Tokens never appear in logs or `Debug` output: [`AccessSettings`]'s `Debug` shows counts.

use std::fmt;
#[cfg(feature = "tls")]
use std::sync::Arc;

#[cfg(feature = "tls")]
use crate::tls::{ReloadableTls, TlsFiles};
use crate::{AuthConfig, AuthError, TokenStore};

/// Who may do what, and whether the relay speaks TLS.
///
/// With no token anywhere the relay is open (as on 127.0.0.1 without configuration).
#[derive(Clone, Default)]
pub struct AccessSettings {
    /// The `[auth]` table of the config file (`[[auth.token]]` entries, `metrics_token`).
    pub file: AuthConfig,
    /// `--admin-token` values: admin of every camera.
    pub admin_tokens: Vec<String>,
    /// `--viewer-token` values: viewer of every camera.
    pub viewer_tokens: Vec<String>,
    /// `--metrics-token`: may read `/metrics` only.
    pub metrics_token: Option<String>,
    /// Certificate chain and key for HTTPS/WSS (`None`: plain HTTP).
    #[cfg(feature = "tls")]
    pub tls: Option<TlsFiles>,
}

impl fmt::Debug for AccessSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessSettings")
            .field("file", &self.file)
            .field("admin_tokens", &self.admin_tokens.len())
            .field("viewer_tokens", &self.viewer_tokens.len())
            .field(
                "metrics_token",
                &self.metrics_token.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

impl AccessSettings {
    /// The token store these settings describe (fails on an unusable or duplicated token; the
    /// error names the entry, never the token).
    pub fn token_store(&self) -> Result<TokenStore, AuthError> {
        TokenStore::from_parts(
            &self.file,
            &self.admin_tokens,
            &self.viewer_tokens,
            self.metrics_token.as_deref(),
        )
    }

    /// Loads the certificate and key, if TLS is configured.
    #[cfg(feature = "tls")]
    pub fn tls(&self) -> Result<Option<Arc<ReloadableTls>>, AuthError> {
        self.tls
            .clone()
            .map(|files| ReloadableTls::load(files).map(Arc::new))
            .transpose()
    }
}

/// A token given on the command line or in the environment: its `Debug` hides it, so that
/// `Args`'s `Debug` never shows one.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_a_token() {
        let settings = AccessSettings {
            admin_tokens: vec!["admin-secret-0123456789".into()],
            viewer_tokens: vec!["viewer-secret-0123456789".into()],
            metrics_token: Some("metrics-secret-0123456789".into()),
            ..AccessSettings::default()
        };
        let shown = format!("{settings:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(settings.token_store().expect("store").len() == 3);
    }
}
