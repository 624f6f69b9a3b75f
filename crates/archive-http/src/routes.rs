//! `GET /api/recordings` and `GET|HEAD /cams/NAME/recording.mp4`.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Response, StatusCode};
use mjpeg_record::{Archive, ErrorKind, Mp4Export};
use tokio::sync::mpsc;

use crate::body::ArchiveBody;
use crate::query::{param, time_range};
use crate::range::parse_range;

/// Bytes read from disk per body chunk.
const CHUNK: u64 = 256 * 1024;
/// Chunks buffered between the disk reader and the connection.
const CHUNKS_IN_FLIGHT: usize = 2;

type Answer = Response<ArchiveBody>;

/// The status of each `mjpeg-record` error kind: the one place they are mapped.
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::Parse | ErrorKind::InvalidInput => StatusCode::BAD_REQUEST,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Io | ErrorKind::Corrupt => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A plain-text answer.
pub fn text(status: StatusCode, body: impl Into<Bytes>) -> Answer {
    let mut response = Response::new(ArchiveBody::full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn error_response(error: &mjpeg_record::Error) -> Answer {
    let status = status_of(error.kind());
    if status.is_server_error() {
        tracing::warn!(%error, "recording request failed");
    }
    text(status, format!("{error}\n"))
}

fn bad_request(message: String) -> Box<Answer> {
    Box::new(text(StatusCode::BAD_REQUEST, message + "\n"))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> mjpeg_record::Result<T> + Send + 'static,
) -> Result<T, Box<Answer>> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(Box::new(error_response(&error))),
        Err(_) => Err(Box::new(text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "recording reader failed\n",
        ))),
    }
}

/// `GET /api/recordings?camera=NAME&start=T&end=T`: the camera's recorded spans and events in
/// the range, as JSON ([`mjpeg_record::Recordings`]). `is_camera` says which names are
/// cameras of the server (others get a 404).
pub async fn list(archive: Arc<Archive>, query: &str, is_camera: impl Fn(&str) -> bool) -> Answer {
    let result = async {
        let camera =
            param(query, "camera").ok_or_else(|| bad_request("missing ?camera=NAME".into()))?;
        if !is_camera(&camera) {
            return Err(Box::new(text(
                StatusCode::NOT_FOUND,
                format!("unknown camera {camera:?}; see /api/stats for the configured cameras\n"),
            )));
        }
        let (start, end) = time_range(query).map_err(bad_request)?;
        let recordings = blocking(move || archive.recordings(&camera, start, end)).await?;
        let json = serde_json::to_vec(&recordings).unwrap_or_default();
        let mut response = Response::new(ArchiveBody::full(json));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        Ok(response)
    };
    result.await.unwrap_or_else(|response| *response)
}

/// `GET|HEAD /cams/NAME/recording.mp4?start=T&end=T[&format=mjpeg]`: one MP4 of the range
/// with `Content-Length`, `ETag`, `If-None-Match` (304) and single byte ranges (206, 416); with
/// `format=mjpeg` the recorded JPEGs as a multipart download whose parts carry `X-Frame-Id`
/// and `X-Timestamp`. `head`: answer the headers only.
pub async fn export(
    archive: Arc<Archive>,
    camera: &str,
    query: &str,
    head: bool,
    headers: &HeaderMap,
) -> Answer {
    let result = async {
        let (start, end) = time_range(query).map_err(bad_request)?;
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
            Some(other) => Err(bad_request(format!(
                "format {other:?} is neither mp4 nor mjpeg"
            ))),
        }
    };
    result.await.unwrap_or_else(|response| *response)
}

fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn mp4_response(mp4: Mp4Export, head: bool, headers: &HeaderMap) -> Answer {
    let len = mp4.len();
    let etag = mp4.etag().to_owned();
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if not_modified {
        let mut r = Response::new(ArchiveBody::full(Bytes::new()));
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
fn stream_body(mp4: Mp4Export, range: Range<u64>, head: bool) -> ArchiveBody {
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
    ArchiveBody::Channel(rx)
}

fn mjpeg_response(frames: mjpeg_record::MjpegExport, head: bool) -> Answer {
    let (tx, rx) = mpsc::channel(CHUNKS_IN_FLIGHT * 4);
    let writer = mjpeg_serve::writer();
    if !head {
        tokio::task::spawn_blocking(move || {
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
    let mut response = Response::new(ArchiveBody::Channel(rx));
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, header_value(writer.content_type()));
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
    fn error_kinds_map_to_statuses() {
        assert_eq!(status_of(ErrorKind::Parse), StatusCode::BAD_REQUEST);
        assert_eq!(status_of(ErrorKind::NotFound), StatusCode::NOT_FOUND);
        assert_eq!(status_of(ErrorKind::Io), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
