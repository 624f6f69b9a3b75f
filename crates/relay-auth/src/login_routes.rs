//! The login routes answered in full, whatever the server's body type: `GET /login` (the form),
//! `POST /login` (check the token, set the cookie), `GET`/`POST /logout` (clear it) and
//! `GET /api/session` (who the presented token is).
//!
//! The server reads the request body (a `POST /login` form, at most a few KiB) and hands it
//! to [`answer`]; the answer's body is a `String`.

use http::{header, HeaderMap, HeaderValue, Method, Response, StatusCode};

use crate::login::{login_cookie, login_page, login_token_from_form, logout_cookie, LOGIN_PATH};
use crate::{extract_token, TokenSource, TokenStore};

/// The route of a session request: `/api/session`.
pub const SESSION_PATH: &str = "/api/session";

/// Where a login sends the browser: the dashboard, relative to `/login` (so that a relay
/// behind a proxy under a path prefix, such as a smart-home ingress, stays under it).
const DASHBOARD_RELATIVE: &str = "./";
/// Where a logout sends the browser: the login page, relative to `/logout`.
const LOGIN_RELATIVE: &str = "login";

/// Whether `path` is one of the routes [`answer`] serves.
pub fn is_login_route(path: &str) -> bool {
    matches!(
        path,
        crate::login::LOGIN_PATH | crate::login::LOGOUT_PATH | SESSION_PATH
    )
}

/// What a login route request carries.
pub struct LoginRequest<'a> {
    /// The request method.
    pub method: &'a Method,
    /// The path (one of [`is_login_route`]'s).
    pub path: &'a str,
    /// The request headers (for the token of `/api/session`).
    pub headers: &'a HeaderMap,
    /// The query string (for `?token=`).
    pub query: Option<&'a str>,
    /// The body of a `POST /login` (`token=...`); empty otherwise.
    pub form: &'a [u8],
}

/// Answers a login route. `secure`: the relay serves HTTPS (cookies are then `Secure`).
pub fn answer(store: &TokenStore, req: &LoginRequest<'_>, secure: bool) -> Response<String> {
    match (req.method, req.path) {
        (&Method::GET, LOGIN_PATH) => page(StatusCode::OK, false),
        (&Method::GET, SESSION_PATH) => session(store, req),
        (&Method::POST, LOGIN_PATH) => {
            let token = login_token_from_form(req.form);
            match token.filter(|t| store.check_login_token(t).is_some()) {
                Some(token) => redirect(DASHBOARD_RELATIVE, login_cookie(&token, secure)),
                None => page(StatusCode::UNAUTHORIZED, true),
            }
        }
        _ => redirect(LOGIN_RELATIVE, logout_cookie(secure)),
    }
}

/// The login page with `status` (401 where a browser asked for a page it may not see).
pub fn page(status: StatusCode, failed: bool) -> Response<String> {
    let mut response = Response::new(login_page(failed));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

/// `GET /api/session`: whether the relay needs tokens and, for a valid token, how it came
/// (`cookie` after the login form, `bearer`, `query`), its role and its configured name. No
/// camera names: the stats list the cameras the token may watch.
fn session(store: &TokenStore, req: &LoginRequest<'_>) -> Response<String> {
    let presented = extract_token(req.headers, req.query);
    let known = presented.and_then(|p| Some((p.source, store.lookup(&p.token)?.clone())));
    let login = known.as_ref().map(|(source, _)| match source {
        TokenSource::Cookie => "cookie",
        TokenSource::Bearer => "bearer",
        TokenSource::Query => "query",
    });
    let grant = known.as_ref().map(|(_, grant)| grant);
    let body = serde_json::json!({
        "tokens_required": !store.is_open(),
        "login": login,
        "role": grant.and_then(|g| g.role_of()).map(|r| r.as_str()),
        "name": grant.map(|g| g.name()),
    });
    let mut response = Response::new(body.to_string());
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn redirect(to: &'static str, cookie: HeaderValue) -> Response<String> {
    let mut response = Response::new(String::new());
    *response.status_mut() = StatusCode::SEE_OTHER;
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, HeaderValue::from_static(to));
    headers.insert(header::SET_COOKIE, cookie);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AccessSettings;

    fn store() -> TokenStore {
        let settings = AccessSettings {
            viewer_tokens: vec!["viewer-0123456789abcdef".into()],
            ..AccessSettings::default()
        };
        settings.token_store().expect("valid tokens")
    }

    fn ask(store: &TokenStore, method: Method, path: &str, form: &[u8]) -> Response<String> {
        let headers = HeaderMap::new();
        let req = LoginRequest {
            method: &method,
            path,
            headers: &headers,
            query: None,
            form,
        };
        answer(store, &req, false)
    }

    #[test]
    fn login_sets_the_cookie_only_for_a_valid_token() {
        let store = store();
        let ok = ask(
            &store,
            Method::POST,
            "/login",
            b"token=viewer-0123456789abcdef",
        );
        assert_eq!(ok.status(), StatusCode::SEE_OTHER);
        assert!(ok.headers()[header::SET_COOKIE]
            .to_str()
            .is_ok_and(|c| c.starts_with("camrelay_token=viewer-")));
        let bad = ask(&store, Method::POST, "/login", b"token=wrong");
        assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
        assert!(bad.body().contains("not valid"));
        let out = ask(&store, Method::POST, "/logout", b"");
        assert_eq!(
            out.headers()[header::LOCATION],
            "login",
            "relative: a relay under a proxy's path prefix stays under it"
        );
    }

    #[test]
    fn session_says_tokens_are_required_and_names_no_camera() {
        let answer = ask(&store(), Method::GET, SESSION_PATH, b"");
        let body: serde_json::Value = serde_json::from_str(answer.body()).expect("json");
        assert_eq!(body["tokens_required"], true);
        assert!(body["login"].is_null());
        assert!(is_login_route("/logout") && !is_login_route("/"));
    }
}
