//! The one response body type of the relay: complete bodies, `mjpeg-serve`'s MJPEG streams
//! (one vectored write per frame), and server-sent detection events.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use mjpeg_serve::{one, FrameBuf, MjpegBody, PacedViewer, Pacer, TieredViewer};

use crate::camera::detection_events::DetectionEvents;
use crate::camera::viewer::Viewer;
use crate::frame::FrameMeta;

/// A response body.
pub enum RelayBody {
    /// A complete body (`None` once sent).
    Full(Option<Bytes>),
    /// A multipart MJPEG stream for one viewer.
    Mjpeg(MjpegBody<FrameMeta>),
    /// A multipart MJPEG stream for one viewer on its camera's quality tiers (boxed: large, and
    /// the rarer kind).
    Tiered(Box<MjpegBody<FrameMeta, TieredViewer<FrameMeta>>>),
    /// Server-sent detection events for one viewer.
    Sse(DetectionEvents),
    /// A recording export or listing (`archive-http`).
    Archive(archive_http::ArchiveBody),
}

impl RelayBody {
    /// A complete body.
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        RelayBody::Full(Some(bytes.into()))
    }

    /// An MJPEG stream for a viewer; with a pacer, a viewer that falls behind on a slow link
    /// is paced (see [`mjpeg_serve::pacing`]).
    pub fn mjpeg(viewer: Viewer, pacer: Option<Pacer>) -> Self {
        RelayBody::Mjpeg(MjpegBody::new(PacedViewer::new(viewer, pacer)))
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
            RelayBody::Mjpeg(body) => body.poll_chunk(cx).map(|o| o.map(|b| Ok(Frame::data(b)))),
            RelayBody::Tiered(body) => body.poll_chunk(cx).map(|o| o.map(|b| Ok(Frame::data(b)))),
            RelayBody::Sse(body) => body
                .poll_next(cx)
                .map(|o| o.map(|b| Ok(Frame::data(one(b))))),
            RelayBody::Archive(body) => Pin::new(body).poll_frame(cx).map(|o| {
                o.map(|frame| match frame {
                    Ok(frame) => Ok(frame.map_data(one)),
                    Err(never) => match never {},
                })
            }),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, RelayBody::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            RelayBody::Full(Some(bytes)) => SizeHint::with_exact(bytes.len() as u64),
            RelayBody::Full(None) => SizeHint::with_exact(0),
            RelayBody::Archive(body) => body.size_hint(),
            _ => SizeHint::default(),
        }
    }
}
