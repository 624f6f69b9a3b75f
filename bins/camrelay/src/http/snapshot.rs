//! `GET /cams/{name}/snapshot.jpg`: the latest broadcast frame ([`Camera::still`]); `?fresh=1`
//! waits (up to 5 s) for the next one.

use std::time::Duration;

use http::{header, HeaderValue, Response, StatusCode};

use super::body::RelayBody;
use super::text;
use crate::camera::Camera;

const WAIT: Duration = Duration::from_secs(5);

pub(super) async fn snapshot(camera: &Camera, query: &str) -> Response<RelayBody> {
    let fresh = query.split('&').any(|kv| kv == "fresh=1" || kv == "fresh");
    let Some(frame) = camera.still(fresh, WAIT).await else {
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
    if frame.state != crate::frame::FrameState::Live {
        headers.insert("x-camera-state", HeaderValue::from_static("offline"));
    }
    if let Ok(ts) = HeaderValue::from_str(&frame.camera_time.to_string()) {
        headers.insert("x-timestamp", ts);
    }
    let age_ms = frame.published_at.elapsed().as_millis() as u64;
    headers.insert("x-frame-age-ms", HeaderValue::from(age_ms));
    response
}
