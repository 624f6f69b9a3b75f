//! One run of the detection model for the detection task ([`crate::detect`]): with or
//! without drawing, on a frame's own decode or on the one the quality tiers share, and loading
//! the model off the async threads.

use std::sync::Arc;
use std::time::{Duration, Instant};

use yolo_detect::{Detector, DetectorConfig};

use crate::detect::DetectTaskConfig;
use crate::stats::StageMs;

/// What one model run made.
pub(crate) struct Ran {
    pub(crate) detections: Vec<yolo_detect::Detection>,
    pub(crate) stages: StageMs,
    /// The annotated JPEG, when it was drawn.
    pub(crate) annotated: Option<Vec<u8>>,
}

/// One model run; the boxes are drawn and encoded only when `draw` (for remote demand alone
/// they are not).
pub(crate) fn run_once(
    detector: &mut Detector,
    jpeg: &[u8],
    draw: bool,
    shared: Option<(Arc<quality_tiers::SharedDecode>, u64)>,
) -> Result<Ran, yolo_detect::DetectError> {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    if draw {
        let annotated = match shared {
            Some((shared, id)) => process_shared(detector, &shared, id, jpeg)?,
            None => detector.process_jpeg(jpeg)?,
        };
        let t = &annotated.timings;
        let stages = StageMs {
            decode: ms(t.decode),
            preprocess: ms(t.preprocess),
            inference: ms(t.inference),
            postprocess: ms(t.postprocess),
            draw: ms(t.draw),
            encode: ms(t.encode),
        };
        return Ok(Ran {
            detections: annotated.detections,
            stages,
            annotated: Some(annotated.jpeg),
        });
    }
    let t = Instant::now();
    let image = yolo_detect::decode_jpeg(jpeg)?;
    let decode = t.elapsed();
    let (detections, t) = detector.detect(&image)?;
    let stages = StageMs {
        decode: ms(decode),
        preprocess: ms(t.preprocess),
        inference: ms(t.inference),
        postprocess: ms(t.postprocess),
        draw: 0.0,
        encode: 0.0,
    };
    Ok(Ran {
        detections,
        stages,
        annotated: None,
    })
}

/// Runs the detector on the picture the quality tiers share for frame `id` (decoding it here
/// if the tiers have not yet); a picture that cannot be shared falls back to the JPEG.
fn process_shared(
    detector: &mut Detector,
    shared: &quality_tiers::SharedDecode,
    id: u64,
    jpeg: &[u8],
) -> Result<yolo_detect::Annotated, yolo_detect::DetectError> {
    let started = Instant::now();
    let Ok(picture) = shared.picture(id, jpeg) else {
        return detector.process_jpeg(jpeg);
    };
    let (Ok(width), Ok(height)) = (u32::try_from(picture.width), u32::try_from(picture.height))
    else {
        return detector.process_jpeg(jpeg);
    };
    // The detector draws on its own copy; the shared picture stays as decoded.
    detector.process_rgb(width, height, picture.pixels.clone(), started.elapsed())
}

pub(crate) async fn load(config: &DetectTaskConfig) -> Result<Detector, String> {
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
