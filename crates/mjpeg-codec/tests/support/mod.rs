//! Helpers shared by the integration tests: fixtures, HTTP de-chunking, feeding a decoder.
#![allow(dead_code, clippy::unwrap_used)]

use bytes::{Bytes, BytesMut};
use mjpeg_codec::{CodecError, DecoderConfig, MjpegDecoder, Part};
use tokio_util::codec::Decoder;

/// Reads a file of `testdata/`.
pub fn testdata(name: &str) -> Vec<u8> {
    let path = format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The two sample photos, as real JPEG frames.
pub fn photos() -> [Bytes; 2] {
    [
        Bytes::from(testdata("chelsea.jpg")),
        Bytes::from(testdata("coffee.jpg")),
    ]
}

/// A raw HTTP response split into its head (status line + headers) and its body, de-chunked
/// when `Transfer-Encoding: chunked`. The captures are cut mid-chunk: a last chunk shorter
/// than announced is kept as far as it goes.
pub struct HttpCapture {
    pub head: String,
    pub body: Vec<u8>,
}

impl HttpCapture {
    pub fn parse(raw: &[u8]) -> Self {
        let end = memchr::memmem::find(raw, b"\r\n\r\n").expect("no end of HTTP head");
        let head = String::from_utf8(raw[..end].to_vec()).unwrap();
        let rest = &raw[end + 4..];
        let chunked = head.lines().any(|l| {
            l.to_ascii_lowercase().starts_with("transfer-encoding:")
                && l.to_ascii_lowercase().contains("chunked")
        });
        let body = if chunked {
            dechunk(rest)
        } else {
            rest.to_vec()
        };
        Self { head, body }
    }

    /// A response header's value (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    while let Some(line_end) = memchr::memmem::find(rest, b"\r\n") {
        let size_text = std::str::from_utf8(&rest[..line_end]).unwrap();
        let size_text = size_text.split(';').next().unwrap().trim();
        let size = usize::from_str_radix(size_text, 16).unwrap();
        if size == 0 {
            break;
        }
        let data = &rest[line_end + 2..];
        let take = size.min(data.len());
        body.extend_from_slice(&data[..take]);
        if take < size || data.len() < take + 2 {
            break; // the capture ends inside this chunk
        }
        rest = &data[take + 2..];
    }
    body
}

/// Feeds `input` to `decoder` in pieces cut at `splits` (sorted or not), then signals EOF, the
/// way `FramedRead` drives a decoder, but carrying on after recoverable errors.
pub fn decode_with_splits(
    mut decoder: MjpegDecoder,
    input: &[u8],
    splits: &[usize],
) -> Vec<Result<Part, CodecError>> {
    let mut cuts: Vec<usize> = splits.iter().map(|&s| s.min(input.len())).collect();
    cuts.push(input.len());
    cuts.sort_unstable();
    let mut out = Vec::new();
    let mut buf = BytesMut::new();
    let mut from = 0;
    for cut in cuts {
        buf.extend_from_slice(&input[from..cut]);
        from = cut;
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(part)) => out.push(Ok(part)),
                Ok(None) => break,
                Err(e) => {
                    let fatal = !e.is_recoverable();
                    out.push(Err(e));
                    if fatal {
                        return out;
                    }
                }
            }
        }
    }
    loop {
        match decoder.decode_eof(&mut buf) {
            Ok(Some(part)) => out.push(Ok(part)),
            Ok(None) => break,
            Err(e) => {
                let fatal = !e.is_recoverable();
                out.push(Err(e));
                if fatal {
                    break;
                }
            }
        }
    }
    out
}

/// Decodes `input` fed in one piece.
pub fn decode_all(decoder: MjpegDecoder, input: &[u8]) -> Vec<Result<Part, CodecError>> {
    decode_with_splits(decoder, input, &[])
}

/// The bodies of the Ok parts; panics on any error.
pub fn bodies(results: Vec<Result<Part, CodecError>>) -> Vec<Bytes> {
    results
        .into_iter()
        .map(|r| r.unwrap().into_body())
        .collect()
}

pub fn decoder(boundary: Option<&str>) -> MjpegDecoder {
    MjpegDecoder::new(boundary, DecoderConfig::default())
}

/// Builds a stream: for each frame, `before` + headers (from `head(i, jpeg)`) + blank line +
/// JPEG, with line ends `eol`.
pub fn build(
    frames: &[Bytes],
    eol: &str,
    before: impl Fn(usize) -> String,
    head: impl Fn(usize, &Bytes) -> Vec<String>,
) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, jpeg) in frames.iter().enumerate() {
        out.extend_from_slice(before(i).as_bytes());
        for line in head(i, jpeg) {
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(eol.as_bytes());
        }
        out.extend_from_slice(eol.as_bytes());
        out.extend_from_slice(jpeg);
    }
    out
}
