//! One capture of a [`crate::SourceKind::Snapshot`] source: `GET /capture`, one JPEG back.

use mjpeg_codec::Timestamp;
use tokio::time::Instant;

use crate::http::{content_type, mime_essence, read_body, shorten, Connection};
use crate::stream_session::Read;
use crate::target::Target;
use crate::{CameraFrame, ErrorContext, SourceConfig, SourceError};

/// Requests one JPEG on `connection`; the whole exchange must finish within the stall timeout
/// and the body must fit the decoder's part-size limit.
pub(crate) async fn capture(
    connection: &mut Connection,
    target: &Target,
    config: &SourceConfig,
    ctx: &ErrorContext,
) -> Result<Read, SourceError> {
    let limit = config.stall_timeout;
    let deadline = Instant::now() + limit;
    let response = connection.get(target, ctx, deadline, limit).await?;
    if let Some(content_type) = content_type(response.headers()) {
        let essence = mime_essence(content_type);
        if !essence.starts_with("image/") && essence != "application/octet-stream" {
            return Err(SourceError::ContentType {
                ctx: ctx.clone(),
                content_type: shorten(content_type),
                expected: "image/jpeg",
            });
        }
    }
    let camera_time = response
        .headers()
        .get("x-timestamp")
        .and_then(|v| v.to_str().ok())
        .and_then(Timestamp::parse);
    let upstream_id = response
        .headers()
        .get("x-frame-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|v| v.parse().ok());
    let offline = response
        .headers()
        .get("x-camera-state")
        .is_some_and(|v| v.as_bytes() == b"offline");
    let max = config.decoder.max_part_size;
    let (_, jpeg) = read_body(response, max, ctx, deadline, limit).await?;
    if !mjpeg_codec::jpeg::is_complete(&jpeg) {
        return Ok(Read::Corrupt(SourceError::Corrupt {
            ctx: ctx.clone(),
            what: format!(
                "a snapshot that is not a complete JPEG ({} bytes)",
                jpeg.len()
            ),
        }));
    }
    Ok(Read::Frame(CameraFrame::received(
        jpeg,
        camera_time,
        upstream_id,
        offline,
    )))
}
