//! The unit of broadcast: one JPEG with everything a viewer needs, built once per frame.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use bytes::Bytes;
use mjpeg_codec::{MultipartWriter, PartHead, Timestamp};
use serde::Serialize;

/// The boundary of every multipart stream the relay serves.
pub const BOUNDARY: &str = "camrelayframe";

/// The one multipart writer of the relay (its delimiter bytes are shared by every viewer).
pub fn writer() -> &'static MultipartWriter {
    static WRITER: OnceLock<MultipartWriter> = OnceLock::new();
    WRITER.get_or_init(|| MultipartWriter::new(BOUNDARY))
}

/// What a frame shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FrameState {
    /// A picture from the camera.
    Live,
    /// A generated "camera offline" card.
    Offline,
}

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

/// One broadcast frame. Shared by every viewer through an `Arc`; nothing in it is copied per viewer.
#[derive(Debug)]
pub struct Frame {
    /// Broadcast sequence number (`X-Frame-Id`), identical for every viewer; an annotated frame
    /// keeps the id of the raw frame it was made from.
    pub id: u64,
    /// The JPEG.
    pub jpeg: Bytes,
    /// The multipart part head (`Content-Type`, `Content-Length`, `X-Frame-Id`, ...), built once.
    pub head: Bytes,
    /// The camera's capture time (`X-Timestamp`), or the receive time when it sent none.
    pub camera_time: Timestamp,
    /// When the relay published this copy (frame age is measured from here).
    pub published_at: Instant,
    /// Picture width (0 if unknown).
    pub width: u16,
    /// Picture height (0 if unknown).
    pub height: u16,
    /// Live picture or placeholder.
    pub state: FrameState,
    /// For annotated frames: what the detector found.
    pub detections: Option<Arc<DetectionMeta>>,
    /// The WebSocket text messages announcing this frame (raw, detect), built on first use:
    /// an offline card travels on both broadcasts and must say which one it is on.
    ws_meta: [OnceLock<String>; 2],
}

impl Frame {
    /// Builds a frame and its part head.
    pub fn new(
        id: u64,
        jpeg: Bytes,
        camera_time: Timestamp,
        state: FrameState,
        detections: Option<Arc<DetectionMeta>>,
    ) -> Frame {
        let (width, height) = mjpeg_codec::jpeg::dimensions(&jpeg).unwrap_or((0, 0));
        let extra: &[(&str, &str)] = match state {
            FrameState::Live => &[],
            FrameState::Offline => &[("X-Camera-State", "offline")],
        };
        let head = writer().part_head(&PartHead {
            content_length: jpeg.len(),
            frame_id: Some(id),
            timestamp: Some(camera_time),
            extra,
        });
        Frame {
            id,
            jpeg,
            head,
            camera_time,
            published_at: Instant::now(),
            width,
            height,
            state,
            detections,
            ws_meta: Default::default(),
        }
    }

    /// The same picture, published again now (keepalive re-send: same id, fresh age).
    pub fn resend(&self) -> Frame {
        Frame {
            id: self.id,
            jpeg: self.jpeg.clone(),
            head: self.head.clone(),
            camera_time: self.camera_time,
            published_at: Instant::now(),
            width: self.width,
            height: self.height,
            state: self.state,
            detections: self.detections.clone(),
            ws_meta: Default::default(),
        }
    }

    /// The JSON text message sent over WebSocket before the JPEG.
    pub fn ws_meta(&self, camera: &str, stream: &str) -> &str {
        let slot = usize::from(stream == "detect");
        self.ws_meta[slot].get_or_init(|| {
            #[derive(Serialize)]
            struct Meta<'a> {
                r#type: &'static str,
                camera: &'a str,
                stream: &'a str,
                frame_id: u64,
                timestamp: String,
                state: FrameState,
                width: u16,
                height: u16,
                bytes: usize,
                #[serde(skip_serializing_if = "Option::is_none")]
                detections: Option<&'a [yolo_detect::Detection]>,
                #[serde(skip_serializing_if = "Option::is_none")]
                inference_ms: Option<f64>,
            }
            let meta = Meta {
                r#type: "frame",
                camera,
                stream,
                frame_id: self.id,
                timestamp: self.camera_time.to_string(),
                state: self.state,
                width: self.width,
                height: self.height,
                bytes: self.jpeg.len(),
                detections: self.detections.as_deref().map(|d| d.detections.as_slice()),
                inference_ms: self.detections.as_deref().map(|d| d.inference_ms),
            };
            serde_json::to_string(&meta).unwrap_or_default()
        })
    }
}

/// A shared frame, as it travels through the broadcasters.
pub type SharedFrame = Arc<Frame>;
