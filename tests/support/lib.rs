//! Helpers shared by the end-to-end tests in `tests/` and the workspace examples: start the
//! relay and the mock camera on loopback, and read a relay stream the way a viewer does.
#![allow(clippy::unwrap_used)]

pub mod brownouts;

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use camrelay::config::{CameraConfig, RelayConfig, SourceSpec};
use camrelay::server::RelayHandle;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use mjpeg_codec::{DecoderConfig, MjpegDecoder, MjpegStream, Timestamp};
pub use mock_camera::{MockCamera, MockConfig};
use tokio::net::TcpStream;

/// Holds the lock that makes the timing-sensitive tests of one test binary run one at a time
/// (the machine may have two cores): `let _serial = serial().await;` first thing in a test.
pub async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    SERIAL.lock().await
}

/// Whether `ids` are consecutive frame ids, in order, with no gaps.
pub fn consecutive(ids: &[u64]) -> bool {
    ids.windows(2).all(|w| w[1] == w[0] + 1)
}

/// A relay on `127.0.0.1:0` serving `cameras`, after `tweak` adjusted its settings.
pub async fn start_relay(
    cameras: Vec<CameraConfig>,
    tweak: impl FnOnce(&mut RelayConfig),
) -> RelayHandle {
    let mut config = RelayConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        cameras,
        ..RelayConfig::default()
    };
    tweak(&mut config);
    camrelay::server::start(config).await.unwrap()
}

/// A camera config for a mock camera's stream.
pub fn camera_for(name: &str, mock: &MockCamera) -> CameraConfig {
    CameraConfig::new(
        name,
        SourceSpec::Stream {
            url: mock.stream_url(),
        },
    )
}

/// A 10 fps mock camera and a relay with detection on that serves it as `cam`. Its viewers may
/// go unread for two minutes (past the default 10 s write timeout): the detector is slow on a
/// loaded machine or in an unoptimised build.
pub async fn start_detecting_relay() -> (MockCamera, RelayHandle) {
    let mock = start_mock(MockConfig {
        fps: 10.0,
        ..MockConfig::default()
    })
    .await;
    let relay = start_relay(vec![camera_for("cam", &mock)], |config| {
        config.write_timeout = Duration::from_secs(120);
    })
    .await;
    (mock, relay)
}

/// A mock camera on `127.0.0.1:0`.
pub async fn start_mock(config: MockConfig) -> MockCamera {
    MockCamera::start(SocketAddr::from(([127, 0, 0, 1], 0)), config)
        .await
        .unwrap()
}

/// One part as a viewer received it.
#[derive(Debug, Clone)]
pub struct Received {
    /// `X-Frame-Id`.
    pub frame_id: u64,
    /// `X-Timestamp`.
    pub timestamp: Option<Timestamp>,
    /// `X-Camera-State` (`offline` for placeholders).
    pub camera_state: Option<String>,
    /// `X-Quality` (the tier the part was sent at).
    pub quality: Option<String>,
    /// The JPEG.
    pub jpeg: Bytes,
    /// When the part was complete.
    pub at: Instant,
}

/// A viewer of a relay MJPEG stream.
pub struct MjpegViewer {
    /// Response status.
    pub status: http::StatusCode,
    /// Response headers.
    pub headers: http::HeaderMap,
    parts: MjpegStream<mjpeg_codec::BodyReader<Incoming>>,
}

impl MjpegViewer {
    /// Connects and sends `GET path`.
    pub async fn connect(addr: SocketAddr, path: &str) -> std::io::Result<MjpegViewer> {
        let (status, headers, body) = get_streaming(addr, path).await?;
        let content_type = headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let decoder = MjpegDecoder::from_content_type(&content_type, DecoderConfig::default());
        Ok(MjpegViewer {
            status,
            headers,
            parts: mjpeg_codec::body_stream(body, decoder),
        })
    }

    /// The next part, or `None` when the stream ended (or failed).
    pub async fn next(&mut self) -> Option<Received> {
        loop {
            match self.parts.next().await? {
                Ok(part) => {
                    let headers = part.headers();
                    return Some(Received {
                        frame_id: headers
                            .get("x-frame-id")
                            .and_then(|v| v.parse().ok())
                            .unwrap_or(u64::MAX),
                        timestamp: part.timestamp(),
                        camera_state: headers.get("x-camera-state").map(str::to_owned),
                        quality: headers.get("x-quality").map(str::to_owned),
                        at: Instant::now(),
                        jpeg: part.into_body(),
                    });
                }
                Err(error) if error.is_recoverable() => continue,
                Err(_) => return None,
            }
        }
    }

    /// The next part within `timeout`.
    pub async fn next_within(&mut self, timeout: Duration) -> Option<Received> {
        tokio::time::timeout(timeout, self.next())
            .await
            .ok()
            .flatten()
    }

    /// Reads `n` parts (panics if the stream ends or stalls for 10 s).
    pub async fn take(&mut self, n: usize) -> Vec<Received> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let part = self
                .next_within(Duration::from_secs(10))
                .await
                .expect("stream ended or stalled");
            out.push(part);
        }
        out
    }
}

/// `GET path` over a fresh connection; returns the status, headers and the streaming body.
pub async fn get_streaming(
    addr: SocketAddr,
    path: &str,
) -> std::io::Result<(http::StatusCode, http::HeaderMap, Incoming)> {
    get_over(TcpStream::connect(addr).await?, addr, path).await
}

/// `GET path` over an established connection `io` to `addr`.
pub async fn get_over<S>(
    io: S,
    addr: SocketAddr,
    path: &str,
) -> std::io::Result<(http::StatusCode, http::HeaderMap, Incoming)>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(std::io::Error::other)?;
    tokio::spawn(connection);
    let request = http::Request::get(path)
        .header(http::header::HOST, addr.to_string())
        .body(Empty::<Bytes>::new())
        .map_err(std::io::Error::other)?;
    let response = sender
        .send_request(request)
        .await
        .map_err(std::io::Error::other)?;
    let (parts, body) = response.into_parts();
    Ok((parts.status, parts.headers, body))
}

/// `GET path` and the whole body.
pub async fn get(addr: SocketAddr, path: &str) -> (http::StatusCode, http::HeaderMap, Bytes) {
    let (status, headers, body) = get_streaming(addr, path).await.unwrap();
    let body = body.collect().await.unwrap().to_bytes();
    (status, headers, body)
}

/// `GET /api/stats` as JSON.
pub async fn stats(addr: SocketAddr) -> serde_json::Value {
    let (_, _, body) = get(addr, "/api/stats").await;
    serde_json::from_slice(&body).unwrap()
}

/// Polls `condition` every 50 ms until it holds or `timeout` passes; returns whether it held.
pub async fn wait_until<F, Fut>(timeout: Duration, mut condition: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if condition().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A TCP client that sends `GET path` and then never reads (a dead viewer), with a small
/// receive buffer so the relay's writes block quickly.
pub async fn dead_viewer(addr: SocketAddr, path: &str) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(addr).await.unwrap();
    use tokio::io::AsyncWriteExt;
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    stream
}

/// Resident memory of this process in bytes (Linux), for leak checks.
pub fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Open file descriptors of this process (Linux), for leak checks.
pub fn open_fds() -> Option<usize> {
    Some(std::fs::read_dir("/proc/self/fd").ok()?.count())
}

/// A connection that reads at most `rate` bytes per second (a viewer on a thin link).
pub struct Throttled<S> {
    inner: S,
    rate: f64,
    allowance: f64,
    last: Instant,
    sleep: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

impl<S> Throttled<S> {
    /// Wraps `inner`, reading at most `rate` bytes per second.
    pub fn new(inner: S, rate: f64) -> Self {
        Throttled {
            inner,
            rate,
            allowance: 0.0,
            last: Instant::now(),
            sleep: None,
        }
    }
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Throttled<S> {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        use std::task::{ready, Poll};
        let this = self.get_mut();
        let burst = (this.rate / 20.0).max(2048.0);
        loop {
            let now = Instant::now();
            this.allowance =
                (this.allowance + (now - this.last).as_secs_f64() * this.rate).min(burst);
            this.last = now;
            if this.allowance >= 1024.0 {
                break;
            }
            let wait = Duration::from_secs_f64((1024.0 - this.allowance) / this.rate);
            let sleep = this
                .sleep
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(wait)));
            ready!(sleep.as_mut().poll(cx));
            this.sleep = None;
        }
        let n = (this.allowance as usize).min(buf.remaining());
        let mut limited = tokio::io::ReadBuf::new(&mut buf.initialize_unfilled_to(n)[..n]);
        ready!(std::pin::Pin::new(&mut this.inner).poll_read(cx, &mut limited))?;
        let got = limited.filled().len();
        buf.advance(got);
        this.allowance -= got as f64;
        Poll::Ready(Ok(()))
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Throttled<S> {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// A stream viewer on a thin link: `recv_buffer` bytes of socket receive buffer, reading
/// `rate` bytes per second. Yields parts like [`MjpegViewer`].
pub async fn thin_viewer(
    addr: SocketAddr,
    path: &str,
    recv_buffer: u32,
    rate: f64,
) -> std::io::Result<MjpegStream<mjpeg_codec::BodyReader<Incoming>>> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_recv_buffer_size(recv_buffer)?;
    let stream = socket.connect(addr).await?;
    let (_, _, body) = get_over(Throttled::new(stream, rate), addr, path).await?;
    let decoder = MjpegDecoder::new(None, DecoderConfig::default());
    Ok(mjpeg_codec::body_stream(body, decoder))
}

/// `method path` with a JSON body over a fresh connection; returns the status and the body
/// parsed as JSON (`Null` when it is empty or not JSON).
pub async fn call_json(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> (u16, serde_json::Value) {
    let io = TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .unwrap();
    tokio::spawn(connection);
    let request = http::Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::HOST, addr.to_string())
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(http_body_util::Full::new(Bytes::from(
            body.unwrap_or("").to_owned(),
        )))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}
