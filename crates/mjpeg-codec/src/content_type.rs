//! Reading the boundary out of a `Content-Type` header.

/// Returns the `boundary` parameter of a `multipart/...` `Content-Type` value, or `None` when
/// there is none (e.g. VLC and ffmpeg send `application/octet-stream`: learn it instead).
///
/// The parameter name is case-insensitive, the value may be quoted, and a leading `--` that
/// some servers repeat in the header (`boundary=--frame` for delimiter lines `--frame`) is
/// stripped.
///
/// ```
/// use mjpeg_codec::boundary_from_content_type;
/// assert_eq!(
///     boundary_from_content_type("multipart/x-mixed-replace; boundary=\"--frame\"").as_deref(),
///     Some("frame")
/// );
/// assert_eq!(boundary_from_content_type("application/octet-stream"), None);
/// ```
pub fn boundary_from_content_type(content_type: &str) -> Option<String> {
    // Parameters follow the media type; a quoted value may itself contain ';'.
    let (_media_type, mut rest) = content_type.split_once(';')?;
    loop {
        let (name, after_eq) = rest.split_once('=')?;
        // A parameter without '=' ("; foo; boundary=x") is skipped.
        let name = name.rsplit(';').next().unwrap_or(name).trim();
        let after_eq = after_eq.trim_start();
        let (value, next) = if let Some(quoted) = after_eq.strip_prefix('"') {
            let (value, next) = unquote(quoted);
            (value, next)
        } else {
            let end = after_eq.find(';').unwrap_or(after_eq.len());
            (after_eq[..end].trim().to_owned(), &after_eq[end..])
        };
        if name.eq_ignore_ascii_case("boundary") {
            let value = value.strip_prefix("--").unwrap_or(&value);
            return (!value.is_empty()).then(|| value.to_owned());
        }
        rest = next;
    }
}

/// Reads a quoted-string whose opening quote is already consumed; returns the value and the
/// text after the closing quote.
fn unquote(s: &str) -> (String, &str) {
    let mut value = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return (value, &s[i + 1..]),
            '\\' => {
                if let Some((_, escaped)) = chars.next() {
                    value.push(escaped);
                }
            }
            c => value.push(c),
        }
    }
    (value, "")
}

#[cfg(test)]
mod tests {
    use super::boundary_from_content_type as b;

    #[test]
    fn plain_quoted_and_dashed() {
        assert_eq!(
            b("multipart/x-mixed-replace;boundary=123456789000000000000987654321").as_deref(),
            Some("123456789000000000000987654321")
        );
        assert_eq!(
            b("multipart/x-mixed-replace; BOUNDARY=\"a b;c\"").as_deref(),
            Some("a b;c")
        );
        assert_eq!(
            b("multipart/x-mixed-replace; boundary=--myboundary").as_deref(),
            Some("myboundary")
        );
        assert_eq!(
            b("multipart/x-mixed-replace; charset=x; boundary=frame ; foo=bar").as_deref(),
            Some("frame")
        );
        assert_eq!(
            b(r#"multipart/x-mixed-replace; boundary="q\"x""#).as_deref(),
            Some("q\"x")
        );
    }

    #[test]
    fn none_when_missing_or_empty() {
        assert_eq!(b("application/octet-stream"), None);
        assert_eq!(b("multipart/x-mixed-replace"), None);
        assert_eq!(b("multipart/x-mixed-replace; boundary="), None);
        assert_eq!(b("multipart/x-mixed-replace; boundary=\"--\""), None);
        assert_eq!(b("multipart/x-mixed-replace; other=1"), None);
    }
}
