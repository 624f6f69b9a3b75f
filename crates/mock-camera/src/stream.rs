//! The `/stream` response body: the firmware's multipart loop, with optional faults.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream;
use http_body_util::{combinators::UnsyncBoxBody, BodyExt, StreamBody};
use hyper::body::Frame;
use tokio::sync::{watch, OwnedSemaphorePermit};

use crate::camera::{Camera, CapturedFrame};
use crate::stats::Counters;

/// The firmware's `PART_BOUNDARY`.
pub const BOUNDARY: &str = "123456789000000000000987654321";
/// The firmware's `_STREAM_CONTENT_TYPE`.
pub const STREAM_CONTENT_TYPE: &str =
    "multipart/x-mixed-replace;boundary=123456789000000000000987654321";
/// The firmware's `_STREAM_BOUNDARY`, sent *before* every part (the first one included).
pub const STREAM_DELIMITER: &[u8] = b"\r\n--123456789000000000000987654321\r\n";

/// The firmware's `_STREAM_PART` for a payload of `len` bytes captured at `timestamp`.
pub(crate) fn part_header(len: usize, timestamp: &str) -> Bytes {
    Bytes::from(format!(
        "Content-Type: image/jpeg\r\nContent-Length: {len}\r\nX-Timestamp: {timestamp}\r\n\r\n"
    ))
}

/// Keeps a stream client counted and its slot taken for as long as the body lives.
struct ClientSlot {
    camera: Arc<Camera>,
    _permit: Option<OwnedSemaphorePermit>,
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        self.camera
            .counters
            .stream_clients
            .fetch_sub(1, Ordering::Relaxed);
        tracing::debug!("mock camera stream client gone");
    }
}

/// Where one `/stream` response is.
struct StreamState {
    slot: ClientSlot,
    frames: watch::Receiver<Arc<CapturedFrame>>,
    /// Chunks of the current part not yet handed to hyper (delimiter, headers, payload).
    pending: VecDeque<Bytes>,
    /// Parts queued so far on this response.
    parts: u64,
    /// `close_after` reached: end once `pending` drains.
    finished: bool,
}

/// The body of a `/stream` response. Holds `permit` (if any) until the client goes away.
pub(crate) fn stream_body(
    camera: Arc<Camera>,
    permit: Option<OwnedSemaphorePermit>,
) -> UnsyncBoxBody<Bytes, Infallible> {
    Counters::bump(&camera.counters.stream_connections_total);
    Counters::bump(&camera.counters.stream_clients);
    let state = StreamState {
        frames: camera.subscribe(),
        slot: ClientSlot {
            camera,
            _permit: permit,
        },
        pending: VecDeque::with_capacity(3),
        parts: 0,
        finished: false,
    };
    let chunks = stream::unfold(state, |mut state| async move {
        let chunk = next_chunk(&mut state).await?;
        Some((Ok::<_, Infallible>(Frame::data(chunk)), state))
    });
    StreamBody::new(chunks).boxed_unsync()
}

/// The next chunk to write, waiting for the next frame when a part is done.
async fn next_chunk(state: &mut StreamState) -> Option<Bytes> {
    if let Some(chunk) = state.pending.pop_front() {
        return Some(chunk);
    }
    if state.finished {
        return None;
    }
    let camera = Arc::clone(&state.slot.camera);
    let config = &camera.config;
    if state.parts > 0 {
        if config.stall_after == Some(state.parts) {
            tracing::info!(parts = state.parts, stall = ?config.stall_for, "mock camera stalls");
            tokio::time::sleep(config.stall_for).await;
        } else if state.frames.changed().await.is_err() {
            return None; // The camera is gone.
        }
    }
    // The first part goes out at once with the latest frame, later ones as frames arrive.
    let frame = state.frames.borrow_and_update().clone();
    state.parts += 1;
    let part = state.parts;
    let mut payload = frame.jpeg.clone();
    if config.show_frame_id && !frame.labelled {
        payload = camera.labelled(&frame).await;
    }
    if every(config.garbage_every, part) {
        payload = garbage(payload.len() / 2, frame.id);
        tracing::debug!(part, "mock camera sends a garbage part");
    } else if every(config.truncate_every, part) {
        payload = payload.slice(..payload.len() / 2);
        tracing::debug!(part, "mock camera sends a truncated part");
    }
    state
        .pending
        .push_back(Bytes::from_static(STREAM_DELIMITER));
    state
        .pending
        .push_back(part_header(payload.len(), &frame.timestamp()));
    state.pending.push_back(payload);
    Counters::bump(&camera.counters.frames_sent);
    if config.close_after == Some(part) {
        tracing::info!(part, "mock camera ends the stream (close_after)");
        state.finished = true;
    }
    state.pending.pop_front()
}

/// Whether part `part` (1-based) is a multiple of `every` (0 and `None` never are).
fn every(every: Option<u64>, part: u64) -> bool {
    matches!(every, Some(n) if n > 0 && part.is_multiple_of(n))
}

/// `len` (at least 64) reproducible random bytes that do not start like a JPEG.
fn garbage(len: usize, seed: u64) -> Bytes {
    let mut bytes = vec![0u8; len.max(64)];
    fastrand::Rng::with_seed(seed).fill(&mut bytes);
    bytes[0] = b'G';
    Bytes::from(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_header_is_the_firmware_format() {
        let header = part_header(51234, "1764000000.000042");
        assert_eq!(
            &header[..],
            b"Content-Type: image/jpeg\r\nContent-Length: 51234\r\nX-Timestamp: 1764000000.000042\r\n\r\n"
        );
    }

    #[test]
    fn every_counts_from_one_and_ignores_zero() {
        assert!(!every(Some(3), 1));
        assert!(every(Some(3), 3));
        assert!(every(Some(3), 6));
        assert!(!every(Some(0), 3));
        assert!(!every(None, 3));
    }

    #[test]
    fn garbage_is_reproducible_and_not_a_jpeg() {
        let a = garbage(1000, 7);
        assert_eq!(a, garbage(1000, 7));
        assert_eq!(a.len(), 1000);
        assert_ne!(a[0], 0xFF);
        assert_eq!(garbage(0, 1).len(), 64);
    }
}
