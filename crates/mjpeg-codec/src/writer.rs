//! The multipart writer for viewers.

use bytes::Bytes;

use crate::Timestamp;

/// Boundary of [`MultipartWriter::default`].
pub const DEFAULT_BOUNDARY: &str = "camrelayframe";

/// Writes a `multipart/x-mixed-replace` stream of JPEG frames.
///
/// Per connection send [`preamble`](Self::preamble) once, then per frame the three `Bytes` of
/// [`part`](Self::part): head, JPEG, delimiter. Each part's delimiter goes out right after its
/// JPEG, so a browser shows the frame as soon as it arrives (Chromium shows the second-to-last
/// part otherwise, crbug 527446). The JPEG is never copied, and the head is built once per frame
/// and shared by all viewers.
///
/// ```
/// use bytes::Bytes;
/// use mjpeg_codec::{MultipartWriter, PartHead};
///
/// let writer = MultipartWriter::default();
/// let jpeg = Bytes::from_static(&[0xFF, 0xD8, 0xFF, 0xD9]);
/// let head = PartHead { content_length: jpeg.len(), frame_id: Some(7), timestamp: None, extra: &[] };
/// let [head, body, delimiter] = writer.part(&head, &jpeg);
/// assert_eq!(&head[..], b"Content-Type: image/jpeg\r\nContent-Length: 4\r\nX-Frame-Id: 7\r\n\r\n");
/// assert_eq!(body, jpeg);
/// assert_eq!(&delimiter[..], b"\r\n--camrelayframe\r\n");
/// assert_eq!(&writer.preamble()[..], b"--camrelayframe\r\n");
/// ```
#[derive(Debug, Clone)]
pub struct MultipartWriter {
    content_type: String,
    preamble: Bytes,
    delimiter: Bytes,
}

/// The headers of one outgoing part.
#[derive(Debug, Clone, Copy, Default)]
pub struct PartHead<'a> {
    /// Length of the JPEG in bytes.
    pub content_length: usize,
    /// `X-Frame-Id`, when given.
    pub frame_id: Option<u64>,
    /// `X-Timestamp` (`SEC.USEC`), when given.
    pub timestamp: Option<Timestamp>,
    /// More `(name, value)` headers, written in order. CR and LF in them are dropped, so they
    /// cannot break the framing.
    pub extra: &'a [(&'a str, &'a str)],
}

impl MultipartWriter {
    /// A writer with delimiter lines `--boundary`.
    pub fn new(boundary: &str) -> Self {
        let is_token = !boundary.is_empty()
            && boundary
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"'+_-.".contains(&b));
        let content_type = if is_token {
            format!("multipart/x-mixed-replace; boundary={boundary}")
        } else {
            format!("multipart/x-mixed-replace; boundary=\"{boundary}\"")
        };
        Self {
            content_type,
            preamble: Bytes::from(format!("--{boundary}\r\n")),
            delimiter: Bytes::from(format!("\r\n--{boundary}\r\n")),
        }
    }

    /// The `Content-Type` header value of the response.
    pub fn content_type(&self) -> &str {
        &self.content_type
    }

    /// The first delimiter line, sent once before the first part.
    pub fn preamble(&self) -> Bytes {
        self.preamble.clone()
    }

    /// The delimiter that closes each part (`\r\n--boundary\r\n`); a cheap clone.
    pub fn delimiter(&self) -> Bytes {
        self.delimiter.clone()
    }

    /// The header block of one part, ending with the blank line.
    pub fn part_head(&self, head: &PartHead<'_>) -> Bytes {
        let mut out = Vec::with_capacity(96);
        let mut num = itoa::Buffer::new();
        out.extend_from_slice(b"Content-Type: image/jpeg\r\nContent-Length: ");
        out.extend_from_slice(num.format(head.content_length).as_bytes());
        out.extend_from_slice(b"\r\n");
        if let Some(id) = head.frame_id {
            out.extend_from_slice(b"X-Frame-Id: ");
            out.extend_from_slice(num.format(id).as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        if let Some(ts) = head.timestamp {
            out.extend_from_slice(b"X-Timestamp: ");
            ts.write_to(&mut out);
            out.extend_from_slice(b"\r\n");
        }
        for (name, value) in head.extra {
            push_field(&mut out, name);
            out.extend_from_slice(b": ");
            push_field(&mut out, value);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        Bytes::from(out)
    }

    /// `[head, jpeg, delimiter]` of one frame; `jpeg` is not copied.
    pub fn part(&self, head: &PartHead<'_>, jpeg: &Bytes) -> [Bytes; 3] {
        [self.part_head(head), jpeg.clone(), self.delimiter()]
    }
}

impl Default for MultipartWriter {
    fn default() -> Self {
        Self::new(DEFAULT_BOUNDARY)
    }
}

fn push_field(out: &mut Vec<u8>, s: &str) {
    out.extend(s.bytes().filter(|b| !matches!(b, b'\r' | b'\n')));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_head() {
        let w = MultipartWriter::new("b");
        let head = PartHead {
            content_length: 12345,
            frame_id: Some(99),
            timestamp: Some(Timestamp {
                secs: 1,
                micros: 20,
            }),
            extra: &[("X-Camera", "door\r\nEvil: 1")],
        };
        assert_eq!(
            &w.part_head(&head)[..],
            &b"Content-Type: image/jpeg\r\nContent-Length: 12345\r\nX-Frame-Id: 99\r\nX-Timestamp: 1.000020\r\nX-Camera: doorEvil: 1\r\n\r\n"[..]
        );
    }

    #[test]
    fn content_type_quotes_odd_boundaries() {
        assert_eq!(
            MultipartWriter::new("a b").content_type(),
            "multipart/x-mixed-replace; boundary=\"a b\""
        );
        assert_eq!(
            MultipartWriter::default().content_type(),
            "multipart/x-mixed-replace; boundary=camrelayframe"
        );
    }
}
