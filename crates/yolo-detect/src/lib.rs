//! YOLO object detection on [tract](https://github.com/sonos/tract): loads the ONNX exports
//! people actually have (Ultralytics YOLOv8 / YOLO11, YOLOv5 / YOLOv7, YOLOX), pre-processes
//! frames per family, decodes the output, runs class-aware NMS, draws boxes and labels, and
//! re-encodes the frame as JPEG, reporting the time spent in each stage.
//!
//! The Apache-2.0 YOLOX-Nano model is embedded ([`YOLOX_NANO_ONNX`]), so
//! [`Detector::default_model`] works without any file.
//!
//! ```
//! use yolo_detect::{Detector, DetectorConfig, ModelFamily};
//!
//! let mut detector = Detector::default_model(DetectorConfig::default())?;
//! assert_eq!(detector.family(), ModelFamily::Yolox);
//! assert_eq!(detector.input_size(), (416, 416));
//!
//! let jpeg = include_bytes!("../testdata/astronaut.jpg");
//! let annotated = detector.process_jpeg(jpeg)?;
//! let person = &annotated.detections[0];
//! assert_eq!(person.class_name, "person");
//! assert!(person.score > 0.85);
//! assert_eq!(&annotated.jpeg[..2], &[0xFF, 0xD8]); // the annotated frame, as JPEG
//! println!("{:?} in {:?}", person.bbox, annotated.timings.total());
//! # Ok::<(), yolo_detect::DetectError>(())
//! ```
//!
//! Speed: with the `accel` feature (on by default) and [`DetectorConfig::accelerate`] (true by
//! default), [`Detector`] hands tract's graph to the
//! [tract-accel](https://docs.rs/tract-accel) crate when it loads a model, so that the
//! convolutions run as its own ops with each SiLU fused in, on AVX-512F or AVX2 + FMA chosen at
//! run time, and so do the SPP max pools and YOLOX's Focus slicing: 1.2x to 1.3x onnxruntime's
//! single-thread time on YOLOX-Nano and YOLOv8n where tract alone took about 2.8x (see
//! `docs/benchmarks.md` in the repository). Without it tract runs the graph as it optimises it.
//!
//! Threads: inference uses tract's multithreaded executor with
//! [`DetectorConfig::threads`] workers (0 = all cores but one, at least one) for the operators
//! tract runs itself; tract-accel's convolution ops and everything else run on the calling
//! thread. For a pipeline, the stages are public too: [`decode_jpeg`],
//! [`Detector::detect`], [`draw_detections`], [`encode_jpeg`].

mod codec;
mod config;
pub mod decode;
mod detector;
mod draw;
mod error;
pub mod family;
mod labels;
mod nms;
pub mod preprocess;
mod types;

pub use codec::{decode_jpeg, encode_jpeg, MAX_DIMENSION};
pub use config::{DetectorConfig, ModelFamily, UnknownFamily};
pub use decode::{decode_output, Candidate, OutputLayout};
pub use detector::{Detector, YOLOX_NANO_ONNX};
pub use draw::{class_color, draw_detections};
pub use error::{BoxError, DetectError, ErrorKind};
pub use labels::{parse_names_dict, read_labels_file, COCO_80};
pub use nms::{nms, MAX_NMS_CANDIDATES};
pub use types::{Annotated, BBox, Detection, StageTimings};
