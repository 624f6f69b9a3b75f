//! Finding the token in a request: `Authorization: Bearer`, else `?token=`, else the
//! login cookie.

use std::borrow::Cow;
use std::fmt;

use http::{header, HeaderMap, Uri};
use percent_encoding::percent_decode_str;

/// The name of the cookie the dashboard login sets.
pub const COOKIE_NAME: &str = "camrelay_token";
/// The query parameter for `<img src="/stream/door?token=...">` embeds.
pub const QUERY_PARAM: &str = "token";

/// Where a presented token was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenSource {
    /// `Authorization: Bearer <token>`.
    Bearer,
    /// `?token=<token>` (percent-decoded; `+` stays `+`).
    Query,
    /// The `camrelay_token` cookie.
    Cookie,
}

/// A token found in a request. `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Presented<'a> {
    /// The token.
    pub token: Cow<'a, str>,
    /// Where it was found.
    pub source: TokenSource,
}

impl fmt::Debug for Presented<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Presented")
            .field("token", &"<redacted>")
            .field("source", &self.source)
            .finish()
    }
}

/// The token of a request, looked up in this order: the first `Authorization: Bearer` header,
/// else the first non-empty `token` query parameter, else the first non-empty
/// `camrelay_token` cookie. Headers that are not UTF-8, other schemes (`Basic`), empty
/// tokens and values that do not decode to UTF-8 are skipped, so they never hide a later
/// source.
pub fn extract_token<'a>(headers: &'a HeaderMap, query: Option<&'a str>) -> Option<Presented<'a>> {
    bearer(headers)
        .map(|token| Presented {
            token: Cow::Borrowed(token),
            source: TokenSource::Bearer,
        })
        .or_else(|| {
            query.and_then(query_token).map(|token| Presented {
                token,
                source: TokenSource::Query,
            })
        })
        .or_else(|| {
            cookie(headers).map(|token| Presented {
                token,
                source: TokenSource::Cookie,
            })
        })
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::AUTHORIZATION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| {
            let (scheme, token) = value.trim().split_once(' ')?;
            let token = token.trim();
            (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
        })
}

/// The `token` parameter of a query string, percent-decoded.
pub fn query_token(query: &str) -> Option<Cow<'_, str>> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        if key != QUERY_PARAM || value.is_empty() {
            return None;
        }
        percent_decode_str(value)
            .decode_utf8()
            .ok()
            .filter(|token| !token.is_empty())
    })
}

fn cookie(headers: &HeaderMap) -> Option<Cow<'_, str>> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            if name.trim() != COOKIE_NAME {
                return None;
            }
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            percent_decode_str(value)
                .decode_utf8()
                .ok()
                .filter(|token| !token.is_empty())
        })
}

/// The path and query of `uri` with any `token=` value replaced by `<redacted>`, for logs.
pub fn redacted_path_and_query(uri: &Uri) -> Cow<'_, str> {
    let path = uri.path();
    match uri.query() {
        None => Cow::Borrowed(path),
        Some(query) if !query.split('&').any(|p| p.starts_with("token=")) => {
            Cow::Borrowed(uri.path_and_query().map_or(path, |pq| pq.as_str()))
        }
        Some(query) => {
            let redacted: Vec<&str> = query
                .split('&')
                .map(|pair| {
                    if pair.starts_with("token=") {
                        "token=<redacted>"
                    } else {
                        pair
                    }
                })
                .collect();
            Cow::Owned(format!("{path}?{}", redacted.join("&")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&str, &[u8])]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                header::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_bytes(value).expect("value"),
            );
        }
        map
    }

    fn found(headers: &HeaderMap, query: Option<&str>) -> Option<(String, TokenSource)> {
        extract_token(headers, query).map(|p| (p.token.into_owned(), p.source))
    }

    #[test]
    fn bearer_header() {
        let h = headers(&[("authorization", b"Bearer abc.DEF-123")]);
        assert_eq!(
            found(&h, None),
            Some(("abc.DEF-123".into(), TokenSource::Bearer))
        );
        let h = headers(&[("authorization", b"bearer   spaced  ")]);
        assert_eq!(
            found(&h, None),
            Some(("spaced".into(), TokenSource::Bearer))
        );
    }

    #[test]
    fn query_parameter_percent_decoded() {
        let h = HeaderMap::new();
        assert_eq!(
            found(&h, Some("fps=5&token=a%2Fb%3D%3D&x=1")),
            Some(("a/b==".into(), TokenSource::Query))
        );
        // `+` is kept: base64 tokens pasted into a URL unencoded still work.
        assert_eq!(
            found(&h, Some("token=ab+cd")),
            Some(("ab+cd".into(), TokenSource::Query))
        );
        assert_eq!(found(&h, Some("tokens=x&xtoken=y")), None);
        assert_eq!(
            found(&h, Some("token=&token=second")).map(|f| f.0),
            Some("second".into())
        );
        assert_eq!(found(&h, Some("token")), None);
        // Not UTF-8 once decoded: skipped.
        assert_eq!(found(&h, Some("token=%FF")), None);
    }

    #[test]
    fn cookie_found_among_others() {
        let h = headers(&[("cookie", b"theme=dark; camrelay_token=c%20t ; other=1")]);
        assert_eq!(found(&h, None), Some(("c t".into(), TokenSource::Cookie)));
        let h = headers(&[
            ("cookie", b"theme=dark"),
            ("cookie", b"camrelay_token=\"quoted\""),
        ]);
        assert_eq!(
            found(&h, None),
            Some(("quoted".into(), TokenSource::Cookie))
        );
        let h = headers(&[("cookie", b"xcamrelay_token=no; camrelay_token=")]);
        assert_eq!(found(&h, None), None);
    }

    #[test]
    fn precedence_bearer_query_cookie() {
        let all = headers(&[
            ("cookie", b"camrelay_token=from-cookie"),
            ("authorization", b"Bearer from-header"),
        ]);
        assert_eq!(
            found(&all, Some("token=from-query")).map(|f| f.1),
            Some(TokenSource::Bearer)
        );
        let no_header = headers(&[("cookie", b"camrelay_token=from-cookie")]);
        assert_eq!(
            found(&no_header, Some("token=from-query")),
            Some(("from-query".into(), TokenSource::Query))
        );
        assert_eq!(
            found(&no_header, Some("fps=1")),
            Some(("from-cookie".into(), TokenSource::Cookie))
        );
    }

    #[test]
    fn malformed_headers_are_skipped() {
        // Basic auth, an empty bearer, a scheme alone and a non-UTF-8 value do not count as
        // a token, and do not hide the cookie.
        for bad in [
            &b"Basic dXNlcjpwYXNz"[..],
            b"Bearer ",
            b"Bearer",
            b"Bearertoken",
            b"Bearer \xff\xfe",
        ] {
            let h = headers(&[("authorization", bad), ("cookie", b"camrelay_token=ok")]);
            assert_eq!(
                found(&h, None),
                Some(("ok".into(), TokenSource::Cookie)),
                "{bad:?}"
            );
        }
        // A later good Authorization header is used.
        let h = headers(&[
            ("authorization", b"Basic x"),
            ("authorization", b"Bearer good"),
        ]);
        assert_eq!(found(&h, None).map(|f| f.0), Some("good".into()));
        let h = headers(&[("cookie", b"\xff; camrelay_token")]);
        assert_eq!(found(&h, None), None);
    }

    #[test]
    fn debug_hides_token() {
        let h = headers(&[("authorization", b"Bearer very-secret")]);
        let shown = format!("{:?}", extract_token(&h, None));
        assert!(!shown.contains("very-secret"), "{shown}");
    }

    #[test]
    fn redacts_token_in_uris() {
        let uri: Uri = "/stream/door?fps=2&token=secret&x=1".parse().expect("uri");
        assert_eq!(
            redacted_path_and_query(&uri),
            "/stream/door?fps=2&token=<redacted>&x=1"
        );
        let uri: Uri = "/stream/door?fps=2".parse().expect("uri");
        assert_eq!(redacted_path_and_query(&uri), "/stream/door?fps=2");
        let uri: Uri = "/healthz".parse().expect("uri");
        assert_eq!(redacted_path_and_query(&uri), "/healthz");
    }
}
