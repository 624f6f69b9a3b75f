//! Serves two JPEGs in turn, 10 frames a second, as one broadcast to any number of browsers.
//!
//! ```text
//! cargo run -p mjpeg-serve --example serve_jpegs
//! # open http://127.0.0.1:3000/ in a few browser tabs, or:
//! curl -s http://127.0.0.1:3000/ | head -c 200
//! ```
//!
//! Every viewer gets the same `Arc`'d frame; each frame reaches a viewer as one `writev` of the
//! part head, the shared JPEG and the delimiter.

use std::convert::Infallible;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Duration;

use broadcast_core::{Config, Publisher};
use mjpeg_serve::{Admission, Frame, FrameState, MjpegBody, PacedViewer, Pacer, Viewer};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let jpegs = [
        bytes::Bytes::from_static(include_bytes!("../../mjpeg-codec/testdata/chelsea.jpg")),
        bytes::Bytes::from_static(include_bytes!("../../mjpeg-codec/testdata/coffee.jpg")),
    ];
    let camera = Publisher::new(Config::default());
    let broadcast = camera.handle();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        for id in 0u64.. {
            tick.tick().await;
            let jpeg = jpegs[id as usize % jpegs.len()].clone();
            let time = mjpeg_codec::Timestamp::now();
            camera.publish(Arc::new(Frame::new(id, jpeg, time, FrameState::Live, ())));
        }
    });

    let (admission, viewers) = (
        Arc::new(Admission::new(0, 0)),
        Arc::new(mjpeg_serve::ViewerCount::default()),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("open http://{}/", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        mjpeg_serve::pacing::tune_viewer_socket(&stream);
        let fd = stream.as_raw_fd();
        let (broadcast, admission, viewers) =
            (broadcast.clone(), admission.clone(), viewers.clone());
        let service = hyper::service::service_fn(move |_request| {
            let age = Duration::from_secs(1);
            let viewer = Viewer::admit(&broadcast, &admission, viewers.clone(), age);
            let body = MjpegBody::new(PacedViewer::new(viewer.expect("no limit"), Pacer::new(fd)));
            let response = mjpeg_serve::stream_response(body, mjpeg_serve::content_type());
            async move { Ok::<_, Infallible>(response) }
        });
        let io = hyper_util::rt::TokioIo::new(stream);
        let connection = hyper::server::conn::http1::Builder::new()
            .writev(true)
            .serve_connection(io, service);
        tokio::spawn(connection);
    }
}
