//! Watches one camera and prints frames per second and the source state once a second.
//!
//! ```text
//! cargo run -p esp32-source --example watch_camera -- http://192.168.1.40:81/stream
//! cargo run -p esp32-source --example watch_camera -- http://192.168.1.40/capture 200   # snapshots every 200 ms
//! ```
//!
//! Without a board, start the emulator first:
//! `cargo run --release --example mock_camera -- --port 5069` and watch
//! `http://127.0.0.1:5069/stream`. Stop and restart the emulator to see the source back off
//! and reconnect. `RUST_LOG=esp32_source=debug` shows every attempt.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use esp32_source::{Source, SourceConfig};
use futures_util::StreamExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "esp32_source=info".into()),
        )
        .init();
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:5069/stream".to_owned());
    let config = match args.next() {
        Some(ms) => SourceConfig::snapshot("camera", url, Duration::from_millis(ms.parse()?)),
        None => SourceConfig::stream("camera", url),
    };
    let source = Source::new(config)?;
    let status = source.status();
    let mut frames = source.frames();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let (mut count, mut bytes, mut latency) = (0u32, 0usize, None);
    loop {
        tokio::select! {
            Some(frame) = frames.next() => {
                count += 1;
                bytes += frame.jpeg.len();
                latency = frame.latency().or(latency);
            }
            _ = tick.tick() => {
                let now = status.snapshot();
                println!(
                    "{:>3} fps {:>6} KiB/s  {:<11} frames {} corrupt {} connects {} latency {:?}  {}",
                    count,
                    bytes / 1024,
                    now.state.name(),
                    now.frames,
                    now.corrupt_frames,
                    now.connects,
                    latency.unwrap_or_default(),
                    now.last_error.as_ref().map_or("", |e| e.message.as_str()),
                );
                (count, bytes) = (0, 0);
            }
        }
    }
}
