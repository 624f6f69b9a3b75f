//! HTTPS and WSS: a PEM certificate chain and key turned into a `tokio_rustls::TlsAcceptor`
//! (HTTP/1.1 over ALPN, rustls with the `ring` provider), held in [`ReloadableTls`] so that a
//! new certificate (a Let's Encrypt renewal) is picked up on `SIGHUP` without a restart.
//!
//! The accept loop takes a fresh acceptor per connection, so a reload applies to new
//! connections; open connections keep the certificate they were made with:
//!
//! ```no_run
//! # async fn serve() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use relay_auth::tls::{spawn_reload_on_sighup, ReloadableTls, TlsFiles};
//!
//! let tls = Arc::new(ReloadableTls::load(TlsFiles::new("cert.pem", "key.pem"))?);
//! spawn_reload_on_sighup(tls.clone())?;
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:8443").await?;
//! loop {
//!     let (tcp, _) = listener.accept().await?;
//!     let acceptor = tls.acceptor();
//!     tokio::spawn(async move {
//!         let Ok(stream) = acceptor.accept(tcp).await else { return };
//!         // serve `stream` with hyper's http1 connection, as with plain TCP
//!         # drop(stream);
//!     });
//! }
//! # }
//! ```

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::task::JoinHandle;

pub use tokio_rustls::TlsAcceptor;

use crate::AuthError;

/// The certificate chain and key files (`[tls]` in the configuration file, or `--tls-cert`
/// and `--tls-key`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// PEM file with the certificate chain, leaf first (`fullchain.pem`).
    pub cert: PathBuf,
    /// PEM file with the private key (PKCS#8, PKCS#1 or SEC1; may be the same file as `cert`).
    pub key: PathBuf,
}

impl TlsFiles {
    /// The two paths.
    pub fn new(cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        TlsFiles {
            cert: cert.into(),
            key: key.into(),
        }
    }
}

/// Reads the files and builds the server configuration: TLS 1.2 and 1.3 with rustls' safe
/// defaults and the `ring` provider, no client certificates, ALPN `http/1.1`.
pub fn load_server_config(files: &TlsFiles) -> Result<Arc<ServerConfig>, AuthError> {
    let certs = read_certs(&files.cert)?;
    let key = read_key(&files.key)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config_error = |source| AuthError::TlsConfig {
        cert: files.cert.clone(),
        key: files.key.clone(),
        source,
    };
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(config_error)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(config_error)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn read_file(what: &'static str, path: &Path) -> Result<Vec<u8>, AuthError> {
    std::fs::read(path).map_err(|source| AuthError::TlsRead {
        what,
        path: path.to_owned(),
        source,
    })
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, AuthError> {
    let what = "certificate";
    let pem = read_file(what, path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| AuthError::TlsPem {
            what,
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(AuthError::TlsPem {
            what,
            path: path.to_owned(),
            reason: "no `BEGIN CERTIFICATE` section found".into(),
        });
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, AuthError> {
    let what = "private key";
    let pem = read_file(what, path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| AuthError::TlsPem {
        what,
        path: path.to_owned(),
        reason: match e {
            rustls_pki_types::pem::Error::NoItemsFound => {
                "no `BEGIN PRIVATE KEY` (or RSA / EC PRIVATE KEY) section found".into()
            }
            other => other.to_string(),
        },
    })
}

/// The current TLS configuration and the files it came from. [`ReloadableTls::reload`]
/// swaps in a new configuration atomically; when the new files are unusable it keeps the old
/// one, so a half-written renewal never takes HTTPS down.
#[derive(Debug)]
pub struct ReloadableTls {
    /// Read again on every reload.
    files: TlsFiles,
    /// Loaded by each new connection; replaced whole by a successful reload.
    current: ArcSwap<ServerConfig>,
    /// Successful loads so far (1 after `load`), for logs and tests.
    generation: AtomicU64,
}

impl ReloadableTls {
    /// Loads the files once; fails when they are unusable.
    pub fn load(files: TlsFiles) -> Result<Self, AuthError> {
        let config = load_server_config(&files)?;
        Ok(ReloadableTls {
            files,
            current: ArcSwap::new(config),
            generation: AtomicU64::new(1),
        })
    }

    /// An acceptor with the current configuration, for one new connection.
    pub fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.current.load_full())
    }

    /// The current configuration.
    pub fn server_config(&self) -> Arc<ServerConfig> {
        self.current.load_full()
    }

    /// Reads the files again and, if they are usable, uses them for new connections; returns
    /// the new generation. On error the previous configuration stays in use. Blocking (reads
    /// two small files): from async code call it through `spawn_blocking`.
    pub fn reload(&self) -> Result<u64, AuthError> {
        let config = load_server_config(&self.files)?;
        self.current.store(config);
        // Relaxed: the counter only orders itself; the configuration is published by ArcSwap.
        Ok(self.generation.fetch_add(1, Ordering::Relaxed) + 1)
    }

    /// How many times the files were loaded successfully (1 after [`ReloadableTls::load`]).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }

    /// The files.
    pub fn files(&self) -> &TlsFiles {
        &self.files
    }
}

/// Reloads `holder` on every `SIGHUP`, logging the outcome (a failed reload logs an error and
/// keeps the previous certificate). The handler is installed before this returns, so a
/// `SIGHUP` sent afterwards never kills the process. Call it inside a tokio runtime; the task
/// runs until the runtime stops (or abort the handle).
pub fn spawn_reload_on_sighup(holder: Arc<ReloadableTls>) -> Result<JoinHandle<()>, AuthError> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hangups = signal(SignalKind::hangup()).map_err(AuthError::Signal)?;
    Ok(tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            let reloading = holder.clone();
            match tokio::task::spawn_blocking(move || reloading.reload()).await {
                Ok(Ok(generation)) => tracing::info!(
                    cert = %holder.files().cert.display(),
                    generation,
                    "TLS: SIGHUP, certificate reloaded"
                ),
                Ok(Err(error)) => tracing::error!(
                    %error,
                    "TLS: SIGHUP, reload failed; still serving the previous certificate"
                ),
                Err(join) => tracing::error!(%join, "TLS: reload task failed"),
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn missing_files_name_the_path() {
        let err = ReloadableTls::load(TlsFiles::new(
            "/nonexistent/cert.pem",
            "/nonexistent/key.pem",
        ))
        .expect_err("missing");
        assert_eq!(err.kind(), ErrorKind::TlsRead);
        assert!(err.to_string().contains("/nonexistent/cert.pem"), "{err}");
    }

    #[test]
    fn files_parse_from_toml() {
        let files: TlsFiles = toml::from_str("cert = \"a.pem\"\nkey = \"b.pem\"").expect("toml");
        assert_eq!(files, TlsFiles::new("a.pem", "b.pem"));
    }
}
