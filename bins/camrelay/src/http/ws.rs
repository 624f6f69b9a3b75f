//! WebSocket viewers: `GET /cams/{name}/ws?stream=raw|detect`. The handshake is here; the
//! connection is `mjpeg-serve`'s [`ws::serve`]: per frame a JSON text message (frame id, camera
//! time, detections) then the JPEG as one binary message, in one vectored write, with the same
//! queue, age and pacing rules as the MJPEG viewers.

use std::sync::Arc;

use http::{header, HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use mjpeg_serve::{ws, ErrorKind, FrameSource, PacedViewer};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use super::body::RelayBody;
use super::{admit, text};
use crate::camera::stats::ViewerKind;
use crate::camera::Camera;
use crate::frame::FrameMeta;
use crate::state::{ConnInfo, RelayState};

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
    let accept = match accept_key(&req) {
        Ok(accept) => accept,
        Err(response) => return *response,
    };
    let pins = match super::quality_pins(query, kind) {
        Ok(pins) => pins,
        Err(response) => return *response,
    };
    let viewer = match admit(state, conn, camera, kind) {
        Ok(viewer) => viewer,
        Err(response) => return *response,
    };
    let stream = if kind.is_detect() { "detect" } else { "raw" };
    match pins {
        None => {
            let viewer = PacedViewer::new(viewer, super::pacer_for(state, conn));
            serve(state, &mut req, viewer, camera.name(), stream, accept)
        }
        Some(pins) => {
            let viewer = super::tiered(state, conn, camera, viewer, pins);
            serve(state, &mut req, viewer, camera.name(), stream, accept)
        }
    }
}

/// The `Sec-WebSocket-Accept` value of an upgrade request, or a 400.
pub(super) fn accept_key<B>(req: &Request<B>) -> Result<String, Box<Response<RelayBody>>> {
    let headers = req.headers();
    let upgrade_ok = headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    match headers
        .get(header::SEC_WEBSOCKET_KEY)
        .filter(|_| upgrade_ok)
    {
        Some(key) => Ok(derive_accept_key(key.as_bytes())),
        None => Err(Box::new(text(
            StatusCode::BAD_REQUEST,
            "this is a WebSocket endpoint: send Upgrade: websocket\n",
        ))),
    }
}

/// Answers 101 and serves `viewer` (paced, or on quality tiers) over the upgraded connection
/// (`camera`, `stream` and each frame's tier go into its JSON).
pub(super) fn serve<V>(
    state: &RelayState,
    req: &mut Request<Incoming>,
    viewer: V,
    camera: &str,
    stream: &'static str,
    accept: String,
) -> Response<RelayBody>
where
    V: FrameSource<FrameMeta> + Send + 'static,
{
    let on_upgrade = hyper::upgrade::on(req);
    let config = ws::WsConfig {
        write_timeout: state.config.write_timeout,
        ..ws::WsConfig::default()
    };
    let camera = camera.to_owned();
    tokio::spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(upgraded) => upgraded,
            Err(error) => return tracing::debug!(%error, "WebSocket upgrade failed"),
        };
        let text =
            |frame: &crate::frame::Frame, tier| crate::frame::ws_text(frame, &camera, stream, tier);
        match ws::serve_source(TokioIo::new(upgraded), viewer, text, &config).await {
            Ok(()) => {}
            Err(error) if error.kind() == ErrorKind::WriteTimeout => {
                tracing::warn!(%camera, "WebSocket viewer evicted: write timeout")
            }
            Err(error) => {
                tracing::debug!(%camera, %error, "WebSocket viewer closed")
            }
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
