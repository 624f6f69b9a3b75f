//! `GET /cams/{name}/snapshot.jpg`: the latest broadcast frame, at once, without an upstream
//! request of its own. `?fresh=1` waits (up to 5 s) for the next frame; a camera whose upstream
//! is closed is opened by the short subscription and closed again after the idle timeout.

use std::sync::Arc;
use std::time::Duration;

use http::{header, HeaderValue, Response, StatusCode};

use super::body::RelayBody;
use super::text;
use crate::camera::Camera;
use crate::frame::{FrameState, SharedFrame};

const WAIT: Duration = Duration::from_secs(5);

pub(super) async fn snapshot(camera: &Arc<Camera>, query: &str) -> Response<RelayBody> {
    let fresh = query.split('&').any(|kv| kv == "fresh=1" || kv == "fresh");
    let latest = camera.latest.load_full();
    let frame = match latest {
        Some(frame) if !fresh => Some(frame),
        latest => next_frame(camera, latest.map(|f| f.id)).await,
    };
    let Some(frame) = frame else {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "no frame from the camera yet; try again\n",
        );
    };
    let mut response = Response::new(RelayBody::full(frame.jpeg.clone()));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("x-frame-id", HeaderValue::from(frame.id));
    if let Ok(ts) = HeaderValue::from_str(&frame.camera_time.to_string()) {
        headers.insert("x-timestamp", ts);
    }
    let age_ms = frame.published_at.elapsed().as_millis() as u64;
    headers.insert("x-frame-age-ms", HeaderValue::from(age_ms));
    response
}

async fn next_frame(camera: &Arc<Camera>, after: Option<u64>) -> Option<SharedFrame> {
    let mut subscriber = camera.raw.subscribe();
    let wait = async {
        while let Some(delivery) = subscriber.recv().await {
            let newer = after.is_none_or(|id| delivery.item.id > id);
            if delivery.item.state == FrameState::Live && newer {
                return Some(delivery.item);
            }
        }
        None
    };
    tokio::time::timeout(WAIT, wait).await.ok().flatten()
}
