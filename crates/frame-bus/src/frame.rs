//! [`BusFrame`]: one JPEG as it travels on the bus, and its NATS headers.

use std::time::Duration;

use async_nats::HeaderMap;
use bytes::Bytes;
use mjpeg_codec::Timestamp;

use crate::BusError;

/// Header: the broadcast frame id (`X-Frame-Id` on every node), decimal.
pub const FRAME_ID: &str = "Camrelay-Frame-Id";
/// Header: the capture time (`X-Timestamp`), `SEC.USEC`.
pub const TIMESTAMP: &str = "Camrelay-Timestamp";
/// Header: the quality tier, when the owner sends several (absent for the camera's own JPEG).
pub const TIER: &str = "Camrelay-Tier";
/// Header: when the owner published the frame (wall clock, `SEC.USEC`): bus latency.
pub const SENT: &str = "Camrelay-Sent";
/// Header: the publisher's message count for this camera (gaps = frames this subscriber lost).
pub const SEQ: &str = "Camrelay-Seq";
/// Header: the node that published.
pub const NODE: &str = "Camrelay-Node";

/// One frame on the bus: the JPEG as the payload, the rest as headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusFrame {
    /// The broadcast frame id the owner gave it; every node shows this id.
    pub id: u64,
    /// The capture time (the camera's `X-Timestamp`, or the owner's receive time).
    pub camera_time: Timestamp,
    /// The quality tier, once the owner sends more than one (`None`: the camera's JPEG).
    pub tier: Option<String>,
    /// The JPEG.
    pub jpeg: Bytes,
}

/// A [`BusFrame`] as a subscriber received it.
#[derive(Debug, Clone)]
pub struct ReceivedFrame {
    /// The frame.
    pub frame: BusFrame,
    /// The node that published it.
    pub node: String,
    /// When it was published (the owner's wall clock).
    pub sent: Timestamp,
    /// When it arrived here (this node's wall clock).
    pub received: Timestamp,
    /// Frames of this publisher lost before this one on this subscription (slow consumer).
    pub lost_before: u64,
}

impl ReceivedFrame {
    /// Bus latency, publish to receive; `None` when the clocks disagree (receive before send).
    pub fn latency(&self) -> Option<Duration> {
        self.received
            .to_system_time()
            .duration_since(self.sent.to_system_time())
            .ok()
    }
}

/// The headers of `frame`, the `seq`-th message `node` published for this camera.
pub(crate) fn headers(frame: &BusFrame, node: &str, seq: u64) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(FRAME_ID, frame.id.to_string().as_str());
    headers.insert(TIMESTAMP, frame.camera_time.to_string().as_str());
    if let Some(tier) = &frame.tier {
        headers.insert(TIER, tier.as_str());
    }
    headers.insert(SENT, Timestamp::now().to_string().as_str());
    headers.insert(SEQ, seq.to_string().as_str());
    headers.insert(NODE, node);
    headers
}

/// The headers of the detections of frame `frame_id`, published by `node`.
pub(crate) fn detection_headers(frame_id: u64, node: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(FRAME_ID, frame_id.to_string().as_str());
    headers.insert(NODE, node);
    headers
}

/// One frame's detections as a subscriber received them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedDetections {
    /// The frame they belong to (the owner's id, the one every node shows).
    pub frame_id: u64,
    /// The node that published them.
    pub node: String,
    /// The document, as published.
    pub json: Bytes,
}

/// Reads a detections message back; `None` without a decimal `Camrelay-Frame-Id`.
pub(crate) fn decode_detections(
    headers: Option<&HeaderMap>,
    payload: Bytes,
) -> Option<ReceivedDetections> {
    let headers = headers?;
    let frame_id = headers.get(FRAME_ID)?.as_str().parse().ok()?;
    let node = headers.get(NODE).map_or("", |v| v.as_str()).to_owned();
    Some(ReceivedDetections {
        frame_id,
        node,
        json: payload,
    })
}

/// What a message's headers say about its frame.
pub(crate) struct Decoded {
    pub(crate) frame: BusFrame,
    pub(crate) node: String,
    pub(crate) sent: Timestamp,
    pub(crate) seq: u64,
}

/// Reads a frame back from a message's subject, headers and payload.
pub(crate) fn decode(
    subject: &str,
    headers: Option<&HeaderMap>,
    payload: Bytes,
) -> Result<Decoded, BusError> {
    let malformed = |what| BusError::Malformed {
        subject: subject.to_owned(),
        what,
    };
    let headers = headers.ok_or_else(|| malformed("no headers"))?;
    let get = |name: &str| headers.get(name).map(|v| v.as_str());
    let id = get(FRAME_ID)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| malformed("no decimal Camrelay-Frame-Id"))?;
    let camera_time = get(TIMESTAMP)
        .and_then(Timestamp::parse)
        .ok_or_else(|| malformed("no SEC.USEC Camrelay-Timestamp"))?;
    let sent = get(SENT)
        .and_then(Timestamp::parse)
        .ok_or_else(|| malformed("no SEC.USEC Camrelay-Sent"))?;
    let seq = get(SEQ)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| malformed("no decimal Camrelay-Seq"))?;
    Ok(Decoded {
        frame: BusFrame {
            id,
            camera_time,
            tier: get(TIER).map(str::to_owned),
            jpeg: payload,
        },
        node: get(NODE).unwrap_or("").to_owned(),
        sent,
        seq,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn frame() -> BusFrame {
        BusFrame {
            id: 4711,
            camera_time: Timestamp {
                secs: 1_700_000_000,
                micros: 42,
            },
            tier: Some("low".into()),
            jpeg: Bytes::from_static(b"\xFF\xD8\xFF\xD9"),
        }
    }

    #[test]
    fn headers_round_trip() {
        let headers = headers(&frame(), "node-a", 9);
        let back = decode("s", Some(&headers), frame().jpeg).expect("well-formed");
        assert_eq!(back.frame, frame());
        assert_eq!((back.node.as_str(), back.seq), ("node-a", 9));
        let untiered = BusFrame {
            tier: None,
            ..frame()
        };
        let headers = super::headers(&untiered, "n", 1);
        let back = decode("s", Some(&headers), untiered.jpeg.clone()).expect("well-formed");
        assert_eq!(back.frame, untiered);
    }

    #[test]
    fn detection_headers_round_trip() {
        let json = Bytes::from_static(b"{}");
        let headers = detection_headers(77, "node-a");
        let back = decode_detections(Some(&headers), json.clone()).expect("well-formed");
        assert_eq!((back.frame_id, back.node.as_str()), (77, "node-a"));
        assert_eq!(back.json, json);
        assert!(decode_detections(None, json).is_none());
    }

    #[test]
    fn a_message_without_frame_headers_is_malformed() {
        let err = decode("camrelay.c.cam.x.frames", None, Bytes::new())
            .err()
            .expect("malformed");
        assert_eq!(err.kind(), ErrorKind::Malformed);
        let mut headers = headers(&frame(), "n", 1);
        headers.insert(FRAME_ID, "-1");
        let err = decode("s", Some(&headers), Bytes::new())
            .err()
            .expect("malformed");
        assert!(err.to_string().contains("Camrelay-Frame-Id"), "{err}");
    }
}
