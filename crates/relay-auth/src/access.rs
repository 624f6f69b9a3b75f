//! What a request needs ([`Need`]), what a token gives ([`Grant`]) and the refusals
//! ([`Denied`]).

use std::fmt;
use std::sync::Arc;

use http::{header, HeaderValue, Response, StatusCode};

/// The role of a token. `Admin` can do everything a `Viewer` can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Watch streams, snapshots, detections, stats and replay sessions' streams.
    Viewer,
    /// Also everything that changes state: ESP32 control, recording exports and deletes,
    /// replay session control.
    Admin,
}

impl Role {
    /// `"viewer"` or `"admin"`, as in the configuration file.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a route requires, built by the handler and passed to
/// [`TokenStore::authorize`](crate::TokenStore::authorize).
///
/// ```
/// use relay_auth::Need;
/// let watch = Need::view(Some("door")); // GET /stream/door
/// let stats = Need::view(None);         // GET /api/stats: any viewer (filter per camera)
/// let delete = Need::admin(Some("door"));
/// let scrape = Need::metrics();         // GET /metrics: the metrics token or an admin
/// assert_eq!(watch.camera(), Some("door"));
/// # let _ = (stats, delete, scrape);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Need<'a> {
    level: Level,
    scope: Scope<'a>,
}

/// The level a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Any role token (viewer or admin).
    Viewer,
    /// An admin token.
    Admin,
    /// The metrics token, or an admin token with access to all cameras.
    Metrics,
}

/// Which cameras a route touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope<'a> {
    /// Not tied to a camera: any camera limit passes.
    Any,
    /// One camera: the token must be allowed on it.
    One(&'a str),
    /// Every camera: the token must not be limited.
    All,
}

impl<'a> Need<'a> {
    /// Watching: a viewer or admin token; with `Some(camera)`, one allowed on that camera.
    ///
    /// `None` is for routes not tied to one camera (dashboard, stats): any role token passes,
    /// and the handler shows only what [`Grant::allows_camera`] allows.
    pub fn view(camera: Option<&'a str>) -> Self {
        Need {
            level: Level::Viewer,
            scope: camera.map_or(Scope::Any, Scope::One),
        }
    }

    /// Changing state: an admin token; with `Some(camera)`, one allowed on that camera. With
    /// `None` an admin token limited to some cameras passes too; use [`Need::admin_all`] for
    /// actions that affect every camera.
    pub fn admin(camera: Option<&'a str>) -> Self {
        Need {
            level: Level::Admin,
            scope: camera.map_or(Scope::Any, Scope::One),
        }
    }

    /// Changing state of the whole relay: an admin token without a camera limit.
    pub fn admin_all() -> Self {
        Need {
            level: Level::Admin,
            scope: Scope::All,
        }
    }

    /// Reading `/metrics`: the metrics token, or an admin token without a camera limit (the
    /// metrics name every camera).
    pub fn metrics() -> Self {
        Need {
            level: Level::Metrics,
            scope: Scope::All,
        }
    }

    /// The level required.
    pub fn level(&self) -> Level {
        self.level
    }

    /// The one camera the route is about, if any.
    pub fn camera(&self) -> Option<&'a str> {
        match self.scope {
            Scope::One(camera) => Some(camera),
            Scope::Any | Scope::All => None,
        }
    }

    /// Whether the route needs a token without a camera limit.
    pub fn needs_all_cameras(&self) -> bool {
        self.scope == Scope::All
    }
}

/// What a request was allowed with: the open relay (no tokens configured), a role token or
/// the metrics token. Handlers keep it to filter lists ([`Grant::allows_camera`]) and to name
/// the token in logs (its `Display` shows the configured name, never the token).
#[derive(Clone, PartialEq, Eq)]
pub struct Grant {
    access: Access,
    cameras: Option<Arc<[String]>>,
    name: Arc<str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Open,
    Role(Role),
    Metrics,
}

impl Grant {
    /// The grant of a relay without tokens: everything is allowed.
    pub fn open() -> Self {
        Grant {
            access: Access::Open,
            cameras: None,
            name: Arc::from("open access"),
        }
    }

    pub(crate) fn role(role: Role, cameras: Option<Arc<[String]>>, name: Arc<str>) -> Self {
        Grant {
            access: Access::Role(role),
            cameras,
            name,
        }
    }

    pub(crate) fn metrics_only(name: Arc<str>) -> Self {
        Grant {
            access: Access::Metrics,
            cameras: Some(Arc::from(Vec::new())),
            name,
        }
    }

    /// Whether no tokens are configured (everything is allowed).
    pub fn is_open(&self) -> bool {
        self.access == Access::Open
    }

    /// The token's role; `Some(Admin)` for the open relay, `None` for the metrics token.
    pub fn role_of(&self) -> Option<Role> {
        match self.access {
            Access::Open => Some(Role::Admin),
            Access::Role(role) => Some(role),
            Access::Metrics => None,
        }
    }

    /// Whether this is an admin token (or the open relay).
    pub fn is_admin(&self) -> bool {
        self.role_of() == Some(Role::Admin)
    }

    /// Whether the grant may see `camera`: for lists (stats, dashboard) of a token limited to
    /// some cameras. The metrics token sees no camera.
    pub fn allows_camera(&self, camera: &str) -> bool {
        match &self.cameras {
            None => true,
            Some(list) => list.iter().any(|c| c == camera),
        }
    }

    /// The cameras the token is limited to; `None` for all cameras.
    pub fn cameras(&self) -> Option<&[String]> {
        self.cameras.as_deref()
    }

    /// The name for logs: the configured `name`, or where the token came from
    /// (`[[auth.token]] #2`, `--viewer-token #1`, `metrics token`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this grant satisfies `need`.
    pub fn satisfies(&self, need: &Need<'_>) -> bool {
        let level_ok = match (self.access, need.level) {
            (Access::Open, _) => return true,
            (Access::Metrics, Level::Metrics) => return true,
            (Access::Metrics, _) => false,
            (Access::Role(_), Level::Viewer) => true,
            (Access::Role(role), Level::Admin | Level::Metrics) => role == Role::Admin,
        };
        if !level_ok {
            return false;
        }
        match need.scope {
            Scope::Any => true,
            Scope::One(camera) => self.allows_camera(camera),
            Scope::All => self.cameras.is_none(),
        }
    }
}

impl fmt::Debug for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Grant")
            .field("access", &self.access)
            .field("cameras", &self.cameras)
            .field("name", &self.name)
            .finish()
    }
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.access {
            Access::Open => f.write_str("open access"),
            Access::Role(role) => write!(f, "{role} token `{}`", self.name),
            Access::Metrics => write!(f, "metrics token `{}`", self.name),
        }
    }
}

/// A refused request. The answers are generic: they never say which cameras exist or which
/// token was tried (the handler should also answer an unknown camera like a forbidden one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Denied {
    /// No token, or a token that is not configured: 401 with `WWW-Authenticate: Bearer`.
    Unauthenticated,
    /// A known token without the role or camera the route needs: 403.
    Forbidden,
}

/// The body of a 401 answer.
pub const UNAUTHENTICATED_BODY: &str =
    "401 Unauthorized: this camrelay needs a token (Authorization: Bearer, ?token= or log in at /login)\n";
/// The body of a 403 answer.
pub const FORBIDDEN_BODY: &str = "403 Forbidden: this token may not do that\n";
/// The `WWW-Authenticate` value of a 401 answer.
pub const WWW_AUTHENTICATE: &str = "Bearer realm=\"camrelay\"";

impl Denied {
    /// 401 or 403.
    pub fn status(&self) -> StatusCode {
        match self {
            Denied::Unauthenticated => StatusCode::UNAUTHORIZED,
            Denied::Forbidden => StatusCode::FORBIDDEN,
        }
    }

    /// The short, generic text body.
    pub fn body(&self) -> &'static str {
        match self {
            Denied::Unauthenticated => UNAUTHENTICATED_BODY,
            Denied::Forbidden => FORBIDDEN_BODY,
        }
    }

    /// The whole answer: status, `text/plain` body, `Cache-Control: no-store`, and for 401
    /// `WWW-Authenticate: Bearer realm="camrelay"`. `B` is the handler's body type
    /// (`String`, `http_body_util::Full<Bytes>`, ...).
    pub fn response<B: From<&'static str>>(&self) -> Response<B> {
        let mut response = Response::new(B::from(self.body()));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if *self == Denied::Unauthenticated {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(WWW_AUTHENTICATE),
            );
        }
        response
    }
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Denied::Unauthenticated => f.write_str("no valid token"),
            Denied::Forbidden => f.write_str("token lacks the role or camera"),
        }
    }
}

impl std::error::Error for Denied {}

#[cfg(test)]
mod tests {
    use super::*;

    fn viewer_of(cameras: Option<&[&str]>) -> Grant {
        Grant::role(
            Role::Viewer,
            cameras.map(|c| c.iter().map(|s| s.to_string()).collect()),
            Arc::from("v"),
        )
    }

    fn admin_of(cameras: Option<&[&str]>) -> Grant {
        Grant::role(
            Role::Admin,
            cameras.map(|c| c.iter().map(|s| s.to_string()).collect()),
            Arc::from("a"),
        )
    }

    #[test]
    fn roles_order_and_parse() {
        assert!(Role::Admin > Role::Viewer);
        #[derive(serde::Deserialize)]
        struct R {
            role: Role,
        }
        let r: R = toml::from_str("role = \"admin\"").expect("parse");
        assert_eq!(r.role, Role::Admin);
        assert!(toml::from_str::<R>("role = \"root\"").is_err());
    }

    #[test]
    fn viewer_levels() {
        let all = viewer_of(None);
        assert!(all.satisfies(&Need::view(None)));
        assert!(all.satisfies(&Need::view(Some("door"))));
        assert!(!all.satisfies(&Need::admin(None)));
        assert!(!all.satisfies(&Need::admin(Some("door"))));
        assert!(!all.satisfies(&Need::admin_all()));
        assert!(!all.satisfies(&Need::metrics()));
    }

    #[test]
    fn camera_limits() {
        let door = viewer_of(Some(&["door"]));
        assert!(door.satisfies(&Need::view(None)));
        assert!(door.satisfies(&Need::view(Some("door"))));
        assert!(!door.satisfies(&Need::view(Some("garden"))));
        assert!(door.allows_camera("door"));
        assert!(!door.allows_camera("garden"));

        let admin_door = admin_of(Some(&["door"]));
        assert!(admin_door.satisfies(&Need::admin(Some("door"))));
        assert!(admin_door.satisfies(&Need::admin(None)));
        assert!(!admin_door.satisfies(&Need::admin(Some("garden"))));
        assert!(!admin_door.satisfies(&Need::admin_all()));
        assert!(!admin_door.satisfies(&Need::metrics()));

        let none = viewer_of(Some(&[]));
        assert!(!none.satisfies(&Need::view(Some("door"))));
    }

    #[test]
    fn admin_does_everything() {
        let admin = admin_of(None);
        for need in [
            Need::view(None),
            Need::view(Some("x")),
            Need::admin(None),
            Need::admin(Some("x")),
            Need::admin_all(),
            Need::metrics(),
        ] {
            assert!(admin.satisfies(&need), "{need:?}");
        }
        assert!(admin.is_admin());
    }

    #[test]
    fn metrics_only_reads_metrics() {
        let m = Grant::metrics_only(Arc::from("metrics token"));
        assert!(m.satisfies(&Need::metrics()));
        assert!(!m.satisfies(&Need::view(None)));
        assert!(!m.satisfies(&Need::view(Some("door"))));
        assert!(!m.satisfies(&Need::admin(None)));
        assert!(!m.allows_camera("door"));
        assert_eq!(m.role_of(), None);
    }

    #[test]
    fn open_allows_everything() {
        let open = Grant::open();
        assert!(open.is_open());
        assert!(open.satisfies(&Need::admin_all()));
        assert!(open.satisfies(&Need::metrics()));
        assert!(open.allows_camera("anything"));
    }

    #[test]
    fn need_accessors() {
        assert_eq!(Need::admin_all().camera(), None);
        assert!(Need::admin_all().needs_all_cameras());
        assert!(Need::metrics().needs_all_cameras());
        assert!(!Need::view(None).needs_all_cameras());
        assert_eq!(Need::admin(Some("door")).camera(), Some("door"));
        assert_eq!(Need::metrics().level(), Level::Metrics);
    }

    #[test]
    fn denied_responses() {
        let r: Response<String> = Denied::Unauthenticated.response();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(r.headers()[header::WWW_AUTHENTICATE], WWW_AUTHENTICATE);
        assert_eq!(r.body(), UNAUTHENTICATED_BODY);
        let r: Response<String> = Denied::Forbidden.response();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert!(r.headers().get(header::WWW_AUTHENTICATE).is_none());
        assert_eq!(r.body(), FORBIDDEN_BODY);
        assert_eq!(r.headers()[header::CACHE_CONTROL], "no-store");
        for body in [UNAUTHENTICATED_BODY, FORBIDDEN_BODY] {
            assert!(!body.to_lowercase().contains("camera"), "{body}");
        }
    }
}
