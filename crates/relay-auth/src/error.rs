//! The one error type of this crate, [`AuthError`], and its [`ErrorKind`].

#[cfg(feature = "tls")]
use std::path::PathBuf;

/// Everything that can go wrong while setting up access control or TLS.
///
/// Requests that are refused are not errors of this type: they are [`crate::Denied`] answers.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// A token entry of the configuration cannot be used (no token, both `token` and
    /// `token_sha256`, bad hex, empty camera list...). The text never contains the token.
    #[error("auth token {entry}: {reason}")]
    InvalidToken {
        /// Which entry: its `name`, or where it came from (`[[auth.token]] #2`, `--admin-token #1`).
        entry: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The same token (same SHA-256 digest) is configured twice.
    #[error("auth token {second} is the same token as {first}; each token must be unique")]
    DuplicateToken {
        /// The entry seen first.
        first: String,
        /// The entry that repeats it.
        second: String,
    },
    /// A certificate or key file cannot be read.
    #[cfg(feature = "tls")]
    #[error("TLS: cannot read {what} file `{}`: {source}", path.display())]
    TlsRead {
        /// `certificate` or `private key`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A certificate or key file is not usable PEM (bad base64, no certificate, no key...).
    #[cfg(feature = "tls")]
    #[error("TLS: {what} file `{}`: {reason}", path.display())]
    TlsPem {
        /// `certificate` or `private key`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// rustls refused the certificate and key (the key does not match the certificate, an
    /// unsupported key type...).
    #[cfg(feature = "tls")]
    #[error("TLS: certificate `{}` with key `{}`: {source}", cert.display(), key.display())]
    TlsConfig {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// rustls' error.
        #[source]
        source: rustls::Error,
    },
    /// The SIGHUP handler cannot be installed.
    #[cfg(feature = "tls")]
    #[error("TLS: cannot listen for SIGHUP: {0}")]
    Signal(#[source] std::io::Error),
}

/// The category of an [`AuthError`], for callers that match on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// See [`AuthError::InvalidToken`].
    InvalidToken,
    /// See [`AuthError::DuplicateToken`].
    DuplicateToken,
    /// See `AuthError::TlsRead` (feature `tls`).
    TlsRead,
    /// See `AuthError::TlsPem` (feature `tls`).
    TlsPem,
    /// See `AuthError::TlsConfig` (feature `tls`).
    TlsConfig,
    /// See `AuthError::Signal` (feature `tls`).
    Signal,
}

impl AuthError {
    /// The category of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            AuthError::InvalidToken { .. } => ErrorKind::InvalidToken,
            AuthError::DuplicateToken { .. } => ErrorKind::DuplicateToken,
            #[cfg(feature = "tls")]
            AuthError::TlsRead { .. } => ErrorKind::TlsRead,
            #[cfg(feature = "tls")]
            AuthError::TlsPem { .. } => ErrorKind::TlsPem,
            #[cfg(feature = "tls")]
            AuthError::TlsConfig { .. } => ErrorKind::TlsConfig,
            #[cfg(feature = "tls")]
            AuthError::Signal(_) => ErrorKind::Signal,
        }
    }

    pub(crate) fn invalid(entry: &str, reason: impl Into<String>) -> Self {
        AuthError::InvalidToken {
            entry: entry.to_owned(),
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_match_variants() {
        assert_eq!(AuthError::invalid("x", "y").kind(), ErrorKind::InvalidToken);
        let dup = AuthError::DuplicateToken {
            first: "a".into(),
            second: "b".into(),
        };
        assert_eq!(dup.kind(), ErrorKind::DuplicateToken);
        assert_eq!(
            dup.to_string(),
            "auth token b is the same token as a; each token must be unique"
        );
    }
}
