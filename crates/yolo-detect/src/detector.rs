//! The [`Detector`]: a loaded, optimised model plus the buffers reused between frames.

use crate::codec::{decode_jpeg, encode_jpeg, MAX_DIMENSION};
use crate::decode::{decode_output, Candidate, OutputLayout};
use crate::error::tract_error;
use crate::family::{recognise_family, ModelMetadata};
use crate::labels::{fit_names, parse_names_dict, COCO_80};
use crate::preprocess::{Letterbox, PreprocessSpec, Preprocessor};
use crate::{
    draw_detections, nms, Annotated, DetectError, Detection, DetectorConfig, ModelFamily,
    StageTimings,
};
use image::RgbImage;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::{Factoid, InferenceModel};

/// The YOLOX-Nano model (Apache-2.0, Megvii; see the crate's `NOTICE.md`), 416×416, COCO-80.
pub const YOLOX_NANO_ONNX: &[u8] = include_bytes!("../models/yolox_nano.onnx");

/// Model input side used when neither the graph nor the metadata gives one.
const FALLBACK_INPUT_SIDE: u32 = 640;

/// A YOLO object detector. Create one per model and reuse it for every frame: `detect`
/// takes `&mut self` because it reuses the input tensor, tract's state and scratch buffers.
///
/// It is `Send` (move it into a worker thread) but not meant to be shared between threads.
#[derive(Debug)]
pub struct Detector {
    /// tract's executable state; its per-node buffers live as long as the detector.
    state: TypedSimpleState,
    /// The input tensor, filled in place each frame; tract hands it back after a run.
    input: Arc<Tensor>,
    /// How to read the model's output.
    layout: OutputLayout,
    /// Model input width and height.
    input_size: (u32, u32),
    /// Class names, one per class of the output.
    names: Vec<String>,
    /// File stem, or a name from the metadata, for logs and errors.
    model_name: String,
    /// Thresholds, limits and JPEG quality.
    config: DetectorConfig,
    /// Channel order, scaling and padding of the family.
    spec: PreprocessSpec,
    /// Resize tables, rebuilt only when the frame size changes.
    preprocessor: Preprocessor,
    /// Candidates of the current frame (kept for its capacity).
    candidates: Vec<Candidate>,
    /// Frames processed, for error context.
    frames: u64,
}

impl Detector {
    /// Loads an ONNX model from a file.
    pub fn from_file(path: impl AsRef<Path>, config: DetectorConfig) -> Result<Self, DetectError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| DetectError::Io {
            what: "model",
            path: path.to_path_buf(),
            source,
        })?;
        let name = path.file_stem().map_or_else(
            || path.display().to_string(),
            |s| s.to_string_lossy().into_owned(),
        );
        Self::load(&bytes, Some(name), config)
    }

    /// Loads an ONNX model from memory.
    pub fn from_bytes(onnx: &[u8], config: DetectorConfig) -> Result<Self, DetectError> {
        Self::load(onnx, None, config)
    }

    /// Loads the embedded YOLOX-Nano ([`YOLOX_NANO_ONNX`]).
    pub fn default_model(config: DetectorConfig) -> Result<Self, DetectError> {
        Self::load(YOLOX_NANO_ONNX, Some("yolox_nano".to_string()), config)
    }

    fn load(
        onnx: &[u8],
        name: Option<String>,
        config: DetectorConfig,
    ) -> Result<Self, DetectError> {
        config.validate()?;
        let started = Instant::now();
        let mut model_name = name.unwrap_or_else(|| "onnx-model".to_string());
        let load_err = |model: &str, e: TractError| DetectError::ModelLoad {
            model: model.to_string(),
            source: tract_error(e),
        };
        let model = tract_onnx::onnx()
            .model_for_read(&mut &onnx[..])
            .map_err(|e| load_err(&model_name, e))?;
        let meta = read_metadata(&model);
        if let Some(d) = meta
            .description
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
        {
            if model_name == "onnx-model" {
                model_name = d.to_string();
            }
        }
        let unsupported = |reason: String| DetectError::UnsupportedModel {
            model: model_name.clone(),
            reason,
        };
        if meta
            .end2end
            .as_deref()
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        {
            return Err(unsupported(
                "end-to-end (NMS-free) exports are not supported; export with end2end=False".into(),
            ));
        }
        let (input_w, input_h) = input_size(&model, &meta).map_err(&unsupported)?;
        let input_shape = [1usize, 3, input_h as usize, input_w as usize];
        let typed = model
            .with_input_fact(0, InferenceFact::dt_shape(f32::datum_type(), input_shape))
            .and_then(|m| m.into_typed())
            .map_err(|e| load_err(&model_name, e))?;
        let typed = optimize(typed, config.accelerate, &model_name)?;
        let output_shape: Vec<usize> = typed
            .output_fact(0)
            .ok()
            .and_then(|f| f.shape.as_concrete().map(<[usize]>::to_vec))
            .ok_or_else(|| unsupported("output 0 has no concrete shape".into()))?;
        let family = match config.family {
            Some(f) => f,
            None => recognise_family(&output_shape, input_w, input_h, &meta).ok_or_else(|| {
                unsupported(format!(
                    "output shape {output_shape:?} is no known YOLO layout"
                ))
            })?,
        };
        let layout = OutputLayout::from_shape(family, &output_shape).ok_or_else(|| {
            unsupported(format!(
                "output shape {output_shape:?} does not fit family {family}"
            ))
        })?;
        let threads = config.effective_threads();
        let executor = if threads > 1 {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .thread_name(|i| format!("yolo-detect-{i}"))
                .build()
                .map_err(|e| {
                    DetectError::InvalidConfig(format!(
                        "cannot start {threads} inference threads: {e}"
                    ))
                })?;
            tract_linalg::multithread::Executor::MultiThread(Arc::new(pool))
        } else {
            tract_linalg::multithread::Executor::SingleThread
        };
        let options = RunOptions {
            executor: Some(executor),
            ..Default::default()
        };
        let plan = typed
            .into_runnable_with_options(&options)
            .map_err(|e| load_err(&model_name, e))?;
        let state = TypedSimpleState::new(&plan).map_err(|e| load_err(&model_name, e))?;
        let input = Tensor::zero::<f32>(&input_shape).map_err(|e| load_err(&model_name, e))?;
        let names = match (
            &config.labels,
            meta.names.as_deref().and_then(parse_names_dict),
        ) {
            (Some(labels), _) => labels.clone(),
            (None, Some(names)) => names,
            (None, None) if layout.classes == COCO_80.len() => {
                COCO_80.iter().map(|s| s.to_string()).collect()
            }
            (None, None) => Vec::new(),
        };
        let names = fit_names(names, layout.classes);
        tracing::info!(
            model = %model_name, %family, input_w, input_h, classes = layout.classes, threads,
            load_ms = started.elapsed().as_millis() as u64, "YOLO model loaded"
        );
        Ok(Detector {
            state,
            input: Arc::new(input),
            layout,
            input_size: (input_w, input_h),
            names,
            model_name,
            spec: PreprocessSpec::for_family(family),
            config,
            preprocessor: Preprocessor::default(),
            candidates: Vec::new(),
            frames: 0,
        })
    }

    /// The model family in use.
    pub fn family(&self) -> ModelFamily {
        self.layout.family
    }

    /// Model input (width, height) in pixels.
    pub fn input_size(&self) -> (u32, u32) {
        self.input_size
    }

    /// Class names, indexed by class id.
    pub fn class_names(&self) -> &[String] {
        &self.names
    }

    /// The model's name (file stem, `yolox_nano`, or the metadata description).
    pub fn model_name(&self) -> &str {
        &self.model_name
    }

    /// The configuration the detector was built with.
    pub fn config(&self) -> &DetectorConfig {
        &self.config
    }

    /// Runs the model on `input` exactly as given (`1×3×H×W`, already pre-processed) and
    /// returns its first output, flattened. For checking an engine against reference outputs.
    ///
    /// `input` holds the `3 × H × W` values of the input tensor, planar (`H × W` as
    /// [`input_size`](Self::input_size) reports `(W, H)`).
    pub fn run_raw(&mut self, input: &[f32]) -> Result<(Vec<usize>, Vec<f32>), DetectError> {
        let frame = self.frames;
        let shape = self.input.shape().to_vec();
        let input =
            Tensor::from_shape(&shape, input).map_err(|e| self.inference_error(frame, e))?;
        let out = self
            .state
            .run(tvec!(input.into_tvalue()))
            .map_err(|e| self.inference_error(frame, e))?;
        let first = out
            .first()
            .ok_or_else(|| self.inference_error(frame, anyhow_msg("model returned no output")))?;
        let values = first
            .try_as_plain_ram()
            .and_then(|v| v.as_slice::<f32>().map(<[f32]>::to_vec))
            .map_err(|e| self.inference_error(frame, e))?;
        Ok((first.shape().to_vec(), values))
    }

    /// Finds objects in `image`. Boxes are in `image`'s pixels, best score first.
    pub fn detect(
        &mut self,
        image: &RgbImage,
    ) -> Result<(Vec<Detection>, StageTimings), DetectError> {
        let (w, h) = image.dimensions();
        if w == 0 || h == 0 {
            return Err(DetectError::ImageSize {
                width: w,
                height: h,
                reason: "image is empty",
            });
        }
        let frame = self.frames;
        self.frames += 1;
        let mut timings = StageTimings::default();

        let t = Instant::now();
        let (input_w, input_h) = self.input_size;
        // After a run tract has dropped its reference, so this reuses the buffer in place.
        let input = Arc::make_mut(&mut self.input);
        let mut view = input
            .try_as_plain_ram_mut()
            .map_err(|e| inference_error(&self.model_name, frame, e))?;
        let buffer = view
            .as_slice_mut::<f32>()
            .map_err(|e| inference_error(&self.model_name, frame, e))?;
        let letterbox = self
            .preprocessor
            .run(image, &self.spec, input_w, input_h, buffer);
        timings.preprocess = t.elapsed();

        let t = Instant::now();
        let outputs = self
            .state
            .run(tvec!(self.input.clone().into_tvalue()))
            .map_err(|e| inference_error(&self.model_name, frame, e))?;
        timings.inference = t.elapsed();

        let t = Instant::now();
        let output = outputs
            .first()
            .ok_or_else(|| self.inference_error(frame, anyhow_msg("model returned no output")))?;
        let values = output
            .try_as_plain_ram()
            .and_then(|v| v.as_slice::<f32>())
            .map_err(|e| inference_error(&self.model_name, frame, e))?;
        self.candidates.clear();
        if !decode_output(
            values,
            &self.layout,
            input_w,
            input_h,
            self.config.confidence,
            &mut self.candidates,
        ) {
            return Err(self.inference_error(
                frame,
                anyhow_msg("output is shorter than its declared shape"),
            ));
        }
        let kept = nms(
            std::mem::take(&mut self.candidates),
            self.config.iou,
            self.config.max_detections,
        );
        let detections = kept
            .iter()
            .map(|c| self.to_detection(c, &letterbox, w, h))
            .collect();
        self.candidates = kept;
        timings.postprocess = t.elapsed();
        Ok((detections, timings))
    }

    /// Decodes a JPEG frame, detects objects, draws them and re-encodes the frame at the
    /// configured quality.
    pub fn process_jpeg(&mut self, jpeg: &[u8]) -> Result<Annotated, DetectError> {
        let t = Instant::now();
        let image = decode_jpeg(jpeg)?;
        self.process_image(image, t.elapsed(), jpeg.len())
    }

    /// As [`Detector::process_jpeg`] for a frame someone else already decoded (the relay's
    /// quality tiers share one decode per frame): `rgb` holds `width * height * 3` bytes, row
    /// after row; `decode_time` is reported as the decode stage.
    pub fn process_rgb(
        &mut self,
        width: u32,
        height: u32,
        rgb: Vec<u8>,
        decode_time: std::time::Duration,
    ) -> Result<Annotated, DetectError> {
        let size_hint = rgb.len() / 10;
        let image = RgbImage::from_raw(width, height, rgb).ok_or(DetectError::ImageSize {
            width,
            height,
            reason: "the pixel buffer is not width * height * 3 bytes",
        })?;
        self.process_image(image, decode_time, size_hint)
    }

    fn process_image(
        &mut self,
        mut image: RgbImage,
        decode: std::time::Duration,
        jpeg_len: usize,
    ) -> Result<Annotated, DetectError> {
        let (detections, mut timings) = self.detect(&image)?;
        timings.decode = decode;

        let t = Instant::now();
        draw_detections(&mut image, &detections);
        timings.draw = t.elapsed();

        let t = Instant::now();
        let mut out = Vec::with_capacity(jpeg_len + jpeg_len / 4);
        encode_jpeg(&image, self.config.jpeg_quality, &mut out)?;
        timings.encode = t.elapsed();
        let (width, height) = image.dimensions();
        Ok(Annotated {
            detections,
            jpeg: out,
            width,
            height,
            timings,
        })
    }

    fn to_detection(&self, c: &Candidate, lb: &Letterbox, w: u32, h: u32) -> Detection {
        let b = crate::BBox {
            x1: lb.x_to_image(c.bbox.x1),
            y1: lb.y_to_image(c.bbox.y1),
            x2: lb.x_to_image(c.bbox.x2),
            y2: lb.y_to_image(c.bbox.y2),
        };
        Detection {
            class_id: c.class_id,
            class_name: self
                .names
                .get(c.class_id)
                .cloned()
                .unwrap_or_else(|| format!("class{}", c.class_id)),
            score: c.score,
            bbox: b.clipped(w as f32, h as f32),
        }
    }

    fn inference_error(&self, frame: u64, e: TractError) -> DetectError {
        inference_error(&self.model_name, frame, e)
    }
}

/// Optimises `typed` for running: with tract-accel's rewrites where the `accel` feature and
/// `accelerate` allow, else with tract alone.
fn optimize(typed: TypedModel, accelerate: bool, model: &str) -> Result<TypedModel, DetectError> {
    #[cfg(feature = "accel")]
    if accelerate {
        let (typed, report) = tract_accel::optimize(typed).map_err(|e| DetectError::ModelLoad {
            model: model.to_string(),
            source: Box::new(e),
        })?;
        tracing::debug!(model, ?report, "tract-accel rewrites applied");
        return Ok(typed);
    }
    #[cfg(not(feature = "accel"))]
    let _ = accelerate;
    typed.into_optimized().map_err(|e| DetectError::ModelLoad {
        model: model.to_string(),
        source: tract_error(e),
    })
}

fn inference_error(model: &str, frame: u64, e: TractError) -> DetectError {
    DetectError::Inference {
        model: model.to_string(),
        frame,
        source: tract_error(e),
    }
}

fn anyhow_msg(msg: &'static str) -> TractError {
    TractError::msg(msg)
}

/// Reads the Ultralytics-style metadata tract keeps as `onnx.metadata_props.*` properties.
fn read_metadata(model: &InferenceModel) -> ModelMetadata {
    let get = |key: &str| {
        let t = model
            .properties
            .get(&format!("onnx.metadata_props.{key}"))?;
        t.try_as_plain_ram()
            .ok()?
            .to_scalar::<String>()
            .ok()
            .cloned()
    };
    ModelMetadata {
        author: get("author"),
        names: get("names"),
        imgsz: get("imgsz"),
        end2end: get("end2end"),
        description: get("description"),
    }
}

/// Input (width, height): from the graph if concrete, else `imgsz` metadata, else 640.
fn input_size(model: &InferenceModel, meta: &ModelMetadata) -> Result<(u32, u32), String> {
    if model.inputs.len() != 1 {
        return Err(format!("expected 1 input, found {}", model.inputs.len()));
    }
    let fact = model.input_fact(0).map_err(|e| format!("{e:#}"))?;
    let dim = |i: usize| -> Option<u32> {
        let d = fact.shape.dim(i)?.concretize()?.to_i64().ok()?;
        u32::try_from(d).ok().filter(|d| *d > 0)
    };
    if let Some(c) = dim(1) {
        if c != 3 {
            return Err(format!(
                "input has {c} channels, expected 3 (shape {:?})",
                fact.shape
            ));
        }
    }
    let (w, h) = match (dim(3), dim(2)) {
        (Some(w), Some(h)) => (w, h),
        _ => meta
            .input_size()
            .unwrap_or((FALLBACK_INPUT_SIDE, FALLBACK_INPUT_SIDE)),
    };
    if w as usize > MAX_DIMENSION || h as usize > MAX_DIMENSION {
        return Err(format!("input {w}x{h} is larger than {MAX_DIMENSION}"));
    }
    Ok((w, h))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>() {}

    #[test]
    fn detector_is_send() {
        assert_send::<Detector>();
    }

    #[test]
    fn input_tensor_is_reused_between_frames() {
        let mut d = Detector::default_model(DetectorConfig {
            threads: 1,
            ..Default::default()
        })
        .unwrap();
        let image = RgbImage::from_pixel(64, 48, image::Rgb([10, 20, 30]));
        d.detect(&image).unwrap();
        let before = Arc::as_ptr(&d.input);
        d.detect(&image).unwrap();
        assert_eq!(Arc::strong_count(&d.input), 1, "tract released the input");
        assert_eq!(Arc::as_ptr(&d.input), before, "no reallocation");
    }

    #[test]
    fn garbage_model_bytes_are_a_model_error() {
        let e =
            Detector::from_bytes(b"definitely not onnx", DetectorConfig::default()).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Model);
        let e =
            Detector::from_file("/nonexistent/model.onnx", DetectorConfig::default()).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Io);
    }
}
