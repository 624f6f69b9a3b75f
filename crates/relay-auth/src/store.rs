//! [`TokenStore`]: the configured tokens, kept as SHA-256 digests, and the check of a request.

use std::fmt;
use std::sync::Arc;

use http::request::Parts;
use http::{HeaderMap, Request};
use sha2::{Digest, Sha256};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

use crate::access::{Denied, Grant, Need};
use crate::config::{AuthConfig, TokenConfig};
use crate::error::AuthError;
use crate::extract::extract_token;
use crate::Role;

/// Tokens shorter than this are accepted with a warning.
const SHORT_TOKEN: usize = 16;

type TokenDigest = [u8; 32];

/// The configured tokens. Only SHA-256 digests are kept; a presented token is hashed and
/// compared with every digest in constant time, so neither the answer's timing nor a log
/// line tells anything about the tokens. Cheap to share: wrap it in an `Arc`.
///
/// An empty store (no tokens at all) allows everything: that is the relay on 127.0.0.1
/// without configuration.
#[derive(Clone, Default)]
pub struct TokenStore {
    entries: Vec<Entry>,
}

#[derive(Clone)]
struct Entry {
    digest: TokenDigest,
    grant: Grant,
}

impl TokenStore {
    /// A store without tokens: everything is allowed.
    pub fn open() -> Self {
        TokenStore::default()
    }

    /// The tokens of the `[auth]` section.
    pub fn from_config(config: &AuthConfig) -> Result<Self, AuthError> {
        TokenStore::from_parts(config, &[], &[], None)
    }

    /// The tokens of the `[auth]` section plus the quick-start flags: `--admin-token` and
    /// `--viewer-token` values (all cameras) and `--metrics-token`. Entries are named for logs
    /// after their `name`, else where they came from (`[[auth.token]] #2`, `--admin-token #1`).
    ///
    /// Fails on an unusable entry (no token, bad hex, empty camera list...) or a token given
    /// twice; the error names the entry, never the token.
    pub fn from_parts(
        config: &AuthConfig,
        admin_tokens: &[String],
        viewer_tokens: &[String],
        metrics_token: Option<&str>,
    ) -> Result<Self, AuthError> {
        let mut store = TokenStore::default();
        for (i, entry) in config.tokens.iter().enumerate() {
            let label = entry
                .name
                .clone()
                .unwrap_or_else(|| format!("[[auth.token]] #{}", i + 1));
            store.add_config_entry(entry, label)?;
        }
        for (flag, role, tokens) in [
            ("--admin-token", Role::Admin, admin_tokens),
            ("--viewer-token", Role::Viewer, viewer_tokens),
        ] {
            for (i, token) in tokens.iter().enumerate() {
                let label = format!("{flag} #{}", i + 1);
                let digest = digest_of_clear(token, &label)?;
                store.push(digest, Grant::role(role, None, Arc::from(label)))?;
            }
        }
        let metrics = [
            (config.metrics_token.as_deref(), false, "metrics_token"),
            (
                config.metrics_token_sha256.as_deref(),
                true,
                "metrics_token",
            ),
            (metrics_token, false, "--metrics-token"),
        ];
        for (value, hashed, label) in metrics {
            let Some(value) = value else { continue };
            let digest = if hashed {
                parse_sha256_hex(value, label)?
            } else {
                digest_of_clear(value, label)?
            };
            store.push(digest, Grant::metrics_only(Arc::from(label)))?;
        }
        if !store.is_open() && !store.entries.iter().any(|e| e.grant.role_of().is_some()) {
            tracing::warn!(
                "auth: only a metrics token is configured, so no one can open the dashboard or \
                 watch a camera; add a viewer or admin token"
            );
        }
        Ok(store)
    }

    fn add_config_entry(&mut self, entry: &TokenConfig, label: String) -> Result<(), AuthError> {
        let digest = match (&entry.token, &entry.token_sha256) {
            (Some(token), None) => digest_of_clear(token, &label)?,
            (None, Some(hex)) => parse_sha256_hex(hex, &label)?,
            (Some(_), Some(_)) => {
                return Err(AuthError::invalid(
                    &label,
                    "give either `token` or `token_sha256`, not both",
                ))
            }
            (None, None) => {
                return Err(AuthError::invalid(
                    &label,
                    "needs `token` or `token_sha256`",
                ))
            }
        };
        let cameras =
            match &entry.cameras {
                None => None,
                Some(list) if list.is_empty() => return Err(AuthError::invalid(
                    &label,
                    "`cameras = []` allows no camera; list cameras or leave `cameras` out for all",
                )),
                Some(list) => Some(Arc::from(list.clone())),
            };
        self.push(digest, Grant::role(entry.role, cameras, Arc::from(label)))
    }

    fn push(&mut self, digest: TokenDigest, grant: Grant) -> Result<(), AuthError> {
        if let Some(first) = self.entries.iter().find(|e| e.digest == digest) {
            return Err(AuthError::DuplicateToken {
                first: first.grant.name().to_owned(),
                second: grant.name().to_owned(),
            });
        }
        self.entries.push(Entry { digest, grant });
        Ok(())
    }

    /// Whether no tokens are configured (everything is allowed).
    pub fn is_open(&self) -> bool {
        self.entries.is_empty()
    }

    /// The number of configured tokens, the metrics token included.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no tokens are configured; the same as [`TokenStore::is_open`].
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The names of the configured tokens, for a start-up log line.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| e.grant.name())
    }

    /// Checks a request: see [`TokenStore::authorize_headers`].
    pub fn authorize<B>(&self, request: &Request<B>, need: Need<'_>) -> Result<Grant, Denied> {
        self.authorize_headers(request.headers(), request.uri().query(), need)
    }

    /// Checks a request's head: see [`TokenStore::authorize_headers`].
    pub fn authorize_parts(&self, parts: &Parts, need: Need<'_>) -> Result<Grant, Denied> {
        self.authorize_headers(&parts.headers, parts.uri.query(), need)
    }

    /// Checks the token of a request (Bearer header, else `?token=`, else the login cookie;
    /// see [`extract_token`](crate::extract_token)) against what the route needs.
    ///
    /// An open store allows everything ([`Grant::open`]). No token or an unknown token is
    /// [`Denied::Unauthenticated`]; a known token without the role or camera is
    /// [`Denied::Forbidden`].
    pub fn authorize_headers(
        &self,
        headers: &HeaderMap,
        query: Option<&str>,
        need: Need<'_>,
    ) -> Result<Grant, Denied> {
        if self.is_open() {
            return Ok(Grant::open());
        }
        let presented = extract_token(headers, query).ok_or(Denied::Unauthenticated)?;
        let grant = self
            .lookup(&presented.token)
            .ok_or(Denied::Unauthenticated)?;
        if grant.satisfies(&need) {
            Ok(grant.clone())
        } else {
            Err(Denied::Forbidden)
        }
    }

    /// What a token gives, if it is configured. Constant time in the token and in which entry
    /// matches. An open store knows no token: this returns `None` there.
    pub fn lookup(&self, token: &str) -> Option<&Grant> {
        let probe: TokenDigest = Sha256::digest(token.as_bytes()).into();
        ct_position(self.entries.iter().map(|e| &e.digest), &probe).map(|i| &self.entries[i].grant)
    }

    /// The role a token typed into the dashboard's login form gives; `None` for an unknown
    /// token and for the metrics token (which cannot open the dashboard). An open store
    /// returns `Some(Role::Admin)` for any token, as it allows everything.
    pub fn check_login_token(&self, token: &str) -> Option<Role> {
        if self.is_open() {
            return Some(Role::Admin);
        }
        self.lookup(token).and_then(Grant::role_of)
    }
}

impl fmt::Debug for TokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenStore")
            .field(
                "tokens",
                &self.entries.iter().map(|e| &e.grant).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// The index of the digest equal to `probe`, looking at every digest whatever matches (no
/// early exit) and comparing with `subtle`, so that the time taken does not depend on which
/// entry matches or on how many leading bytes agree.
fn ct_position<'a>(
    digests: impl Iterator<Item = &'a TokenDigest>,
    probe: &TokenDigest,
) -> Option<usize> {
    let mut found = Choice::from(0);
    let mut index = 0u64;
    for (i, digest) in digests.enumerate() {
        let equal = digest[..].ct_eq(&probe[..]);
        index.conditional_assign(&(i as u64), equal);
        found |= equal;
    }
    bool::from(found).then_some(index as usize)
}

fn digest_of_clear(token: &str, label: &str) -> Result<TokenDigest, AuthError> {
    if token.is_empty() {
        return Err(AuthError::invalid(label, "the token is empty"));
    }
    if token.trim() != token {
        return Err(AuthError::invalid(
            label,
            "the token starts or ends with whitespace (it could not be sent in a header)",
        ));
    }
    if token.chars().any(char::is_control) {
        return Err(AuthError::invalid(
            label,
            "the token contains control characters",
        ));
    }
    if token.len() < SHORT_TOKEN {
        tracing::warn!(
            token = label,
            "auth: token shorter than {SHORT_TOKEN} characters; use a long random one \
             (e.g. `openssl rand -hex 32`)"
        );
    }
    Ok(Sha256::digest(token.as_bytes()).into())
}

fn parse_sha256_hex(hex: &str, label: &str) -> Result<TokenDigest, AuthError> {
    let hex = hex.trim();
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return Err(AuthError::invalid(
            label,
            format!(
                "`token_sha256` must be 64 hex digits, found {} characters",
                bytes.len()
            ),
        ));
    }
    let mut digest = [0u8; 32];
    for (out, pair) in digest.iter_mut().zip(bytes.chunks_exact(2)) {
        let (Some(hi), Some(lo)) = (hex_digit(pair[0]), hex_digit(pair[1])) else {
            return Err(AuthError::invalid(
                label,
                "`token_sha256` must be 64 hex digits (0-9, a-f)",
            ));
        };
        *out = hi << 4 | lo;
    }
    Ok(digest)
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::{FORBIDDEN_BODY, UNAUTHENTICATED_BODY};
    use crate::ErrorKind;
    use http::header;
    use std::cell::Cell;

    const VIEWER: &str = "viewer-token-0123456789";
    const DOOR: &str = "door-viewer-0123456789";
    const ADMIN: &str = "admin-token-0123456789";
    const METRICS: &str = "metrics-token-0123456789";

    fn sha_hex(token: &str) -> String {
        Sha256::digest(token.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn store() -> TokenStore {
        let config = AuthConfig {
            tokens: vec![
                TokenConfig {
                    name: Some("porch".into()),
                    token: None,
                    token_sha256: Some(sha_hex(DOOR)),
                    role: Role::Viewer,
                    cameras: Some(vec!["door".into()]),
                },
                TokenConfig::new(VIEWER, Role::Viewer),
            ],
            metrics_token: Some(METRICS.into()),
            metrics_token_sha256: None,
        };
        TokenStore::from_parts(&config, &[ADMIN.into()], &[], None).expect("store")
    }

    fn bearer(token: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            format!("Bearer {token}").parse().expect("value"),
        );
        h
    }

    fn check(store: &TokenStore, token: Option<&str>, need: Need<'_>) -> Result<String, Denied> {
        let headers = token.map(bearer).unwrap_or_default();
        store
            .authorize_headers(&headers, None, need)
            .map(|g| g.name().to_owned())
    }

    #[test]
    fn empty_store_allows_everything() {
        let open = TokenStore::open();
        assert!(open.is_open());
        let grant = open
            .authorize_headers(&HeaderMap::new(), None, Need::admin_all())
            .expect("open");
        assert!(grant.is_open());
        let open = TokenStore::from_parts(&AuthConfig::default(), &[], &[], None).expect("empty");
        assert!(open.is_open());
        assert_eq!(open.check_login_token("anything"), Some(Role::Admin));
        assert!(open.lookup("anything").is_none());
    }

    #[test]
    fn missing_and_unknown_tokens_are_unauthenticated() {
        let s = store();
        assert_eq!(
            check(&s, None, Need::view(None)),
            Err(Denied::Unauthenticated)
        );
        assert_eq!(
            check(&s, Some("not-a-token"), Need::view(None)),
            Err(Denied::Unauthenticated)
        );
        // A known token with a changed letter, or a prefix, is unknown.
        assert_eq!(
            check(&s, Some(&VIEWER[..VIEWER.len() - 1]), Need::view(None)),
            Err(Denied::Unauthenticated)
        );
        assert_eq!(Denied::Unauthenticated.body(), UNAUTHENTICATED_BODY);
    }

    #[test]
    fn roles_and_cameras() {
        let s = store();
        assert_eq!(
            check(&s, Some(VIEWER), Need::view(Some("door"))),
            Ok("[[auth.token]] #2".into())
        );
        assert_eq!(
            check(&s, Some(VIEWER), Need::admin(Some("door"))),
            Err(Denied::Forbidden)
        );
        assert_eq!(
            check(&s, Some(VIEWER), Need::metrics()),
            Err(Denied::Forbidden)
        );
        assert_eq!(
            check(&s, Some(DOOR), Need::view(Some("door"))),
            Ok("porch".into())
        );
        assert_eq!(check(&s, Some(DOOR), Need::view(None)), Ok("porch".into()));
        assert_eq!(
            check(&s, Some(DOOR), Need::view(Some("garden"))),
            Err(Denied::Forbidden)
        );
        assert_eq!(
            check(&s, Some(ADMIN), Need::admin_all()),
            Ok("--admin-token #1".into())
        );
        assert_eq!(
            check(&s, Some(ADMIN), Need::metrics()),
            Ok("--admin-token #1".into())
        );
        assert_eq!(Denied::Forbidden.body(), FORBIDDEN_BODY);
    }

    #[test]
    fn hashed_token_matches_clear_one() {
        let s = store();
        let grant = s.lookup(DOOR).expect("hashed token");
        assert_eq!(grant.cameras(), Some(&["door".to_owned()][..]));
        // Upper-case hex works too.
        let config = AuthConfig {
            tokens: vec![TokenConfig {
                token: None,
                token_sha256: Some(sha_hex(VIEWER).to_uppercase()),
                ..TokenConfig::new("", Role::Viewer)
            }],
            ..AuthConfig::default()
        };
        let s = TokenStore::from_config(&config).expect("store");
        assert_eq!(s.check_login_token(VIEWER), Some(Role::Viewer));
    }

    #[test]
    fn metrics_token_reads_only_metrics() {
        let s = store();
        assert_eq!(
            check(&s, Some(METRICS), Need::metrics()),
            Ok("metrics_token".into())
        );
        assert_eq!(
            check(&s, Some(METRICS), Need::view(None)),
            Err(Denied::Forbidden)
        );
        assert_eq!(
            check(&s, Some(METRICS), Need::view(Some("door"))),
            Err(Denied::Forbidden)
        );
        assert_eq!(s.check_login_token(METRICS), None);
        // From the flag, or as a hash.
        let s =
            TokenStore::from_parts(&AuthConfig::default(), &[], &[VIEWER.into()], Some(METRICS))
                .expect("store");
        assert_eq!(
            check(&s, Some(METRICS), Need::metrics()),
            Ok("--metrics-token".into())
        );
        let config = AuthConfig {
            metrics_token_sha256: Some(sha_hex(METRICS)),
            ..AuthConfig::default()
        };
        let s = TokenStore::from_config(&config).expect("store");
        assert!(!s.is_open());
        assert_eq!(
            check(&s, Some(METRICS), Need::metrics()),
            Ok("metrics_token".into())
        );
    }

    #[test]
    fn login_tokens() {
        let s = store();
        assert_eq!(s.check_login_token(ADMIN), Some(Role::Admin));
        assert_eq!(s.check_login_token(DOOR), Some(Role::Viewer));
        assert_eq!(s.check_login_token("nope"), None);
        assert_eq!(s.check_login_token(""), None);
    }

    #[test]
    fn query_and_cookie_tokens_authorize() {
        let s = store();
        let grant = s
            .authorize_headers(
                &HeaderMap::new(),
                Some("token=door-viewer-0123456789"),
                Need::view(Some("door")),
            )
            .expect("query");
        assert_eq!(grant.name(), "porch");
        let request = Request::builder()
            .uri("/stream/door")
            .header(header::COOKIE, format!("camrelay_token={ADMIN}"))
            .body(())
            .expect("request");
        assert!(s
            .authorize(&request, Need::admin(None))
            .expect("cookie")
            .is_admin());
        let (parts, ()) = request.into_parts();
        assert!(s.authorize_parts(&parts, Need::admin_all()).is_ok());
    }

    #[test]
    fn bad_entries_are_refused_without_showing_tokens() {
        let bad = |entry: TokenConfig| {
            TokenStore::from_config(&AuthConfig {
                tokens: vec![entry],
                ..AuthConfig::default()
            })
            .expect_err("bad entry")
        };
        let both = TokenConfig {
            token_sha256: Some(sha_hex("x")),
            ..TokenConfig::new("secret-in-both-0000", Role::Viewer)
        };
        let err = bad(both);
        assert_eq!(err.kind(), ErrorKind::InvalidToken);
        assert!(!err.to_string().contains("secret-in-both"), "{err}");
        let neither = TokenConfig {
            token: None,
            ..TokenConfig::new("", Role::Viewer)
        };
        assert!(bad(neither).to_string().contains("[[auth.token]] #1"));
        assert_eq!(
            bad(TokenConfig::new("", Role::Admin)).kind(),
            ErrorKind::InvalidToken
        );
        assert_eq!(
            bad(TokenConfig::new(" padded-token-000000 ", Role::Admin)).kind(),
            ErrorKind::InvalidToken
        );
        let short_hex = TokenConfig {
            token: None,
            token_sha256: Some("abcd".into()),
            ..TokenConfig::new("", Role::Viewer)
        };
        assert!(bad(short_hex).to_string().contains("64 hex digits"));
        let not_hex = TokenConfig {
            token: None,
            token_sha256: Some("g".repeat(64)),
            ..TokenConfig::new("", Role::Viewer)
        };
        assert_eq!(bad(not_hex).kind(), ErrorKind::InvalidToken);
        let no_cameras = TokenConfig {
            cameras: Some(vec![]),
            ..TokenConfig::new("no-cameras-000000000", Role::Viewer)
        };
        assert!(bad(no_cameras).to_string().contains("cameras = []"));
        let err = TokenStore::from_parts(
            &AuthConfig::default(),
            &["\u{7}bell-token-00000000".into()],
            &[],
            None,
        )
        .expect_err("control char");
        assert!(err.to_string().contains("--admin-token #1"), "{err}");
    }

    #[test]
    fn duplicate_tokens_are_refused() {
        let config = AuthConfig {
            tokens: vec![TokenConfig {
                name: Some("mine".into()),
                ..TokenConfig::new(ADMIN, Role::Viewer)
            }],
            ..AuthConfig::default()
        };
        let err = TokenStore::from_parts(&config, &[ADMIN.into()], &[], None).expect_err("dup");
        assert_eq!(err.kind(), ErrorKind::DuplicateToken);
        assert!(err.to_string().contains("mine") && err.to_string().contains("--admin-token #1"));
        assert!(!err.to_string().contains(ADMIN));
        let err = TokenStore::from_parts(
            &AuthConfig::default(),
            &[],
            &[METRICS.into()],
            Some(METRICS),
        )
        .expect_err("metrics same as viewer");
        assert_eq!(err.kind(), ErrorKind::DuplicateToken);
    }

    #[test]
    fn lookup_compares_every_digest_in_constant_time() {
        // Structural check: the scan visits every digest even when the first one matches,
        // so the time does not depend on which entry matches.
        let digests: Vec<TokenDigest> = (0u8..5).map(|i| [i; 32]).collect();
        for target in 0..5 {
            let visited = Cell::new(0);
            let position = ct_position(
                digests.iter().inspect(|_| visited.set(visited.get() + 1)),
                &digests[target],
            );
            assert_eq!(position, Some(target));
            assert_eq!(visited.get(), 5);
        }
        let mut near = digests[3];
        near[31] ^= 1;
        assert_eq!(ct_position(digests.iter(), &near), None);
        assert_eq!(ct_position(std::iter::empty(), &near), None);
    }

    #[test]
    fn only_digests_are_kept_and_debug_redacts() {
        let s = store();
        let shown = format!("{s:?}");
        for token in [VIEWER, DOOR, ADMIN, METRICS] {
            assert!(!shown.contains(token), "{shown}");
        }
        assert!(shown.contains("porch"), "{shown}");
        assert_eq!(s.len(), 4);
        assert_eq!(
            s.names().collect::<Vec<_>>(),
            [
                "porch",
                "[[auth.token]] #2",
                "--admin-token #1",
                "metrics_token"
            ]
        );
    }
}
