//! Decode, downscale (1/2, 1/4) and encode of a VGA camera frame with each candidate, side by
//! side in one run: zune-jpeg + box filter + jpeg-encoder (in YCbCr and in RGB), the `image`
//! crate (its decoder is zune-jpeg; its own resize and encoder), and with `--features
//! turbojpeg` libjpeg-turbo (DCT-domain scaled decode). Prints medians in milliseconds and the
//! output sizes.
//!
//! ```text
//! cargo run --release -p quality-tiers --example jpeg_candidates [--features turbojpeg] [-- file.jpg]
//! ```
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use quality_tiers::{decode, encode, shrink, Channels};

const VGA: &[u8] = include_bytes!("../testdata/vga-640x480.jpg");
const RUNS: usize = 40;
const QUALITIES: [u8; 3] = [50, 70, 85];

/// Median wall time of `f` over [`RUNS`] runs (after one warm-up), and its last result.
fn time<T>(mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut last = f();
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let started = Instant::now();
            last = f();
            started.elapsed()
        })
        .collect();
    times.sort();
    (times[RUNS / 2], last)
}

fn ms(d: Duration) -> String {
    format!("{:7.2}", d.as_secs_f64() * 1000.0)
}

fn row(candidate: &str, step: &str, took: Duration, bytes: Option<usize>) {
    let bytes = bytes.map_or(String::new(), |b| format!("{b:>7}"));
    println!(
        "| {candidate:<34} | {step:<24} | {} | {bytes:>7} |",
        ms(took)
    );
}

fn main() {
    let jpeg = match std::env::args().nth(1) {
        Some(path) => std::fs::read(path).unwrap(),
        None => VGA.to_vec(),
    };
    println!(
        "input: {} bytes; median of {RUNS} runs; {} CPUs (one thread per step)",
        jpeg.len(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "| candidate                          | step                     |      ms |   bytes |"
    );
    println!(
        "|------------------------------------|--------------------------|---------|---------|"
    );
    for (name, channels) in [
        ("zune-jpeg + box + jpeg-encoder YCbCr", Channels::YCbCr),
        ("zune-jpeg + box + jpeg-encoder RGB", Channels::Rgb),
    ] {
        let (took, full) = time(|| decode(&jpeg, channels).unwrap());
        row(name, "decode full", took, None);
        for factor in [1, 2, 4] {
            let (took, small) = time(|| shrink(&full, factor));
            if factor > 1 {
                row(name, &format!("box 1/{factor}"), took, None);
            }
            for quality in QUALITIES {
                let (took, out) = time(|| encode(&small, channels, quality).unwrap());
                let step = format!("encode {}x{} q{quality}", small.width, small.height);
                row(name, &step, took, Some(out.len()));
            }
        }
    }
    image_crate(&jpeg);
    #[cfg(feature = "turbojpeg")]
    turbo(&jpeg);
    #[cfg(not(feature = "turbojpeg"))]
    println!("(libjpeg-turbo: run with --features turbojpeg; needs Debian libturbojpeg0-dev)");
}

fn image_crate(jpeg: &[u8]) {
    use image::codecs::jpeg::JpegEncoder;
    use image::imageops::{resize, FilterType};
    let name = "image 0.25 (Triangle resize)";
    let (took, full) = time(|| {
        image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg)
            .unwrap()
            .to_rgb8()
    });
    row(name, "decode full", took, None);
    for factor in [1u32, 2, 4] {
        let (w, h) = (full.width() / factor, full.height() / factor);
        let (took, small) = time(|| resize(&full, w, h, FilterType::Triangle));
        if factor > 1 {
            row(name, &format!("resize 1/{factor}"), took, None);
        }
        for quality in QUALITIES {
            let (took, out) = time(|| {
                let mut out = Vec::new();
                JpegEncoder::new_with_quality(&mut out, quality)
                    .encode_image(&small)
                    .unwrap();
                out
            });
            row(
                name,
                &format!("encode {w}x{h} q{quality}"),
                took,
                Some(out.len()),
            );
        }
    }
}

#[cfg(feature = "turbojpeg")]
fn turbo(jpeg: &[u8]) {
    use turbojpeg::{Compressor, Decompressor, Image, PixelFormat, ScalingFactor, Subsamp};
    let name = "libjpeg-turbo (turbojpeg crate)";
    for (factor, scaling) in [
        (1, ScalingFactor::ONE),
        (2, ScalingFactor::ONE_HALF),
        (4, ScalingFactor::ONE_QUARTER),
    ] {
        let (took, (pixels, w, h)) = time(|| {
            let mut d = Decompressor::new().unwrap();
            d.set_scaling_factor(scaling).unwrap();
            let header = d.read_header(jpeg).unwrap().scaled(scaling);
            let (w, h) = (header.width, header.height);
            let mut pixels = vec![0u8; w * h * 3];
            let image = Image {
                pixels: pixels.as_mut_slice(),
                width: w,
                pitch: w * 3,
                height: h,
                format: PixelFormat::RGB,
            };
            d.decompress(jpeg, image).unwrap();
            (pixels, w, h)
        });
        let step = if factor == 1 {
            "decode full".to_string()
        } else {
            format!("scaled decode 1/{factor}")
        };
        row(name, &step, took, None);
        for quality in QUALITIES {
            let (took, out) = time(|| {
                let mut c = Compressor::new().unwrap();
                c.set_quality(i32::from(quality)).unwrap();
                c.set_subsamp(Subsamp::Sub2x2).unwrap();
                let image = Image {
                    pixels: pixels.as_slice(),
                    width: w,
                    pitch: w * 3,
                    height: h,
                    format: PixelFormat::RGB,
                };
                c.compress_to_vec(image).unwrap()
            });
            row(
                name,
                &format!("encode {w}x{h} q{quality}"),
                took,
                Some(out.len()),
            );
        }
    }
}
