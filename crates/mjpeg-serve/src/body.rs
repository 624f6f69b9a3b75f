//! The hyper `Body` of an MJPEG viewer. Its data chunks are `head + JPEG + delimiter` chains of
//! shared `Bytes`, so hyper (with `writev(true)`) writes each frame to a viewer with one
//! vectored write and the JPEG is never copied per viewer.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::buf::Chain;
use bytes::{Buf, Bytes};
use hyper::body::{Body, Frame, SizeHint};

use crate::frame::writer;
use crate::pacing::PacedViewer;
use crate::source::FrameSource;
use crate::tiered::TieredViewer;

/// A body chunk: three shared buffers written with one `writev`.
pub type FrameBuf = Chain<Chain<Bytes, Bytes>, Bytes>;

/// Wraps one buffer as a [`FrameBuf`].
pub fn one(bytes: Bytes) -> FrameBuf {
    bytes.chain(Bytes::new()).chain(Bytes::new())
}

/// The `Content-Type` of an MJPEG response (`multipart/x-mixed-replace; boundary=...`).
pub fn content_type() -> &'static str {
    writer().content_type()
}

/// The response of a live stream (MJPEG with [`content_type`], or server-sent events):
/// `body` with `content_type`, never cached (`Cache-Control: no-cache, no-store`, `Pragma`),
/// `X-Content-Type-Options: nosniff`, and open to pages of any origin.
pub fn stream_response<B>(body: B, content_type: &'static str) -> hyper::Response<B> {
    use hyper::header::{self, HeaderValue};
    let mut response = hyper::Response::new(body);
    let headers = response.headers_mut();
    let fixed = [
        (header::CONTENT_TYPE, content_type),
        (header::CACHE_CONTROL, "no-cache, no-store, must-revalidate"),
        (header::PRAGMA, "no-cache"),
        (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// A viewer's multipart stream: the opening delimiter, then per frame its shared part head,
/// the shared JPEG and the closing delimiter (sent right after the JPEG, so a browser shows the
/// frame at once instead of waiting for the next part: crbug 527446). Ends with the broadcast.
///
/// `S` is where the frames come from: one broadcast ([`PacedViewer`], the default) or a
/// camera's quality tiers ([`TieredViewer`]); either way each part head is the frame's own,
/// built once (tier frames' heads say their `X-Quality`).
pub struct MjpegBody<M = (), S = PacedViewer<M>> {
    viewer: S,
    started: bool,
    _frames: std::marker::PhantomData<fn() -> M>,
}

impl<M> MjpegBody<M> {
    /// The stream of `viewer`.
    pub fn new(viewer: PacedViewer<M>) -> Self {
        Self::from_source(viewer)
    }
}

impl<M: Clone + Send + Sync + 'static> MjpegBody<M, TieredViewer<M>> {
    /// The stream of a viewer on its camera's quality tiers.
    pub fn tiered(viewer: TieredViewer<M>) -> Self {
        Self::from_source(viewer)
    }
}

impl<M, S: FrameSource<M>> MjpegBody<M, S> {
    /// The stream of any frame source.
    pub fn from_source(viewer: S) -> Self {
        MjpegBody {
            viewer,
            started: false,
            _frames: std::marker::PhantomData,
        }
    }

    /// The frame source.
    pub fn source(&self) -> &S {
        &self.viewer
    }

    /// The next chunk (`None` once the broadcast ended).
    pub fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<FrameBuf>> {
        if !self.started {
            self.started = true;
            return Poll::Ready(Some(one(writer().preamble())));
        }
        self.viewer.poll_next_frame(cx).map(|frame| {
            frame.map(|f| {
                f.head
                    .clone()
                    .chain(f.jpeg.clone())
                    .chain(writer().delimiter())
            })
        })
    }
}

impl<M, S: FrameSource<M> + Unpin> Body for MjpegBody<M, S> {
    type Data = FrameBuf;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<FrameBuf>, Infallible>>> {
        self.get_mut()
            .poll_chunk(cx)
            .map(|chunk| chunk.map(|b| Ok(Frame::data(b))))
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::viewer::tests::{admit, frame, publisher, Tally};
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn frame_buf_is_one_vectored_write() {
        let buf = Bytes::from_static(b"head")
            .chain(Bytes::from_static(b"jpeg"))
            .chain(Bytes::from_static(b"delim"));
        let mut slices = [std::io::IoSlice::new(&[]); 4];
        assert_eq!(buf.chunks_vectored(&mut slices), 3);
        assert_eq!(buf.remaining(), 13);
    }

    #[test]
    fn a_body_is_the_preamble_then_head_jpeg_delimiter_per_frame() {
        let publisher = publisher(4);
        let tally = Arc::new(Tally::default());
        let mut body = MjpegBody::new(PacedViewer::new(admit(&publisher, &tally), None));
        let shared = frame(9, Duration::ZERO);
        publisher.publish(shared.clone());
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let Poll::Ready(Some(preamble)) = body.poll_chunk(&mut cx) else {
            panic!("the preamble first")
        };
        assert_eq!(preamble.first_ref().first_ref(), &writer().preamble());
        let Poll::Ready(Some(chunk)) = body.poll_chunk(&mut cx) else {
            panic!("the frame")
        };
        assert_eq!(chunk.first_ref().first_ref(), &shared.head);
        assert_eq!(
            chunk.first_ref().last_ref().as_ptr(),
            shared.jpeg.as_ptr(),
            "the JPEG is shared, not copied"
        );
        assert_eq!(chunk.last_ref(), &writer().delimiter());
        drop(publisher);
        assert!(matches!(body.poll_chunk(&mut cx), Poll::Ready(None)));
    }
}
