//! Server-sent detection events (`/cams/NAME/detections`): one `data:` JSON line per annotated
//! frame, with its id, capture time, state and detections.

use std::task::{Context, Poll};

use bytes::Bytes;

use crate::viewer::Viewer;

/// One detection viewer's event stream.
pub struct DetectionEvents {
    viewer: Viewer,
}

/// One event, as JSON.
#[derive(serde::Serialize)]
struct Event<'a> {
    frame_id: u64,
    timestamp: String,
    state: &'static str,
    detections: &'a [yolo_detect::Detection],
    inference_ms: Option<f64>,
}

impl DetectionEvents {
    /// The events of an admitted detection viewer.
    pub fn new(viewer: Viewer) -> Self {
        DetectionEvents { viewer }
    }

    /// The next event (`data: {json}\n\n`), or `None` when the camera's broadcast ended.
    pub fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        self.viewer.poll_frame(cx).map(|frame| {
            frame.map(|f| {
                let detections = f.meta.detections.as_deref();
                let event = Event {
                    frame_id: f.id,
                    timestamp: f.camera_time.to_string(),
                    state: f.state.as_str(),
                    detections: detections.map_or(&[], |d| d.detections.as_slice()),
                    inference_ms: detections.map(|d| d.inference_ms),
                };
                let json = serde_json::to_string(&event).unwrap_or_default();
                Bytes::from(format!("data: {json}\n\n"))
            })
        })
    }
}
