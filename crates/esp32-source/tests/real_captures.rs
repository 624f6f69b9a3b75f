//! Real server responses (VLC, Motion, ffmpeg), replayed byte for byte from a loopback TCP
//! server: the HTTP client, de-chunking, content-type handling and codec together.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use esp32_source::Source;
use mjpeg_codec::jpeg;
use support::{fast_config, next_frame, RawServer};

async fn replay(name: &str, capture: &[u8], expected: (u16, u16)) {
    let server = RawServer::replying(capture.to_vec()).await;
    let source = Source::new(fast_config(name, server.url("/stream"))).unwrap();
    let status = source.status();
    let mut frames = source.frames();
    for _ in 0..3 {
        let frame = next_frame(&mut frames, Duration::from_secs(10)).await;
        assert!(jpeg::is_complete(&frame.jpeg), "{name}");
        assert_eq!(jpeg::dimensions(&frame.jpeg), Some(expected), "{name}");
    }
    let now = status.snapshot();
    assert_eq!(now.corrupt_frames, 0, "{name}: {now:?}");
    assert_eq!(
        now.connects, 1,
        "{name}: three parts on one connection: {now:?}"
    );
}

#[tokio::test]
async fn vlc_3_0_octet_stream_without_boundary() {
    replay(
        "vlc",
        include_bytes!("../testdata/vlc-3.0-mpjpeg.bin"),
        (640, 480),
    )
    .await;
}

#[tokio::test]
async fn motion_4_5_chunked_stream() {
    replay(
        "motion",
        include_bytes!("../testdata/motion-4.5-stream.bin"),
        (640, 480),
    )
    .await;
}

#[tokio::test]
async fn ffmpeg_5_1_chunked_octet_stream() {
    replay(
        "ffmpeg",
        include_bytes!("../testdata/ffmpeg-5.1-mpjpeg.bin"),
        (320, 240),
    )
    .await;
}
