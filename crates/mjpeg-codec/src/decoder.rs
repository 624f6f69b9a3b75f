//! The incremental multipart parser, as a [`tokio_util::codec::Decoder`].

use bytes::{Buf, Bytes, BytesMut};
use tokio_util::codec::Decoder;

use crate::delimiter::{
    line_end_after_delimiter, plausible_boundary, starts_with_header, Delimiter, LineEnd,
};
use crate::{jpeg, CodecError, DecoderConfig, Part, PartHeaders};

/// Incremental parser of a `multipart/x-mixed-replace` body into [`Part`]s.
///
/// It honours the [`Decoder`] contract, so `FramedRead` works unchanged (but `FramedRead` ends
/// at the first error, even a recoverable one; [`crate::MjpegStream`] goes on after those).
/// After an error the decoder itself is ready for the next part. It copes with what real cameras send: CRLF or bare LF,
/// a preamble or blank line before the first delimiter, garbage between parts, repeated
/// delimiter lines, header lines without a colon, empty parts, padding after the JPEG, a missing
/// first delimiter (old ESP32 forks), no `Content-Length` and a boundary that only the stream
/// itself tells (VLC, ffmpeg).
///
/// With `Content-Length` the body is taken without looking at its bytes; without it, the next
/// delimiter is found with a `memchr::memmem::Finder` that never rescans bytes already searched.
/// The buffer never holds more than `max_header_size` of headers or `max_part_size` of body.
pub struct MjpegDecoder {
    /// Limits, fixed for the decoder's life.
    config: DecoderConfig,
    /// `--boundary` and its searcher, once known (given, or learned from the first delimiter).
    delimiter: Option<Delimiter>,
    /// Where in the multipart grammar the next byte of `buf` is.
    state: State,
    /// Stream offset of `buf[0]`: bytes consumed so far. For error context and `Part::offset`.
    consumed: u64,
    /// Index of the part being read, or of the next one while between parts.
    part: u64,
    /// Stream offset of the current part's header block.
    part_offset: u64,
    /// Bytes discarded outside parts (preamble, garbage, epilogue), for diagnostics.
    skipped: u64,
}

/// Where the decoder is in the multipart grammar; each state keeps how far it has scanned, so
/// no byte is searched twice.
enum State {
    /// Between parts: looking for the next delimiter line. `scanned` bytes of `buf` hold no
    /// match; `at_line_start` (learning mode only) says whether `buf[0]` begins a line.
    Seek { scanned: usize, at_line_start: bool },
    /// After a delimiter line: `buf[..scanned]` are complete header lines.
    Headers { scanned: usize },
    /// In a body of known length.
    BodyLength { headers: PartHeaders, len: usize },
    /// In a body without `Content-Length`: `buf[..scanned]` holds no delimiter.
    BodyScan {
        headers: PartHeaders,
        scanned: usize,
    },
    /// After the closing delimiter or the end of the stream: everything left is epilogue.
    Closed,
}

/// The state at the start of a stream and after each part.
const SEEK_START: State = State::Seek {
    scanned: 0,
    at_line_start: true,
};

impl MjpegDecoder {
    /// A decoder for delimiter lines `--boundary` (a leading `--` repeated in `boundary` is
    /// stripped). `None`, or an empty boundary, learns it from the first line that starts
    /// with `--`.
    pub fn new(boundary: Option<&str>, config: DecoderConfig) -> Self {
        let delimiter = boundary
            .map(|b| b.strip_prefix("--").unwrap_or(b))
            .filter(|b| !b.is_empty())
            .map(|b| Delimiter::new(b.as_bytes()));
        Self {
            config,
            delimiter,
            state: SEEK_START,
            consumed: 0,
            part: 0,
            part_offset: 0,
            skipped: 0,
        }
    }

    /// A decoder for the boundary in a `Content-Type` header value; learns it from the stream
    /// when the header has none (e.g. `application/octet-stream` from VLC or ffmpeg).
    pub fn from_content_type(content_type: &str, config: DecoderConfig) -> Self {
        let boundary = crate::boundary_from_content_type(content_type);
        Self::new(boundary.as_deref(), config)
    }

    /// The boundary in use, once known (without the leading `--`).
    pub fn boundary(&self) -> Option<&str> {
        let needle = &self.delimiter.as_ref()?.needle;
        std::str::from_utf8(needle.get(2..)?).ok()
    }

    /// `true` after the closing delimiter `--boundary--` (or the end of the stream): no more
    /// parts will come.
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// Bytes discarded outside parts so far (preamble, garbage between parts, epilogue).
    pub fn skipped_bytes(&self) -> u64 {
        self.skipped
    }

    /// Bytes consumed from the stream so far.
    pub fn consumed_bytes(&self) -> u64 {
        self.consumed
    }

    /// The decoder's limits.
    pub fn config(&self) -> &DecoderConfig {
        &self.config
    }

    fn skip(&mut self, buf: &mut BytesMut, n: usize) {
        if n > 0 {
            let garbage = buf[..n].iter().filter(|b| !b.is_ascii_whitespace()).count();
            if garbage > 0 {
                tracing::debug!(
                    offset = self.consumed,
                    bytes = n,
                    garbage,
                    "skipping bytes outside parts"
                );
            }
            self.skipped += n as u64;
        }
        self.drop_bytes(buf, n);
    }

    fn drop_bytes(&mut self, buf: &mut BytesMut, n: usize) {
        buf.advance(n);
        self.consumed += n as u64;
    }

    fn take(&mut self, buf: &mut BytesMut, n: usize) -> Bytes {
        self.consumed += n as u64;
        buf.split_to(n).freeze()
    }

    /// Starts a part whose header block begins at `buf[0]`.
    fn open_part(&mut self) {
        self.part_offset = self.consumed;
        self.state = State::Headers { scanned: 0 };
    }

    /// Drops everything after a fatal error; the decoder then looks for the next delimiter.
    fn fatal(&mut self, buf: &mut BytesMut, err: CodecError) -> CodecError {
        let n = buf.len();
        self.drop_bytes(buf, n);
        self.part += 1;
        self.state = State::Seek {
            scanned: 0,
            at_line_start: false,
        };
        err
    }

    /// Seek state: returns `true` once a part is opened.
    fn seek(&mut self, buf: &mut BytesMut, mut scanned: usize, at_line_start: bool) -> bool {
        let Some(needle_len) = self.delimiter.as_ref().map(|d| d.needle.len()) else {
            return self.learn(buf, scanned, at_line_start);
        };
        if self.consumed == 0 && self.part == 0 && scanned == 0 {
            match starts_with_header(buf) {
                Some(true) => {
                    tracing::debug!("stream starts with headers, no delimiter before part 0");
                    self.open_part();
                    return true;
                }
                Some(false) => {}
                None => {
                    self.state = SEEK_START;
                    return false;
                }
            }
        }
        loop {
            let Some(i) = self.find_delimiter(&buf[scanned..]) else {
                // Keep a tail that may begin a delimiter; the rest is garbage.
                let keep = needle_len - 1;
                let drop = buf.len().saturating_sub(keep);
                self.skip(buf, drop);
                self.state = State::Seek {
                    scanned: 0,
                    at_line_start,
                };
                return false;
            };
            let at = scanned + i;
            match line_end_after_delimiter(&buf[at + needle_len..]) {
                LineEnd::Open(n) => {
                    self.skip(buf, at + needle_len + n);
                    self.open_part();
                    return true;
                }
                LineEnd::Close => {
                    let n = buf.len();
                    self.skip(buf, n);
                    tracing::debug!(offset = self.consumed, "closing delimiter");
                    self.state = State::Closed;
                    return false;
                }
                LineEnd::Not => scanned = at + 1,
                LineEnd::NeedMore => {
                    self.skip(buf, at);
                    self.state = State::Seek {
                        scanned: 0,
                        at_line_start,
                    };
                    return false;
                }
            }
        }
    }

    /// Seek state without a boundary: the first line that starts with `--` gives it.
    fn learn(&mut self, buf: &mut BytesMut, scanned: usize, mut at_line_start: bool) -> bool {
        let mut from = scanned;
        loop {
            let Some(i) = memchr::memchr(b'\n', &buf[from..]) else {
                if buf.len() > self.config.max_header_size {
                    // An endless line: drop it, the next line start is after its '\n'.
                    let n = buf.len();
                    self.skip(buf, n);
                    at_line_start = false;
                    from = 0;
                } else {
                    from = buf.len();
                }
                self.state = State::Seek {
                    scanned: from,
                    at_line_start,
                };
                return false;
            };
            let end = from + i;
            let line = buf[..end].trim_ascii();
            if at_line_start {
                if let Some(boundary) = line.strip_prefix(b"--") {
                    if plausible_boundary(boundary) {
                        let delimiter = Delimiter::new(boundary);
                        tracing::debug!(
                            boundary = %String::from_utf8_lossy(boundary),
                            offset = self.consumed,
                            "learned boundary from the stream"
                        );
                        self.delimiter = Some(delimiter);
                        self.skip(buf, end + 1);
                        self.open_part();
                        return true;
                    }
                }
            }
            self.skip(buf, end + 1);
            at_line_start = true;
            from = 0;
        }
    }

    /// Headers state: returns `Ok(true)` once the block is read and a body state entered.
    fn headers(&mut self, buf: &mut BytesMut, mut scanned: usize) -> Result<bool, CodecError> {
        let (block_end, body_start) = loop {
            let rest = &buf[scanned..];
            if rest.starts_with(&[0xFF, 0xD8]) {
                // A JPEG SOI where a header line should be: the blank line is missing.
                break (scanned, scanned);
            }
            let Some(i) = memchr::memchr(b'\n', rest) else {
                if buf.len() > self.config.max_header_size {
                    return Err(self.headers_too_large(buf));
                }
                self.state = State::Headers { scanned };
                return Ok(false);
            };
            let line_end = scanned + i;
            let line = buf[scanned..line_end].trim_ascii();
            if line.is_empty() {
                break (scanned, line_end + 1);
            }
            if scanned == 0 && self.is_delimiter(line) {
                // A repeated delimiter line (Foscam): drop it, the block starts after it.
                self.skip(buf, line_end + 1);
                self.part_offset = self.consumed;
                continue;
            }
            scanned = line_end + 1;
            if scanned > self.config.max_header_size {
                return Err(self.headers_too_large(buf));
            }
        };
        let block = self.take(buf, block_end);
        self.drop_bytes(buf, body_start - block_end);
        let headers = match PartHeaders::parse(block) {
            Ok(headers) => headers,
            Err(reason) => {
                let err = CodecError::MalformedHeaders {
                    offset: self.part_offset,
                    part: self.part,
                    reason,
                };
                self.part += 1;
                self.state = SEEK_START;
                return Err(err);
            }
        };
        self.state = match headers.get("content-length") {
            None => State::BodyScan {
                headers,
                scanned: 0,
            },
            Some(value) => match value.parse::<usize>() {
                Ok(len) if len > self.config.max_part_size => {
                    let err = CodecError::PartTooLarge {
                        offset: self.consumed,
                        part: self.part,
                        size: len,
                        limit: self.config.max_part_size,
                    };
                    return Err(self.fatal(buf, err));
                }
                Ok(len) => State::BodyLength { headers, len },
                Err(_) => {
                    tracing::debug!(
                        part = self.part,
                        value,
                        "unreadable Content-Length, looking for the delimiter instead"
                    );
                    State::BodyScan {
                        headers,
                        scanned: 0,
                    }
                }
            },
        };
        Ok(true)
    }

    fn find_delimiter(&self, haystack: &[u8]) -> Option<usize> {
        self.delimiter.as_ref()?.finder.find(haystack)
    }

    fn is_delimiter(&self, line: &[u8]) -> bool {
        self.delimiter
            .as_ref()
            .is_some_and(|d| line == d.needle.as_slice())
    }

    fn headers_too_large(&mut self, buf: &mut BytesMut) -> CodecError {
        let err = CodecError::HeadersTooLarge {
            offset: self.part_offset,
            part: self.part,
            limit: self.config.max_header_size,
        };
        self.fatal(buf, err)
    }

    fn part_too_large(&mut self, buf: &mut BytesMut, size: usize) -> CodecError {
        let err = CodecError::PartTooLarge {
            offset: self.consumed,
            part: self.part,
            size,
            limit: self.config.max_part_size,
        };
        self.fatal(buf, err)
    }

    /// BodyScan state: the body ends where the next delimiter starts.
    fn scan_body(
        &mut self,
        buf: &mut BytesMut,
        headers: PartHeaders,
        mut scanned: usize,
    ) -> Result<Option<Part>, CodecError> {
        let Some(needle_len) = self.delimiter.as_ref().map(|d| d.needle.len()) else {
            // Unreachable: a part is only opened once the boundary is known.
            self.state = SEEK_START;
            return Ok(None);
        };
        loop {
            let Some(i) = self.find_delimiter(&buf[scanned..]) else {
                scanned = buf.len().saturating_sub(needle_len - 1).max(scanned);
                if scanned > self.config.max_part_size {
                    return Err(self.part_too_large(buf, scanned));
                }
                self.state = State::BodyScan { headers, scanned };
                return Ok(None);
            };
            let at = scanned + i;
            match line_end_after_delimiter(&buf[at + needle_len..]) {
                LineEnd::Open(_) | LineEnd::Close => {
                    let offset = self.consumed;
                    let body = self.take(buf, at);
                    self.state = SEEK_START;
                    return self.finish(body, headers, offset);
                }
                LineEnd::Not => scanned = at + 1,
                LineEnd::NeedMore => {
                    self.state = State::BodyScan {
                        headers,
                        scanned: at,
                    };
                    return Ok(None);
                }
            }
        }
    }

    /// Checks a body and makes the part; empty bodies are skipped (`Ok(None)`).
    fn finish(
        &mut self,
        mut body: Bytes,
        headers: PartHeaders,
        offset: u64,
    ) -> Result<Option<Part>, CodecError> {
        let part = self.part;
        self.part += 1;
        body.truncate(jpeg::trimmed_len(&body));
        // A whole oversized part can arrive in one read (or end the stream): the scan never
        // saw it grow past the limit while waiting for more.
        if body.len() > self.config.max_part_size {
            return Err(CodecError::PartTooLarge {
                offset,
                part,
                size: body.len(),
                limit: self.config.max_part_size,
            });
        }
        if body.is_empty() {
            tracing::debug!(part, offset, "skipping empty part");
            return Ok(None);
        }
        if !jpeg::is_complete(&body) {
            let reason = if body.starts_with(&[0xFF, 0xD8]) {
                "no EOI FF D9 at the end"
            } else {
                "no SOI FF D8 at the start"
            };
            return Err(CodecError::InvalidJpeg {
                offset,
                part,
                len: body.len(),
                reason,
            });
        }
        Ok(Some(Part {
            body,
            headers,
            index: part,
            offset: self.part_offset,
        }))
    }
}

impl Decoder for MjpegDecoder {
    type Item = Part;
    type Error = CodecError;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Part>, CodecError> {
        loop {
            // The scan positions index `buf`; clamped in case a caller hands in a buffer that
            // shrank since the last call (the contract says it only grows), so slicing cannot
            // panic.
            match std::mem::replace(&mut self.state, State::Closed) {
                State::Seek {
                    scanned,
                    at_line_start,
                } => {
                    if !self.seek(buf, scanned.min(buf.len()), at_line_start) {
                        if self.is_closed() {
                            // Epilogue after `--boundary--`.
                            let n = buf.len();
                            self.skip(buf, n);
                        }
                        return Ok(None);
                    }
                }
                State::Headers { scanned } => {
                    if !self.headers(buf, scanned.min(buf.len()))? {
                        return Ok(None);
                    }
                }
                State::BodyLength { headers, len } => {
                    if buf.len() < len {
                        buf.reserve(len - buf.len());
                        self.state = State::BodyLength { headers, len };
                        return Ok(None);
                    }
                    let offset = self.consumed;
                    let body = self.take(buf, len);
                    self.state = SEEK_START;
                    if let Some(part) = self.finish(body, headers, offset)? {
                        return Ok(Some(part));
                    }
                }
                State::BodyScan { headers, scanned } => {
                    if let Some(part) = self.scan_body(buf, headers, scanned.min(buf.len()))? {
                        return Ok(Some(part));
                    }
                    if !matches!(self.state, State::Seek { .. }) {
                        return Ok(None);
                    }
                }
                State::Closed => {
                    let n = buf.len();
                    self.skip(buf, n);
                    return Ok(None);
                }
            }
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Part>, CodecError> {
        if let Some(part) = self.decode(buf)? {
            return Ok(Some(part));
        }
        let buffered = buf.len();
        let offset = self.consumed;
        let part = self.part;
        let cut = |reason| CodecError::UnexpectedEof {
            offset,
            part,
            buffered,
            reason,
        };
        let result = match std::mem::replace(&mut self.state, State::Closed) {
            State::Closed => Ok(None),
            State::Seek { .. } if self.part == 0 && self.consumed + buffered as u64 > 0 => {
                Err(cut("before the first delimiter"))
            }
            State::Seek { .. } => Ok(None),
            // A stream cut right after a delimiter line (the usual end of our own writer's
            // and the ESP32 firmware's streams) lost no data.
            State::Headers { .. } if buf.iter().all(u8::is_ascii_whitespace) => Ok(None),
            State::Headers { .. } => Err(cut("in a part's headers")),
            State::BodyLength { .. } => Err(cut("in a part's body, before Content-Length bytes")),
            State::BodyScan { headers, .. } => {
                // The last part of a stream without Content-Length ends at EOF: keep it if it
                // is a whole JPEG.
                let body_offset = self.consumed;
                let body = self.take(buf, buffered);
                let trimmed = jpeg::trimmed_len(&body);
                if trimmed == 0 || jpeg::is_complete(&body) {
                    self.finish(body, headers, body_offset)
                } else {
                    Err(cut("in a part's body"))
                }
            }
        };
        let n = buf.len();
        self.skip(buf, n);
        self.state = State::Closed;
        result
    }
}

impl std::fmt::Debug for MjpegDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MjpegDecoder")
            .field("boundary", &self.boundary())
            .field("consumed", &self.consumed)
            .field("part", &self.part)
            .field("skipped", &self.skipped)
            .field("closed", &self.is_closed())
            .finish()
    }
}
