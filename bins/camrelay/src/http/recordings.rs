//! Recording routes (issue #16, `docs/api.md`): `archive-http` over the relay's archive.

use http::{HeaderMap, Response, StatusCode};

use super::body::RelayBody;
use super::text;
use crate::state::RelayState;

fn not_configured() -> Response<RelayBody> {
    text(
        StatusCode::NOT_FOUND,
        "recording is not configured (start with --record DIR or a [record] table)\n",
    )
}

/// `GET /api/recordings?camera=NAME&start=T&end=T`.
pub async fn list(state: &RelayState, query: &str) -> Response<RelayBody> {
    let Some(recording) = &state.recording else {
        return not_configured();
    };
    let response = archive_http::list(recording.archive.clone(), query, |name| {
        state.camera(name).is_some()
    })
    .await;
    response.map(RelayBody::Archive)
}

/// `GET|HEAD /cams/NAME/recording.mp4?start=T&end=T[&format=mjpeg]`.
pub async fn export(
    state: &RelayState,
    camera: &str,
    query: &str,
    head: bool,
    headers: &HeaderMap,
) -> Response<RelayBody> {
    let Some(recording) = &state.recording else {
        return not_configured();
    };
    archive_http::export(recording.archive.clone(), camera, query, head, headers)
        .await
        .map(RelayBody::Archive)
}
