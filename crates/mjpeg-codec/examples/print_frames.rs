//! Connects to an MJPEG URL with hyper and prints one line per frame.
//!
//! ```sh
//! cargo run -p mjpeg-codec --example print_frames -- http://192.168.1.50:81/stream
//! ```
//!
//! Try it without a camera: `ffmpeg -re -f lavfi -i testsrc=size=320x240:rate=10 -f mpjpeg
//! -listen 1 http://127.0.0.1:8090/` in another terminal, then pass `http://127.0.0.1:8090/`.
#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::Empty;
use hyper_util::rt::TokioIo;
use mjpeg_codec::{body_stream, jpeg, DecoderConfig, MjpegDecoder};
use tokio::net::TcpStream;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url: hyper::Uri = std::env::args()
        .nth(1)
        .ok_or("usage: print_frames http://host:port/path")?
        .parse()?;
    let host = url.host().ok_or("URL without host")?;
    let port = url.port_u16().unwrap_or(80);
    let socket = TcpStream::connect((host, port)).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(socket)).await?;
    tokio::spawn(connection);

    let request = hyper::Request::get(url.path_and_query().map_or("/", |p| p.as_str()))
        .header("host", host)
        .body(Empty::<Bytes>::new())?;
    let response = sender.send_request(request).await?;
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    println!("{} {content_type}", response.status());
    let decoder = MjpegDecoder::from_content_type(content_type, DecoderConfig::default());

    let mut parts = body_stream(response.into_body(), decoder);
    while let Some(part) = parts.next().await {
        match part {
            Ok(part) => println!(
                "frame {:>5} at byte {:>10}: {:>7} bytes, {:?}, timestamp {:?}",
                part.index(),
                part.offset(),
                part.body().len(),
                jpeg::dimensions(part.body()),
                part.timestamp().map(|t| t.to_string()),
            ),
            Err(err) if err.is_recoverable() => eprintln!("skipped: {err}"),
            Err(err) => return Err(err.into()),
        }
    }
    Ok(())
}
