//! The unit of broadcast: one JPEG with its multipart part head, built once per frame and shared
//! by every viewer through an `Arc`.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use bytes::Bytes;
use mjpeg_codec::{MultipartWriter, PartHead, Timestamp};
use quality_tiers::{Tier, TierFrame};

/// The boundary of every multipart stream served with [`writer`].
pub const BOUNDARY: &str = "camrelayframe";

/// The one multipart writer (its delimiter bytes are shared by every viewer).
pub fn writer() -> &'static MultipartWriter {
    static WRITER: OnceLock<MultipartWriter> = OnceLock::new();
    WRITER.get_or_init(|| MultipartWriter::new(BOUNDARY))
}

/// What a frame shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameState {
    /// A picture from the camera.
    Live,
    /// A generated "camera offline" card (its part head says `X-Camera-State: offline`).
    Offline,
}

impl FrameState {
    /// `"live"` or `"offline"`.
    pub fn as_str(self) -> &'static str {
        match self {
            FrameState::Live => "live",
            FrameState::Offline => "offline",
        }
    }
}

/// One broadcast frame. Nothing in it is copied per viewer.
///
/// `M` is whatever the application attaches to a frame (detections, a cached JSON text); this
/// crate never looks inside it.
#[derive(Debug)]
pub struct Frame<M = ()> {
    /// Broadcast sequence number (`X-Frame-Id`), identical for every viewer.
    pub id: u64,
    /// The JPEG.
    pub jpeg: Bytes,
    /// The multipart part head (`Content-Type`, `Content-Length`, `X-Frame-Id`, ...), built once.
    pub head: Bytes,
    /// The camera's capture time (`X-Timestamp`), or the receive time when it sent none.
    pub camera_time: Timestamp,
    /// When this copy was published (frame age is measured from here).
    pub published_at: Instant,
    /// Picture width (0 if unknown).
    pub width: u16,
    /// Picture height (0 if unknown).
    pub height: u16,
    /// Live picture or placeholder.
    pub state: FrameState,
    /// The application's opaque metadata.
    pub meta: M,
}

impl<M> Frame<M> {
    /// Builds a frame of the camera's own bytes and its part head (which says
    /// `X-Quality: original`).
    pub fn new(id: u64, jpeg: Bytes, camera_time: Timestamp, state: FrameState, meta: M) -> Self {
        Self::with_quality(id, jpeg, camera_time, state, meta, Tier::Original)
    }

    /// Builds a frame of quality `tier` and its part head (`X-Quality: <tier>`).
    pub fn with_quality(
        id: u64,
        jpeg: Bytes,
        camera_time: Timestamp,
        state: FrameState,
        meta: M,
        tier: Tier,
    ) -> Self {
        let (width, height) = mjpeg_codec::jpeg::dimensions(&jpeg).unwrap_or((0, 0));
        let quality = ("X-Quality", tier.as_str());
        let with_quality = [quality];
        let offline = [("X-Camera-State", "offline"), quality];
        let extra: &[(&str, &str)] = match state {
            FrameState::Live => &with_quality,
            FrameState::Offline => &offline,
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
            meta,
        }
    }

    /// The same picture, published again now (keepalive re-send: same id, fresh age).
    pub fn resend(&self) -> Self
    where
        M: Clone,
    {
        Frame {
            id: self.id,
            jpeg: self.jpeg.clone(),
            head: self.head.clone(),
            camera_time: self.camera_time,
            published_at: Instant::now(),
            width: self.width,
            height: self.height,
            state: self.state,
            meta: self.meta.clone(),
        }
    }
}

/// A shared frame, as it travels through a broadcast.
pub type SharedFrame<M = ()> = Arc<Frame<M>>;

/// Tiers of a camera's frames (`quality_tiers::Tiers<SharedFrame<M>>`) are frames of the same
/// id, timestamp, state and metadata, with their own JPEG and part head.
impl<M: Clone + Send + Sync + 'static> TierFrame for Frame<M> {
    fn jpeg(&self) -> &[u8] {
        &self.jpeg
    }

    fn is_picture(&self) -> bool {
        self.state == FrameState::Live
    }

    fn frame_id(&self) -> Option<u64> {
        Some(self.id)
    }

    fn for_tier(&self, tier: Tier, jpeg: Bytes) -> Self {
        let mut frame = Frame::with_quality(
            self.id,
            jpeg,
            self.camera_time,
            self.state,
            self.meta.clone(),
            tier,
        );
        // Age from the camera's frame, not from the encode.
        frame.published_at = self.published_at;
        frame
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_part_head_is_built_once_and_says_offline_for_cards() {
        let jpeg = Bytes::from_static(b"\xFF\xD8\xFF\xD9");
        let live = Frame::new(7, jpeg.clone(), Timestamp::now(), FrameState::Live, ());
        let head = std::str::from_utf8(&live.head).expect("ASCII head");
        assert!(head.contains("Content-Length: 4\r\n"), "{head}");
        assert!(head.contains("X-Frame-Id: 7\r\n"), "{head}");
        assert!(head.contains("X-Quality: original\r\n"), "{head}");
        assert!(!head.contains("offline"));
        let medium = live.for_tier(Tier::Medium, Bytes::from_static(b"\xFF\xD8\xFF\xD9"));
        let tier_head = std::str::from_utf8(&medium.head).expect("ASCII head");
        assert!(tier_head.contains("X-Frame-Id: 7\r\n"), "{tier_head}");
        assert!(tier_head.contains("X-Quality: medium\r\n"), "{tier_head}");
        assert_eq!(medium.camera_time, live.camera_time);
        let card = Frame::new(8, jpeg, Timestamp::now(), FrameState::Offline, ());
        assert!(std::str::from_utf8(&card.head)
            .expect("ASCII head")
            .contains("X-Camera-State: offline\r\n"));
        let again = live.resend();
        assert_eq!((again.id, &again.head), (7, &live.head));
    }
}
