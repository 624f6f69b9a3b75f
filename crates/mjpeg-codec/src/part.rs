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
