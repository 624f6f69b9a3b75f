//! Builds a [`Scene`] and writes some of its frames as JPEG files, with sizes and timings.
//!
//! ```text
//! cargo run --release -p mock-camera --example scene_frames -- /tmp/frames 640 480
//! ```
//!
//! Writes `frame-000.jpg`, ... (one every 10 loop frames), `labelled.jpg` ("Frame: 12345") and
//! `offline.jpg` (the placeholder card) into the directory, and prints how long the loop took
//! to encode and how big the frames are.
#![allow(clippy::unwrap_used)]

use std::time::Instant;

use mock_camera::{placeholder_jpeg, Scene};

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().unwrap_or_else(|| "frames".into()));
    let width = args.next().map_or(640, |w| w.parse().unwrap());
    let height = args.next().map_or(480, |h| h.parse().unwrap());
    std::fs::create_dir_all(&dir).unwrap();

    let started = Instant::now();
    let scene = Scene::new(width, height, 80).unwrap();
    let build = started.elapsed();
    let sizes: Vec<usize> = (0..scene.frame_count() as u64)
        .map(|n| scene.frame(n).len())
        .collect();
    let (min, max) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
    let mean = sizes.iter().sum::<usize>() / sizes.len();
    println!(
        "{width}x{height}: {} frames built in {build:.2?} ({:.2?} per frame, all cores); \
         JPEG sizes min {min} / mean {mean} / max {max} bytes",
        scene.frame_count(),
        build / scene.frame_count() as u32,
    );
    for n in (0..scene.frame_count()).step_by(10) {
        std::fs::write(dir.join(format!("frame-{n:03}.jpg")), scene.frame(n as u64)).unwrap();
    }
    let started = Instant::now();
    let labelled = scene.frame_with_label(12345, "Frame: 12345");
    println!("frame_with_label: {:.2?}", started.elapsed());
    std::fs::write(dir.join("labelled.jpg"), labelled).unwrap();
    let offline = placeholder_jpeg(width, height, &["camera offline", "reconnecting..."]);
    std::fs::write(dir.join("offline.jpg"), offline).unwrap();
    println!("wrote frames to {}", dir.display());
}
