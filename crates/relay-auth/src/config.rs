//! The `[auth]` section of the configuration file.
//!
//! ```toml
//! [auth]
//! metrics_token = "scraper-secret"        # may only read /metrics
//!
//! [[auth.token]]
//! name = "family"                          # for logs
//! token = "a-long-random-viewer-token"
//! role = "viewer"
//!
//! [[auth.token]]
//! name = "porch tablet"
//! token_sha256 = "…64 hex digits…"         # sha256sum of the token, no newline
//! role = "viewer"
//! cameras = ["door"]                       # absent = all cameras
//!
//! [[auth.token]]
//! name = "me"
//! token = "another-long-random-token"
//! role = "admin"
//! ```

use std::fmt;

use crate::Role;

/// The `[auth]` table: role tokens and the metrics token.
#[derive(Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// The `[[auth.token]]` entries.
    #[serde(default, rename = "token")]
    pub tokens: Vec<TokenConfig>,
    /// A token that may only read `/metrics` (for a Prometheus scraper).
    #[serde(default)]
    pub metrics_token: Option<String>,
    /// The metrics token given as the hex SHA-256 of the token instead.
    #[serde(default)]
    pub metrics_token_sha256: Option<String>,
}

/// One `[[auth.token]]` entry. Give exactly one of `token` and `token_sha256`.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// A name for logs (the token itself is never logged).
    #[serde(default)]
    pub name: Option<String>,
    /// The token in clear.
    #[serde(default)]
    pub token: Option<String>,
    /// The hex SHA-256 digest of the token (`printf %s TOKEN | sha256sum`), so that the
    /// configuration file does not hold the token.
    #[serde(default)]
    pub token_sha256: Option<String>,
    /// `viewer` or `admin`.
    pub role: Role,
    /// The cameras the token is limited to; absent means all cameras.
    #[serde(default)]
    pub cameras: Option<Vec<String>>,
}

impl TokenConfig {
    /// An entry for a token in clear, for all cameras.
    pub fn new(token: impl Into<String>, role: Role) -> Self {
        TokenConfig {
            name: None,
            token: Some(token.into()),
            token_sha256: None,
            role,
            cameras: None,
        }
    }
}

/// Shows whether a token is set, never the token.
pub(crate) struct Redacted<'a>(pub(crate) &'a Option<String>);

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(_) => f.write_str("Some(<redacted>)"),
            None => f.write_str("None"),
        }
    }
}

impl fmt::Debug for TokenConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenConfig")
            .field("name", &self.name)
            .field("token", &Redacted(&self.token))
            .field("token_sha256", &Redacted(&self.token_sha256))
            .field("role", &self.role)
            .field("cameras", &self.cameras)
            .finish()
    }
}

impl fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthConfig")
            .field("tokens", &self.tokens)
            .field("metrics_token", &Redacted(&self.metrics_token))
            .field(
                "metrics_token_sha256",
                &Redacted(&self.metrics_token_sha256),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct File {
        #[serde(default)]
        auth: AuthConfig,
    }

    #[test]
    fn parses_the_documented_example() {
        let text = r#"
            [auth]
            metrics_token = "scraper-secret"

            [[auth.token]]
            name = "family"
            token = "viewer-secret"
            role = "viewer"

            [[auth.token]]
            token_sha256 = "00"
            role = "viewer"
            cameras = ["door"]

            [[auth.token]]
            token = "admin-secret"
            role = "admin"
        "#;
        let file: File = toml::from_str(text).expect("parse");
        let auth = file.auth;
        assert_eq!(auth.tokens.len(), 3);
        assert_eq!(auth.metrics_token.as_deref(), Some("scraper-secret"));
        assert_eq!(auth.tokens[0].name.as_deref(), Some("family"));
        assert_eq!(auth.tokens[1].cameras, Some(vec!["door".to_owned()]));
        assert_eq!(auth.tokens[2].role, Role::Admin);
        assert_eq!(auth.tokens[2].cameras, None);
    }

    #[test]
    fn absent_section_is_empty() {
        let file: File = toml::from_str("").expect("parse");
        assert_eq!(file.auth, AuthConfig::default());
    }

    #[test]
    fn typos_are_rejected() {
        let text = "[[auth.token]]\ntoken = \"x\"\nrole = \"viewer\"\ncamera = [\"door\"]\n";
        let err = toml::from_str::<File>(text).expect_err("unknown field");
        assert!(err.to_string().contains("camera"), "{err}");
        assert!(toml::from_str::<File>("[[auth.token]]\ntoken = \"x\"\n").is_err());
    }

    #[test]
    fn debug_redacts_tokens() {
        let auth = AuthConfig {
            tokens: vec![TokenConfig::new("super-secret-1", Role::Admin)],
            metrics_token: Some("super-secret-2".into()),
            metrics_token_sha256: None,
        };
        let shown = format!("{auth:?}");
        assert!(!shown.contains("super-secret"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }
}
