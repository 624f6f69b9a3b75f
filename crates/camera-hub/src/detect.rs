//! The detection task of a camera: while anyone watches the annotated stream, it takes the
//! newest raw frame, runs the model once, draws the boxes and publishes the annotated frame
//! (same `X-Frame-Id`) to every detection viewer. It never slows the raw stream: it reads raw
//! frames through a one-slot keep-latest subscription, so when it is slower than the camera
//! it skips to the newest frame instead of queueing.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use broadcast_core::{Policy, Publisher};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use yolo_detect::{Detector, DetectorConfig};

use super::stats::StageMs;
use super::Camera;
use crate::frame::{DetectionMeta, Frame, FrameMeta, SharedFrame};

/// Settings of a detection task.
#[derive(Debug, Clone)]
pub struct DetectTaskConfig {
    /// Model file, or `None` for the embedded YOLOX-Nano.
    pub model: Option<PathBuf>,
    /// JPEG quality of annotated frames.
    pub jpeg_quality: u8,
}

/// Runs until `shutdown`. The model is loaded when the first detection viewer arrives.
pub async fn run(
    camera: Arc<Camera>,
    publisher: Publisher<SharedFrame>,
    config: DetectTaskConfig,
    shutdown: CancellationToken,
) {
    let span = tracing::info_span!("detector", camera = %camera.name(), id = camera.id);
    async move {
        let mut detector: Option<Detector> = None;
        loop {
            tokio::select! {
                _ = camera.detect.subscribed() => {}
                _ = shutdown.cancelled() => return,
            }
            if detector.is_none() {
                match load(&config).await {
                    Ok(loaded) => {
                        tracing::info!(model = loaded.model_name(), "detection model loaded");
                        if let Ok(mut name) = camera.detector.model.lock() {
                            *name = Some(loaded.model_name().to_owned());
                        }
                        detector = Some(loaded);
                    }
                    Err(error) => {
                        tracing::error!(%error, "detection model failed to load; detection viewers get raw frames");
                        // Forward raw frames so detection viewers still see the camera.
                        forward_raw(&camera, &publisher, &shutdown).await;
                        continue;
                    }
                }
            }
            let Some(model) = detector.take() else { continue };
            camera.detector.active.store(true, Ordering::Relaxed);
            tracing::info!("detector started");
            let stopped = detect_while_watched(&camera, &publisher, model, &shutdown).await;
            camera.detector.active.store(false, Ordering::Relaxed);
            camera.detector.fps_bits.store(0f64.to_bits(), Ordering::Relaxed);
            tracing::info!("detector stopped: no detection viewers");
            match stopped {
                Some(model) => detector = Some(model),
                None => return,
            }
        }
    }
    .instrument(span)
    .await
}

async fn load(config: &DetectTaskConfig) -> Result<Detector, String> {
    let settings = DetectorConfig {
        jpeg_quality: config.jpeg_quality,
        ..DetectorConfig::default()
    };
    let model = config.model.clone();
    tokio::task::spawn_blocking(move || match model {
        Some(path) => {
            Detector::from_file(&path, settings).map_err(|e| format!("{}: {e}", path.display()))
        }
        None => Detector::default_model(settings).map_err(|e| e.to_string()),
    })
    .await
    .map_err(|e| e.to_string())?
}

/// Detects until the last detection viewer leaves; returns the detector for next time, or
/// `None` on shutdown.
async fn detect_while_watched(
    camera: &Arc<Camera>,
    publisher: &Publisher<SharedFrame>,
    mut detector: Detector,
    shutdown: &CancellationToken,
) -> Option<Detector> {
    let mut raw = camera.raw.subscribe_with(broadcast_core::Config {
        capacity: 1,
        policy: Policy::DropOldest,
    });
    let mut last_id: Option<u64> = None;
    let mut meter = (Instant::now(), camera.detector.runs.load(Ordering::Relaxed));
    loop {
        let (seq, frame) = tokio::select! {
            delivery = raw.recv() => match delivery {
                Some(delivery) => (delivery.seq, delivery.item),
                None => return Some(detector),
            },
            _ = shutdown.cancelled() => return None,
        };
        if camera.detect.subscriber_count() == 0 {
            return Some(detector);
        }
        if let Some(previous) = last_id {
            let skipped = frame.id.saturating_sub(previous + 1);
            camera
                .detector
                .skipped
                .fetch_add(skipped, Ordering::Relaxed);
        }
        last_id = Some(frame.id);
        if frame.state != crate::frame::FrameState::Live {
            // Offline cards and the like: pass through unannotated.
            publisher.publish(frame);
            continue;
        }
        let jpeg = frame.jpeg.clone();
        // While the quality tiers decode this broadcast too, both share one decode per frame.
        let shared = camera
            .tiers_started()
            .and_then(|tiers| tiers.reader_id())
            .map(|_| camera.decoded.clone());
        let (returned, result) = match tokio::task::spawn_blocking(move || {
            let result = match shared {
                Some(shared) => process_shared(&mut detector, &shared, seq, &jpeg),
                None => detector.process_jpeg(&jpeg),
            };
            (detector, result)
        })
        .await
        {
            Ok(done) => done,
            Err(error) => {
                tracing::error!(%error, "detector panicked; detection stops");
                return None;
            }
        };
        detector = returned;
        match result {
            Ok(annotated) => {
                let t = &annotated.timings;
                let ms = |d: Duration| d.as_secs_f64() * 1000.0;
                let stages = StageMs {
                    decode: ms(t.decode),
                    preprocess: ms(t.preprocess),
                    inference: ms(t.inference),
                    postprocess: ms(t.postprocess),
                    draw: ms(t.draw),
                    encode: ms(t.encode),
                };
                if let Ok(mut last) = camera.detector.last.lock() {
                    *last = stages;
                }
                camera.detector.runs.fetch_add(1, Ordering::Relaxed);
                let meta = DetectionMeta {
                    detections: annotated.detections,
                    inference_ms: stages.inference,
                    total_ms: stages.decode
                        + stages.preprocess
                        + stages.inference
                        + stages.postprocess
                        + stages.draw
                        + stages.encode,
                };
                let out = Frame::new(
                    frame.id,
                    annotated.jpeg.into(),
                    frame.camera_time,
                    frame.state,
                    FrameMeta::detected(meta),
                );
                publisher.publish(Arc::new(out));
            }
            Err(error) => {
                camera.detector.errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(frame_id = frame.id, %error, "detection failed; frame skipped");
            }
        }
        let now = Instant::now();
        if now - meter.0 >= Duration::from_secs(1) {
            let runs = camera.detector.runs.load(Ordering::Relaxed);
            let fps = (runs - meter.1) as f64 / (now - meter.0).as_secs_f64();
            camera
                .detector
                .fps_bits
                .store(fps.to_bits(), Ordering::Relaxed);
            meter = (now, runs);
        }
    }
}

/// Runs the detector on the picture the quality tiers share for frame `seq` (decoding it here
/// if the tiers have not yet); a picture that cannot be shared falls back to the JPEG.
fn process_shared(
    detector: &mut Detector,
    shared: &quality_tiers::SharedDecode,
    seq: u64,
    jpeg: &[u8],
) -> Result<yolo_detect::Annotated, yolo_detect::DetectError> {
    let started = Instant::now();
    let Ok(picture) = shared.picture(seq, jpeg) else {
        return detector.process_jpeg(jpeg);
    };
    let (Ok(width), Ok(height)) = (u32::try_from(picture.width), u32::try_from(picture.height))
    else {
        return detector.process_jpeg(jpeg);
    };
    // The detector draws on its own copy; the shared picture stays as decoded.
    detector.process_rgb(width, height, picture.pixels.clone(), started.elapsed())
}

/// Without a model, detection viewers get the raw frames.
async fn forward_raw(
    camera: &Arc<Camera>,
    publisher: &Publisher<SharedFrame>,
    shutdown: &CancellationToken,
) {
    let mut raw = camera.raw.subscribe();
    while camera.detect.subscriber_count() > 0 {
        tokio::select! {
            delivery = raw.recv() => match delivery {
                Some(delivery) => { publisher.publish(delivery.item); }
                None => return,
            },
            _ = shutdown.cancelled() => return,
        }
    }
}
