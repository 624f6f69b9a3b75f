//! `MjpegStream`, `FramedRead` and `body_stream` over real sockets and a real hyper server.
#![allow(clippy::unwrap_used)]

mod support;

use std::convert::Infallible;

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use mjpeg_codec::{
    body_stream, DecoderConfig, ErrorKind, MjpegDecoder, MjpegStream, MultipartWriter, PartHead,
};
use support::*;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::FramedRead;

/// Serves `bytes` once on 127.0.0.1, written in `chunk`-sized writes, then closes.
async fn serve_once(bytes: Vec<u8>, chunk: usize) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        for piece in bytes.chunks(chunk) {
            socket.write_all(piece).await.unwrap();
        }
        socket.shutdown().await.unwrap();
    });
    addr
}

#[tokio::test]
async fn stream_recovers_after_a_bad_part_over_tcp() {
    let [a, b] = photos();
    let mut wire = b"--b\r\nContent-Length: 100\r\n\r\n".to_vec();
    wire.extend_from_slice(&a[..100]); // truncated JPEG
    for jpeg in [&a, &b] {
        wire.extend_from_slice(
            format!("\r\n--b\r\nContent-Length: {}\r\n\r\n", jpeg.len()).as_bytes(),
        );
        wire.extend_from_slice(jpeg);
    }
    let addr = serve_once(wire, 1500).await;
    let socket = TcpStream::connect(addr).await.unwrap();
    let mut parts = MjpegStream::new(
        socket,
        MjpegDecoder::new(Some("b"), DecoderConfig::default()),
    );
    let first = parts.next().await.unwrap().unwrap_err();
    assert_eq!(first.kind(), ErrorKind::InvalidJpeg);
    assert_eq!(parts.next().await.unwrap().unwrap().body(), &a);
    assert_eq!(parts.next().await.unwrap().unwrap().body(), &b);
    assert!(parts.next().await.is_none());
    assert!(parts.next().await.is_none());
}

#[tokio::test]
async fn stream_ends_after_a_fatal_error() {
    let config = DecoderConfig {
        max_part_size: 1000,
        ..DecoderConfig::default()
    };
    let addr = serve_once(b"--b\r\nContent-Length: 5000\r\n\r\n".to_vec(), 7).await;
    let socket = TcpStream::connect(addr).await.unwrap();
    let mut parts = MjpegStream::new(socket, MjpegDecoder::new(Some("b"), config));
    assert_eq!(
        parts.next().await.unwrap().unwrap_err().kind(),
        ErrorKind::PartTooLarge
    );
    assert!(parts.next().await.is_none());
}

#[tokio::test]
async fn framed_read_reads_a_capture() {
    let capture = HttpCapture::parse(&testdata("ffmpeg-5.1-mpjpeg.bin"));
    let addr = serve_once(capture.body, 333).await;
    let socket = TcpStream::connect(addr).await.unwrap();
    let framed = FramedRead::new(socket, MjpegDecoder::new(None, DecoderConfig::default()));
    let parts: Vec<_> = framed.map(Result::unwrap).collect().await;
    assert_eq!(parts.len(), 3);
    assert_eq!(parts[2].body().len(), 9072);
}

/// A hyper server sends our writer's output with chunked encoding; a hyper client reads it
/// with `body_stream`.
#[tokio::test]
async fn body_stream_over_hyper() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let service = hyper::service::service_fn(|_req| async {
            let writer = MultipartWriter::default();
            let mut chunks: Vec<Result<Frame<Bytes>, Infallible>> =
                vec![Ok(Frame::data(writer.preamble()))];
            for (i, jpeg) in photos().iter().enumerate() {
                let head = PartHead {
                    content_length: jpeg.len(),
                    frame_id: Some(i as u64),
                    ..Default::default()
                };
                chunks.extend(
                    writer
                        .part(&head, jpeg)
                        .into_iter()
                        .map(|b| Ok(Frame::data(b))),
                );
            }
            let body = StreamBody::new(futures_util::stream::iter(chunks));
            Ok::<_, Infallible>(
                hyper::Response::builder()
                    .header("content-type", writer.content_type())
                    .body(body)
                    .unwrap(),
            )
        });
        hyper::server::conn::http1::Builder::new()
            .serve_connection(hyper_util::rt::TokioIo::new(socket), service)
            .await
            .unwrap();
    });

    let socket = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(socket))
            .await
            .unwrap();
    tokio::spawn(conn);
    let request = hyper::Request::get("/stream")
        .header("host", "camera")
        .body(http_body_util::Empty::<Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    let decoder = MjpegDecoder::from_content_type(&content_type, DecoderConfig::default());
    let parts: Vec<_> = body_stream(response.into_body(), decoder)
        .map(Result::unwrap)
        .collect()
        .await;
    let bodies: Vec<Bytes> = parts.iter().map(|p| p.body().clone()).collect();
    assert_eq!(bodies, photos().to_vec());
    assert_eq!(parts[1].headers().get("X-Frame-Id"), Some("1"));
    // Boxed bodies work too.
    let boxed =
        http_body_util::Full::new(Bytes::from_static(b"--b\r\n\r\n\xff\xd8\xff\xd9")).boxed();
    let parts: Vec<_> = body_stream(
        boxed,
        MjpegDecoder::new(Some("b"), DecoderConfig::default()),
    )
    .collect()
    .await;
    assert_eq!(parts.len(), 1);
}

/// Sources box the stream as `dyn Stream + Send` and move it between tasks.
#[test]
fn streams_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<MjpegStream<mjpeg_codec::BodyReader<hyper::body::Incoming>>>();
    send_sync::<MjpegStream<TcpStream>>();
    send_sync::<MjpegDecoder>();
    send_sync::<mjpeg_codec::Part>();
    send_sync::<mjpeg_codec::CodecError>();
}
