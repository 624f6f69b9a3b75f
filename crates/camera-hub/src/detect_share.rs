//! Detections shared by a cluster: what the owner sends for one frame ([`SharedDetections`]),
//! how a follower pairs them with its own copy of that frame (`Matcher`, by frame id) and
//! draws them (`annotate`), so its annotated frames, events and stats look like the owner's
//! without running the model.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::frame::{DetectionMeta, Frame, FrameMeta, SharedFrame};

/// Frames a follower keeps for detections still to come: the owner's model takes a while, and
/// the frame arrived before its detections. 32 frames are 1.6 s at 20 fps.
const KEEP_FRAMES: usize = 32;
/// Detections kept for a frame that has not arrived yet (they overtook it).
const KEEP_PENDING: usize = 8;

/// One frame's detections as the owner shares them (JSON on the cluster's detections subject).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SharedDetections {
    /// The frame they belong to (its id is the same on every node).
    pub frame_id: u64,
    /// The owner's model.
    pub model: String,
    /// What the model found, in the frame's pixels.
    pub detections: Vec<yolo_detect::Detection>,
    /// The owner's inference time in milliseconds.
    pub inference_ms: f64,
    /// The owner's whole pipeline time in milliseconds.
    pub total_ms: f64,
}

impl SharedDetections {
    /// What the frame's metadata carries (as the owner's annotated frame does).
    pub fn meta(&self) -> DetectionMeta {
        DetectionMeta {
            detections: self.detections.clone(),
            inference_ms: self.inference_ms,
            total_ms: self.total_ms,
        }
    }
}

/// Pairs the owner's detections with this node's live frames by frame id. Bounded: at most
/// `KEEP_FRAMES` frames and `KEEP_PENDING` early detections; what cannot be paired is counted in
/// `gone`. Each id is paired once, in increasing order.
#[derive(Default)]
pub(crate) struct Matcher {
    frames: VecDeque<SharedFrame>,
    pending: VecDeque<SharedDetections>,
    /// The last id paired: later detections for it or older ones are stale.
    last_paired: Option<u64>,
    /// Detections that found no frame (gone from the ring, overtaken, or repeated).
    pub(crate) gone: u64,
}

impl Matcher {
    /// A live frame arrived: kept for its detections; returns them if they came first.
    pub(crate) fn frame(&mut self, frame: SharedFrame) -> Option<(SharedFrame, SharedDetections)> {
        if self.frames.back().is_some_and(|last| last.id >= frame.id) {
            return None; // a keepalive re-send of a frame already here
        }
        let before = self.pending.len();
        self.pending.retain(|d| d.frame_id >= frame.id);
        self.gone += (before - self.pending.len()) as u64;
        let waiting = match self.pending.front() {
            Some(d) if d.frame_id == frame.id => self.pending.pop_front(),
            _ => None,
        };
        self.frames.push_back(frame.clone());
        if self.frames.len() > KEEP_FRAMES {
            self.frames.pop_front();
        }
        waiting.map(|d| self.paired(frame, d))
    }

    /// The owner's detections arrived: paired with their frame if it is here, kept if it is
    /// still to come, counted as gone otherwise.
    pub(crate) fn detections(
        &mut self,
        detections: SharedDetections,
    ) -> Option<(SharedFrame, SharedDetections)> {
        let id = detections.frame_id;
        if self.last_paired.is_some_and(|last| id <= last) {
            self.gone += 1;
            return None;
        }
        if let Some(frame) = self.frames.iter().find(|f| f.id == id).cloned() {
            return Some(self.paired(frame, detections));
        }
        if self.frames.back().is_none_or(|newest| id > newest.id) {
            let at = self.pending.partition_point(|d| d.frame_id < id);
            if self.pending.get(at).is_some_and(|d| d.frame_id == id) {
                self.gone += 1;
                return None;
            }
            self.pending.insert(at, detections);
            if self.pending.len() > KEEP_PENDING {
                self.pending.pop_front();
                self.gone += 1;
            }
        } else {
            self.gone += 1;
        }
        None
    }

    fn paired(
        &mut self,
        frame: SharedFrame,
        detections: SharedDetections,
    ) -> (SharedFrame, SharedDetections) {
        self.last_paired = Some(frame.id);
        // Older frames can no longer be paired (ids go up): let them go.
        self.frames.retain(|f| f.id > frame.id);
        (frame, detections)
    }
}

/// `frame` with `detections`' boxes drawn in, re-encoded at `quality`: the annotated frame the
/// owner's detector made for the same id (runs the JPEG codec, not the model: call it off the
/// async threads).
pub(crate) fn annotate(
    frame: &Frame,
    detections: &SharedDetections,
    quality: u8,
) -> Result<Frame, yolo_detect::DetectError> {
    let mut image = yolo_detect::decode_jpeg(&frame.jpeg)?;
    yolo_detect::draw_detections(&mut image, &detections.detections);
    let mut jpeg = Vec::with_capacity(frame.jpeg.len() + frame.jpeg.len() / 4);
    yolo_detect::encode_jpeg(&image, quality, &mut jpeg)?;
    Ok(Frame::new(
        frame.id,
        jpeg.into(),
        frame.camera_time,
        frame.state,
        FrameMeta::detected(detections.meta()),
    ))
}

/// A live frame's shared form, for tests and the owner.
pub(crate) fn shared(frame_id: u64, model: &str, meta: &DetectionMeta) -> SharedDetections {
    SharedDetections {
        frame_id,
        model: model.to_owned(),
        detections: meta.detections.clone(),
        inference_ms: meta.inference_ms,
        total_ms: meta.total_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::FrameState;
    use mjpeg_codec::Timestamp;
    use std::sync::Arc;

    fn frame(id: u64) -> SharedFrame {
        Arc::new(Frame::new(
            id,
            mock_camera::placeholder_jpeg(64, 48, &[&id.to_string()]),
            Timestamp::now(),
            FrameState::Live,
            Default::default(),
        ))
    }

    fn found(id: u64) -> SharedDetections {
        SharedDetections {
            frame_id: id,
            model: "m".into(),
            detections: vec![yolo_detect::Detection {
                class_id: 0,
                class_name: "person".into(),
                score: 0.9,
                bbox: yolo_detect::BBox {
                    x1: 2.0,
                    y1: 2.0,
                    x2: 30.0,
                    y2: 40.0,
                },
            }],
            inference_ms: 12.5,
            total_ms: 20.0,
        }
    }

    fn ids(pair: Option<(SharedFrame, SharedDetections)>) -> Option<(u64, u64)> {
        pair.map(|(f, d)| (f.id, d.frame_id))
    }

    #[test]
    fn detections_pair_with_their_frame_whichever_comes_first() {
        let mut m = Matcher::default();
        for id in 1..=5 {
            assert!(m.frame(frame(id)).is_none());
        }
        // The owner's model skipped 1 and 2: 3 pairs, then 5.
        assert_eq!(ids(m.detections(found(3))), Some((3, 3)));
        assert_eq!(ids(m.detections(found(5))), Some((5, 5)));
        // Detections for frames not here yet wait for them.
        assert!(m.detections(found(8)).is_none());
        assert!(m.detections(found(7)).is_none());
        assert!(m.frame(frame(6)).is_none());
        assert_eq!(ids(m.frame(frame(7))), Some((7, 7)));
        assert_eq!(ids(m.frame(frame(8))), Some((8, 8)));
        // A keepalive re-send of 8 pairs nothing; nothing was lost so far.
        assert!(m.frame(frame(8)).is_none());
        assert_eq!(m.gone, 0);
    }

    #[test]
    fn stale_repeated_and_overtaken_detections_are_counted_not_paired() {
        let mut m = Matcher::default();
        for id in 1..=3 {
            m.frame(frame(id));
        }
        assert_eq!(ids(m.detections(found(2))), Some((2, 2)));
        // Repeated (two owners during a handover) and older than the last paired: gone.
        assert!(m.detections(found(2)).is_none());
        assert!(m.detections(found(1)).is_none());
        assert_eq!(m.gone, 2);
        // Detections waiting for frame 5 when frame 6 comes: 5 never came here.
        assert!(m.detections(found(5)).is_none());
        assert!(m.frame(frame(6)).is_none());
        assert_eq!(m.gone, 3);
        // A frame far behind the ring: gone.
        for id in 7..7 + KEEP_FRAMES as u64 {
            m.frame(frame(id));
        }
        assert!(m.detections(found(6)).is_none());
        assert_eq!(m.gone, 4);
        // Bounded: at most KEEP_PENDING detections wait; the oldest go first.
        let next = 7 + KEEP_FRAMES as u64;
        for id in next..next + KEEP_PENDING as u64 + 2 {
            m.detections(found(id + 100));
        }
        assert_eq!(m.pending.len(), KEEP_PENDING);
        assert_eq!(m.gone, 6);
        assert!(m.frames.len() <= KEEP_FRAMES);
    }

    #[test]
    fn annotated_frames_keep_the_id_and_carry_the_owners_detections() {
        let raw = frame(42);
        let out = annotate(&raw, &found(42), 80).expect("a real JPEG");
        assert_eq!(
            (out.id, out.camera_time, out.state),
            (42, raw.camera_time, raw.state)
        );
        assert!(out.jpeg.starts_with(&[0xFF, 0xD8]));
        assert_ne!(out.jpeg, raw.jpeg, "boxes drawn");
        let meta = out.meta.detections.as_deref().expect("detections");
        assert_eq!(meta.detections, found(42).detections);
        assert_eq!(meta.inference_ms, 12.5);
        let json = serde_json::to_string(&found(42)).expect("json");
        let back: SharedDetections = serde_json::from_str(&json).expect("reads back");
        assert_eq!(back, found(42));
    }
}
