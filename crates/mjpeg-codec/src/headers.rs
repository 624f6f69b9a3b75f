//! The header block of one part, kept as the bytes that came in.

use std::fmt;
use std::ops::Range;

use bytes::Bytes;

/// The headers of one part, in the order they came, with case-insensitive lookup.
///
/// Zero-copy: holds the header block as received and the positions of names and values.
/// Lines without a colon (a Foscam habit) and repeated delimiter lines are ignored.
#[derive(Clone, Default)]
pub struct PartHeaders {
    /// The raw header block (valid UTF-8, checked when parsed).
    block: Bytes,
    /// Name and value ranges in `block`, trimmed of surrounding whitespace.
    fields: Vec<(Range<usize>, Range<usize>)>,
}

impl PartHeaders {
    /// Parses a header block (lines ended by LF or CRLF). Fails when a header line is not
    /// UTF-8.
    pub(crate) fn parse(block: Bytes) -> Result<Self, &'static str> {
        let mut fields = Vec::new();
        let mut start = 0;
        while start < block.len() {
            let end = memchr::memchr(b'\n', &block[start..]).map_or(block.len(), |i| start + i);
            let line = &block[start..end];
            if let Some(colon) = memchr::memchr(b':', line) {
                if std::str::from_utf8(line).is_err() {
                    return Err("header line is not UTF-8");
                }
                let name = trim(start, &line[..colon]);
                let value = trim(start + colon + 1, &line[colon + 1..]);
                if !name.is_empty() {
                    fields.push((name, value));
                }
            }
            start = end + 1;
        }
        Ok(Self { block, fields })
    }

    /// The value of the first header called `name` (ASCII case-insensitive), trimmed.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// All headers as `(name, value)`, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields
            .iter()
            .map(|(n, v)| (self.str_at(n.clone()), self.str_at(v.clone())))
    }

    /// The `Content-Length` value, when present and a plain decimal number.
    pub fn content_length(&self) -> Option<usize> {
        self.get("content-length")?.parse().ok()
    }

    /// Number of headers.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// `true` when the part had no headers.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    fn str_at(&self, range: Range<usize>) -> &str {
        // Every stored range lies in a line checked as UTF-8 and is cut at ASCII bytes.
        self.block
            .get(range)
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or("")
    }
}

/// The range of `bytes` (which starts at `base` in the block) without surrounding whitespace.
fn trim(base: usize, bytes: &[u8]) -> Range<usize> {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    base + start..base + end
}

impl fmt::Debug for PartHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &[u8]) -> PartHeaders {
        PartHeaders::parse(Bytes::copy_from_slice(s)).unwrap()
    }

    #[test]
    fn case_insensitive_in_order() {
        let h =
            parse(b"Content-type: image/jpeg\r\nContent-Length:     42016\r\nX-A: 1\nX-a: 2\r\n");
        assert_eq!(h.get("CONTENT-TYPE"), Some("image/jpeg"));
        assert_eq!(h.content_length(), Some(42016));
        assert_eq!(h.get("x-a"), Some("1"));
        let all: Vec<_> = h.iter().collect();
        assert_eq!(all.len(), 4);
        assert_eq!(all[3], ("X-a", "2"));
    }

    #[test]
    fn ignores_lines_without_colon() {
        let h = parse(b"--frame\r\nfoscam junk\r\nContent-Length: 5\r\n: no name\r\n");
        assert_eq!(h.len(), 1);
        assert_eq!(h.content_length(), Some(5));
    }

    #[test]
    fn bad_content_length_is_none() {
        assert_eq!(parse(b"Content-Length: -3\r\n").content_length(), None);
        assert_eq!(
            parse(b"Content-Length: 99999999999999999999999\r\n").content_length(),
            None
        );
    }

    #[test]
    fn non_utf8_is_an_error() {
        assert!(PartHeaders::parse(Bytes::from_static(b"X: \xff\xfe\r\n")).is_err());
        // Binary without a colon is ignored, not an error.
        assert!(PartHeaders::parse(Bytes::from_static(b"\xff\xfe\r\n")).is_ok());
    }
}
