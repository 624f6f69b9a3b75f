//! HTTP routes of the relay.
//!
//! | route | what |
//! | --- | --- |
//! | `GET /` | the dashboard page |
//! | `GET /stream`, `/stream/proxy` | raw broadcast of the first camera |
//! | `GET /stream/detect` | annotated broadcast of the first camera |
//! | `GET /cams/{name}/stream` | raw broadcast of a camera |
//! | `GET /cams/{name}/stream/detect` | annotated broadcast of a camera |
//! | `GET /cams/{name}/snapshot.jpg` | latest frame (`?fresh=1` waits for the next) |
//! | `GET /cams/{name}/detections` | server-sent detection events |
//! | `GET /cams/{name}/ws`, `/ws` | WebSocket (`?stream=raw|detect`) |
//! | `GET /api/stats` | JSON stats |
//! | `GET /metrics` | Prometheus metrics |
//! | `GET /healthz` | liveness |
//! | `GET`/`POST /login`, `/logout` | dashboard login (token cookie) |
//!
//! | `GET /api/recordings` | recorded spans and events (`?camera=&start=&end=`) |
//! | `GET /cams/{name}/recording.mp4` | MP4 export of a range (`?start=&end=`, `&format=mjpeg`) |
//! | `/api/replay...`, `/replay/...`, `/live/sync/...` | replay sessions and the synced wall |
//!
//! Who may call each route is decided in one place, [`access::ROUTES`], before routing.

pub mod access;
pub mod body;
pub mod recordings;
pub mod replay;
mod snapshot;
pub mod stats;
mod ws;

use std::sync::Arc;

use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use crate::camera::detection_events::DetectionEvents;
use crate::camera::stats::ViewerKind;
use crate::camera::viewer::{self, Viewer};
use crate::camera::Camera;
use crate::frame::FrameMeta;
use crate::state::{ConnInfo, RelayState};
use body::RelayBody;
use mjpeg_serve::quality_tiers::Pins;
use mjpeg_serve::{Refused, TieredViewer};

const DASHBOARD: &str = include_str!("../../assets/dashboard.html");

/// Answers one request.
pub async fn route(
    state: Arc<RelayState>,
    conn: Arc<ConnInfo>,
    req: Request<Incoming>,
) -> Response<RelayBody> {
    let req = match access::gate(&state, req).await {
        Ok(req) => req,
        Err(response) => return response,
    };
    let path = req.uri().path().to_owned();
    let reads = req.method() == Method::GET || req.method() == Method::HEAD;
    if !reads && !path.starts_with("/api/replay") {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            "only GET is supported here\n",
        );
    }
    let query = req.uri().query().unwrap_or("").to_owned();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        [""] => html(DASHBOARD),
        ["healthz"] => text(StatusCode::OK, "ok\n"),
        ["api", "stats"] => json(&stats::visible_stats(&state, &access::grant_of(&req))),
        ["api", "recordings"] => recordings::list(&state, &query).await,
        ["api", "replay"] => replay::api(&state, None, req).await,
        ["api", "replay", id] => replay::api(&state, Some(id), req).await,
        ["replay", id, "ws"] => replay::watch(&state, &conn, Some(id), None, true, req),
        ["replay", id, "cams", name, "stream"] => {
            replay::watch(&state, &conn, Some(id), Some(name), false, req)
        }
        ["replay", id, "cams", name, "ws"] => {
            replay::watch(&state, &conn, Some(id), Some(name), true, req)
        }
        ["live", "sync", "ws"] => replay::watch(&state, &conn, None, None, true, req),
        ["live", "sync", "cams", name, "stream"] => {
            replay::watch(&state, &conn, None, Some(name), false, req)
        }
        ["live", "sync", "cams", name, "ws"] => {
            replay::watch(&state, &conn, None, Some(name), true, req)
        }
        ["metrics"] => {
            let mut response = Response::new(RelayBody::full(state.metrics.encode()));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            response
        }
        ["stream"] | ["stream", "proxy"] => with_first(&state, |cam| {
            mjpeg(&state, &conn, cam, ViewerKind::HttpRaw, &query)
        }),
        ["stream", "detect"] => with_first(&state, |cam| {
            mjpeg(&state, &conn, cam, ViewerKind::HttpDetect, &query)
        }),
        ["ws"] => match state.cameras.first() {
            Some(cam) => ws::upgrade(&state, &conn, cam, &query, req),
            None => no_camera(""),
        },
        ["cams", name, rest @ ..] => {
            let Some(cam) = state.camera(name) else {
                return no_camera(name);
            };
            match rest {
                ["stream"] => mjpeg(&state, &conn, cam, ViewerKind::HttpRaw, &query),
                ["stream", "detect"] => mjpeg(&state, &conn, cam, ViewerKind::HttpDetect, &query),
                ["snapshot.jpg"] => snapshot::snapshot(cam, &query).await,
                ["detections"] => sse(&state, &conn, cam),
                ["ws"] => ws::upgrade(&state, &conn, cam, &query, req),
                ["recording.mp4"] => {
                    let head = req.method() == Method::HEAD;
                    recordings::export(&state, name, &query, head, req.headers()).await
                }
                _ => not_found(&path),
            }
        }
        _ => not_found(&path),
    }
}

fn with_first(
    state: &RelayState,
    f: impl FnOnce(&Arc<Camera>) -> Response<RelayBody>,
) -> Response<RelayBody> {
    match state.cameras.first() {
        Some(cam) => f(cam),
        None => no_camera(""),
    }
}

/// Admits a viewer or answers 503 (the response is the error: boxed, it is the rare path).
pub(crate) fn admit(
    state: &RelayState,
    conn: &ConnInfo,
    camera: &Arc<Camera>,
    kind: ViewerKind,
) -> Result<Viewer, Box<Response<RelayBody>>> {
    if kind.is_detect() && !state.detect_enabled(camera) {
        return Err(Box::new(text(
            StatusCode::NOT_FOUND,
            "detection is disabled for this camera\n",
        )));
    }
    match viewer::admit(camera, &state.admission, kind, state.config.max_frame_age) {
        Ok(viewer) => {
            conn.watching(camera);
            Ok(viewer)
        }
        Err(refused) => {
            let why = match refused {
                Refused::TotalFull => "the relay has reached --max-viewers\n",
                Refused::GroupFull => "this camera has reached --max-viewers-per-camera\n",
            };
            tracing::warn!(camera = %camera.name(), reason = why.trim(), "viewer refused");
            let mut response = text(StatusCode::SERVICE_UNAVAILABLE, why);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            Err(Box::new(response))
        }
    }
}

fn mjpeg(
    state: &RelayState,
    conn: &ConnInfo,
    camera: &Arc<Camera>,
    kind: ViewerKind,
    query: &str,
) -> Response<RelayBody> {
    let pins = match quality_pins(query, kind) {
        Ok(pins) => pins,
        Err(response) => return *response,
    };
    let viewer = match admit(state, conn, camera, kind) {
        Ok(viewer) => viewer,
        Err(response) => return *response,
    };
    match pins {
        None => mjpeg_response(state, conn, viewer),
        Some(pins) => {
            let viewer = tiered(state, conn, camera, viewer, pins);
            let body = RelayBody::Tiered(Box::new(mjpeg_serve::MjpegBody::tiered(viewer)));
            mjpeg_serve::stream_response(body, mjpeg_serve::content_type())
        }
    }
}

/// A raw viewer's quality pins (`?quality=original|high|medium|low|auto`, `?maxfps=N`; the
/// camera's own bytes when absent): `None` for the plain path, or a 400 that says what is
/// wrong. Annotated streams have no tiers.
pub(crate) fn quality_pins(
    query: &str,
    kind: ViewerKind,
) -> Result<Option<Pins>, Box<Response<RelayBody>>> {
    let pins = Pins::of_stream(query)
        .map_err(|error| Box::new(text(StatusCode::BAD_REQUEST, format!("{error}\n"))))?;
    Ok(pins.filter(|_| !kind.is_detect()))
}

/// An admitted raw viewer served from its camera's quality tiers by `pins`.
pub(crate) fn tiered(
    state: &RelayState,
    conn: &ConnInfo,
    camera: &Camera,
    viewer: Viewer,
    pins: Pins,
) -> TieredViewer<FrameMeta> {
    let tiers = camera.tiers().clone();
    TieredViewer::admit(tiers, viewer, pacer_for(state, conn), pins, conn.probe())
}

/// The pacer of a viewer on this connection, unless pacing is off (`--no-pacing`).
pub(crate) fn pacer_for(state: &RelayState, conn: &ConnInfo) -> Option<mjpeg_serve::Pacer> {
    state
        .config
        .pace_slow_viewers
        .then(|| conn.pacer())
        .flatten()
}

/// The MJPEG response of an admitted viewer (live, replay or wall).
pub(crate) fn mjpeg_response(
    state: &RelayState,
    conn: &ConnInfo,
    viewer: Viewer,
) -> Response<RelayBody> {
    let body = RelayBody::mjpeg(viewer, pacer_for(state, conn));
    mjpeg_serve::stream_response(body, mjpeg_serve::content_type())
}

fn sse(state: &RelayState, conn: &ConnInfo, camera: &Arc<Camera>) -> Response<RelayBody> {
    let viewer = match admit(state, conn, camera, ViewerKind::Sse) {
        Ok(viewer) => viewer,
        Err(response) => return *response,
    };
    let body = RelayBody::Sse(DetectionEvents::new(viewer));
    mjpeg_serve::stream_response(body, "text/event-stream")
}

pub(crate) fn text(status: StatusCode, body: impl Into<bytes::Bytes>) -> Response<RelayBody> {
    let mut response = Response::new(RelayBody::full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn html(page: impl Into<bytes::Bytes>) -> Response<RelayBody> {
    let mut response = Response::new(RelayBody::full(page));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

pub(crate) fn json<T: serde::Serialize>(value: &T) -> Response<RelayBody> {
    let body = serde_json::to_vec_pretty(value).unwrap_or_default();
    let mut response = Response::new(RelayBody::full(body));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

pub(crate) fn no_camera(name: &str) -> Response<RelayBody> {
    text(
        StatusCode::NOT_FOUND,
        format!("unknown camera {name:?}; see /api/stats for the configured cameras\n"),
    )
}

fn not_found(path: &str) -> Response<RelayBody> {
    text(
        StatusCode::NOT_FOUND,
        format!("no route {path:?}; try /, /stream, /cams/NAME/stream, /api/stats\n"),
    )
}
