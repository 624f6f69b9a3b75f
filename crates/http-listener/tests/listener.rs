//! The listener on loopback with real sockets: requests are answered, a silent client is
//! closed after the header timeout, a peer that stops reading is evicted and reported, and
//! shutdown drains open streams.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_listener::{Handler, Listener, Settings};
use hyper::body::{Body, Frame, Incoming};
use hyper::{Request, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

/// `count` chunks of `chunk` (endless when `None`).
struct Chunks {
    left: Option<usize>,
    chunk: Bytes,
}

impl Body for Chunks {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match &mut self.left {
            Some(0) => return Poll::Ready(None),
            Some(left) => *left -= 1,
            None => {}
        }
        Poll::Ready(Some(Ok(Frame::data(self.chunk.clone()))))
    }
}

/// `/stream` never ends; anything else answers `hello`.
#[derive(Default)]
struct Streams {
    accepted: AtomicUsize,
    evicted: AtomicUsize,
}

impl Handler for Streams {
    type Conn = usize;
    type Body = Chunks;

    fn accepted(&self, _stream: &TcpStream) -> usize {
        self.accepted.fetch_add(1, Ordering::SeqCst)
    }

    async fn call(self: Arc<Self>, _conn: Arc<usize>, req: Request<Incoming>) -> Response<Chunks> {
        let body = match req.uri().path() {
            "/stream" => Chunks {
                left: None,
                chunk: Bytes::from(vec![b'x'; 64 * 1024]),
            },
            _ => Chunks {
                left: Some(1),
                chunk: Bytes::from_static(b"hello"),
            },
        };
        Response::new(body)
    }

    fn evicted(&self, _conn: &usize, _peer: SocketAddr) {
        self.evicted.fetch_add(1, Ordering::SeqCst);
    }
}

async fn start(
    settings: Settings,
) -> (
    SocketAddr,
    Arc<Streams>,
    CancellationToken,
    tokio::task::JoinHandle<()>,
) {
    let listener = Listener::bind(SocketAddr::from(([127, 0, 0, 1], 0)), settings)
        .await
        .expect("bind");
    let addr = listener.local_addr();
    let handler = Arc::new(Streams::default());
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(listener.serve(handler.clone(), shutdown.clone()));
    (addr, handler, shutdown, task)
}

#[tokio::test]
async fn answers_requests_and_hands_each_connection_its_value() {
    let (addr, handler, shutdown, task) = start(Settings::default()).await;
    for _ in 0..2 {
        let mut client = TcpStream::connect(addr).await.expect("connect");
        client
            .write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await
            .expect("write");
        let mut answer = Vec::new();
        client.read_to_end(&mut answer).await.expect("read");
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
        assert!(
            answer.ends_with("hello") || answer.contains("\r\n5\r\nhello\r\n"),
            "{answer}"
        );
    }
    assert_eq!(handler.accepted.load(Ordering::SeqCst), 2);
    shutdown.cancel();
    task.await.expect("serve ends");
}

#[tokio::test]
async fn a_client_that_sends_no_head_is_closed_after_the_header_timeout() {
    let settings = Settings {
        header_read_timeout: Duration::from_millis(200),
        ..Settings::default()
    };
    let (addr, handler, shutdown, task) = start(settings).await;
    let mut client = TcpStream::connect(addr).await.expect("connect");
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(10), client.read(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(_) | Err(_))),
        "the server closed the connection"
    );
    assert_eq!(handler.evicted.load(Ordering::SeqCst), 0);
    shutdown.cancel();
    task.await.expect("serve ends");
}

#[tokio::test]
async fn a_peer_that_stops_reading_is_evicted_and_reported_once() {
    let settings = Settings {
        write_timeout: Duration::from_millis(300),
        ..Settings::default()
    };
    let (addr, handler, shutdown, task) = start(settings).await;
    let mut client = TcpStream::connect(addr).await.expect("connect");
    client
        .write_all(b"GET /stream HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .expect("write");
    // Never read: the socket buffers fill, the server's writes stall, the timeout fires.
    for _ in 0..200 {
        if handler.evicted.load(Ordering::SeqCst) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(handler.evicted.load(Ordering::SeqCst), 1);
    shutdown.cancel();
    task.await.expect("serve ends");
}

#[tokio::test]
async fn shutdown_stops_accepting_and_waits_for_open_streams() {
    let (addr, _handler, shutdown, task) = start(Settings::default()).await;
    let mut client = TcpStream::connect(addr).await.expect("connect");
    client
        .write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .expect("write");
    let mut buf = [0u8; 256];
    let n = client.read(&mut buf).await.expect("read");
    assert!(n > 0);
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the drain is bounded")
        .expect("serve ends");
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "no longer accepting"
    );
}
