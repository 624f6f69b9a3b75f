//! The response body: a complete body, or chunks a blocking disk reader sends.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::sync::mpsc;

/// A response body of this crate.
#[derive(Debug)]
pub enum ArchiveBody {
    /// A complete body (`None` once sent).
    Full(Option<Bytes>),
    /// Chunks read from disk on a blocking thread; ends when the reader drops its sender
    /// (the export is done, or a read failed and the body is cut short).
    Channel(mpsc::Receiver<Bytes>),
}

impl ArchiveBody {
    /// A complete body.
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        ArchiveBody::Full(Some(bytes.into()))
    }
}

impl Body for ArchiveBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            ArchiveBody::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            ArchiveBody::Channel(rx) => rx.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, ArchiveBody::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ArchiveBody::Full(Some(bytes)) => SizeHint::with_exact(bytes.len() as u64),
            ArchiveBody::Full(None) => SizeHint::with_exact(0),
            ArchiveBody::Channel(_) => SizeHint::default(),
        }
    }
}
