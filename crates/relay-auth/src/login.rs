//! The dashboard's login: a tiny form that POSTs the token to `/login`, and the cookie that
//! carries it afterwards.
//!
//! The binary's handlers are thin:
//! - `GET /login`: answer [`login_page`]`(false)` (`text/html`).
//! - `POST /login`: [`login_token_from_form`] on the body, then
//!   [`TokenStore::check_login_token`](crate::TokenStore::check_login_token); on `Some(_)`
//!   answer `303 See Other` to `./` (the dashboard; relative, as every URL of the login, so
//!   that a relay behind a proxy's path prefix stays under it) with
//!   `Set-Cookie: `[`login_cookie`]; on `None` answer 401 with [`login_page`]`(true)`.
//! - `POST /logout`: `303` to `login` with `Set-Cookie: `[`logout_cookie`].
//! - `GET /` (the dashboard) refused with [`Denied::Unauthenticated`](crate::Denied): a
//!   browser is better served by the login page than by the plain 401 text, so answer
//!   [`login_page`]`(false)` with status 401 there (or `303` to [`LOGIN_PATH`]).
//!
//! The cookie is `SameSite=Strict`, so cross-site forms cannot use it (no CSRF on admin
//! POSTs); the price is that following a link from another site to the dashboard shows the
//! login page once.

use http::HeaderValue;
use percent_encoding::{percent_decode, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::extract::COOKIE_NAME;

/// Where the login form is served and posted.
pub const LOGIN_PATH: &str = "/login";
/// Where the dashboard posts to log out.
pub const LOGOUT_PATH: &str = "/logout";
/// The form field that carries the token.
pub const LOGIN_FIELD: &str = "token";

/// Everything but the characters that are safe in a cookie value as they are.
const COOKIE_ESCAPE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

const PAGE_HEAD: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>camrelay: log in</title>
<style>
body{font-family:system-ui,sans-serif;background:#111;color:#eee;display:flex;justify-content:center;margin-top:15vh}
form{display:flex;flex-direction:column;gap:.6em;min-width:18em}
input,button{font-size:1em;padding:.5em}
.err{color:#f77}
</style></head><body>
<form method="post" action="login">
<h1>camrelay</h1>
"#;

const PAGE_FAILED: &str = "<p class=\"err\">That token is not valid.</p>\n";

const PAGE_TAIL: &str = r#"<label for="token">Access token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Log in</button>
</form></body></html>
"#;

/// The login page: a form that POSTs `token=...` to [`LOGIN_PATH`]. With `failed`, it says
/// that the last token was not valid (and nothing else).
pub fn login_page(failed: bool) -> String {
    let mut page = String::with_capacity(PAGE_HEAD.len() + PAGE_FAILED.len() + PAGE_TAIL.len());
    page.push_str(PAGE_HEAD);
    if failed {
        page.push_str(PAGE_FAILED);
    }
    page.push_str(PAGE_TAIL);
    page
}

/// The token of a posted login form (`application/x-www-form-urlencoded`: `+` is a space,
/// `%XX` escapes are decoded). `None` when the field is absent, empty or not UTF-8.
pub fn login_token_from_form(body: &[u8]) -> Option<String> {
    body.split(|&b| b == b'&').find_map(|pair| {
        let eq = pair.iter().position(|&b| b == b'=')?;
        let (key, value) = (&pair[..eq], &pair[eq + 1..]);
        if key != LOGIN_FIELD.as_bytes() {
            return None;
        }
        let spaced: Vec<u8> = value
            .iter()
            .map(|&b| if b == b'+' { b' ' } else { b })
            .collect();
        let token = percent_decode(&spaced)
            .decode_utf8()
            .ok()?
            .trim()
            .to_owned();
        (!token.is_empty()).then_some(token)
    })
}

/// The `Set-Cookie` value after a successful login: the token (percent-encoded) in the
/// `camrelay_token` cookie, `HttpOnly; SameSite=Strict; Path=/`, plus `Secure` when the
/// relay serves TLS. A session cookie: it ends when the browser closes.
pub fn login_cookie(token: &str, secure: bool) -> HeaderValue {
    let value = format!(
        "{COOKIE_NAME}={}; HttpOnly; SameSite=Strict; Path=/{}",
        utf8_percent_encode(token, COOKIE_ESCAPE),
        if secure { "; Secure" } else { "" }
    );
    // Percent-encoding leaves only visible ASCII, which is always a valid header value.
    HeaderValue::from_str(&value).unwrap_or_else(|_| logout_cookie(secure))
}

/// The `Set-Cookie` value that logs out: an empty, already expired `camrelay_token` cookie.
pub fn logout_cookie(secure: bool) -> HeaderValue {
    if secure {
        HeaderValue::from_static(
            "camrelay_token=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0; Secure",
        )
    } else {
        HeaderValue::from_static("camrelay_token=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::{extract_token, TokenSource};
    use http::{header, HeaderMap};

    #[test]
    fn page_posts_the_token_field() {
        let page = login_page(false);
        assert!(page.contains(r#"<form method="post" action="login">"#));
        assert!(page.contains(r#"name="token""#));
        assert!(!page.contains("not valid"));
        assert!(login_page(true).contains("not valid"));
    }

    #[test]
    fn form_body_decoding() {
        assert_eq!(
            login_token_from_form(b"token=a%2Bb%3D+c&x=1").as_deref(),
            Some("a+b= c")
        );
        assert_eq!(
            login_token_from_form(b"x=1&token=abc").as_deref(),
            Some("abc")
        );
        assert_eq!(login_token_from_form(b"token="), None);
        assert_eq!(login_token_from_form(b"tokens=abc"), None);
        assert_eq!(login_token_from_form(b"token=%FF"), None);
        assert_eq!(login_token_from_form(b""), None);
    }

    #[test]
    fn cookie_attributes() {
        let c = login_cookie("abc", false);
        assert_eq!(c, "camrelay_token=abc; HttpOnly; SameSite=Strict; Path=/");
        let c = login_cookie("abc", true);
        assert!(c.to_str().expect("ascii").ends_with("; Secure"));
        let out = logout_cookie(false);
        assert!(out.to_str().expect("ascii").contains("Max-Age=0"));
        assert!(logout_cookie(true)
            .to_str()
            .expect("ascii")
            .ends_with("; Secure"));
    }

    #[test]
    fn cookie_round_trips_any_token() {
        for token in [
            "plain",
            "with space;and=semi\"quote",
            "ümlaut/+==",
            "a,b\\c",
        ] {
            let set = login_cookie(token, false);
            let pair = set
                .to_str()
                .expect("ascii")
                .split(';')
                .next()
                .expect("pair")
                .to_owned();
            let mut headers = HeaderMap::new();
            headers.insert(header::COOKIE, pair.parse().expect("cookie"));
            let presented = extract_token(&headers, None).expect("token");
            assert_eq!(presented.source, TokenSource::Cookie);
            assert_eq!(presented.token, token);
        }
    }
}
