//! A route table: which [`Need`] each route of a server has, decided in one place before any
//! handler runs.
//!
//! A server lists its routes as [`RouteSpec`]s (method, path pattern with an optional
//! `{camera}` segment, [`Access`]); [`classify`] finds a request's row and [`RouteSpec::need`]
//! says what it needs. A request no row matches should need an unrestricted admin
//! ([`Need::admin_all`]): the table then fails closed for a route someone forgot to add.
//!
//! ```
//! use http::Method;
//! use relay_auth::routes::{classify, Access, RouteSpec};
//! use relay_auth::Need;
//!
//! const ROUTES: &[RouteSpec] = &[
//!     RouteSpec::get("/healthz", Access::Open),
//!     RouteSpec::get("/cams/{camera}/stream", Access::ViewerOfPath),
//! ];
//! let (spec, camera) = classify(ROUTES, &Method::GET, "/cams/door/stream").unwrap();
//! assert_eq!(camera, Some("door"));
//! assert_eq!(spec.need(camera, "", None), Some((Need::view(Some("door")), false)));
//! assert!(classify(ROUTES, &Method::POST, "/cams/door/stream").is_none());
//! ```

use http::{Method, Request};

use crate::{Denied, Grant, Need, TokenStore};

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (`/healthz`, `/login`, `/logout`).
    Open,
    /// Any viewer or admin token; the handler shows only the cameras the token allows.
    Viewer,
    /// A viewer of the server's first camera (`/stream`, `/ws`).
    ViewerOfFirst,
    /// A viewer of the camera named by the `{camera}` path segment.
    ViewerOfPath,
    /// A viewer of the camera named by the `camera=` query parameter; without one, a viewer
    /// of every camera.
    ViewerOfQuery,
    /// An admin of the camera named by the `{camera}` path segment.
    AdminOfPath,
    /// An admin of any camera; the handler checks the cameras the request names.
    Admin,
    /// The metrics token, or an admin of every camera.
    Metrics,
}

/// One row of a route table.
#[derive(Debug, Clone, Copy)]
pub struct RouteSpec {
    /// `GET` (which also matches `HEAD`), `POST` or `DELETE`.
    pub method: &'static str,
    /// The path; a `{camera}` segment matches any camera name, `{id}` any one segment.
    pub pattern: &'static str,
    /// What it needs.
    pub access: Access,
}

impl RouteSpec {
    /// A `GET` (and `HEAD`) route.
    pub const fn get(pattern: &'static str, access: Access) -> RouteSpec {
        RouteSpec {
            method: "GET",
            pattern,
            access,
        }
    }

    /// A `POST` route.
    pub const fn post(pattern: &'static str, access: Access) -> RouteSpec {
        RouteSpec {
            method: "POST",
            pattern,
            access,
        }
    }

    /// A `DELETE` route.
    pub const fn delete(pattern: &'static str, access: Access) -> RouteSpec {
        RouteSpec {
            method: "DELETE",
            pattern,
            access,
        }
    }

    /// What a request on this route needs, given the camera its path names, its query string
    /// and the server's first camera: `None` for an open route, else the need and whether the
    /// grant must cover every camera (a `camera=`-less [`Access::ViewerOfQuery`]).
    pub fn need<'a>(
        &self,
        camera: Option<&'a str>,
        query: &'a str,
        first_camera: Option<&'a str>,
    ) -> Option<(Need<'a>, bool)> {
        Some(match self.access {
            Access::Open => return None,
            Access::Viewer => (Need::view(None), false),
            Access::ViewerOfFirst => (Need::view(Some(first_camera.unwrap_or(""))), false),
            Access::ViewerOfPath => (Need::view(camera), false),
            Access::ViewerOfQuery => match query_param(query, "camera") {
                Some(camera) => (Need::view(Some(camera)), false),
                None => (Need::view(None), true),
            },
            Access::AdminOfPath => (Need::admin(camera), false),
            Access::Admin => (Need::admin(None), false),
            Access::Metrics => (Need::metrics(), false),
        })
    }
}

/// The row of `table` a request matches, and the camera its `{camera}` segment names.
pub fn classify<'t, 'p>(
    table: &'t [RouteSpec],
    method: &Method,
    path: &'p str,
) -> Option<(&'t RouteSpec, Option<&'p str>)> {
    let method = if method == Method::HEAD {
        "GET"
    } else {
        method.as_str()
    };
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    table
        .iter()
        .filter(|spec| spec.method == method)
        .find_map(|spec| {
            let pattern: Vec<&str> = spec.pattern.trim_start_matches('/').split('/').collect();
            if pattern.len() != segments.len() {
                return None;
            }
            let mut camera = None;
            for (want, got) in pattern.iter().zip(&segments) {
                match *want {
                    "{camera}" => camera = Some(*got),
                    "{id}" => {}
                    literal if literal == *got => {}
                    _ => return None,
                }
            }
            Some((spec, camera))
        })
}

/// What [`gate`] decided about a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// Let it through to the handlers with this grant.
    Pass(Grant),
    /// A login route ([`login_routes::is_login_route`](crate::login_routes::is_login_route)):
    /// answer it with [`login_routes::answer`](crate::login_routes::answer).
    Login,
    /// Refuse it with this answer.
    Deny(Denied),
}

/// Decides a request against `table` **before** any handler looks up a camera: the row's
/// need, checked by `store`. A request no row matches needs an unrestricted admin (the table
/// fails closed). A camera `exists` does not know answers as a forbidden one would, so nothing
/// tells a restricted token which cameras exist.
pub fn gate<B>(
    store: &TokenStore,
    table: &[RouteSpec],
    request: &Request<B>,
    first_camera: Option<&str>,
    exists: impl Fn(&str) -> bool,
) -> Gate {
    let query = request.uri().query().unwrap_or("");
    let (need, unrestricted) = match classify(table, request.method(), request.uri().path()) {
        Some((spec, _)) if crate::login_routes::is_login_route(spec.pattern) => return Gate::Login,
        Some((spec, camera)) => match spec.need(camera, query, first_camera) {
            Some(need) => need,
            None => return Gate::Pass(Grant::open()),
        },
        None => (Need::admin_all(), false),
    };
    let grant = match store.authorize(request, need) {
        Ok(grant) => grant,
        Err(denied) => return Gate::Deny(denied),
    };
    let unknown = need.camera().is_some_and(|camera| !exists(camera));
    if (unrestricted && grant.cameras().is_some()) || (!grant.is_open() && unknown) {
        return Gate::Deny(Denied::Forbidden);
    }
    Gate::Pass(grant)
}

/// The raw value of query parameter `name`.
pub fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &[RouteSpec] = &[
        RouteSpec::get("/healthz", Access::Open),
        RouteSpec::get("/cams/{camera}/stream", Access::ViewerOfPath),
        RouteSpec::post("/api/replay/{id}", Access::Admin),
        RouteSpec::get("/api/recordings", Access::ViewerOfQuery),
    ];

    #[test]
    fn every_row_classifies_to_itself() {
        for spec in TABLE {
            let path = spec
                .pattern
                .replace("{camera}", "door")
                .replace("{id}", "x1");
            let method = Method::from_bytes(spec.method.as_bytes()).expect("method");
            let (found, camera) = classify(TABLE, &method, &path).expect("classified");
            assert_eq!(found.pattern, spec.pattern);
            assert_eq!(camera.is_some(), spec.pattern.contains("{camera}"));
        }
        assert!(classify(TABLE, &Method::HEAD, "/cams/a/stream").is_some());
        assert!(classify(TABLE, &Method::POST, "/cams/a/stream").is_none());
        assert!(classify(TABLE, &Method::GET, "/cams/a/nothing").is_none());
        assert!(classify(TABLE, &Method::GET, "/cams/a/stream/extra").is_none());
    }

    #[test]
    fn needs_follow_the_access() {
        let (recordings, _) = classify(TABLE, &Method::GET, "/api/recordings").expect("row");
        assert_eq!(
            recordings.need(None, "a=1&camera=door", None),
            Some((Need::view(Some("door")), false))
        );
        assert_eq!(
            recordings.need(None, "token=x", None),
            Some((Need::view(None), true))
        );
        assert_eq!(TABLE[0].need(None, "", None), None);
    }

    #[test]
    fn the_gate_fails_closed_and_hides_which_cameras_exist() {
        let config: crate::AuthConfig = toml::from_str(
            "[[token]]\ntoken = \"door-viewer-0123456789\"\nrole = \"viewer\"\ncameras = [\"door\"]\n",
        )
        .expect("auth table");
        let admin = ["admin-0123456789abcdef".to_owned()];
        let store = TokenStore::from_parts(&config, &admin, &[], None).expect("store");
        let exists = |camera: &str| camera == "door";
        let ask = |path: &str, token: &str| {
            let request = Request::get(format!("{path}?token={token}"))
                .body(())
                .expect("request");
            gate(&store, TABLE, &request, Some("door"), exists)
        };
        assert!(matches!(ask("/healthz", ""), Gate::Pass(grant) if grant.is_open()));
        assert!(matches!(
            ask("/cams/door/stream", "door-viewer-0123456789"),
            Gate::Pass(_)
        ));
        assert_eq!(
            ask("/cams/door/stream", ""),
            Gate::Deny(Denied::Unauthenticated)
        );
        // Another camera, existing or not: the same answer.
        let other = ask("/cams/yard/stream", "door-viewer-0123456789");
        assert_eq!(other, Gate::Deny(Denied::Forbidden));
        // A restricted token may not list every camera's recordings.
        let all = ask("/api/recordings", "door-viewer-0123456789");
        assert_eq!(all, Gate::Deny(Denied::Forbidden));
        // A route missing from the table needs an unrestricted admin.
        let unlisted = ask("/unlisted", "door-viewer-0123456789");
        assert_eq!(unlisted, Gate::Deny(Denied::Forbidden));
        assert!(matches!(
            ask("/unlisted", "admin-0123456789abcdef"),
            Gate::Pass(_)
        ));
    }
}
