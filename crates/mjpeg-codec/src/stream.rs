//! Parts out of an `AsyncRead` or an HTTP body, as a `Stream`.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use http_body::Body;
use http_body_util::combinators::MapErr;
use http_body_util::{BodyDataStream, BodyExt};
use tokio::io::AsyncRead;
use tokio_util::codec::Decoder;
use tokio_util::io::{poll_read_buf, StreamReader};

use crate::{CodecError, MjpegDecoder, Part};

/// Bytes asked of the reader per read (a typical 640x480 frame is 20-60 KB).
const READ_CHUNK: usize = 32 * 1024;

/// A [`Stream`] of [`Part`]s read from an [`AsyncRead`].
///
/// Unlike `FramedRead`, it goes on after a recoverable error (an invalid JPEG part, malformed
/// headers: see [`CodecError::is_recoverable`]): it yields the `Err`, then the next part.
/// Fatal errors (I/O, limits, end of stream mid-part) are yielded once, then the stream ends.
/// It also ends after the closing delimiter `--boundary--`.
#[derive(Debug)]
pub struct MjpegStream<R> {
    /// Where the bytes come from (a socket, an HTTP body reader, a file).
    reader: R,
    /// The parser; it owns the framing state between reads.
    decoder: MjpegDecoder,
    /// The read buffer; parts handed out are zero-copy slices of it.
    buf: BytesMut,
    /// The reader returned end-of-file: only `decode_eof` from now on.
    eof: bool,
    /// A fatal error or the end was yielded: return `None` from now on.
    done: bool,
}

impl<R: AsyncRead + Unpin> MjpegStream<R> {
    /// Parses the bytes of `reader` with `decoder`.
    pub fn new(reader: R, decoder: MjpegDecoder) -> Self {
        Self {
            reader,
            decoder,
            buf: BytesMut::new(),
            eof: false,
            done: false,
        }
    }
}

impl<R> MjpegStream<R> {
    /// The decoder, e.g. for [`MjpegDecoder::boundary`] or [`MjpegDecoder::skipped_bytes`].
    pub fn decoder(&self) -> &MjpegDecoder {
        &self.decoder
    }

    /// The reader, dropping any buffered bytes.
    pub fn into_inner(self) -> R {
        self.reader
    }
}

impl<R: AsyncRead + Unpin> Stream for MjpegStream<R> {
    type Item = Result<Part, CodecError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            let decoded = if this.eof {
                this.decoder.decode_eof(&mut this.buf)
            } else {
                this.decoder.decode(&mut this.buf)
            };
            match decoded {
                Ok(Some(part)) => return Poll::Ready(Some(Ok(part))),
                Err(err) => {
                    this.done = !err.is_recoverable();
                    return Poll::Ready(Some(Err(err)));
                }
                Ok(None) if this.eof || this.decoder.is_closed() => {
                    this.done = true;
                    return Poll::Ready(None);
                }
                Ok(None) => {}
            }
            if this.buf.capacity() - this.buf.len() < READ_CHUNK / 4 {
                this.buf.reserve(READ_CHUNK);
            }
            match ready!(poll_read_buf(Pin::new(&mut this.reader), cx, &mut this.buf)) {
                Ok(0) => this.eof = true,
                Ok(_) => {}
                Err(source) => {
                    this.done = true;
                    let offset = this.decoder.consumed_bytes() + this.buf.len() as u64;
                    return Poll::Ready(Some(Err(CodecError::Io {
                        offset: Some(offset),
                        source,
                    })));
                }
            }
        }
    }
}

/// The reader [`body_stream`] puts over an HTTP body.
pub type BodyReader<B> =
    StreamReader<BodyDataStream<MapErr<B, fn(<B as Body>::Error) -> io::Error>>, Bytes>;

/// Parts of an HTTP response body (e.g. `hyper::body::Incoming`); hyper has already removed
/// any chunked framing. Body errors come out as [`CodecError::Io`].
///
/// ```no_run
/// # async fn f(response: hyper::Response<hyper::body::Incoming>) {
/// use futures_util::StreamExt;
/// use mjpeg_codec::{body_stream, DecoderConfig, MjpegDecoder};
///
/// let content_type = response.headers().get("content-type")
///     .and_then(|v| v.to_str().ok()).unwrap_or("");
/// let decoder = MjpegDecoder::from_content_type(content_type, DecoderConfig::default());
/// let mut parts = body_stream(response.into_body(), decoder);
/// while let Some(part) = parts.next().await {
///     match part {
///         Ok(part) => println!("frame {}: {} bytes", part.index(), part.body().len()),
///         Err(err) if err.is_recoverable() => eprintln!("skipped: {err}"),
///         Err(err) => { eprintln!("stream lost: {err}"); break }
///     }
/// }
/// # }
/// ```
pub fn body_stream<B>(body: B, decoder: MjpegDecoder) -> MjpegStream<BodyReader<B>>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let to_io: fn(B::Error) -> io::Error = io::Error::other;
    MjpegStream::new(
        StreamReader::new(BodyDataStream::new(body.map_err(to_io))),
        decoder,
    )
}
