//! [`CameraFrame`]: one JPEG from a camera with its two clocks.

use std::time::{Duration, Instant};

use bytes::Bytes;
use mjpeg_codec::Timestamp;

/// One JPEG received from a camera. Cloning is cheap (the JPEG is a shared `Bytes`).
#[derive(Debug, Clone)]
pub struct CameraFrame {
    /// The complete JPEG (starts `FF D8`, ends `FF D9`), exactly as the camera sent it.
    pub jpeg: Bytes,
    /// The camera's capture time (`X-Timestamp` of the part or snapshot), when it sent one.
    pub camera_time: Option<Timestamp>,
    /// The upstream's frame number (`X-Frame-Id` of the part or snapshot), when it sent one:
    /// another relay (camrelay, or anything that numbers its parts) does; a camera does not.
    pub upstream_id: Option<u64>,
    /// The upstream is another relay whose own camera is offline, and this JPEG is its
    /// placeholder card (the part said `X-Camera-State: offline`): not a picture of the camera.
    pub upstream_offline: bool,
    /// When the relay finished receiving the frame (monotonic clock).
    pub received_at: Instant,
    /// When the relay finished receiving the frame (wall clock, comparable to `camera_time`).
    pub received_wall: Timestamp,
}

impl CameraFrame {
    /// A frame received just now.
    pub(crate) fn received(
        jpeg: Bytes,
        camera_time: Option<Timestamp>,
        upstream_id: Option<u64>,
        upstream_offline: bool,
    ) -> Self {
        CameraFrame {
            jpeg,
            camera_time,
            upstream_id,
            upstream_offline,
            received_at: Instant::now(),
            received_wall: Timestamp::now(),
        }
    }

    /// Capture-to-receive latency, `received_wall - camera_time`; `None` without a camera
    /// timestamp or when the camera's clock is ahead of ours (unsynchronised clocks).
    pub fn latency(&self) -> Option<Duration> {
        let captured = self.camera_time?.to_system_time();
        self.received_wall
            .to_system_time()
            .duration_since(captured)
            .ok()
    }
}
