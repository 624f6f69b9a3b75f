//! A relay-shaped HTTP server guarded by relay-auth: how the binary wires it.
//!
//! ```sh
//! cargo run -p relay-auth --example guarded_server                   # http://127.0.0.1:8080
//! cargo run -p relay-auth --example guarded_server -- cert.pem key.pem  # https://127.0.0.1:8443
//! curl -i localhost:8080/healthz                                     # 200, no token needed
//! curl -i localhost:8080/snapshot/door                               # 401
//! curl -i 'localhost:8080/snapshot/door?token=viewer-0123456789abcdef' # 200
//! curl -i -X POST -H 'Authorization: Bearer viewer-0123456789abcdef' localhost:8080/control/door  # 403
//! curl -i -X POST -H 'Authorization: Bearer admin-0123456789abcdef' localhost:8080/control/door   # 200
//! ```

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use relay_auth::tls::{spawn_reload_on_sighup, ReloadableTls, TlsFiles};
use relay_auth::{login, AuthConfig, Denied, Need, TokenStore};

const CAMERAS: &[&str] = &["door", "garden"];

async fn handle(
    store: Arc<TokenStore>,
    secure: bool,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    // Which role each route needs; routes without an entry need none.
    let need = match (req.method(), segments.as_slice()) {
        (&Method::GET, ["healthz"]) => return Ok(text(StatusCode::OK, "ok\n".into())),
        (&Method::GET, ["login"]) => return Ok(html(login::login_page(false))),
        (&Method::POST, ["login"]) => {
            let body = req.into_body().collect().await.map(|b| b.to_bytes());
            let token = body.ok().and_then(|b| login::login_token_from_form(&b));
            return Ok(
                match token.filter(|t| store.check_login_token(t).is_some()) {
                    Some(token) => Response::builder()
                        .status(StatusCode::SEE_OTHER)
                        .header(header::LOCATION, "./")
                        .header(header::SET_COOKIE, login::login_cookie(&token, secure))
                        .body(Full::default())
                        .unwrap_or_default(),
                    None => {
                        let mut page = html(login::login_page(true));
                        *page.status_mut() = StatusCode::UNAUTHORIZED;
                        page
                    }
                },
            );
        }
        (&Method::GET, [""]) => Need::view(None),
        (&Method::GET, ["metrics"]) => Need::metrics(),
        (&Method::GET, ["snapshot", camera]) => Need::view(Some(camera)),
        (&Method::POST, ["control", camera]) => Need::admin(Some(camera)),
        _ => return Ok(text(StatusCode::NOT_FOUND, "not found\n".into())),
    };
    let grant = match store.authorize(&req, need) {
        Ok(grant) => grant,
        Err(denied) => return Ok(denied.response()),
    };
    // An unknown camera answers like a forbidden one: nothing says which cameras exist.
    if let Some(camera) = need.camera() {
        if !CAMERAS.contains(&camera) {
            return Ok(Denied::Forbidden.response());
        }
    }
    let visible: Vec<&str> = CAMERAS
        .iter()
        .copied()
        .filter(|c| grant.allows_camera(c))
        .collect();
    Ok(text(
        StatusCode::OK,
        format!("{} {path} as {grant}; cameras: {visible:?}\n", req.method()),
    ))
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
}

fn html(page: String) -> Response<Full<Bytes>> {
    let mut response = text(StatusCode::OK, page);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let store = Arc::new(TokenStore::from_parts(
        &AuthConfig::default(),
        &["admin-0123456789abcdef".to_owned()],
        &["viewer-0123456789abcdef".to_owned()],
        Some("metrics-0123456789abcdef"),
    )?);
    let tls = match args.as_slice() {
        [cert, key] => Some(Arc::new(ReloadableTls::load(TlsFiles::new(cert, key))?)),
        _ => None,
    };
    if let Some(tls) = &tls {
        spawn_reload_on_sighup(tls.clone())?;
    }
    let port = if tls.is_some() { 8443 } else { 8080 };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    relay_auth::warn_if_exposed(addr, &store);
    tracing::info!(%addr, tls = tls.is_some(), "listening");
    loop {
        let (tcp, _) = listener.accept().await?;
        let store = store.clone();
        let acceptor = tls.as_ref().map(|t| t.acceptor());
        tokio::spawn(async move {
            let secure = acceptor.is_some();
            let service = service_fn(move |req| handle(store.clone(), secure, req));
            let http = hyper::server::conn::http1::Builder::new();
            let served = match acceptor {
                Some(acceptor) => match acceptor.accept(tcp).await {
                    Ok(stream) => http.serve_connection(TokioIo::new(stream), service).await,
                    Err(error) => return tracing::debug!(%error, "TLS handshake failed"),
                },
                None => http.serve_connection(TokioIo::new(tcp), service).await,
            };
            if let Err(error) = served {
                tracing::debug!(%error, "connection ended");
            }
        });
    }
}
