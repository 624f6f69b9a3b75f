//! Recording routes (issue #16, documented in `docs/api.md`):
//!
//! * `GET /api/recordings?camera=NAME&start=T&end=T`: spans and events as JSON;
//! * `GET /cams/NAME/recording.mp4?start=T&end=T`: one MP4 of the range, with `ETag`,
//!   `If-None-Match` and single byte ranges; `&format=mjpeg`: the recorded JPEGs as a multipart
//!   download whose parts carry `X-Frame-Id` and `X-Timestamp`.
//!
//! Times are RFC 3339 or Unix seconds (`mjpeg_record::parse_time`). Every `mjpeg-record` error
//! becomes a status in one place, `error_response`.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Response, StatusCode};
use mjpeg_record::{Archive, ErrorKind, Micros, Mp4Export};
use tokio::sync::mpsc;

use super::body::RelayBody;
use super::{json, text};
use crate::state::RelayState;

/// Bytes read from disk per body chunk.
const CHUNK: u64 = 256 * 1024;
/// Chunks buffered between the disk reader and the connection.
const CHUNKS_IN_FLIGHT: usize = 2;

/// The status of each `mjpeg-record` error kind: the one place they are mapped.
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::Parse | ErrorKind::InvalidInput => StatusCode::BAD_REQUEST,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Io | ErrorKind::Corrupt => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn error_response(error: &mjpeg_record::Error) -> Response<RelayBody> {
    let status = status_of(error.kind());
    if status.is_server_error() {
        tracing::warn!(%error, "recording request failed");
    }
    text(status, format!("{error}\n"))
}

fn bad_request(message: String) -> Response<RelayBody> {
    text(StatusCode::BAD_REQUEST, message + "\n")
}

/// The value of query parameter `name`, percent-decoded.
fn param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == name).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `start` and `end` of the query, or a 400 saying what is wrong.
fn time_range(query: &str) -> Result<(Micros, Micros), Box<Response<RelayBody>>> {
    let get = |name: &str| -> Result<Micros, Box<Response<RelayBody>>> {
        let value = param(query, name).ok_or_else(|| {
            Box::new(bad_request(format!(
                "missing ?{name}= (RFC 3339 like 2026-11-29T21:00:00Z, or Unix seconds)"
            )))
        })?;
        mjpeg_record::parse_time(&value)
            .map_err(|e| Box::new(bad_request(format!("bad {name}: {e}"))))
    };
    let (start, end) = (get("start")?, get("end")?);
    if end <= start {
        return Err(Box::new(bad_request("end must be after start".into())));
    }
    Ok((start, end))
}

fn archive(state: &RelayState) -> Result<Arc<Archive>, Box<Response<RelayBody>>> {
    match &state.recording {
        Some(recording) => Ok(recording.archive.clone()),
        None => Err(Box::new(text(
            StatusCode::NOT_FOUND,
            "recording is not configured (start with --record DIR or a [record] table)\n",
        ))),
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> mjpeg_record::Result<T> + Send + 'static,
) -> Result<T, Box<Response<RelayBody>>> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(Box::new(error_response(&error))),
        Err(_) => Err(Box::new(text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "recording reader failed\n",
        ))),
    }
}

/// `GET /api/recordings?camera=NAME&start=T&end=T`.
pub async fn list(state: &RelayState, query: &str) -> Response<RelayBody> {
    let result = async {
        let archive = archive(state)?;
        let camera = param(query, "camera")
            .ok_or_else(|| Box::new(bad_request("missing ?camera=NAME".into())))?;
        if state.camera(&camera).is_none() {
            return Err(Box::new(super::no_camera(&camera)));
        }
        let (start, end) = time_range(query)?;
        let recordings = blocking(move || archive.recordings(&camera, start, end)).await?;
        Ok(json(&recordings))
    };
    result.await.unwrap_or_else(|response| *response)
}

/// `GET|HEAD /cams/NAME/recording.mp4?start=T&end=T[&format=mjpeg]`.
pub async fn export(
    state: &RelayState,
    camera: &str,
    query: &str,
    head: bool,
    headers: &HeaderMap,
) -> Response<RelayBody> {
    let result = async {
        let archive = archive(state)?;
        let (start, end) = time_range(query)?;
        let camera = camera.to_owned();
        match param(query, "format").as_deref() {
            None | Some("mp4") => {
                let mp4 = blocking(move || archive.export_mp4(&camera, start, end)).await?;
                Ok(mp4_response(mp4, head, headers))
            }
            Some("mjpeg") => {
                let frames = blocking(move || archive.export_mjpeg(&camera, start, end)).await?;
                Ok(mjpeg_response(frames, head))
            }
            Some(other) => Err(Box::new(bad_request(format!(
                "format {other:?} is neither mp4 nor mjpeg"
            )))),
        }
    };
    result.await.unwrap_or_else(|response| *response)
}

/// The single byte range a `Range` header asks for, in a body of `len` bytes:
/// `Ok(None)` for the whole body, `Err(())` for an invalid or unsatisfiable range.
pub(crate) fn parse_range(value: &str, len: u64) -> Result<Option<Range<u64>>, ()> {
    let spec = value.trim().strip_prefix("bytes=").ok_or(())?.trim();
    if spec.contains(',') {
        // Several ranges: serve the whole body (allowed by RFC 9110).
        return Ok(None);
    }
    let (a, b) = spec.split_once('-').ok_or(())?;
    let num = |s: &str| s.trim().parse::<u64>().map_err(|_| ());
    let range = if a.trim().is_empty() {
        let n = num(b)?;
        if n == 0 || len == 0 {
            return Err(());
        }
        len - n.min(len)..len
    } else {
        let start = num(a)?;
        let end = if b.trim().is_empty() {
            len
        } else {
            let last = num(b)?;
            if last < start {
                return Err(());
            }
            last.saturating_add(1).min(len)
        };
        if start >= len {
            return Err(());
        }
        start..end
    };
    Ok(Some(range))
}

fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn mp4_response(mp4: Mp4Export, head: bool, headers: &HeaderMap) -> Response<RelayBody> {
    let len = mp4.len();
    let etag = mp4.etag().to_owned();
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if not_modified {
        let mut r = Response::new(RelayBody::full(Bytes::new()));
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        let range = match headers.get(header::RANGE).map(|v| v.to_str()) {
            None => Ok(None),
            Some(Ok(v)) => parse_range(v, len),
            Some(Err(_)) => Err(()),
        };
        match range {
            Err(()) => {
                let mut r = text(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    format!("invalid or unsatisfiable range; the body has {len} bytes\n"),
                );
                r.headers_mut().insert(
                    header::CONTENT_RANGE,
                    header_value(&format!("bytes */{len}")),
                );
                return r;
            }
            Ok(None) => {
                let mut r = Response::new(stream_body(mp4, 0..len, head));
                r.headers_mut()
                    .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
                r
            }
            Ok(Some(range)) => {
                let (a, b) = (range.start, range.end);
                let mut r = Response::new(stream_body(mp4, range, head));
                *r.status_mut() = StatusCode::PARTIAL_CONTENT;
                let h = r.headers_mut();
                h.insert(header::CONTENT_LENGTH, HeaderValue::from(b - a));
                h.insert(
                    header::CONTENT_RANGE,
                    header_value(&format!("bytes {a}-{}/{len}", b - 1)),
                );
                r
            }
        }
    };
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("video/mp4"));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::ETAG, header_value(&etag));
    response
}

/// A body read from disk ~256 KiB at a time on a blocking thread (nothing for HEAD).
fn stream_body(mp4: Mp4Export, range: Range<u64>, head: bool) -> RelayBody {
    let (tx, rx) = mpsc::channel(CHUNKS_IN_FLIGHT);
    if !head {
        tokio::task::spawn_blocking(move || {
            for chunk in mp4.chunks(range, CHUNK) {
                match chunk {
                    Ok(bytes) => {
                        if tx.blocking_send(bytes).is_err() {
                            return; // the client went away
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, "recording export: read failed; body cut short");
                        return;
                    }
                }
            }
        });
    }
    RelayBody::Channel(rx)
}

fn mjpeg_response(frames: mjpeg_record::MjpegExport, head: bool) -> Response<RelayBody> {
    let (tx, rx) = mpsc::channel(CHUNKS_IN_FLIGHT * 4);
    if !head {
        tokio::task::spawn_blocking(move || {
            let writer = crate::frame::writer();
            if tx.blocking_send(writer.preamble()).is_err() {
                return;
            }
            let mut first = true;
            for frame in frames {
                let frame = match frame {
                    Ok(frame) => frame,
                    Err(error) => {
                        tracing::warn!(%error, "recording export: read failed; body cut short");
                        return;
                    }
                };
                let us = frame.capture_us.max(0);
                let timestamp = mjpeg_codec::Timestamp {
                    secs: u64::try_from(us / 1_000_000).unwrap_or(0),
                    micros: u32::try_from(us % 1_000_000).unwrap_or(0),
                };
                let head = writer.part_head(&mjpeg_codec::PartHead {
                    content_length: frame.jpeg.len(),
                    frame_id: Some(frame.frame_id),
                    timestamp: Some(timestamp),
                    extra: &[],
                });
                let parts = [
                    (!first).then(|| writer.delimiter()),
                    Some(head),
                    Some(frame.jpeg),
                ];
                first = false;
                for part in parts.into_iter().flatten() {
                    if tx.blocking_send(part).is_err() {
                        return;
                    }
                }
            }
            let _ = tx.blocking_send(Bytes::from(format!(
                "\r\n--{}--\r\n",
                mjpeg_serve::BOUNDARY
            )));
        });
    }
    let mut response = Response::new(RelayBody::Channel(rx));
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        header_value(crate::frame::writer().content_type()),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"recording.mjpeg\""),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_rfc_9110() {
        assert_eq!(parse_range("bytes=0-9", 100), Ok(Some(0..10)));
        assert_eq!(parse_range("bytes=90-200", 100), Ok(Some(90..100)));
        assert_eq!(parse_range("bytes=10-", 100), Ok(Some(10..100)));
        assert_eq!(parse_range("bytes=-10", 100), Ok(Some(90..100)));
        assert_eq!(parse_range("bytes=-1000", 100), Ok(Some(0..100)));
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Ok(None));
        assert_eq!(parse_range("bytes=100-", 100), Err(()));
        assert_eq!(parse_range("bytes=-0", 100), Err(()));
        assert_eq!(parse_range("bytes=5-2", 100), Err(()));
        assert_eq!(parse_range("items=0-1", 100), Err(()));
        assert_eq!(parse_range("bytes=x-1", 100), Err(()));
    }

    #[test]
    fn query_params_are_percent_decoded() {
        let q = "camera=door&start=2026-11-29T21%3A00%3A00%2B01%3A00&end=17";
        assert_eq!(
            param(q, "start").as_deref(),
            Some("2026-11-29T21:00:00+01:00")
        );
        assert_eq!(param(q, "end").as_deref(), Some("17"));
        assert_eq!(param(q, "format"), None);
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }

    #[test]
    fn error_kinds_map_to_statuses() {
        assert_eq!(status_of(ErrorKind::Parse), StatusCode::BAD_REQUEST);
        assert_eq!(status_of(ErrorKind::NotFound), StatusCode::NOT_FOUND);
        assert_eq!(status_of(ErrorKind::Io), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
