//! Who may call which route: every request is classified against [`ROUTES`] and authorized
//! **before** any handler looks up a camera, so an unknown camera and a forbidden one get the
//! same answer (403 with a token, 401 without), and a route missing from the table needs an
//! unrestricted admin token (it fails closed).
//!
//! With no token configured the relay is open, as on 127.0.0.1 out of the box.

use http::{header, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
pub use relay_auth::routes::Access;
use relay_auth::routes::{self, Gate, RouteSpec};
use relay_auth::{login_routes, Denied, Grant};

use super::body::RelayBody;
use super::text;
use crate::state::RelayState;

const fn get(pattern: &'static str, access: Access) -> RouteSpec {
    RouteSpec::get(pattern, access)
}

/// Every route of the relay and what it needs: the one place where access is decided (the
/// handlers in [`super::route`] never check tokens). `docs/api.md` lists the same roles.
pub const ROUTES: &[RouteSpec] = &[
    get("/healthz", Access::Open),
    get("/login", Access::Open),
    RouteSpec::post("/login", Access::Open),
    get("/logout", Access::Open),
    RouteSpec::post("/logout", Access::Open),
    // Answers for the token presented (or none): the dashboard's logout button.
    get("/api/session", Access::Open),
    get("/", Access::Viewer),
    get("/api/stats", Access::Viewer),
    get("/metrics", Access::Metrics),
    get("/stream", Access::ViewerOfFirst),
    get("/stream/proxy", Access::ViewerOfFirst),
    get("/stream/detect", Access::ViewerOfFirst),
    get("/ws", Access::ViewerOfFirst),
    get("/cams/{camera}/stream", Access::ViewerOfPath),
    get("/cams/{camera}/stream/detect", Access::ViewerOfPath),
    get("/cams/{camera}/snapshot.jpg", Access::ViewerOfPath),
    get("/cams/{camera}/detections", Access::ViewerOfPath),
    get("/cams/{camera}/ws", Access::ViewerOfPath),
    get("/api/recordings", Access::ViewerOfQuery),
    // Exports hand out footage beyond the live view: admin (issue #21).
    get("/cams/{camera}/recording.mp4", Access::AdminOfPath),
    // Replay (issue #17): admins of the cameras start and steer sessions (checked per camera
    // by the handler); anyone who may watch a camera may watch its replay stream.
    RouteSpec::post("/api/replay", Access::Admin),
    get("/api/replay/{id}", Access::Viewer),
    RouteSpec::post("/api/replay/{id}", Access::Admin),
    RouteSpec::delete("/api/replay/{id}", Access::Admin),
    get("/replay/{id}/cams/{camera}/stream", Access::ViewerOfPath),
    get("/replay/{id}/cams/{camera}/ws", Access::ViewerOfPath),
    get("/replay/{id}/ws", Access::ViewerOfQuery),
    // The synchronized live wall (issue #17): live streams held back by a playout delay.
    get("/live/sync/cams/{camera}/stream", Access::ViewerOfPath),
    get("/live/sync/cams/{camera}/ws", Access::ViewerOfPath),
    get("/live/sync/ws", Access::ViewerOfQuery),
];

/// Authorizes a request against [`ROUTES`] and answers the login routes itself. Passes the
/// request on (with its [`Grant`] in the extensions) or answers 401/403.
pub async fn gate(
    state: &RelayState,
    mut req: Request<Incoming>,
) -> Result<Request<Incoming>, Response<RelayBody>> {
    let first = state.cameras.first().map(|c| c.name());
    match routes::gate(&state.auth, ROUTES, &req, first, |c| {
        state.camera(c).is_some()
    }) {
        Gate::Pass(grant) => {
            req.extensions_mut().insert(grant);
            Ok(req)
        }
        Gate::Login => Err(login_route(state, req).await),
        Gate::Deny(Denied::Unauthenticated) if req.uri().path() == "/" => {
            Err(login_routes::page(StatusCode::UNAUTHORIZED, false).map(RelayBody::full))
        }
        Gate::Deny(denied) => Err(denied_response(denied)),
    }
}

/// The grant [`gate`] stored in a request (open when none was stored).
pub fn grant_of<B>(req: &Request<B>) -> Grant {
    req.extensions()
        .get::<Grant>()
        .cloned()
        .unwrap_or_else(Grant::open)
}

/// The 401/403 answer; the same body whatever the camera, and no camera name in it.
pub fn denied_response(denied: Denied) -> Response<RelayBody> {
    let mut response = text(denied.status(), denied.body());
    if denied == Denied::Unauthenticated {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(relay_auth::WWW_AUTHENTICATE),
        );
    }
    response
}

/// The login routes, answered by `relay-auth` (a `POST /login` form is at most 4 KiB).
async fn login_route(state: &RelayState, req: Request<Incoming>) -> Response<RelayBody> {
    let (parts, body) = req.into_parts();
    let form = match parts.method {
        http::Method::POST => Limited::new(body, 4096).collect().await.ok(),
        _ => None,
    };
    let form = form.map(|body| body.to_bytes()).unwrap_or_default();
    let login = login_routes::LoginRequest {
        method: &parts.method,
        path: parts.uri.path(),
        headers: &parts.headers,
        query: parts.uri.query(),
        form: &form,
    };
    login_routes::answer(&state.auth, &login, state.secure).map(RelayBody::full)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;

    #[test]
    fn every_route_classifies_to_its_own_row() {
        for spec in ROUTES {
            let path = spec.pattern.replace("{camera}", "door");
            let method = Method::from_bytes(spec.method.as_bytes()).expect("method");
            let (found, _) = routes::classify(ROUTES, &method, &path).expect("classified");
            assert_eq!(found.pattern, spec.pattern);
        }
    }
}
