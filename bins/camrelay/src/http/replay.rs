//! Replay routes (issue #17, `docs/api.md`): `archive-replay`'s [`ReplayService`] over the
//! relay's archive. A replay session is a virtual camera: its viewers are ordinary
//! `mjpeg-serve` viewers (MJPEG or WebSocket) of the session's broadcasts.
//!
//! * `POST /api/replay` `{"cameras": [...], "start": T, "rate": R}` → 201 with the streams;
//! * `GET|POST|DELETE /api/replay/ID`: state, a control action, end;
//! * `GET /replay/ID/cams/NAME/stream` (MJPEG), `/replay/ID/cams/NAME/ws` and
//!   `/replay/ID/ws?camera=NAME` (WebSocket; the session's first camera by default).

use archive_replay::api::{Answer, CameraAccess, Refused};
use archive_replay::ReplayService;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use relay_auth::routes::query_param;
use relay_auth::Denied;

use super::body::RelayBody;
use super::{access, text, ws};
use crate::frame::FrameMeta;
use crate::state::{ConnInfo, RelayState};

/// Largest request body the replay API reads.
const MAX_BODY: usize = 16 * 1024;

/// The relay's replay service.
pub type Replay = ReplayService<FrameMeta>;

fn error_response(error: &archive_replay::Error) -> Response<RelayBody> {
    Answer::error(error).into_response().map(RelayBody::full)
}

fn service(state: &RelayState) -> Result<&Replay, Box<Response<RelayBody>>> {
    state.replay.as_ref().ok_or_else(|| {
        Box::new(text(
            StatusCode::NOT_FOUND,
            "replay needs recording (start with --record DIR or a [record] table)\n",
        ))
    })
}

/// `/api/replay` and `/api/replay/ID`: `archive-replay`'s API; starting a session needs an
/// admin of every camera it names (an unknown camera answers like a forbidden one once
/// tokens are configured).
pub async fn api(
    state: &RelayState,
    id: Option<&str>,
    req: Request<Incoming>,
) -> Response<RelayBody> {
    let replay = match service(state) {
        Ok(replay) => replay,
        Err(response) => return *response,
    };
    let grant = access::grant_of(&req);
    let method = req.method().clone();
    let body = if method == Method::POST {
        match Limited::new(req.into_body(), MAX_BODY).collect().await {
            Ok(body) => body.to_bytes(),
            Err(_) => {
                let why = format!("the body must be JSON of at most {MAX_BODY} bytes\n");
                return text(StatusCode::PAYLOAD_TOO_LARGE, why);
            }
        }
    } else {
        Bytes::new()
    };
    let camera_access = |camera: &str| {
        let known = state.camera(camera).is_some();
        let admin_of = known && grant.is_admin() && grant.allows_camera(camera);
        if !(grant.is_open() || admin_of) {
            CameraAccess::Forbidden
        } else if known {
            CameraAccess::Allowed
        } else {
            CameraAccess::Unknown
        }
    };
    match replay.answer(&method, id, &body, camera_access).await {
        Ok(answer) => answer.into_response().map(RelayBody::full),
        Err(Refused::Forbidden(_)) => access::denied_response(Denied::Forbidden),
        Err(Refused::UnknownCamera(camera)) => super::no_camera(&camera),
    }
}

/// `GET /replay/ID/cams/NAME/stream`, `/replay/ID/cams/NAME/ws` and `/replay/ID/ws`; with
/// `id` `None`, the synchronized live wall: `/live/sync/cams/NAME/stream`, `.../ws` and
/// `/live/sync/ws?camera=NAME`.
pub fn watch(
    state: &RelayState,
    conn: &ConnInfo,
    id: Option<&str>,
    camera: Option<&str>,
    websocket: bool,
    mut req: Request<Incoming>,
) -> Response<RelayBody> {
    let result = (|| {
        let query_camera = query_param(req.uri().query().unwrap_or(""), "camera");
        let camera = match (camera.or(query_camera), id) {
            (Some(camera), _) => camera.to_owned(),
            (None, Some(id)) => {
                let cameras = service(state)?.cameras(id);
                let cameras = cameras.map_err(|e| Box::new(error_response(&e)))?;
                cameras.into_iter().next().unwrap_or_default()
            }
            (None, None) => state
                .cameras
                .first()
                .map(|c| c.name().to_owned())
                .unwrap_or_default(),
        };
        if !access::grant_of(&req).allows_camera(&camera) {
            return Err(Box::new(access::denied_response(Denied::Forbidden)));
        }
        let accept = if websocket {
            Some(ws::accept_key(&req)?)
        } else {
            None
        };
        let full = |_| {
            Box::new(text(
                StatusCode::SERVICE_UNAVAILABLE,
                "the relay has reached --max-viewers\n",
            ))
        };
        let (max_age, admission) = (state.config.max_frame_age, &state.admission);
        let (viewer, label) = match id {
            Some(id) => {
                let subscription = service(state)?.subscribe(id, &camera);
                let subscription = subscription.map_err(|e| Box::new(error_response(&e)))?;
                (
                    subscription.admit(admission, max_age).map_err(full)?,
                    "replay",
                )
            }
            None => {
                let Some(subscription) = state.wall.subscribe(&camera) else {
                    return Err(Box::new(super::no_camera(&camera)));
                };
                (
                    subscription.admit(admission, max_age).map_err(full)?,
                    "sync",
                )
            }
        };
        if let Some(accept) = accept {
            let viewer = mjpeg_serve::PacedViewer::new(viewer, super::pacer_for(state, conn));
            return Ok(ws::serve(state, &mut req, viewer, &camera, label, accept));
        }
        Ok(super::mjpeg_response(state, conn, viewer))
    })();
    result.unwrap_or_else(|response| *response)
}
