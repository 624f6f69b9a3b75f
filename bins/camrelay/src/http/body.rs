//! The one response body type of the relay. Its data chunks are `head + JPEG + delimiter`
//! chains of shared `Bytes`, so hyper writes each frame to a viewer with one vectored write and
//! the JPEG is never copied per viewer.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::buf::Chain;
use bytes::{Buf, Bytes};
use hyper::body::{Body, Frame, SizeHint};

use crate::camera::viewer::Viewer;
use crate::frame::writer;
use crate::pacing::{PacedViewer, Pacer};

/// A body chunk: three shared buffers written with one `writev`.
pub type FrameBuf = Chain<Chain<Bytes, Bytes>, Bytes>;

/// Wraps one buffer as a [`FrameBuf`].
pub fn one(bytes: Bytes) -> FrameBuf {
    bytes.chain(Bytes::new()).chain(Bytes::new())
}

/// A response body.
pub enum RelayBody {
    /// A complete body (`None` once sent).
    Full(Option<Bytes>),
    /// A multipart MJPEG stream for one viewer.
    Mjpeg(MjpegBody),
    /// Server-sent detection events for one viewer.
    Sse(SseBody),
}

impl RelayBody {
    /// A complete body.
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        RelayBody::Full(Some(bytes.into()))
    }

    /// An MJPEG stream for a viewer; with a pacer, a viewer that falls behind on a slow link
    /// is paced (see [`crate::pacing`]).
    pub fn mjpeg(viewer: Viewer, pacer: Option<Pacer>) -> Self {
        RelayBody::Mjpeg(MjpegBody {
            viewer: PacedViewer::new(viewer, pacer),
            started: false,
        })
    }
}

impl Body for RelayBody {
    type Data = FrameBuf;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<FrameBuf>, Infallible>>> {
        match self.get_mut() {
            RelayBody::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(one(b))))),
            RelayBody::Mjpeg(body) => body.poll_next(cx).map(|o| o.map(|b| Ok(Frame::data(b)))),
            RelayBody::Sse(body) => body
                .poll_next(cx)
                .map(|o| o.map(|b| Ok(Frame::data(one(b))))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, RelayBody::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            RelayBody::Full(Some(bytes)) => SizeHint::with_exact(bytes.len() as u64),
            RelayBody::Full(None) => SizeHint::with_exact(0),
            _ => SizeHint::default(),
        }
    }
}

/// A viewer's multipart stream: the opening delimiter, then per frame its shared part head,
/// the shared JPEG and the closing delimiter (sent right after the JPEG, so a browser shows the
/// frame at once instead of waiting for the next part: crbug 527446).
pub struct MjpegBody {
    viewer: PacedViewer,
    started: bool,
}

impl MjpegBody {
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<FrameBuf>> {
        if !self.started {
            self.started = true;
            return Poll::Ready(Some(one(writer().preamble())));
        }
        let polled = self.viewer.poll_frame(cx);
        polled.map(|frame| {
            frame.map(|f| {
                f.head
                    .clone()
                    .chain(f.jpeg.clone())
                    .chain(writer().delimiter())
            })
        })
    }
}

/// Server-sent events: one `data:` JSON line per annotated frame.
pub struct SseBody {
    viewer: Viewer,
}

impl SseBody {
    /// SSE for a detection viewer.
    pub fn new(viewer: Viewer) -> Self {
        SseBody { viewer }
    }

    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        self.viewer.poll_frame(cx).map(|frame| {
            frame.map(|f| {
                #[derive(serde::Serialize)]
                struct Event<'a> {
                    frame_id: u64,
                    timestamp: String,
                    state: crate::frame::FrameState,
                    detections: &'a [yolo_detect::Detection],
                    inference_ms: Option<f64>,
                }
                let event = Event {
                    frame_id: f.id,
                    timestamp: f.camera_time.to_string(),
                    state: f.state,
                    detections: f
                        .detections
                        .as_deref()
                        .map_or(&[], |d| d.detections.as_slice()),
                    inference_ms: f.detections.as_deref().map(|d| d.inference_ms),
                };
                let json = serde_json::to_string(&event).unwrap_or_default();
                Bytes::from(format!("data: {json}\n\n"))
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_buf_is_one_vectored_write() {
        let buf = Bytes::from_static(b"head")
            .chain(Bytes::from_static(b"jpeg"))
            .chain(Bytes::from_static(b"delim"));
        let mut slices = [std::io::IoSlice::new(&[]); 4];
        assert_eq!(buf.chunks_vectored(&mut slices), 3);
        assert_eq!(buf.remaining(), 13);
    }
}
