//! A camera's frame: `mjpeg-serve`'s [`Frame`](mjpeg_serve::Frame) (JPEG and part head, built
//! once) with the hub's metadata: detections, and the WebSocket text messages announcing it.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use serde::Serialize;

pub use mjpeg_serve::{writer, FrameState};

/// One broadcast frame, shared by every viewer through an `Arc`.
pub type Frame = mjpeg_serve::Frame<FrameMeta>;

/// A shared frame, as it travels through the broadcasters.
pub type SharedFrame = Arc<Frame>;

/// Detection results attached to an annotated frame.
#[derive(Debug, Clone, Serialize)]
pub struct DetectionMeta {
    /// The detections, in the original image's pixels.
    pub detections: Vec<yolo_detect::Detection>,
    /// Model inference time in milliseconds.
    pub inference_ms: f64,
    /// Whole pipeline time (decode to encode) in milliseconds.
    pub total_ms: f64,
}

/// What the hub attaches to a frame. A clone (a quality tier's frame) keeps the detections and
/// builds its own WebSocket text (its size and quality differ).
#[derive(Debug, Default)]
pub struct FrameMeta {
    /// For annotated frames: what the detector found.
    pub detections: Option<Arc<DetectionMeta>>,
    /// The WebSocket text messages announcing this frame (raw, detect), built on first use:
    /// an offline card travels on both broadcasts and must say which one it is on.
    ws_text: [OnceLock<Bytes>; 2],
}

impl Clone for FrameMeta {
    fn clone(&self) -> Self {
        FrameMeta {
            detections: self.detections.clone(),
            ws_text: Default::default(),
        }
    }
}

impl FrameMeta {
    /// The metadata of an annotated frame.
    pub fn detected(detections: DetectionMeta) -> Self {
        FrameMeta {
            detections: Some(Arc::new(detections)),
            ws_text: Default::default(),
        }
    }
}

/// The JSON text message sent over WebSocket before `frame`'s JPEG (built once per frame and
/// stream, shared by every WebSocket viewer); `quality` is the tier the frame belongs to.
pub fn ws_text(frame: &Frame, camera: &str, stream: &str, quality: quality_tiers::Tier) -> Bytes {
    let slot = usize::from(stream == "detect");
    frame.meta.ws_text[slot]
        .get_or_init(|| {
            #[derive(Serialize)]
            struct Meta<'a> {
                r#type: &'static str,
                camera: &'a str,
                stream: &'a str,
                quality: &'static str,
                frame_id: u64,
                timestamp: String,
                state: &'static str,
                width: u16,
                height: u16,
                bytes: usize,
                #[serde(skip_serializing_if = "Option::is_none")]
                detections: Option<&'a [yolo_detect::Detection]>,
                #[serde(skip_serializing_if = "Option::is_none")]
                inference_ms: Option<f64>,
            }
            let detections = frame.meta.detections.as_deref();
            let meta = Meta {
                r#type: "frame",
                camera,
                stream,
                quality: quality.as_str(),
                frame_id: frame.id,
                timestamp: frame.camera_time.to_string(),
                state: frame.state.as_str(),
                width: frame.width,
                height: frame.height,
                bytes: frame.jpeg.len(),
                detections: detections.map(|d| d.detections.as_slice()),
                inference_ms: detections.map(|d| d.inference_ms),
            };
            serde_json::to_vec(&meta).unwrap_or_default().into()
        })
        .clone()
}
