//! Shared helpers of the integration tests: raw TCP servers that write exactly the bytes a
//! test wants (hostile ones included), tiny JPEGs, fast source configs, status polling.
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use esp32_source::{Backoff, FrameStream, SourceConfig, SourceStatus, StatusHandle};
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The ESP32-CAM firmware's boundary.
pub const BOUNDARY: &str = "123456789000000000000987654321";

/// A listener on 127.0.0.1:0 that hands every connection to a handler.
pub struct RawServer {
    pub addr: SocketAddr,
    /// Connections accepted so far.
    pub connections: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl RawServer {
    pub async fn start<F, Fut>(handler: F) -> RawServer
    where
        F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        RawServer::on(listener, handler)
    }

    pub fn on<F, Fut>(listener: TcpListener, handler: F) -> RawServer
    where
        F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(handler(stream));
            }
        });
        RawServer {
            addr,
            connections,
            task,
        }
    }

    /// A server that reads the request and answers with these exact bytes, then closes.
    pub async fn replying(response: Vec<u8>) -> RawServer {
        let response = Arc::new(response);
        RawServer::start(move |mut stream| {
            let response = response.clone();
            async move {
                read_request(&mut stream).await;
                let _ = stream.write_all(&response).await;
                let _ = stream.shutdown().await;
            }
        })
        .await
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads one request head (up to the blank line) and returns it.
pub async fn read_request(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
        match stream.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// A small byte string that passes as a complete JPEG (SOI ... EOI), `len` bytes long.
pub fn jpeg(len: usize, fill: u8) -> Vec<u8> {
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE0];
    out.resize(len.max(6) - 2, fill);
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

/// One part exactly as the ESP32-CAM firmware writes it (delimiter before the part).
pub fn esp32_part(jpeg: &[u8], secs: u64, micros: u32) -> Vec<u8> {
    let mut out = format!(
        "\r\n--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\nX-Timestamp: {secs}.{micros:06}\r\n\r\n",
        jpeg.len()
    )
    .into_bytes();
    out.extend_from_slice(jpeg);
    out
}

/// A close-delimited HTTP/1.1 response head for the firmware's stream.
pub fn esp32_stream_head() -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace;boundary={BOUNDARY}\r\nConnection: close\r\nAccess-Control-Allow-Origin: *\r\nX-Framerate: 60\r\n\r\n"
    )
    .into_bytes()
}

/// A stream config with short timeouts and backoff so tests run in about a second.
pub fn fast_config(name: &str, url: String) -> SourceConfig {
    let mut config = SourceConfig::stream(name, url);
    config.connect_timeout = Duration::from_millis(800);
    config.stall_timeout = Duration::from_millis(800);
    config.backoff = Backoff {
        waiting_interval: Some(Duration::from_millis(100)),
        initial: Duration::from_millis(50),
        max: Duration::from_millis(200),
        factor: 2.0,
        jitter: 0.1,
    };
    config
}

/// Polls the frame stream in the background (the source only works while polled).
pub fn drive(mut frames: FrameStream) -> JoinHandle<()> {
    tokio::spawn(async move { while frames.next().await.is_some() {} })
}

/// Waits until `done` holds for the status (panics with the last status after `within`).
pub async fn wait_for(
    status: &StatusHandle,
    within: Duration,
    done: impl Fn(&SourceStatus) -> bool,
) -> SourceStatus {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let now = status.snapshot();
        if done(&now) {
            return now;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("condition not reached within {within:?}; last status: {now:#?}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The next frame, or a panic after `within`.
pub async fn next_frame(frames: &mut FrameStream, within: Duration) -> esp32_source::CameraFrame {
    tokio::time::timeout(within, frames.next())
        .await
        .expect("no frame in time")
        .expect("frame streams never end")
}
