//! yolo-detect speed: JPEG decoders side by side (criterion), then a per-stage table for
//! YOLOX-Nano 416 (embedded) and YOLOv8n 320 (from `../shared/models`, skipped if absent) at
//! 1 and 2 inference threads, with onnxruntime on the same model and input in the same run
//! (`benches/ort_reference.py`, skipped with a note if python3/onnxruntime are missing).
//!
//! ```text
//! cargo bench -p yolo-detect --bench detect -- --warm-up-time 1 --measurement-time 3
//! ```
#![allow(clippy::unwrap_used, missing_docs)]

use criterion::{criterion_group, BenchmarkId, Criterion};
use image::RgbImage;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;
use yolo_detect::preprocess::{PreprocessSpec, Preprocessor};
use yolo_detect::{decode_jpeg, encode_jpeg, Detector, DetectorConfig, StageTimings};

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A 640x480 camera-sized frame made from a real photo (coffee.jpg, resized), JPEG q80.
fn camera_frame() -> Vec<u8> {
    let photo =
        decode_jpeg(&std::fs::read(crate_dir().join("testdata/coffee.jpg")).unwrap()).unwrap();
    let frame = image::imageops::resize(&photo, 640, 480, image::imageops::FilterType::Triangle);
    let mut jpeg = Vec::new();
    encode_jpeg(&frame, 80, &mut jpeg).unwrap();
    jpeg
}

fn jpeg_decoders(c: &mut Criterion) {
    let frames = [
        ("coffee-640x480-q80", camera_frame()),
        (
            "vlc-capture-640x480",
            std::fs::read(crate_dir().join("testdata/vlc-frame-640x480.jpg")).unwrap(),
        ),
    ];
    let mut group = c.benchmark_group("jpeg-decode");
    for (name, jpeg) in &frames {
        group.bench_with_input(BenchmarkId::new("zune-jpeg", name), jpeg, |b, j| {
            b.iter(|| decode_jpeg(black_box(j)).unwrap())
        });
        group.bench_with_input(BenchmarkId::new("image-crate", name), jpeg, |b, j| {
            b.iter(|| {
                image::load_from_memory_with_format(black_box(j), image::ImageFormat::Jpeg)
                    .unwrap()
                    .to_rgb8()
            })
        });
    }
    group.finish();
    let image = decode_jpeg(&frames[0].1).unwrap();
    let mut group = c.benchmark_group("jpeg-encode-640x480");
    for quality in [70u8, 80] {
        group.bench_function(BenchmarkId::new("jpeg-encoder", quality), |b| {
            let mut out = Vec::new();
            b.iter(|| {
                out.clear();
                encode_jpeg(black_box(&image), quality, &mut out).unwrap()
            })
        });
    }
    group.finish();
    let mut group = c.benchmark_group("preprocess-640x480");
    let spec = PreprocessSpec::for_family(yolo_detect::ModelFamily::Yolox);
    let mut pre = Preprocessor::default();
    let mut buf = vec![0f32; 3 * 416 * 416];
    group.bench_function("letterbox-416", |b| {
        b.iter(|| pre.run(black_box(&image), &spec, 416, 416, &mut buf))
    });
    group.finish();
}

criterion_group!(benches, jpeg_decoders);

fn median(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1000.0
}

/// onnxruntime in a Python subprocess (`benches/ort_reference.py --serve`) on the same model
/// and the same letterboxed frame, driven block by block between tract's blocks.
struct Ort {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    stdout: std::io::BufReader<std::process::ChildStdout>,
    input: PathBuf,
    version: String,
}

impl Ort {
    fn start(model: &Path, image: &RgbImage, detector: &Detector) -> Option<Ort> {
        use std::io::BufRead;
        let (w, h) = detector.input_size();
        let spec = PreprocessSpec::for_family(detector.family());
        let mut buf = vec![0f32; 3 * (w * h) as usize];
        Preprocessor::default().run(image, &spec, w, h, &mut buf);
        let bytes: Vec<u8> = buf.iter().flat_map(|v| v.to_le_bytes()).collect();
        let input = std::env::temp_dir().join(format!(
            "yolo-detect-bench-{}-{w}x{h}.f32",
            std::process::id()
        ));
        std::fs::write(&input, bytes).ok()?;
        let spawned = std::process::Command::new("python3")
            .arg(crate_dir().join("benches/ort_reference.py"))
            .args([model.as_os_str(), input.as_os_str()])
            .args([h.to_string(), w.to_string(), "--serve".to_string()])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => {
                println!("note: cannot run python3 for the onnxruntime reference: {e}");
                return None;
            }
        };
        let stdin = child.stdin.take()?;
        let mut stdout = std::io::BufReader::new(child.stdout.take()?);
        let mut line = String::new();
        stdout.read_line(&mut line).ok()?;
        let Ok(ready) = serde_json::from_str::<serde_json::Value>(&line) else {
            println!("note: onnxruntime reference did not start (pip install onnxruntime numpy)");
            let _ = child.kill();
            return None;
        };
        let version = ready["ready"].as_str().unwrap_or("?").to_string();
        Some(Ort {
            child,
            stdin,
            stdout,
            input,
            version,
        })
    }

    fn run(&mut self, threads: usize, n: usize) -> Vec<Duration> {
        use std::io::{BufRead, Write};
        writeln!(self.stdin, "{threads} {n}").unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        let ms: Vec<f64> = serde_json::from_str(&line).unwrap();
        ms.into_iter()
            .map(|m| Duration::from_secs_f64(m / 1000.0))
            .collect()
    }
}

impl Drop for Ort {
    fn drop(&mut self) {
        use std::io::Write;
        let _ = writeln!(self.stdin, "quit");
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.input);
    }
}

fn row(name: &str, label: &str, runs: &[StageTimings]) {
    let col = |f: fn(&StageTimings) -> Duration| median(runs.iter().map(f).collect());
    let total = col(|t| t.total());
    println!(
        "| {name} | {label} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.1} |",
        col(|t| t.decode),
        col(|t| t.preprocess),
        col(|t| t.inference),
        col(|t| t.postprocess),
        col(|t| t.draw),
        col(|t| t.encode),
        total,
        1000.0 / total
    );
}

/// For each model: tract with 1 and 2 threads (`process_jpeg`, all stages) and onnxruntime
/// with 1 and 2 threads (inference only), interleaved in blocks of `BLOCK` frames.
fn stage_table() {
    const ROUNDS: usize = 8;
    const BLOCK: usize = 5;
    let jpeg = camera_frame();
    let image = decode_jpeg(&jpeg).unwrap();
    let embedded = std::env::temp_dir().join(format!(
        "yolo-detect-bench-{}-yolox_nano.onnx",
        std::process::id()
    ));
    std::fs::write(&embedded, yolo_detect::YOLOX_NANO_ONNX).unwrap();
    let mut models = vec![("YOLOX-Nano 416", embedded.clone())];
    let v8 = crate_dir().join("../../../shared/models/yolov8n-random-320.onnx");
    if v8.exists() {
        models.push(("YOLOv8n 320 (random weights)", v8));
    } else {
        println!("note: ../shared/models/yolov8n-random-320.onnx not found, YOLOv8n 320 skipped");
    }
    println!(
        "\nmedians in ms over {} frames each, 640x480 q80 frame ({} bytes), tract and onnxruntime interleaved in blocks of {BLOCK}",
        ROUNDS * BLOCK,
        jpeg.len()
    );
    println!("| model | engine, threads | decode | pre | inference | post | draw | encode | total | fps (serial) |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for (name, path) in &models {
        let mut detectors: Vec<Detector> = [1, 2]
            .iter()
            .map(|&threads| {
                Detector::from_file(
                    path,
                    DetectorConfig {
                        threads,
                        ..Default::default()
                    },
                )
                .unwrap()
            })
            .collect();
        for d in &mut detectors {
            for _ in 0..3 {
                d.process_jpeg(&jpeg).unwrap();
            }
        }
        let mut ort = Ort::start(path, &image, &detectors[0]);
        let mut tract_runs = [Vec::new(), Vec::new()];
        let mut ort_runs = [Vec::new(), Vec::new()];
        for _ in 0..ROUNDS {
            for (i, d) in detectors.iter_mut().enumerate() {
                tract_runs[i].extend((0..BLOCK).map(|_| d.process_jpeg(&jpeg).unwrap().timings));
            }
            if let Some(o) = ort.as_mut() {
                for (i, threads) in [1, 2].into_iter().enumerate() {
                    ort_runs[i].extend(o.run(threads, BLOCK));
                }
            }
        }
        row(name, "tract 0.23, 1", &tract_runs[0]);
        row(name, "tract 0.23, 2", &tract_runs[1]);
        if let Some(o) = &ort {
            for (i, runs) in ort_runs.into_iter().enumerate() {
                let ms = median(runs);
                let tract = median(tract_runs[0].iter().map(|t| t.inference).collect());
                println!(
                    "| {name} | onnxruntime {}, {} | | | {ms:.2} (tract 1 thread / this = {:.2}x) | | | | | |",
                    o.version,
                    i + 1,
                    tract / ms
                );
            }
        }
    }
    let _ = std::fs::remove_file(&embedded);
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    stage_table();
}
