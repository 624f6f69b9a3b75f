//! Replay routes (issue #17, `docs/api.md`): `archive-replay`'s [`ReplayService`] over the
//! relay's archive. A replay session is a virtual camera: its viewers are ordinary
//! `mjpeg-serve` viewers (MJPEG or WebSocket) of the session's broadcasts.
//!
//! * `POST /api/replay` `{"cameras": [...], "start": T, "rate": R}` → 201 with the streams;
//! * `GET|POST|DELETE /api/replay/ID`: state, a control action, end;
//! * `GET /replay/ID/cams/NAME/stream` (MJPEG), `/replay/ID/cams/NAME/ws` and
//!   `/replay/ID/ws?camera=NAME` (WebSocket; the session's first camera by default).

use archive_replay::{Action, CreateRequest, ErrorKind, ReplayService};
use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use relay_auth::routes::query_param;
use relay_auth::{Denied, Grant};

use super::body::RelayBody;
use super::{access, json, no_cache, text, ws};
use crate::frame::FrameMeta;
use crate::state::{ConnInfo, RelayState};

/// Largest request body the replay API reads.
const MAX_BODY: usize = 16 * 1024;

/// The relay's replay service.
pub type Replay = ReplayService<FrameMeta>;

/// The status of each replay error kind: the one place they are mapped.
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::OutsideRecordings => StatusCode::RANGE_NOT_SATISFIABLE,
        ErrorKind::Full => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Storage => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn error_response(error: &archive_replay::Error) -> Response<RelayBody> {
    let status = status_of(error.kind());
    if status.is_server_error() {
        tracing::warn!(%error, "replay request failed");
    }
    let mut response = json(&error.body());
    *response.status_mut() = status;
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("10"));
    }
    response
}

fn service(state: &RelayState) -> Result<&Replay, Box<Response<RelayBody>>> {
    state.replay.as_ref().ok_or_else(|| {
        Box::new(text(
            StatusCode::NOT_FOUND,
            "replay needs recording (start with --record DIR or a [record] table)\n",
        ))
    })
}

async fn read_body(req: Request<Incoming>) -> Result<Bytes, Box<Response<RelayBody>>> {
    match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(body) => Ok(body.to_bytes()),
        Err(_) => Err(Box::new(text(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body must be JSON of at most {MAX_BODY} bytes\n"),
        ))),
    }
}

/// `/api/replay` and `/api/replay/ID`.
pub async fn api(
    state: &RelayState,
    id: Option<&str>,
    req: Request<Incoming>,
) -> Response<RelayBody> {
    let result = async {
        let replay = service(state)?;
        let grant = access::grant_of(&req);
        let method = req.method().clone();
        let answer = match (id, method) {
            (None, Method::POST) => {
                let body = read_body(req).await?;
                let create =
                    CreateRequest::from_json(&body).map_err(|e| Box::new(error_response(&e)))?;
                // Replay shows recordings: an admin of every camera it names.
                if let Some(camera) = create.cameras.iter().find(|c| !allowed(&grant, c)) {
                    tracing::debug!(%camera, "replay refused for this token");
                    return Err(Box::new(access::denied_response(Denied::Forbidden)));
                }
                if let Some(camera) = create.cameras.iter().find(|c| state.camera(c).is_none()) {
                    return Err(Box::new(super::no_camera(camera)));
                }
                let created = replay
                    .create(create)
                    .await
                    .map_err(|e| Box::new(error_response(&e)))?;
                let mut response = json(&created);
                *response.status_mut() = StatusCode::CREATED;
                if let Ok(location) = HeaderValue::from_str(&format!("/api/replay/{}", created.id))
                {
                    response.headers_mut().insert(header::LOCATION, location);
                }
                response
            }
            (Some(id), Method::GET | Method::HEAD) => {
                json(&replay.state(id).map_err(|e| Box::new(error_response(&e)))?)
            }
            (Some(id), Method::POST) => {
                let body = read_body(req).await?;
                let action = Action::from_json(&body).map_err(|e| Box::new(error_response(&e)))?;
                json(
                    &replay
                        .control(id, action)
                        .await
                        .map_err(|e| Box::new(error_response(&e)))?,
                )
            }
            (Some(id), Method::DELETE) => {
                replay
                    .delete(id)
                    .map_err(|e| Box::new(error_response(&e)))?;
                let mut response = text(StatusCode::NO_CONTENT, "");
                *response.body_mut() = RelayBody::Full(None);
                response
            }
            _ => text(
                StatusCode::METHOD_NOT_ALLOWED,
                "POST /api/replay; GET, POST or DELETE /api/replay/ID\n",
            ),
        };
        Ok(answer)
    };
    result
        .await
        .unwrap_or_else(|response: Box<Response<RelayBody>>| *response)
}

fn allowed(grant: &Grant, camera: &str) -> bool {
    grant.is_open() || (grant.is_admin() && grant.allows_camera(camera))
}

/// `GET /replay/ID/cams/NAME/stream`, `/replay/ID/cams/NAME/ws` and `/replay/ID/ws`.
pub fn watch(
    state: &RelayState,
    conn: &ConnInfo,
    id: &str,
    camera: Option<&str>,
    websocket: bool,
    mut req: Request<Incoming>,
) -> Response<RelayBody> {
    let result = (|| {
        let replay = service(state)?;
        let first;
        let camera = match camera {
            Some(camera) => camera,
            None => match query_param(req.uri().query().unwrap_or(""), "camera") {
                Some(camera) => camera,
                None => {
                    let cameras = replay
                        .cameras(id)
                        .map_err(|e| Box::new(error_response(&e)))?;
                    first = cameras.into_iter().next().unwrap_or_default();
                    &first
                }
            },
        }
        .to_owned();
        if !access::grant_of(&req).allows_camera(&camera) {
            return Err(Box::new(access::denied_response(Denied::Forbidden)));
        }
        let accept = if websocket {
            Some(ws::accept_key(&req)?)
        } else {
            None
        };
        let subscription = replay
            .subscribe(id, &camera)
            .map_err(|e| Box::new(error_response(&e)))?;
        let viewer = subscription
            .admit(&state.admission, state.config.max_frame_age)
            .map_err(|_| {
                Box::new(text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the relay has reached --max-viewers\n",
                ))
            })?;
        if let Some(accept) = accept {
            return Ok(ws::serve(
                state, conn, &mut req, viewer, &camera, "replay", accept,
            ));
        }
        let pacer = if state.config.pace_slow_viewers {
            conn.pacer()
        } else {
            None
        };
        let mut response = Response::new(RelayBody::mjpeg(viewer, pacer));
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(crate::frame::writer().content_type()) {
            headers.insert(header::CONTENT_TYPE, value);
        }
        no_cache(headers);
        Ok(response)
    })();
    result.unwrap_or_else(|response| *response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_kinds_map_to_statuses() {
        assert_eq!(status_of(ErrorKind::BadRequest), StatusCode::BAD_REQUEST);
        assert_eq!(status_of(ErrorKind::NotFound), StatusCode::NOT_FOUND);
        assert_eq!(
            status_of(ErrorKind::OutsideRecordings),
            StatusCode::RANGE_NOT_SATISFIABLE
        );
        assert_eq!(status_of(ErrorKind::Full), StatusCode::SERVICE_UNAVAILABLE);
    }
}
