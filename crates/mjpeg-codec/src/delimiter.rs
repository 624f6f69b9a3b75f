//! Recognising delimiter lines and boundaries.

use memchr::memmem;

/// Longest boundary accepted when learning it from the stream (RFC 2046 allows 70).
pub(crate) const MAX_LEARNED_BOUNDARY: usize = 200;
/// Most spaces/tabs accepted between a delimiter and its line end (RFC 2046 transport padding).
pub(crate) const MAX_DELIMITER_PADDING: usize = 64;

/// The delimiter `--boundary`: searched for in the stream as is.
pub(crate) struct Delimiter {
    /// `--` followed by the boundary.
    pub(crate) needle: Vec<u8>,
    /// Searcher for `needle`, built once.
    pub(crate) finder: memmem::Finder<'static>,
}

impl Delimiter {
    pub(crate) fn new(boundary: &[u8]) -> Self {
        let mut needle = Vec::with_capacity(boundary.len() + 2);
        needle.extend_from_slice(b"--");
        needle.extend_from_slice(boundary);
        let finder = memmem::Finder::new(&needle).into_owned();
        Self { needle, finder }
    }
}

/// What follows `--boundary` in the buffer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum LineEnd {
    /// A delimiter line of `n` more bytes (padding and line end).
    Open(usize),
    /// The closing delimiter `--boundary--`.
    Close,
    /// Not a delimiter (`--boundaryX`).
    Not,
    /// Cannot tell yet.
    NeedMore,
}

/// Classifies the bytes after a `--boundary` match.
pub(crate) fn line_end_after_delimiter(after: &[u8]) -> LineEnd {
    match after {
        [] | [b'-'] => return LineEnd::NeedMore,
        [b'-', b'-', ..] => return LineEnd::Close,
        _ => {}
    }
    let pad = after
        .iter()
        .take(MAX_DELIMITER_PADDING + 1)
        .take_while(|b| matches!(b, b' ' | b'\t'))
        .count();
    if pad > MAX_DELIMITER_PADDING {
        return LineEnd::Not;
    }
    match &after[pad..] {
        [] | [b'\r'] => LineEnd::NeedMore,
        [b'\r', b'\n', ..] => LineEnd::Open(pad + 2),
        [b'\n', ..] => LineEnd::Open(pad + 1),
        _ => LineEnd::Not,
    }
}

/// Header names that may open a part sent without a delimiter before it (old ESP32 forks).
const BARE_FIRST_PART: [&[u8]; 2] = [b"content-type:", b"content-length:"];

/// `Some(true)`: `buf` starts with a header line; `None`: too short to tell.
pub(crate) fn starts_with_header(buf: &[u8]) -> Option<bool> {
    let mut undecided = false;
    for name in BARE_FIRST_PART {
        let n = name.len().min(buf.len());
        if buf[..n].eq_ignore_ascii_case(&name[..n]) {
            if n == name.len() {
                return Some(true);
            }
            undecided = true;
        }
    }
    (!undecided).then_some(false)
}

/// A learned boundary must look like one: printable ASCII, not too long.
pub(crate) fn plausible_boundary(b: &[u8]) -> bool {
    !b.is_empty() && b.len() <= MAX_LEARNED_BOUNDARY && b.iter().all(|c| (0x20..0x7f).contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiter_line_ends() {
        assert_eq!(line_end_after_delimiter(b"\r\nContent"), LineEnd::Open(2));
        assert_eq!(line_end_after_delimiter(b"\nContent"), LineEnd::Open(1));
        assert_eq!(line_end_after_delimiter(b"  \t\r\n"), LineEnd::Open(5));
        assert_eq!(line_end_after_delimiter(b"--\r\n"), LineEnd::Close);
        assert_eq!(line_end_after_delimiter(b"X\r\n"), LineEnd::Not);
        assert_eq!(line_end_after_delimiter(b"-X"), LineEnd::Not);
        assert_eq!(line_end_after_delimiter(&[b' '; 100]), LineEnd::Not);
        for partial in [&b""[..], b"-", b"\r", b"   ", b"  \r"] {
            assert_eq!(
                line_end_after_delimiter(partial),
                LineEnd::NeedMore,
                "{partial:?}"
            );
        }
    }

    #[test]
    fn header_first_detection() {
        assert_eq!(starts_with_header(b"Content-Type: image/jpeg"), Some(true));
        assert_eq!(starts_with_header(b"CONTENT-LENGTH: 5"), Some(true));
        assert_eq!(starts_with_header(b"Content-"), None);
        assert_eq!(starts_with_header(b"--frame"), Some(false));
        assert_eq!(starts_with_header(b"\r\n--frame"), Some(false));
    }

    #[test]
    fn boundary_plausibility() {
        assert!(plausible_boundary(b"7b3cc56e5f51db803f790dad720ed50a"));
        assert!(plausible_boundary(b"my boundary"));
        assert!(!plausible_boundary(b""));
        assert!(!plausible_boundary(b"\xff\xd8"));
        assert!(!plausible_boundary(&[b'a'; MAX_LEARNED_BOUNDARY + 1]));
    }
}
