//! A mock ESP32-CAM: serves the CameraWebServer firmware's endpoints, byte for byte.
//!
//! ```text
//! cargo run --release --example mock_camera -- --port 5069 --fps 30
//! ```
//!
//! Then:
//!
//! ```text
//! curl -sN http://127.0.0.1:5069/stream | head -c 300 | xxd | head   # multipart, chunked
//! curl -s  http://127.0.0.1:5069/capture -o capture.jpg              # one JPEG
//! curl -s  http://127.0.0.1:5069/status                              # sensor settings (JSON)
//! curl -s 'http://127.0.0.1:5069/control?var=framesize&val=5'        # switch to QVGA 320x240
//! ```
//!
//! Like the board it serves one `/stream` client at a time (`--max-clients 0`: unlimited); a
//! second one is accepted and gets no answer until the first leaves (`--busy-503`: a prompt
//! HTTP 503 instead). Break it on purpose with `--close-after N`, `--truncate-every N`,
//! `--garbage-every N` or `--stall-after N --stall-for S`. `--show-frame-id` draws
//! "Frame: N" into every image. Logs: `RUST_LOG=mock_camera=debug`.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use clap::Parser;
use mock_camera::{framesize_dimensions, MockCamera, MockConfig, WhenBusy, FRAME_SIZES};

/// Mock ESP32-CAM (arduino-esp32 CameraWebServer) for testing MJPEG relays.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// TCP port (the board streams on 81; one port serves everything here).
    #[arg(long, default_value_t = 5069)]
    port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// Frames per second.
    #[arg(long, default_value_t = 30.0)]
    fps: f64,
    /// Frame width in pixels.
    #[arg(long, default_value_t = 640)]
    width: u32,
    /// Frame height in pixels.
    #[arg(long, default_value_t = 480)]
    height: u32,
    /// ESP32 framesize value instead of --width/--height (5=QVGA, 6=CIF, 8=VGA, 9=SVGA, ...).
    #[arg(long)]
    framesize: Option<i32>,
    /// JPEG quality, 1..=100 (80 is what /status shows as the firmware's 12).
    #[arg(long, default_value_t = 80)]
    quality: u8,
    /// Most /stream clients at once; 0 = unlimited.
    #[arg(long, default_value_t = 1)]
    max_clients: usize,
    /// Answer a /stream request beyond --max-clients with HTTP 503 at once, instead of leaving
    /// it without an answer as the board does.
    #[arg(long)]
    busy_503: bool,
    /// Draw "Frame: N" into every image.
    #[arg(long)]
    show_frame_id: bool,
    /// End each stream after N parts.
    #[arg(long)]
    close_after: Option<u64>,
    /// Every Nth part carries a JPEG cut in half.
    #[arg(long)]
    truncate_every: Option<u64>,
    /// Every Nth part carries random bytes instead of a JPEG.
    #[arg(long)]
    garbage_every: Option<u64>,
    /// Stall each stream after N parts.
    #[arg(long)]
    stall_after: Option<u64>,
    /// Stall length in seconds.
    #[arg(long, default_value_t = 5.0)]
    stall_for: f64,
    /// Frames in the pre-encoded loop.
    #[arg(long, default_value_t = mock_camera::DEFAULT_LOOP_FRAMES)]
    loop_frames: usize,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "mock_camera=info".into()),
        )
        .init();
    let args = Args::parse();
    let (width, height) = match args.framesize {
        None => (args.width, args.height),
        Some(fs) => framesize_dimensions(fs).ok_or_else(|| {
            let known: Vec<String> = FRAME_SIZES
                .iter()
                .map(|(v, w, h, n)| format!("{v}={n} {w}x{h}"))
                .collect();
            format!("unknown --framesize {fs}; known: {}", known.join(", "))
        })?,
    };
    if !(args.stall_for.is_finite() && args.stall_for >= 0.0) {
        return Err(format!("--stall-for {} is not a number of seconds", args.stall_for).into());
    }
    let config = MockConfig {
        fps: args.fps,
        width,
        height,
        quality: args.quality,
        max_clients: args.max_clients,
        when_busy: if args.busy_503 {
            WhenBusy::Refuse503
        } else {
            WhenBusy::Silent
        },
        show_frame_id: args.show_frame_id,
        close_after: args.close_after,
        truncate_every: args.truncate_every,
        garbage_every: args.garbage_every,
        stall_after: args.stall_after,
        stall_for: Duration::from_secs_f64(args.stall_for),
        loop_frames: args.loop_frames,
    };
    let camera = MockCamera::start(SocketAddr::new(args.bind, args.port), config).await?;
    println!("mock ESP32-CAM {width}x{height} @ {} fps", args.fps);
    println!("  stream:  {}", camera.stream_url());
    println!("  capture: {}", camera.capture_url());
    println!("  status:  {}", camera.status_url());
    println!("  control: {}", camera.control_url("framesize", 5));
    tokio::signal::ctrl_c().await?;
    let stats = camera.stats();
    camera.shutdown().await;
    println!("stopped: {stats:?}");
    Ok(())
}
