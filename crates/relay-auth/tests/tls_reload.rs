//! HTTPS through the reloadable acceptor: serve, reload with a new certificate, refuse a
//! broken one and keep serving the old.

mod common;

use std::sync::Arc;

use common::{fetch, fetch_offering, self_signed, serve, temp_dir, write_pair, BODY};
use relay_auth::tls::{ReloadableTls, TlsFiles};
use relay_auth::ErrorKind;

#[tokio::test]
async fn serves_then_reloads_and_keeps_old_on_error() {
    let dir = temp_dir("reload");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let first = self_signed();
    write_pair(&cert, &key, &first);
    let tls = Arc::new(ReloadableTls::load(TlsFiles::new(&cert, &key)).expect("load"));
    assert_eq!(tls.generation(), 1);
    let addr = serve(tls.clone()).await;

    let seen = fetch(addr, &[&first.2]).await.expect("first connection");
    assert_eq!(seen.leaf, first.2);
    assert_eq!(seen.alpn.as_deref(), Some(&b"http/1.1"[..]));
    assert!(
        seen.response.starts_with("HTTP/1.1 200 OK\r\n"),
        "{}",
        seen.response
    );
    assert!(seen.response.ends_with(BODY), "{}", seen.response);

    // A new certificate: new connections see it, a client trusting only the old one fails.
    let second = self_signed();
    write_pair(&cert, &key, &second);
    assert_eq!(tls.reload().expect("reload"), 2);
    let seen = fetch(addr, &[&first.2, &second.2])
        .await
        .expect("after reload");
    assert_eq!(seen.leaf, second.2);
    assert!(seen.response.ends_with(BODY));
    assert!(
        fetch(addr, &[&first.2]).await.is_err(),
        "old certificate still served"
    );

    // A broken key file: the reload fails and the second certificate stays.
    std::fs::write(
        &key,
        "-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----\n",
    )
    .expect("write");
    let err = tls.reload().expect_err("broken key");
    assert_eq!(err.kind(), ErrorKind::TlsPem);
    assert!(err.to_string().contains("key.pem"), "{err}");
    assert_eq!(tls.generation(), 2);
    let seen = fetch(addr, &[&second.2]).await.expect("still serving");
    assert_eq!(seen.leaf, second.2);

    // A key that is not the certificate's: rustls refuses it, old one stays.
    let third = self_signed();
    std::fs::write(&cert, &third.0).expect("write");
    std::fs::write(&key, &first.1).expect("write");
    let err = tls.reload().expect_err("mismatched key");
    assert_eq!(err.kind(), ErrorKind::TlsConfig);
    // No key at all.
    std::fs::write(&key, "").expect("write");
    assert_eq!(
        tls.reload().expect_err("empty key").kind(),
        ErrorKind::TlsPem
    );
    // No certificate at all.
    std::fs::write(&cert, "").expect("write");
    assert_eq!(
        tls.reload().expect_err("empty cert").kind(),
        ErrorKind::TlsPem
    );
    let seen = fetch(addr, &[&second.2]).await.expect("still serving");
    assert_eq!(seen.leaf, second.2);

    // Cert and key in one file work too.
    let both = dir.join("both.pem");
    std::fs::write(&both, format!("{}{}", third.0, third.1)).expect("write");
    let one_file = ReloadableTls::load(TlsFiles::new(&both, &both)).expect("one file");
    assert_eq!(one_file.generation(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn alpn_is_http11_only() {
    let dir = temp_dir("alpn");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let pair = self_signed();
    write_pair(&cert, &key, &pair);
    let tls = Arc::new(ReloadableTls::load(TlsFiles::new(&cert, &key)).expect("load"));
    assert_eq!(
        tls.server_config().alpn_protocols,
        vec![b"http/1.1".to_vec()]
    );
    let addr = serve(tls).await;
    // A client that offers only h2 is refused (no common protocol, RFC 7301)...
    assert!(fetch_offering(addr, &[&pair.2], &[b"h2"]).await.is_err());
    // ...one that offers no ALPN at all gets HTTP/1.1.
    let seen = fetch_offering(addr, &[&pair.2], &[])
        .await
        .expect("no ALPN");
    assert_eq!(seen.alpn, None);
    assert!(seen.response.ends_with(BODY));
    let _ = std::fs::remove_dir_all(&dir);
}
