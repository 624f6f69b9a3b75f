//! [`FrameSubscriber`] and [`DetectionSubscriber`]: a node that does not own a camera reads it
//! here.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use futures_util::StreamExt;
use mjpeg_codec::Timestamp;

use crate::frame::{self, ReceivedDetections, ReceivedFrame};
use crate::stats::BusStats;

/// A camera's frames as this node receives them. Dropping it unsubscribes.
pub struct FrameSubscriber {
    subject: String,
    inner: async_nats::Subscriber,
    /// The publisher and sequence number of the last frame.
    last: Option<(String, u64)>,
    lost: u64,
    stats: Arc<BusStats>,
}

impl FrameSubscriber {
    pub(crate) fn new(
        subject: String,
        inner: async_nats::Subscriber,
        stats: Arc<BusStats>,
    ) -> FrameSubscriber {
        FrameSubscriber {
            subject,
            inner,
            last: None,
            lost: 0,
            stats,
        }
    }

    /// The subject subscribed to.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The next frame; `None` once the connection is closed for good. Messages that are not
    /// frames are skipped (counted as malformed).
    pub async fn next(&mut self) -> Option<ReceivedFrame> {
        loop {
            let message = self.inner.next().await?;
            let decoded = match frame::decode(
                message.subject.as_str(),
                message.headers.as_ref(),
                message.payload,
            ) {
                Ok(decoded) => decoded,
                Err(error) => {
                    BusStats::add(&self.stats.malformed, 1);
                    tracing::debug!(%error, "skipped a message that is not a frame");
                    continue;
                }
            };
            let lost_before = match &self.last {
                Some((node, seq)) if *node == decoded.node && decoded.seq > *seq => {
                    decoded.seq - seq - 1
                }
                // First frame, a new publisher (ownership moved) or a restarted one.
                _ => 0,
            };
            self.lost += lost_before;
            BusStats::add(&self.stats.frames_lost, lost_before);
            BusStats::add(&self.stats.frames_received, 1);
            self.last = Some((decoded.node.clone(), decoded.seq));
            let received = ReceivedFrame {
                frame: decoded.frame,
                node: decoded.node,
                sent: decoded.sent,
                received: Timestamp::now(),
                lost_before,
            };
            if let Some(latency) = received.latency() {
                let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
                self.stats.latency_last_us.store(us, Ordering::Relaxed);
                self.stats.latency_max_us.fetch_max(us, Ordering::Relaxed);
            }
            return Some(received);
        }
    }

    /// Frames this subscription missed so far (it read too slowly, or the connection dropped).
    pub fn lost(&self) -> u64 {
        self.lost
    }
}

/// A camera's detections as this node receives them (the subscription buffers
/// [`BusConfig::subscription_capacity`](crate::BusConfig::subscription_capacity) messages, like
/// frames). Dropping it unsubscribes.
pub struct DetectionSubscriber {
    inner: async_nats::Subscriber,
    stats: Arc<BusStats>,
}

impl DetectionSubscriber {
    pub(crate) fn new(inner: async_nats::Subscriber, stats: Arc<BusStats>) -> DetectionSubscriber {
        DetectionSubscriber { inner, stats }
    }

    /// The next frame's detections; `None` once the connection is closed for good. Messages
    /// without a frame id are skipped (counted as malformed).
    pub async fn next(&mut self) -> Option<ReceivedDetections> {
        loop {
            let message = self.inner.next().await?;
            match frame::decode_detections(message.headers.as_ref(), message.payload) {
                Some(received) => {
                    BusStats::add(&self.stats.detections_received, 1);
                    return Some(received);
                }
                None => BusStats::add(&self.stats.malformed, 1),
            }
        }
    }
}
