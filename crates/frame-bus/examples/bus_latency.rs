//! Bus latency on this machine: one owner publishes `FRAMES` JPEG-sized frames at 30 fps,
//! `NODES` other nodes receive them; prints publish-to-receive latency percentiles per node.
//!
//! ```text
//! nats-server -js -p 4222 &
//! cargo run --release -p frame-bus --example bus_latency -- nats://127.0.0.1:4222
//! ```

use std::time::Duration;

use bytes::Bytes;
use frame_bus::{Bus, BusConfig, BusFrame};
use mjpeg_codec::Timestamp;

const FRAMES: u64 = 300;
const NODES: usize = 3;
const JPEG_BYTES: usize = 30_000;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "nats://127.0.0.1:4222".to_owned());
    let owner = Bus::connect(BusConfig::new(&url, "latency", "owner")).await?;
    let mut readers = Vec::new();
    for n in 0..NODES {
        let bus = Bus::connect(BusConfig::new(&url, "latency", format!("node{n}"))).await?;
        let mut frames = bus.subscribe_frames("cam").await?;
        readers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while (latencies.len() as u64) < FRAMES {
                let next = tokio::time::timeout(Duration::from_secs(5), frames.next()).await;
                let Ok(Some(received)) = next else { break };
                latencies.push(received.latency().unwrap_or_default());
            }
            (latencies, frames.lost(), bus)
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let publisher = owner.publisher("cam")?;
    let jpeg = Bytes::from(vec![0xA5u8; JPEG_BYTES]);
    let mut tick = tokio::time::interval(Duration::from_secs(1) / 30);
    for id in 1..=FRAMES {
        tick.tick().await;
        publisher.publish(BusFrame {
            id,
            camera_time: Timestamp::now(),
            tier: None,
            jpeg: jpeg.clone(),
        });
    }
    for (n, reader) in readers.into_iter().enumerate() {
        let (mut latencies, lost, _bus) = reader.await?;
        latencies.sort();
        let at = |q: f64| {
            let i = ((latencies.len() as f64 - 1.0) * q).round() as usize;
            latencies.get(i).map_or(f64::NAN, |d| d.as_secs_f64() * 1e3)
        };
        println!(
            "node{n}: {} frames, {lost} lost, latency ms p50 {:.2} p99 {:.2} max {:.2}",
            latencies.len(),
            at(0.5),
            at(0.99),
            at(1.0)
        );
    }
    println!("owner: {:?}", owner.stats());
    Ok(())
}
