//! The caller's side: cheap, cloneable, never blocks.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{mpsc, Notify};

use crate::event::DetectionEvent;
use crate::stats::MqttStats;

/// What the handle sends to the publishing task.
#[derive(Debug)]
pub(crate) enum Command {
    Frame(DetectionEvent),
    Snapshot { camera: usize, jpeg: Bytes },
}

/// State shared between the handles and the publishing task.
#[derive(Debug)]
pub(crate) struct Shared {
    pub stats: Arc<MqttStats>,
    /// Camera name -> index into `camera_online` and the task's cameras.
    pub camera_index: HashMap<String, usize>,
    /// Per camera: online as the caller last said. Kept here rather than sent through the
    /// queue so that a full queue cannot lose a state change; the task publishes it on `wake`.
    /// `Relaxed` suffices: the `Notify` orders the store before the task's load.
    pub camera_online: Vec<AtomicBool>,
    /// Wakes the task after `camera_online` changed.
    pub wake: Notify,
}

/// Feeds the publisher. Clone it freely; the publisher stops (saying `offline` first) once
/// every handle is dropped.
///
/// No method blocks or waits for the broker: events go into a small bounded queue with
/// `try_send`, and when the queue is full (broker slow, task busy) the event is dropped and
/// counted in [`MqttStats::dropped_events`].
#[derive(Debug, Clone)]
pub struct MqttHandle {
    pub(crate) tx: mpsc::Sender<Command>,
    pub(crate) shared: Arc<Shared>,
}

impl MqttHandle {
    /// Hands in one frame's detections. Returns false if the event was dropped (queue full,
    /// publisher stopped) -- also counted -- or the camera is unknown.
    pub fn frame(&self, event: DetectionEvent) -> bool {
        if !self.shared.camera_index.contains_key(&event.camera) {
            tracing::debug!(camera = %event.camera, "MQTT: frame of an unknown camera ignored");
            return false;
        }
        self.send(Command::Frame(event))
    }

    /// Publishes `jpeg` as the camera's snapshot (retained), at most once per
    /// `snapshot_interval_secs`; snapshots within the interval are dropped silently. Returns
    /// false if the camera is unknown or the queue was full.
    pub fn snapshot(&self, camera: &str, jpeg: Bytes) -> bool {
        match self.shared.camera_index.get(camera) {
            Some(&camera) => self.send(Command::Snapshot { camera, jpeg }),
            None => false,
        }
    }

    /// Sets the camera's retained `<prefix>/<camera>/state` to `online` or `offline`. Cameras
    /// start offline. Never lost to a full queue: the latest value is published, also after a
    /// reconnect. Returns false if the camera is unknown.
    pub fn set_camera_online(&self, camera: &str, online: bool) -> bool {
        let Some(&i) = self.shared.camera_index.get(camera) else {
            return false;
        };
        if let Some(flag) = self.shared.camera_online.get(i) {
            flag.store(online, Ordering::Relaxed);
            self.shared.wake.notify_one();
        }
        true
    }

    /// The publisher's counters.
    pub fn stats(&self) -> &Arc<MqttStats> {
        &self.shared.stats
    }

    fn send(&self, command: Command) -> bool {
        match self.tx.try_send(command) {
            Ok(()) => true,
            Err(_) => {
                self.shared.stats.count_dropped_event();
                false
            }
        }
    }
}
