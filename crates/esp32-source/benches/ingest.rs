//! Ingest cost of a stream source: 200 real VGA JPEGs in the ESP32-CAM firmware's format,
//! served from loopback, read through `Source::frames()` (hyper client + codec + status
//! updates), next to a plain `TcpStream` read of the same bytes in the same run.
//!
//! `cargo bench -p esp32-source --bench ingest -- --warm-up-time 1 --measurement-time 3`
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use esp32_source::{Source, SourceConfig};
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const FRAMES: usize = 200;
const BOUNDARY: &str = "123456789000000000000987654321";

/// The firmware's stream: close-delimited HTTP/1.1 response, delimiter before each part.
fn esp32_stream(frames: &[bytes::Bytes]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace;boundary={BOUNDARY}\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    for (i, jpeg) in frames.iter().cycle().take(FRAMES).enumerate() {
        out.extend_from_slice(
            format!(
                "\r\n--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\nX-Timestamp: {}.000000\r\n\r\n",
                jpeg.len(),
                1_700_000_000 + i
            )
            .as_bytes(),
        );
        out.extend_from_slice(jpeg);
    }
    out
}

async fn serve(payload: Arc<Vec<u8>>) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let payload = payload.clone();
            tokio::spawn(async move {
                let mut head = [0u8; 1024];
                let _ = stream.read(&mut head).await;
                let _ = stream.write_all(&payload).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    addr
}

fn ingest(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let scene = mock_camera::Scene::new(640, 480, 80).unwrap();
    let jpegs: Vec<_> = (0..scene.frame_count().min(8) as u64)
        .map(|n| scene.frame(n))
        .collect();
    let payload = Arc::new(esp32_stream(&jpegs));
    let addr = runtime.block_on(serve(payload.clone()));
    let url = format!("http://{addr}/stream");

    let mut group = c.benchmark_group("ingest_200_vga_frames");
    group.throughput(Throughput::Bytes(payload.len() as u64));
    group.bench_function("raw_tcp_read_to_end", |b| {
        b.to_async(&runtime).iter(|| async {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            stream
                .write_all(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
                .await
                .unwrap();
            let mut all = Vec::with_capacity(payload.len());
            stream.read_to_end(&mut all).await.unwrap();
            assert_eq!(all.len(), payload.len());
        })
    });
    for read_buffer_kib in [16usize, 256] {
        let name = format!("source_frames_read_buffer_{read_buffer_kib}k");
        group.bench_function(name.as_str(), |b| {
            b.to_async(&runtime).iter(|| async {
                let mut config = SourceConfig::stream("bench", url.as_str());
                config.max_read_buffer = read_buffer_kib * 1024;
                let source = Source::new(config).unwrap();
                let frames: Vec<_> = source.frames().take(FRAMES).collect().await;
                assert_eq!(frames.len(), FRAMES);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, ingest);
criterion_main!(benches);
