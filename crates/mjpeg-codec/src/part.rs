//! One decoded part (frame) of the stream.

use std::fmt;

use bytes::Bytes;

use crate::{PartHeaders, Timestamp};

/// One part of a multipart stream: a JPEG frame and its headers.
///
/// The body is a zero-copy slice of the decoder's read buffer; cloning a `Part` or its body
/// only bumps a reference count.
#[derive(Clone)]
pub struct Part {
    pub(crate) body: Bytes,
    pub(crate) headers: PartHeaders,
    pub(crate) index: u64,
    pub(crate) offset: u64,
}

impl Part {
    /// The JPEG bytes (trailing CR/LF/`0x00` padding removed).
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The JPEG bytes, by value.
    pub fn into_body(self) -> Bytes {
        self.body
    }

    /// All headers of the part.
    pub fn headers(&self) -> &PartHeaders {
        &self.headers
    }

    /// The `X-Timestamp` header, when present and well-formed.
    pub fn timestamp(&self) -> Option<Timestamp> {
        Timestamp::parse(self.headers.get("x-timestamp")?)
    }

    /// The `X-Frame-Id` header (a relay's broadcast frame number), when present and a plain
    /// decimal `u64`.
    pub fn frame_id(&self) -> Option<u64> {
        let value = self.headers.get("x-frame-id")?;
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        value.parse().ok()
    }

    /// Part number in the stream, 0-based (counts every part the decoder opened, including
    /// skipped empty or invalid ones).
    pub fn index(&self) -> u64 {
        self.index
    }

    /// Byte offset in the stream of the part's first header byte (just after its delimiter
    /// line).
    pub fn offset(&self) -> u64 {
        self.offset
    }
}

impl fmt::Debug for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Part")
            .field("index", &self.index)
            .field("offset", &self.offset)
            .field("body_len", &self.body.len())
            .field("headers", &self.headers)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part_with(headers: &'static [u8]) -> Part {
        Part {
            body: Bytes::from_static(b"\xFF\xD8\xFF\xD9"),
            headers: PartHeaders::parse(Bytes::from_static(headers)).expect("UTF-8 headers"),
            index: 0,
            offset: 0,
        }
    }

    #[test]
    fn frame_id_is_a_plain_decimal_u64() {
        assert_eq!(part_with(b"X-Frame-Id: 42\r\n").frame_id(), Some(42));
        assert_eq!(
            part_with(b"x-frame-id:18446744073709551615\r\n").frame_id(),
            Some(u64::MAX)
        );
        for bad in [
            &b"X-Frame-Id: -1\r\n"[..],
            b"X-Frame-Id: +1\r\n",
            b"X-Frame-Id: 1.5\r\n",
            b"X-Frame-Id:\r\n",
            b"X-Frame-Id: 18446744073709551616\r\n",
            b"Content-Length: 4\r\n",
        ] {
            let headers = PartHeaders::parse(Bytes::copy_from_slice(bad)).expect("UTF-8");
            let part = Part {
                headers,
                ..part_with(b"")
            };
            assert_eq!(part.frame_id(), None, "{bad:?}");
        }
    }
}
