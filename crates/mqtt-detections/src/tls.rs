//! The rustls client configuration for `mqtts://`: the `ring` provider (no cmake-built
//! aws-lc), trusting the certificates of the `ca` file, else the system's store.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

use crate::error::MqttError;

fn tls_error(reason: impl Into<String>) -> MqttError {
    MqttError::Tls {
        reason: reason.into(),
    }
}

/// The CA certificates of a PEM file (one or more `CERTIFICATE` blocks; other blocks are
/// skipped).
fn ca_file_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, MqttError> {
    let pem = std::fs::read(path).map_err(|source| MqttError::CaFile {
        path: path.to_owned(),
        source,
    })?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            tls_error(format!(
                "the CA file {} is not valid PEM: {e}",
                path.display()
            ))
        })?;
    if certs.is_empty() {
        return Err(tls_error(format!(
            "the CA file {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        )));
    }
    Ok(certs)
}

/// The system's CA certificates (`/etc/ssl/certs` on Debian, `SSL_CERT_FILE` if set).
fn system_certificates() -> Result<Vec<CertificateDer<'static>>, MqttError> {
    let found = rustls_native_certs::load_native_certs();
    if found.certs.is_empty() {
        let why = found
            .errors
            .first()
            .map(|e| format!(": {e}"))
            .unwrap_or_default();
        return Err(tls_error(format!(
            "no CA certificate found in the system's store{why}; install the Debian package \
             ca-certificates, or give the broker's CA with `ca` / --mqtt-ca"
        )));
    }
    Ok(found.certs)
}

/// The client configuration for a TLS connection to the broker: server certificates are
/// checked against `ca` (a PEM file) when given, else against the system's CA store; the
/// host name of the URL must match the certificate.
pub(crate) fn client_config(ca: Option<&Path>) -> Result<Arc<ClientConfig>, MqttError> {
    let certs = match ca {
        Some(path) => ca_file_certificates(path)?,
        None => system_certificates()?,
    };
    let mut roots = RootCertStore::empty();
    let (added, ignored) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(tls_error(match ca {
            Some(path) => format!(
                "no usable CA certificate in {} ({ignored} rejected)",
                path.display()
            ),
            None => format!("no usable CA certificate in the system's store ({ignored} rejected)"),
        }));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn a_missing_ca_file_is_named() {
        let err = client_config(Some(Path::new("/nonexistent/ca.pem"))).expect_err("missing");
        assert_eq!(err.kind(), ErrorKind::Tls);
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
    }

    #[test]
    fn a_ca_file_without_certificates_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate\n").expect("write");
        let err = client_config(Some(&path)).expect_err("no certificate");
        assert_eq!(err.kind(), ErrorKind::Tls);
        assert!(err.to_string().contains("no PEM certificate"), "{err}");
    }

    #[test]
    fn a_generated_ca_is_accepted() {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = params.self_signed(&key).expect("CA");
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, ca.pem()).expect("write");
        client_config(Some(&path)).expect("a usable CA");
    }
}
