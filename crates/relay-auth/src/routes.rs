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

use http::Method;

use crate::Need;

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
}
