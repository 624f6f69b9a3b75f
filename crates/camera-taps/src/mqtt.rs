//! MQTT for Home Assistant: `mqtt-detections` fed from the cameras.
//!
//! [`start`] starts one [`MqttPublisher`] and, per
//! camera with detection enabled, a task that **subscribes to the camera's annotated
//! broadcast** -- which is what starts its detector (and, through the detector's raw
//! subscription, its upstream) -- so detections are published whether or not anyone watches.
//! Each annotated frame becomes a [`DetectionEvent`] handed to [`MqttHandle::frame`], which
//! never waits; live and offline frames set the camera's `online`/`offline` state.
//!
//! The tasks hold the only [`MqttHandle`]s: when shutdown ends them, the publisher marks the
//! cameras and the relay `offline` and disconnects.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use broadcast_core::Policy;
use mqtt_detections::{
    CameraInfo, DetectionBox, DetectionEvent, MqttConfig, MqttError, MqttHandle, MqttPublisher,
    MqttStats,
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use camera_hub::frame::{Frame, FrameState};
use camera_hub::Camera;

/// How long shutdown waits for the publisher to say `offline` and disconnect.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Starts the publisher and one detection follower per detecting camera. Returns the
/// publisher's counters and the tasks (which end on `shutdown`).
pub fn start(
    config: &MqttConfig,
    cameras: &[Arc<Camera>],
    shutdown: &CancellationToken,
) -> Result<(Arc<MqttStats>, Vec<JoinHandle<()>>), MqttError> {
    let infos: Vec<CameraInfo> = cameras.iter().map(|c| CameraInfo::new(c.name())).collect();
    let (handle, publisher) = MqttPublisher::start(config, &infos)?;
    let stats = publisher.stats();
    let mut tasks = Vec::new();
    for camera in cameras.iter().filter(|c| c.detect_enabled) {
        tasks.push(tokio::spawn(follow(
            camera.clone(),
            handle.clone(),
            shutdown.clone(),
        )));
    }
    if !cameras.iter().any(|c| c.detect_enabled) {
        tracing::warn!("MQTT: no camera runs detection; only the relay's status is published");
    }
    let stop = shutdown.clone();
    tasks.push(tokio::spawn(async move {
        let run = publisher.run();
        tokio::pin!(run);
        tokio::select! {
            _ = &mut run => return,
            _ = stop.cancelled() => {}
        }
        // The followers end on the same token and drop their handles; this one goes now.
        drop(handle);
        if tokio::time::timeout(STOP_GRACE, run).await.is_err() {
            tracing::warn!("MQTT: publisher did not stop within {STOP_GRACE:?}");
        }
    }));
    Ok((stats, tasks))
}

/// Follows one camera's annotated frames until shutdown.
async fn follow(camera: Arc<Camera>, mqtt: MqttHandle, shutdown: CancellationToken) {
    let span = tracing::info_span!("mqtt", camera = %camera.name(), id = camera.id);
    async move {
        // One slot, keep the newest: MQTT never holds the detector back.
        let mut frames = camera.detect.subscribe_with(broadcast_core::Config {
            capacity: 1,
            policy: Policy::DropOldest,
        });
        tracing::info!("MQTT: following the camera's detections");
        let mut online: Option<bool> = None;
        loop {
            let frame = tokio::select! {
                delivery = frames.recv() => match delivery {
                    Some(delivery) => delivery.item,
                    None => return,
                },
                _ = shutdown.cancelled() => return,
            };
            let live = frame.state == FrameState::Live;
            if online != Some(live) {
                mqtt.set_camera_online(camera.name(), live);
                online = Some(live);
            }
            if let Some(event) = event_of(&camera, &frame) {
                mqtt.frame(event);
            }
        }
    }
    .instrument(span)
    .await
}

/// The MQTT event of an annotated live frame; `None` for frames without detection results
/// (offline cards, raw frames forwarded when the model failed to load).
pub fn event_of(camera: &Camera, frame: &Frame) -> Option<DetectionEvent> {
    if frame.state != FrameState::Live {
        return None;
    }
    let meta = frame.meta.detections.as_ref()?;
    let time = frame.camera_time;
    let capture_us = i64::try_from(time.secs)
        .unwrap_or(i64::MAX / 1_000_000)
        .saturating_mul(1_000_000)
        .saturating_add(i64::from(time.micros));
    let fps = f64::from_bits(camera.detector.fps_bits.load(Ordering::Relaxed));
    Some(DetectionEvent {
        camera: camera.name().to_owned(),
        frame_id: frame.id,
        capture_us,
        detections: meta
            .detections
            .iter()
            .map(|d| DetectionBox {
                label: d.class_name.clone(),
                score: d.score,
                x: d.bbox.x1,
                y: d.bbox.y1,
                w: d.bbox.x2 - d.bbox.x1,
                h: d.bbox.y2 - d.bbox.y1,
            })
            .collect(),
        fps: (fps > 0.0).then_some(fps),
        jpeg: Some(frame.jpeg.clone()),
    })
}
