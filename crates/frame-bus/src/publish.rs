//! [`CameraPublisher`]: the owner's side, one NATS publish per frame, never blocking the
//! caller.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::frame::{self, BusFrame};
use crate::stats::BusStats;
use crate::{subject, BusError};

enum Outgoing {
    Frame(BusFrame),
    Detections { frame_id: u64, json: Bytes },
}

/// Publishes one camera's frames and detections. Dropping it ends its task once the queued
/// messages are handed to the client.
pub struct CameraPublisher {
    camera: String,
    queue: mpsc::Sender<Outgoing>,
    stats: Arc<BusStats>,
}

impl CameraPublisher {
    pub(crate) fn start(
        client: async_nats::Client,
        camera: &str,
        cluster: &str,
        node: &str,
        queue: usize,
        stats: Arc<BusStats>,
    ) -> CameraPublisher {
        let (tx, rx) = mpsc::channel(queue);
        let task = PublishTask {
            client,
            frames: subject::frames(cluster, camera),
            detections: subject::detections(cluster, camera),
            node: node.to_owned(),
            seq: 0,
            stats: stats.clone(),
        };
        tokio::spawn(task.run(rx));
        CameraPublisher {
            camera: camera.to_owned(),
            queue: tx,
            stats,
        }
    }

    /// Queues `frame` for publishing without waiting: `false` when the queue is full (NATS is
    /// unreachable or slower than the camera), and the frame is dropped and counted. The
    /// owner's own viewers never wait for the bus.
    pub fn publish(&self, frame: BusFrame) -> bool {
        self.try_queue(Outgoing::Frame(frame))
    }

    /// Queues the detections of frame `frame_id` (a JSON document; its shape is the caller's)
    /// like [`Self::publish`]: never waits, `false` when dropped (counted). The message carries
    /// the frame id and this node's name as headers (`Camrelay-Frame-Id`, `Camrelay-Node`).
    pub fn publish_detections(&self, frame_id: u64, json: Bytes) -> bool {
        self.try_queue(Outgoing::Detections { frame_id, json })
    }

    /// Queues `frame`, waiting for room (for callers that prefer back-pressure to drops).
    pub async fn send(&self, frame: BusFrame) -> Result<(), BusError> {
        self.queue
            .send(Outgoing::Frame(frame))
            .await
            .map_err(|_| BusError::Closed {
                camera: self.camera.clone(),
            })
    }

    fn try_queue(&self, message: Outgoing) -> bool {
        match self.queue.try_send(message) {
            Ok(()) => true,
            Err(_) => {
                BusStats::add(&self.stats.publish_dropped, 1);
                false
            }
        }
    }
}

struct PublishTask {
    client: async_nats::Client,
    frames: String,
    detections: String,
    node: String,
    /// Frames published so far: subscribers count gaps in it.
    seq: u64,
    stats: Arc<BusStats>,
}

impl PublishTask {
    async fn run(mut self, mut rx: mpsc::Receiver<Outgoing>) {
        while let Some(message) = rx.recv().await {
            let result = match message {
                Outgoing::Frame(frame) => {
                    self.seq += 1;
                    let headers = frame::headers(&frame, &self.node, self.seq);
                    let sent = self
                        .client
                        .publish_with_headers(self.frames.clone(), headers, frame.jpeg)
                        .await;
                    if sent.is_ok() {
                        BusStats::add(&self.stats.frames_published, 1);
                    }
                    sent
                }
                Outgoing::Detections { frame_id, json } => {
                    let headers = frame::detection_headers(frame_id, &self.node);
                    let sent = self
                        .client
                        .publish_with_headers(self.detections.clone(), headers, json)
                        .await;
                    if sent.is_ok() {
                        BusStats::add(&self.stats.detections_published, 1);
                    }
                    sent
                }
            };
            if let Err(error) = result {
                tracing::warn!(subject = %self.frames, %error, "bus publish failed");
            }
        }
    }
}
