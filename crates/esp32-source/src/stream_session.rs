//! One connection of a [`crate::SourceKind::Stream`] source: response checks, then parts.

use std::pin::Pin;
use std::time::Duration;

use futures_core::Stream;
use futures_util::StreamExt;
use mjpeg_codec::{CodecError, DecoderConfig, MjpegDecoder, Part};
use tokio::time::{timeout_at, Instant};

use crate::http::{content_type, mime_essence, shorten, Connection};
use crate::target::Target;
use crate::{CameraFrame, ErrorContext, SourceConfig, SourceError};

type PartStream = Pin<Box<dyn Stream<Item = Result<Part, CodecError>> + Send>>;

/// What one read from the camera produced.
pub(crate) enum Read {
    /// A complete JPEG.
    Frame(CameraFrame),
    /// A part that was skipped (truncated or not a JPEG): a [`SourceError::Corrupt`].
    Corrupt(SourceError),
}

/// An open MJPEG response. Dropping it closes the connection.
pub(crate) struct StreamSession {
    /// Parts parsed from the response body.
    parts: PartStream,
    /// Keeps the socket open while `parts` reads from it; closes it on drop.
    _connection: Connection,
    /// Camera, URL and attempt of this connection, for errors.
    ctx: ErrorContext,
    /// Complete frames received on this connection.
    frames: u64,
    /// When this connection last made progress (response head or a complete frame): the stall
    /// timer runs from here, so skipped corrupt parts do not count as progress.
    last_progress: Instant,
}

impl StreamSession {
    /// Sends the request on a fresh `connection` and checks the response, before `deadline`
    /// (the end of `connect_timeout`, which also covered opening the connection).
    pub(crate) async fn open(
        mut connection: Connection,
        target: &Target,
        config: &SourceConfig,
        ctx: ErrorContext,
        deadline: Instant,
    ) -> Result<StreamSession, SourceError> {
        let limit = config.connect_timeout;
        let response = connection.get(target, &ctx, deadline, limit).await?;
        let decoder = decoder_for(content_type(response.headers()), config.decoder, &ctx)?;
        let parts: PartStream = Box::pin(mjpeg_codec::body_stream(response.into_body(), decoder));
        Ok(StreamSession {
            parts,
            _connection: connection,
            ctx,
            frames: 0,
            last_progress: Instant::now(),
        })
    }

    /// The camera, URL and attempt of this connection.
    pub(crate) fn ctx(&self) -> &ErrorContext {
        &self.ctx
    }

    /// Waits for the next part; errors when the stream ends, stalls or breaks for good.
    pub(crate) async fn next(&mut self, stall_timeout: Duration) -> Result<Read, SourceError> {
        let deadline = self.last_progress + stall_timeout;
        let next = match timeout_at(deadline, self.parts.next()).await {
            Ok(next) => next,
            Err(_) => {
                return Err(SourceError::Stall {
                    ctx: self.ctx.clone(),
                    after: stall_timeout,
                })
            }
        };
        match next {
            None => Err(SourceError::Closed {
                ctx: self.ctx.clone(),
                frames: self.frames,
            }),
            Some(Err(error)) if error.is_recoverable() => Ok(Read::Corrupt(SourceError::Corrupt {
                ctx: self.ctx.clone(),
                what: format!("a corrupt part: {error}"),
            })),
            Some(Err(source)) => Err(SourceError::Codec {
                ctx: self.ctx.clone(),
                source,
            }),
            Some(Ok(part)) => {
                let (index, offset) = (part.index(), part.offset());
                let camera_time = part.timestamp();
                let upstream_id = part.frame_id();
                let offline = part.headers().get("x-camera-state") == Some("offline");
                let jpeg = part.into_body();
                if !mjpeg_codec::jpeg::is_complete(&jpeg) {
                    return Ok(Read::Corrupt(SourceError::Corrupt {
                        ctx: self.ctx.clone(),
                        what: format!(
                            "part {index} at byte {offset}: not a complete JPEG ({} bytes)",
                            jpeg.len()
                        ),
                    }));
                }
                self.frames += 1;
                self.last_progress = Instant::now();
                Ok(Read::Frame(CameraFrame::received(
                    jpeg,
                    camera_time,
                    upstream_id,
                    offline,
                )))
            }
        }
    }
}

/// Picks the decoder for a response's `Content-Type`: multipart with its boundary; no type or
/// `application/octet-stream` (VLC, ffmpeg) learns the boundary from the first delimiter;
/// anything else (`text/html` login pages, a single `image/jpeg`) is an error.
fn decoder_for(
    content_type: Option<&str>,
    config: DecoderConfig,
    ctx: &ErrorContext,
) -> Result<MjpegDecoder, SourceError> {
    let Some(content_type) = content_type else {
        return Ok(MjpegDecoder::new(None, config));
    };
    let essence = mime_essence(content_type);
    if essence.starts_with("multipart/") {
        Ok(MjpegDecoder::from_content_type(content_type, config))
    } else if essence == "application/octet-stream" {
        Ok(MjpegDecoder::new(None, config))
    } else {
        Err(SourceError::ContentType {
            ctx: ctx.clone(),
            content_type: shorten(content_type),
            expected: "multipart/x-mixed-replace (or application/octet-stream)",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn ctx() -> ErrorContext {
        ErrorContext {
            camera: "cam".into(),
            url: "http://127.0.0.1/stream".into(),
            attempt: 1,
        }
    }

    #[test]
    fn accepts_multipart_octet_stream_and_missing_type() {
        for ct in [
            Some("multipart/x-mixed-replace;boundary=123456789000000000000987654321"),
            Some("multipart/x-mixed-replace; boundary=\"--x\""),
            Some("application/octet-stream"),
            None,
        ] {
            assert!(
                decoder_for(ct, DecoderConfig::default(), &ctx()).is_ok(),
                "{ct:?}"
            );
        }
    }

    #[test]
    fn rejects_html_and_single_jpeg() {
        for ct in ["text/html; charset=utf-8", "image/jpeg"] {
            let err = decoder_for(Some(ct), DecoderConfig::default(), &ctx()).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ContentType);
            assert!(err.to_string().contains(ct), "{err}");
        }
    }
}
