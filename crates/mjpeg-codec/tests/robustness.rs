//! Hostile and broken input: every case ends in a clear error or a counted skip, never a panic,
//! a hang or a buffer past the limits.
#![allow(clippy::unwrap_used)]

mod support;

use bytes::BytesMut;
use mjpeg_codec::{CodecError, DecoderConfig, ErrorKind, MjpegDecoder};
use support::*;
use tokio_util::codec::Decoder;

fn part(jpeg: &[u8], content_length: bool) -> Vec<u8> {
    let mut out = b"--b\r\nContent-Type: image/jpeg\r\n".to_vec();
    if content_length {
        out.extend_from_slice(format!("Content-Length: {}\r\n", jpeg.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(jpeg);
    out.extend_from_slice(b"\r\n");
    out
}

fn kinds(results: &[Result<mjpeg_codec::Part, CodecError>]) -> Vec<Option<ErrorKind>> {
    results
        .iter()
        .map(|r| r.as_ref().err().map(CodecError::kind))
        .collect()
}

/// Feeds `chunk`-sized pieces and returns the first error and the largest buffer seen.
fn feed_until_error(
    mut decoder: MjpegDecoder,
    input: impl Iterator<Item = Vec<u8>>,
) -> (Option<CodecError>, usize) {
    let mut buf = BytesMut::new();
    let mut max = 0;
    for chunk in input {
        buf.extend_from_slice(&chunk);
        max = max.max(buf.len());
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(_)) => continue,
                Ok(None) => break,
                Err(e) => return (Some(e), max),
            }
        }
        max = max.max(buf.len());
    }
    (None, max)
}

#[test]
fn truncated_jpeg_is_skipped_and_the_next_part_kept() {
    let [a, b] = photos();
    for content_length in [true, false] {
        let mut stream = part(&a[..a.len() / 2], content_length);
        let bad_len = stream.len();
        stream.extend(part(&b, content_length));
        let results = decode_all(decoder(Some("b")), &stream);
        assert_eq!(
            kinds(&results),
            [Some(ErrorKind::InvalidJpeg), None],
            "content_length {content_length}"
        );
        let err = results[0].as_ref().unwrap_err();
        assert!(err.is_recoverable());
        assert_eq!(err.part(), Some(0));
        let body_offset = if content_length {
            51 + (a.len() / 2).to_string().len()
        } else {
            33
        };
        assert_eq!(err.offset(), Some(body_offset as u64), "{err}");
        let good = results[1].as_ref().unwrap();
        assert_eq!(good.body(), &b);
        assert_eq!(good.index(), 1);
        assert_eq!(good.offset(), bad_len as u64 + 5);
    }
}

#[test]
fn not_a_jpeg_at_all() {
    let stream = part(b"<html>oops</html>", true);
    let results = decode_all(decoder(Some("b")), &stream);
    assert_eq!(kinds(&results), [Some(ErrorKind::InvalidJpeg)]);
    assert!(results[0]
        .as_ref()
        .unwrap_err()
        .to_string()
        .contains("no SOI"));
}

#[test]
fn garbage_between_parts_is_skipped_and_counted() {
    let [a, b] = photos();
    let mut stream = b"HTTP junk before anything\r\n\xff\xd8\x00binary\r\n".to_vec();
    stream.extend(part(&a, true));
    stream.extend_from_slice(b"\x00\x01 garbage --b-not-a-delimiter --bX\r\n more\n");
    stream.extend(part(&b, false));
    stream.extend(part(&a, true));
    stream.extend_from_slice(b"trailing garbage");
    let mut decoder = decoder(Some("b"));
    let mut buf = BytesMut::from(&stream[..]);
    let mut got = Vec::new();
    while let Some(p) = decoder.decode_eof(&mut buf).unwrap() {
        got.push(p.into_body());
    }
    assert_eq!(got, [a.clone(), b, a]);
    assert!(decoder.skipped_bytes() > 40);
}

#[test]
fn empty_parts_are_skipped() {
    let [a, _] = photos();
    let mut stream = b"--b\r\n\r\n--b\r\nContent-Length: 0\r\n\r\n\r\n--b\r\n\r\n\r\n".to_vec();
    stream.extend(part(&a, true));
    let results = decode_all(decoder(Some("b")), &stream);
    assert_eq!(results.len(), 1);
    let p = results[0].as_ref().unwrap();
    assert_eq!(p.body(), &a);
    assert_eq!(p.index(), 3, "three empty parts before it");
}

#[test]
fn headers_without_blank_line_before_the_jpeg() {
    let [a, _] = photos();
    let mut stream = b"--b\r\nContent-Type: image/jpeg\r\n".to_vec();
    stream.extend_from_slice(&a);
    stream.extend_from_slice(b"\r\n--b--\r\n");
    assert_eq!(bodies(decode_all(decoder(Some("b")), &stream)), [a]);
}

#[test]
fn oversized_content_length_is_refused_without_buffering() {
    let config = DecoderConfig {
        max_part_size: 1000,
        ..DecoderConfig::default()
    };
    let stream = b"--b\r\nContent-Length: 1001\r\n\r\n\xff\xd8".to_vec();
    let results = decode_all(MjpegDecoder::new(Some("b"), config), &stream);
    assert_eq!(kinds(&results), [Some(ErrorKind::PartTooLarge)]);
    let err = results[0].as_ref().unwrap_err();
    assert!(!err.is_recoverable());
    assert!(err.to_string().contains("1001"), "{err}");
}

#[test]
fn oversized_part_without_content_length_is_refused_when_it_arrives_whole() {
    // Found by the `decode` fuzz target: the whole part and the next delimiter in one read,
    // so the body never grew past the limit while the decoder was waiting for more.
    let config = DecoderConfig {
        max_part_size: 1000,
        ..DecoderConfig::default()
    };
    let [small, _] = photos();
    let mut big = vec![0xFF, 0xD8];
    big.resize(1500, 0x55);
    big.extend_from_slice(&[0xFF, 0xD9]);
    let mut stream = part(&big, false);
    stream.extend_from_slice(&part(&small[..small.len().min(900)], false));
    stream.extend_from_slice(b"--b--\r\n");
    let mut buf = BytesMut::from(&stream[..]);
    let mut decoder = MjpegDecoder::new(Some("b"), config);
    let first = decoder.decode(&mut buf);
    assert_eq!(
        first.map_err(|e| e.kind()).err(),
        Some(ErrorKind::PartTooLarge)
    );
    // At EOF too: a last part just past the limit, cut right after its JPEG (too close to the
    // limit for the scan to have refused it while waiting for a delimiter), is refused.
    let mut eof = BytesMut::from(&b"--b\r\nContent-Type: image/jpeg\r\n\r\n"[..]);
    eof.extend_from_slice(&big[..999]);
    eof.extend_from_slice(&[0xFF, 0xD9]);
    let mut decoder = MjpegDecoder::new(Some("b"), config);
    let first = decoder.decode(&mut eof);
    assert!(matches!(first, Ok(None)), "{first:?}");
    assert_eq!(
        decoder.decode_eof(&mut eof).map_err(|e| e.kind()).err(),
        Some(ErrorKind::PartTooLarge)
    );
}

#[test]
fn oversized_part_without_content_length_stops_at_the_limit() {
    let config = DecoderConfig {
        max_part_size: 100_000,
        ..DecoderConfig::default()
    };
    let head = std::iter::once(b"--b\r\n\r\n\xff\xd8".to_vec());
    let body = std::iter::repeat_n(vec![0x55u8; 4096], 1000);
    let (err, max) = feed_until_error(MjpegDecoder::new(Some("b"), config), head.chain(body));
    assert_eq!(err.map(|e| e.kind()), Some(ErrorKind::PartTooLarge));
    assert!(max <= 100_000 + 4096 + 16, "buffer grew to {max}");
}

#[test]
fn endless_headers_are_refused() {
    let config = DecoderConfig {
        max_header_size: 1024,
        ..DecoderConfig::default()
    };
    // Many short lines, and one endless line.
    for line in [b"X-Spam: yes\r\n".to_vec(), vec![b'a'; 100]] {
        let head = std::iter::once(b"--b\r\n".to_vec());
        let spam = std::iter::repeat_n(line, 10_000);
        let (err, max) = feed_until_error(MjpegDecoder::new(Some("b"), config), head.chain(spam));
        let err = err.unwrap();
        assert_eq!(err.kind(), ErrorKind::HeadersTooLarge);
        assert_eq!((err.offset(), err.part()), (Some(5), Some(0)));
        assert!(max <= 1024 + 100, "buffer grew to {max}");
    }
}

#[test]
fn endless_garbage_before_the_first_delimiter_stays_bounded() {
    for boundary in [Some("b"), None] {
        let garbage = std::iter::repeat_n(vec![0x42u8; 4096], 1000);
        let (err, max) = feed_until_error(decoder(boundary), garbage);
        assert!(err.is_none());
        assert!(max <= 16 * 1024 + 4096, "buffer grew to {max}");
    }
}

#[test]
fn non_utf8_headers_skip_the_part() {
    let [a, b] = photos();
    let mut stream = b"--b\r\nX-Name: \xff\xfe\r\n\r\n".to_vec();
    stream.extend_from_slice(&a);
    stream.extend_from_slice(b"\r\n");
    stream.extend(part(&b, true));
    let results = decode_all(decoder(Some("b")), &stream);
    assert_eq!(kinds(&results), [Some(ErrorKind::MalformedHeaders), None]);
    assert_eq!(results[1].as_ref().unwrap().body(), &b);
}

#[test]
fn cut_mid_part_is_unexpected_eof() {
    let [a, _] = photos();
    for content_length in [true, false] {
        let stream = part(&a, content_length);
        let cut = &stream[..stream.len() - 1000];
        let results = decode_all(decoder(Some("b")), cut);
        assert_eq!(kinds(&results), [Some(ErrorKind::UnexpectedEof)]);
        let err = results[0].as_ref().unwrap_err();
        assert!(!err.is_recoverable());
        assert_eq!(err.part(), Some(0));
    }
    let results = decode_all(decoder(Some("b")), b"--b\r\nContent-Type: ima");
    assert_eq!(kinds(&results), [Some(ErrorKind::UnexpectedEof)]);
}

#[test]
fn not_mjpeg_at_all_says_so_at_eof() {
    let results = decode_all(
        decoder(None),
        b"<html><body>401 Unauthorized</body></html>\n",
    );
    assert_eq!(kinds(&results), [Some(ErrorKind::UnexpectedEof)]);
    assert!(results[0]
        .as_ref()
        .unwrap_err()
        .to_string()
        .contains("before the first delimiter"));
    assert!(decode_all(decoder(None), b"").is_empty());
}

#[test]
fn closing_delimiter_ends_the_stream() {
    let [a, b] = photos();
    let mut stream = part(&a, true);
    stream.extend_from_slice(b"--b--\r\n");
    stream.extend(part(&b, true));
    let mut decoder = decoder(Some("b"));
    let mut buf = BytesMut::from(&stream[..]);
    assert_eq!(decoder.decode(&mut buf).unwrap().unwrap().body(), &a);
    assert!(decoder.decode(&mut buf).unwrap().is_none());
    assert!(decoder.is_closed());
    assert!(buf.is_empty(), "epilogue dropped");
    assert!(decoder.decode_eof(&mut buf).unwrap().is_none());
}

#[test]
fn wrong_content_length_resyncs_on_the_next_delimiter() {
    let [a, b] = photos();
    let mut stream = format!("--b\r\nContent-Length: {}\r\n\r\n", a.len() - 10).into_bytes();
    stream.extend_from_slice(&a);
    stream.extend(part(&b, true));
    let results = decode_all(decoder(Some("b")), &stream);
    assert_eq!(kinds(&results), [Some(ErrorKind::InvalidJpeg), None]);
    assert_eq!(results[1].as_ref().unwrap().body(), &b);
}
