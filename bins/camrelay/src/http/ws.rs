//! WebSocket viewers: `GET /cams/{name}/ws?stream=raw|detect`. Per frame a JSON text message
//! (frame id, camera time, detections) then the JPEG as one binary message. Same queue rules as
//! the MJPEG viewers: the viewer's own bounded queue, nobody waits for a slow socket.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use http::{header, HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::body::RelayBody;
use super::{admit, text};
use crate::camera::stats::ViewerKind;
use crate::camera::Camera;
use crate::pacing::PacedViewer;
use crate::server::{ConnInfo, RelayState};

/// Largest message a client may send (it has nothing to say beyond small control text).
const MAX_CLIENT_MESSAGE: usize = 4 * 1024;
/// How often the server pings.
const PING_EVERY: Duration = Duration::from_secs(15);
/// A client that answered no ping for this long is gone.
const PONG_TIMEOUT: Duration = Duration::from_secs(45);

pub(super) fn upgrade(
    state: &Arc<RelayState>,
    conn: &ConnInfo,
    camera: &Arc<Camera>,
    query: &str,
    mut req: Request<Incoming>,
) -> Response<RelayBody> {
    let kind = if query.split('&').any(|kv| kv == "stream=detect") {
        ViewerKind::WsDetect
    } else {
        ViewerKind::WsRaw
    };
    let headers = req.headers();
    let upgrade_ok = headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let Some(key) = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .filter(|_| upgrade_ok)
    else {
        return text(
            StatusCode::BAD_REQUEST,
            "this is a WebSocket endpoint: send Upgrade: websocket\n",
        );
    };
    let accept = derive_accept_key(key.as_bytes());
    let viewer = match admit(state, conn, camera, kind) {
        Ok(viewer) => viewer,
        Err(response) => return *response,
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    let write_timeout = state.config.write_timeout;
    let pacer = if state.config.pace_slow_viewers {
        conn.pacer()
    } else {
        None
    };
    let viewer = PacedViewer::new(viewer, pacer);
    let stream_name = if kind.is_detect() { "detect" } else { "raw" };
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let config = WebSocketConfig::default()
                    .max_message_size(Some(MAX_CLIENT_MESSAGE))
                    .max_frame_size(Some(MAX_CLIENT_MESSAGE));
                let ws = WebSocketStream::from_raw_socket(
                    TokioIo::new(upgraded),
                    Role::Server,
                    Some(config),
                )
                .await;
                serve(ws, viewer, stream_name, write_timeout).await;
            }
            Err(error) => tracing::debug!(%error, "WebSocket upgrade failed"),
        }
    });
    let mut response = Response::new(RelayBody::Full(None));
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(value) = HeaderValue::from_str(&accept) {
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, value);
    }
    response
}

async fn serve<S>(
    ws: WebSocketStream<S>,
    mut viewer: PacedViewer,
    stream_name: &'static str,
    write_timeout: Duration,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (mut sink, mut incoming) = ws.split();
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.reset();
    let mut last_heard = Instant::now();
    let camera = viewer.viewer().camera().clone();
    let close = loop {
        tokio::select! {
            frame = viewer.next_frame() => {
                let Some(frame) = frame else {
                    break Some(CloseFrame { code: CloseCode::Away, reason: "relay shutting down".into() });
                };
                let meta = frame.ws_meta(camera.name(), stream_name).to_owned();
                let send = async {
                    sink.feed(Message::Text(meta.into())).await?;
                    sink.send(Message::Binary(frame.jpeg.clone())).await
                };
                match tokio::time::timeout(write_timeout, send).await {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => {
                        tracing::debug!(%error, "WebSocket viewer write failed");
                        break None;
                    }
                    Err(_) => {
                        camera.stats.evicted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        tracing::warn!(camera = %camera.name(), "WebSocket viewer evicted: write timeout");
                        break None;
                    }
                }
            }
            message = incoming.next() => match message {
                Some(Ok(Message::Close(_))) | None => break None,
                Some(Ok(Message::Binary(_))) => break Some(CloseFrame {
                    code: CloseCode::Unsupported,
                    reason: "clients send no binary messages".into(),
                }),
                Some(Ok(_)) => last_heard = Instant::now(),
                Some(Err(error)) => {
                    tracing::debug!(%error, "WebSocket viewer sent a bad message; closing");
                    break Some(CloseFrame { code: CloseCode::Policy, reason: "bad message".into() });
                }
            },
            _ = ping.tick() => {
                if last_heard.elapsed() > PONG_TIMEOUT {
                    break Some(CloseFrame { code: CloseCode::Away, reason: "ping timeout".into() });
                }
                if sink.send(Message::Ping(Default::default())).await.is_err() {
                    break None;
                }
            }
        }
    };
    if let Some(frame) = close {
        let _ = tokio::time::timeout(
            Duration::from_secs(1),
            sink.send(Message::Close(Some(frame))),
        )
        .await;
    }
}
