//! The replay API as HTTP sees it: a method, an optional session id and a body in; a status
//! and a JSON body out. A server only reads the request body, checks access and writes the
//! answer ([`ReplayService::answer`]).
//!
//! | request | answer |
//! | --- | --- |
//! | `POST /api/replay` with [`CreateRequest`] | `201`, [`Created`](crate::Created), `Location: /api/replay/ID` |
//! | `GET /api/replay/ID` | `200`, [`StateBody`](crate::StateBody) |
//! | `POST /api/replay/ID` with an [`Action`] | `200`, the new state |
//! | `DELETE /api/replay/ID` | `204` |
//!
//! Errors: `{"error", "kind"}` with the status of their [`ErrorKind`] ([`ErrorKind::status`]).

use http::{header, HeaderValue, Method, StatusCode};
use serde_json::Value;

use crate::{Action, CreateRequest, Error, ErrorKind, ReplayService};

/// What the server says about a camera a new session names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CameraAccess {
    /// The caller may replay it.
    Allowed,
    /// The caller may not (or, for a caller limited to some cameras, it does not exist).
    Forbidden,
    /// No such camera on this server.
    Unknown,
}

/// Why [`ReplayService::answer`] refused before touching any session: the server answers
/// these its own way (its 403 body, its unknown-camera text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The caller may not replay this camera.
    Forbidden(String),
    /// The server has no such camera.
    UnknownCamera(String),
}

/// An answer of the replay API.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The JSON body (`None` for `204`).
    pub body: Option<Value>,
    /// The `Location` of a new session.
    pub location: Option<String>,
}

impl Answer {
    fn json(status: StatusCode, body: Value) -> Answer {
        Answer {
            status,
            body: Some(body),
            location: None,
        }
    }

    /// The answer to an error: its kind's status and its JSON body.
    pub fn error(error: &Error) -> Answer {
        if error.kind() == ErrorKind::Storage {
            tracing::warn!(%error, "replay request failed");
        }
        Answer::json(error.kind().status(), error.body())
    }

    /// The HTTP response: the status, `Content-Type: application/json` with the body (empty
    /// for `204`), `Location` for a new session and `Retry-After: 10` at the session limit.
    pub fn into_response(self) -> http::Response<String> {
        let mut response =
            http::Response::new(self.body.map(|b| b.to_string()).unwrap_or_default());
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        if self.status != StatusCode::NO_CONTENT {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
        if let Some(location) = self.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            headers.insert(header::LOCATION, location);
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("10"));
        }
        response
    }
}

impl ErrorKind {
    /// The HTTP status of this kind: 400, 404, 416, 503 (session limit) or 500.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::OutsideRecordings => StatusCode::RANGE_NOT_SATISFIABLE,
            ErrorKind::Full => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Storage => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl<M: Default + Send + Sync + 'static> ReplayService<M> {
    /// Answers one request of the replay API: `id` is the session id of `/api/replay/ID`
    /// (`None` for `/api/replay`), `body` the request body (JSON; empty for `GET`/`DELETE`),
    /// `access` what the server allows for each camera a new session names. A malformed or
    /// refused request changes nothing.
    pub async fn answer(
        &self,
        method: &Method,
        id: Option<&str>,
        body: &[u8],
        access: impl Fn(&str) -> CameraAccess,
    ) -> Result<Answer, Refused> {
        let to_value = |v: Result<Value, serde_json::Error>| v.unwrap_or(Value::Null);
        Ok(match (id, method) {
            (None, &Method::POST) => {
                let create = match CreateRequest::from_json(body) {
                    Ok(create) => create,
                    Err(e) => return Ok(Answer::error(&e)),
                };
                for camera in &create.cameras {
                    match access(camera) {
                        CameraAccess::Allowed => {}
                        CameraAccess::Forbidden => return Err(Refused::Forbidden(camera.clone())),
                        CameraAccess::Unknown => {
                            return Err(Refused::UnknownCamera(camera.clone()))
                        }
                    }
                }
                match self.create(create).await {
                    Ok(created) => Answer {
                        status: StatusCode::CREATED,
                        location: Some(format!("/api/replay/{}", created.id)),
                        body: Some(to_value(serde_json::to_value(&created))),
                    },
                    Err(e) => Answer::error(&e),
                }
            }
            (Some(id), &Method::GET | &Method::HEAD) => match self.state(id) {
                Ok(state) => Answer::json(StatusCode::OK, to_value(serde_json::to_value(state))),
                Err(e) => Answer::error(&e),
            },
            (Some(id), &Method::POST) => {
                let action = match Action::from_json(body) {
                    Ok(action) => action,
                    Err(e) => return Ok(Answer::error(&e)),
                };
                match self.control(id, action).await {
                    Ok(state) => {
                        Answer::json(StatusCode::OK, to_value(serde_json::to_value(state)))
                    }
                    Err(e) => Answer::error(&e),
                }
            }
            (Some(id), &Method::DELETE) => match self.delete(id) {
                Ok(()) => Answer {
                    status: StatusCode::NO_CONTENT,
                    body: None,
                    location: None,
                },
                Err(e) => Answer::error(&e),
            },
            _ => Answer::json(
                StatusCode::METHOD_NOT_ALLOWED,
                serde_json::json!({
                    "error": "POST /api/replay; GET, POST or DELETE /api/replay/ID",
                    "kind": "method_not_allowed",
                }),
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_kinds_map_to_statuses() {
        assert_eq!(ErrorKind::BadRequest.status(), StatusCode::BAD_REQUEST);
        assert_eq!(ErrorKind::NotFound.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            ErrorKind::OutsideRecordings.status(),
            StatusCode::RANGE_NOT_SATISFIABLE
        );
        assert_eq!(ErrorKind::Full.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            ErrorKind::Storage.status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
