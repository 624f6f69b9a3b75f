//! Shared by the TLS tests: self-signed certificates made with rcgen, a tiny HTTP/1.1 server
//! behind the reloadable acceptor, and a rustls client that reports the certificate it saw.

#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use relay_auth::tls::ReloadableTls;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The body the test server answers.
pub const BODY: &str = "hello over tls";

/// A self-signed certificate for `localhost`: (certificate PEM, key PEM, certificate DER).
pub fn self_signed() -> (String, String, CertificateDer<'static>) {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("rcgen");
    (
        made.cert.pem(),
        made.signing_key.serialize_pem(),
        made.cert.der().clone(),
    )
}

/// A fresh directory for one test's files.
pub fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("relay-auth-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Writes a certificate and key where the holder reads them.
pub fn write_pair(cert: &Path, key: &Path, pair: &(String, String, CertificateDer<'static>)) {
    std::fs::write(cert, &pair.0).expect("write cert");
    std::fs::write(key, &pair.1).expect("write key");
}

/// Serves `BODY` over HTTP/1.1 through `tls` on 127.0.0.1, a fresh acceptor per connection.
pub async fn serve(tls: Arc<ReloadableTls>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = tls.acceptor();
            tokio::spawn(async move {
                let Ok(stream) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = service_fn(|_req| async {
                    Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from(BODY))))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

/// What a client saw: the server's leaf certificate, the ALPN protocol and the response.
pub struct Seen {
    pub leaf: CertificateDer<'static>,
    pub alpn: Option<Vec<u8>>,
    pub response: String,
}

/// Connects trusting only `trusted`, offers `h2` and `http/1.1`, sends one GET.
pub async fn fetch(
    addr: SocketAddr,
    trusted: &[&CertificateDer<'static>],
) -> std::io::Result<Seen> {
    fetch_offering(addr, trusted, &[b"h2", b"http/1.1"]).await
}

/// Connects trusting only `trusted`, offers the `alpn` protocols, sends one GET.
pub async fn fetch_offering(
    addr: SocketAddr,
    trusted: &[&CertificateDer<'static>],
    alpn: &[&[u8]],
) -> std::io::Result<Seen> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in trusted {
        roots.add((*cert).clone()).expect("root");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").expect("name");
    let mut tls = connector.connect(name, tcp).await?;
    let (_, session) = tls.get_ref();
    let leaf = session
        .peer_certificates()
        .and_then(|c| c.first())
        .expect("server certificate")
        .clone()
        .into_owned();
    let alpn = session.alpn_protocol().map(<[u8]>::to_vec);
    tls.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await?;
    let mut response = Vec::new();
    tls.read_to_end(&mut response).await?;
    Ok(Seen {
        leaf,
        alpn,
        response: String::from_utf8(response).expect("utf8"),
    })
}
