//! Access control and TLS end to end (#21): every row of the relay's route table with no
//! token, a viewer of another camera, a viewer and an admin; the three ways to pass a token;
//! and HTTPS with a self-signed certificate.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use camrelay::config::{CameraConfig, RelayConfig, SourceSpec};
use camrelay::http::access::{Access, ROUTES};
use camrelay_suite::{get_over, serial, start_relay};
use futures_util::StreamExt;
use http::{header, HeaderMap, Method, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use relay_auth::{Role, TokenConfig, FORBIDDEN_BODY, UNAUTHENTICATED_BODY};
use tokio::net::TcpStream;

const ADMIN: &str = "admin-token-0123456789abcdef";
const VIEWER: &str = "viewer-token-0123456789abcdef";
const GARDEN_VIEWER: &str = "garden-viewer-0123456789abcdef";
const METRICS: &str = "metrics-token-0123456789abcdef";

fn demo(name: &str) -> CameraConfig {
    CameraConfig::new(name, SourceSpec::Demo)
}

fn with_tokens(config: &mut RelayConfig) {
    config.detect = false;
    config.access.admin_tokens = vec![ADMIN.into()];
    config.access.viewer_tokens = vec![VIEWER.into()];
    config.access.metrics_token = Some(METRICS.into());
    let mut garden = TokenConfig::new(GARDEN_VIEWER, Role::Viewer);
    garden.cameras = Some(vec!["garden".into()]);
    config.access.file.tokens = vec![garden];
}

/// Sends one request on a fresh connection; the body is left unread (streams never end).
async fn send(
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(header::HeaderName, String)],
    body: &str,
) -> (StatusCode, HeaderMap, Incoming) {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(connection);
    let mut request = http::Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, addr.to_string());
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let request = request
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap();
    let response = tokio::time::timeout(Duration::from_secs(10), sender.send_request(request))
        .await
        .expect("no answer within 10 s")
        .unwrap();
    let (parts, body) = response.into_parts();
    (parts.status, parts.headers, body)
}

async fn text_of(body: Incoming) -> String {
    let bytes = tokio::time::timeout(Duration::from_secs(10), body.collect())
        .await
        .expect("body within 10 s")
        .unwrap()
        .to_bytes();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn bearer(token: &str) -> Vec<(header::HeaderName, String)> {
    vec![(header::AUTHORIZATION, format!("Bearer {token}"))]
}

/// A GET of the row's path, with WebSocket upgrade headers for `/ws` rows.
async fn get_row(
    addr: SocketAddr,
    path: &str,
    token: Option<&str>,
) -> (StatusCode, HeaderMap, Incoming) {
    let mut headers = token.map(bearer).unwrap_or_default();
    if path.ends_with("/ws") {
        headers.extend([
            (header::CONNECTION, "Upgrade".to_owned()),
            (header::UPGRADE, "websocket".to_owned()),
            (header::SEC_WEBSOCKET_VERSION, "13".to_owned()),
            (
                header::SEC_WEBSOCKET_KEY,
                "dGhlIHNhbXBsZSBub25jZQ==".to_owned(),
            ),
        ]);
    }
    send(addr, Method::GET, path, &headers, "").await
}

fn row_path(pattern: &str, access: Access) -> String {
    let path = pattern.replace("{camera}", "door");
    if access == Access::ViewerOfQuery {
        format!("{path}?camera=door")
    } else {
        path
    }
}

fn allowed(status: StatusCode) -> bool {
    status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN
}

#[tokio::test]
async fn every_route_in_the_table_is_guarded() {
    let _serial = serial().await;
    let relay = start_relay(vec![demo("door"), demo("garden")], with_tokens).await;
    let addr = relay.local_addr();
    for spec in ROUTES.iter().filter(|s| s.method == "GET") {
        let path = row_path(spec.pattern, spec.access);
        let camera_route = matches!(
            spec.access,
            Access::ViewerOfFirst
                | Access::ViewerOfPath
                | Access::ViewerOfQuery
                | Access::AdminOfPath
        );
        let viewer_route = matches!(
            spec.access,
            Access::Viewer | Access::ViewerOfFirst | Access::ViewerOfPath | Access::ViewerOfQuery
        );

        let (status, _, body) = get_row(addr, &path, None).await;
        if spec.access == Access::Open {
            assert!(allowed(status), "{path} without a token: {status}");
        } else {
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path} without a token");
            let body = text_of(body).await;
            if path == "/" {
                assert!(body.contains("<form"), "/ shows the login page: {body}");
            } else {
                assert_eq!(body, UNAUTHENTICATED_BODY, "{path}");
            }
        }

        let (status, _, body) = get_row(addr, &path, Some(GARDEN_VIEWER)).await;
        if camera_route || spec.access == Access::Metrics {
            assert_eq!(status, StatusCode::FORBIDDEN, "{path} as garden viewer");
            assert_eq!(text_of(body).await, FORBIDDEN_BODY, "{path}");
        } else {
            assert!(allowed(status), "{path} as garden viewer: {status}");
        }

        let (status, _, _) = get_row(addr, &path, Some(VIEWER)).await;
        if viewer_route || spec.access == Access::Open {
            assert!(allowed(status), "{path} as viewer: {status}");
        } else {
            assert_eq!(status, StatusCode::FORBIDDEN, "{path} as viewer");
        }

        let (status, _, _) = get_row(addr, &path, Some(ADMIN)).await;
        assert!(allowed(status), "{path} as admin: {status}");
    }

    // Live routes a viewer gets: the stream, the WebSocket, the stats.
    for (path, want) in [
        ("/cams/door/stream", StatusCode::OK),
        ("/stream", StatusCode::OK),
        ("/cams/door/ws", StatusCode::SWITCHING_PROTOCOLS),
        ("/api/stats", StatusCode::OK),
        ("/", StatusCode::OK),
    ] {
        let (status, _, _) = get_row(addr, path, Some(VIEWER)).await;
        assert_eq!(status, want, "{path} as viewer");
    }
    let (status, _, _) = get_row(addr, "/metrics", Some(METRICS)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = get_row(addr, "/cams/door/stream", Some(METRICS)).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "the metrics token watches nothing"
    );

    relay.shutdown().await;
}

#[tokio::test]
async fn unknown_cameras_and_paths_say_nothing() {
    let _serial = serial().await;
    let relay = start_relay(vec![demo("door"), demo("garden")], with_tokens).await;
    let addr = relay.local_addr();
    // An unknown camera looks exactly like a forbidden one.
    let (status, _, body) = get_row(addr, "/cams/door/stream", Some(GARDEN_VIEWER)).await;
    let forbidden = (status, text_of(body).await);
    for token in [GARDEN_VIEWER, VIEWER] {
        let (status, _, body) = get_row(addr, "/cams/nosuch/stream", Some(token)).await;
        assert_eq!((status, text_of(body).await), forbidden);
    }
    assert!(!forbidden.1.contains("door"));
    // Unknown paths: 401 without a token, 404 only for an admin.
    let (status, _, _) = get_row(addr, "/no/such/route", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = get_row(addr, "/no/such/route", Some(ADMIN)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // State-changing methods need an admin.
    let (status, _, _) = send(addr, Method::POST, "/cams/door/stream", &bearer(VIEWER), "").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = send(addr, Method::POST, "/cams/door/stream", &bearer(ADMIN), "").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    // /api/stats lists only the cameras the token may watch.
    let (_, _, body) = get_row(addr, "/api/stats", Some(GARDEN_VIEWER)).await;
    let stats: serde_json::Value = serde_json::from_str(&text_of(body).await).unwrap();
    let names: Vec<&str> = stats["cameras"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["garden"]);
    relay.shutdown().await;
}

#[tokio::test]
async fn tokens_pass_as_query_bearer_or_login_cookie() {
    let _serial = serial().await;
    let relay = start_relay(vec![demo("door")], with_tokens).await;
    let addr = relay.local_addr();
    // ?token= (an <img> embed).
    let path = format!("/cams/door/stream?token={VIEWER}");
    let (status, _, _) = send(addr, Method::GET, &path, &[], "").await;
    assert_eq!(status, StatusCode::OK);
    // Bearer.
    let (status, _, _) = send(addr, Method::GET, "/api/stats", &bearer(VIEWER), "").await;
    assert_eq!(status, StatusCode::OK);
    // The login form: a bad token gets the page again, a good one a cookie.
    let form = [(
        header::CONTENT_TYPE,
        "application/x-www-form-urlencoded".to_owned(),
    )];
    let (status, _, body) = send(addr, Method::POST, "/login", &form, "token=wrong").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(text_of(body).await.contains("<form"));
    let (status, headers, _) = send(
        addr,
        Method::POST,
        "/login",
        &form,
        &format!("token={VIEWER}"),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        headers[header::LOCATION],
        "./",
        "relative: works under a path prefix"
    );
    let cookie = headers[header::SET_COOKIE].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let with_cookie = [(header::COOKIE, cookie)];
    let (status, _, body) = send(addr, Method::GET, "/", &with_cookie, "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!text_of(body).await.contains("Access token"));
    let (status, _, _) = send(addr, Method::GET, "/cams/door/stream", &with_cookie, "").await;
    assert_eq!(status, StatusCode::OK);
    // The dashboard asks how it is logged in (to show its logout button).
    let session = |headers: Vec<(header::HeaderName, String)>| async move {
        let (status, _, body) = send(addr, Method::GET, "/api/session", &headers, "").await;
        assert_eq!(status, StatusCode::OK);
        serde_json::from_str::<serde_json::Value>(&text_of(body).await).unwrap()
    };
    let by_cookie = session(with_cookie.to_vec()).await;
    assert_eq!(by_cookie["tokens_required"], true);
    assert_eq!(by_cookie["login"], "cookie");
    assert_eq!(by_cookie["role"], "viewer");
    assert_eq!(session(bearer(ADMIN)).await["login"], "bearer");
    assert_eq!(session(bearer(ADMIN)).await["role"], "admin");
    let anonymous = session(Vec::new()).await;
    assert_eq!(anonymous["tokens_required"], true);
    assert_eq!(anonymous["login"], serde_json::Value::Null);
    assert_eq!(
        session(bearer("wrong-0123456789abcdef")).await["login"],
        serde_json::Value::Null
    );
    // Logging out clears the cookie.
    let (status, headers, _) = send(addr, Method::POST, "/logout", &with_cookie, "").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    relay.shutdown().await;
}

#[tokio::test]
async fn without_tokens_everything_is_open_as_before() {
    let _serial = serial().await;
    let relay = start_relay(vec![demo("door")], |c| c.detect = false).await;
    let addr = relay.local_addr();
    for path in ["/", "/api/stats", "/metrics", "/cams/door/stream"] {
        let (status, _, _) = send(addr, Method::GET, path, &[], "").await;
        assert_eq!(status, StatusCode::OK, "{path}");
    }
    let (status, _, _) = send(addr, Method::GET, "/cams/nosuch/stream", &[], "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, body) = send(addr, Method::GET, "/api/session", &[], "").await;
    assert_eq!(status, StatusCode::OK);
    let session: serde_json::Value = serde_json::from_str(&text_of(body).await).unwrap();
    assert_eq!(session["tokens_required"], false);
    relay.shutdown().await;
}

#[tokio::test]
async fn https_serves_health_and_a_stream() {
    let _serial = serial().await;
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let dir = std::env::temp_dir().join(format!("camrelay-access-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    let files = relay_auth::tls::TlsFiles::new(&cert, &key);
    let relay = start_relay(vec![demo("door")], |c| {
        c.detect = false;
        c.access.tls = Some(files);
    })
    .await;
    let addr = relay.local_addr();

    let mut roots = rustls::RootCertStore::empty();
    roots.add(made.cert.der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let connect = || async {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        connector.connect(name, tcp).await.unwrap()
    };

    let (status, _, body) = get_over(connect().await, addr, "/healthz").await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(text_of(body).await, "ok\n");

    let (status, headers, body) = get_over(connect().await, addr, "/cams/door/stream")
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK);
    let content_type = headers[header::CONTENT_TYPE].to_str().unwrap();
    let decoder = mjpeg_codec::MjpegDecoder::from_content_type(
        content_type,
        mjpeg_codec::DecoderConfig::default(),
    );
    let mut parts = mjpeg_codec::body_stream(body, decoder);
    let mut jpegs = 0;
    while jpegs < 3 {
        let part = tokio::time::timeout(Duration::from_secs(10), parts.next())
            .await
            .expect("a frame within 10 s")
            .expect("stream open");
        if let Ok(part) = part {
            assert!(part.into_body().starts_with(&[0xFF, 0xD8]), "a JPEG");
            jpegs += 1;
        }
    }
    // A plain-HTTP client gets no answer from the TLS port.
    let plain = get_over(TcpStream::connect(addr).await.unwrap(), addr, "/healthz").await;
    assert!(plain.is_err());

    relay.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
