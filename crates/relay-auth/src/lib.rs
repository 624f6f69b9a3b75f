//! Access control and TLS for camrelay: who may watch which camera, who may change things,
//! and HTTPS with a certificate that reloads on `SIGHUP`.
//!
//! - [`TokenStore`] holds the configured tokens (from `[[auth.token]]` in the configuration
//!   file, see [`AuthConfig`], and the `--admin-token` / `--viewer-token` / `--metrics-token`
//!   flags) as SHA-256 digests, and checks a request against what its route needs
//!   ([`Need`]): the token comes from `Authorization: Bearer`, else `?token=`, else the
//!   dashboard's login cookie. The answer is a [`Grant`] (which the handler keeps to filter
//!   per camera) or a [`Denied`] that builds the generic 401/403 answer.
//! - Without any token the store is open (everything allowed): [`warn_if_exposed`] says so
//!   loudly when the relay listens on a non-loopback address.
//! - [`login`] has the dashboard's login form and cookies.
//! - [`tls`] (feature `tls`, on by default) loads PEM files into a reloadable
//!   `tokio_rustls::TlsAcceptor`.
//!
//! ```
//! use relay_auth::{AuthConfig, Denied, Need, Role, TokenStore};
//! use http::Request;
//!
//! let config: AuthConfig = toml::from_str(r#"
//!     [[token]]
//!     name = "porch tablet"
//!     token = "porch-0123456789abcdef"
//!     role = "viewer"
//!     cameras = ["door"]
//! "#).unwrap();
//! let admins = vec!["admin-0123456789abcdef".to_owned()];
//! let store = TokenStore::from_parts(&config, &admins, &[], None).unwrap();
//!
//! // <img src="/stream/door?token=..."> from the porch tablet:
//! let req = Request::get("/stream/door?token=porch-0123456789abcdef").body(()).unwrap();
//! let grant = store.authorize(&req, Need::view(Some("door"))).unwrap();
//! assert_eq!(grant.name(), "porch tablet");
//! assert_eq!(grant.role_of(), Some(Role::Viewer));
//!
//! // ...but not another camera, and no settings:
//! let req = Request::get("/stream/garden?token=porch-0123456789abcdef").body(()).unwrap();
//! assert_eq!(store.authorize(&req, Need::view(Some("garden"))), Err(Denied::Forbidden));
//!
//! // No token: 401 with `WWW-Authenticate: Bearer`.
//! let req = Request::post("/api/esp32/door/control").body(()).unwrap();
//! let denied = store.authorize(&req, Need::admin(Some("door"))).unwrap_err();
//! let answer: http::Response<String> = denied.response();
//! assert_eq!(answer.status(), 401);
//!
//! // The admin from `--admin-token`, by header:
//! let req = Request::post("/api/esp32/door/control")
//!     .header("authorization", "Bearer admin-0123456789abcdef")
//!     .body(()).unwrap();
//! assert!(store.authorize(&req, Need::admin(Some("door"))).unwrap().is_admin());
//! ```

mod access;
mod config;
mod error;
mod exposure;
mod extract;
pub mod login;
pub mod login_routes;
pub mod routes;
mod settings;
mod store;
#[cfg(feature = "tls")]
pub mod tls;

pub use access::{
    Denied, Grant, Level, Need, Role, FORBIDDEN_BODY, UNAUTHENTICATED_BODY, WWW_AUTHENTICATE,
};
pub use config::{AuthConfig, TokenConfig};
pub use error::{AuthError, ErrorKind};
pub use exposure::{is_loopback, is_loopback_ip, warn_if_exposed};
pub use extract::{
    extract_token, query_token, redacted_path_and_query, Presented, TokenSource, COOKIE_NAME,
    QUERY_PARAM,
};
pub use login::{login_cookie, logout_cookie};
pub use settings::{AccessSettings, Secret};
pub use store::TokenStore;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
