//! Recording through the relay (issue #16), end to end on loopback: the recording alone keeps
//! the camera open, records every frame a viewer sees (same ids, same bytes), and the routes
//! list and export it (MP4 checked by the real `ffprobe`, byte ranges, ETag, MJPEG parts).
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use camrelay_suite::*;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;

/// A request with extra headers; returns status, headers and the whole body.
async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (http::StatusCode, http::HeaderMap, Bytes) {
    let io = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .unwrap();
    tokio::spawn(connection);
    let mut builder = http::Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::HOST, addr.to_string());
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let response = sender
        .send_request(builder.body(Empty::<Bytes>::new()).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    (parts.status, parts.headers, body)
}

fn ffprobe_frames(path: &std::path::Path) -> u64 {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-count_frames",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=nb_read_frames",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .unwrap_or_else(|e| {
            panic!("ffprobe not runnable ({e}): install the Debian package `ffmpeg`")
        });
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ffprobe failed: {stderr}");
    assert!(stderr.trim().is_empty(), "ffprobe -v error says: {stderr}");
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_records_what_viewers_see_and_exports_it() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let mock = start_mock(MockConfig::default()).await;
    let record_dir = dir.path().to_owned();
    let relay = start_relay(vec![camera_for("cam", &mock)], move |c| {
        c.detect = false;
        c.idle_timeout = Duration::from_millis(300);
        c.record = Some(mjpeg_record::RecordConfig::new(record_dir));
    })
    .await;
    let addr = relay.local_addr();
    let t0 = mjpeg_record::now_micros();

    // No viewer: the recording alone opens the camera and writes frames.
    let recording_alone = wait_until(Duration::from_secs(10), || async {
        let s = stats(addr).await;
        let cam = &s["cameras"][0];
        cam["viewers"]["total"] == 0 && cam["recording"]["frames_written"].as_u64() >= Some(10)
    })
    .await;
    assert!(recording_alone, "{:#}", stats(addr).await);
    let s = stats(addr).await;
    assert_eq!(s["cameras"][0]["recording"]["state"], "recording", "{s:#}");

    // A viewer now: every frame it sees is recorded with the same id and bytes.
    let mut viewer = MjpegViewer::connect(addr, "/cams/cam/stream")
        .await
        .unwrap();
    let seen = viewer.take(20).await;
    drop(viewer);
    let recorder = relay.state().recording.clone().unwrap();
    tokio::task::spawn_blocking(move || recorder.recorder("cam").unwrap().flush())
        .await
        .unwrap();
    let t1 = mjpeg_record::now_micros() + 1_000_000;
    let range = format!("start={}&end={}", t0 as f64 / 1e6 - 5.0, t1 as f64 / 1e6);

    let mut mjpeg = MjpegViewer::connect(
        addr,
        &format!("/cams/cam/recording.mp4?{range}&format=mjpeg"),
    )
    .await
    .unwrap();
    assert_eq!(mjpeg.status, 200);
    let mut recorded = Vec::new();
    while let Some(part) = mjpeg.next_within(Duration::from_secs(5)).await {
        recorded.push(part);
    }
    assert!(recorded.len() >= 30, "{} frames recorded", recorded.len());
    let ids: Vec<u64> = recorded.iter().map(|r| r.frame_id).collect();
    assert!(consecutive(&ids), "recording has gaps: {ids:?}");
    assert!(recorded.iter().all(|r| r.timestamp.is_some()));
    for frame in &seen {
        let stored = recorded
            .iter()
            .find(|r| r.frame_id == frame.frame_id)
            .unwrap_or_else(|| panic!("frame {} not recorded", frame.frame_id));
        assert_eq!(stored.jpeg, frame.jpeg, "frame {} differs", frame.frame_id);
    }

    // From here on the range ends just after the last frame exported above, so every export
    // below holds exactly those frames.
    let last = recorded.last().unwrap().timestamp.unwrap();
    let end_us = last.secs as i64 * 1_000_000 + i64::from(last.micros) + 1;
    let range = format!(
        "start={}&end={}.{:06}",
        t0 as f64 / 1e6 - 5.0,
        end_us / 1_000_000,
        end_us % 1_000_000
    );

    // /api/recordings: one span covering the frames.
    let (status, _, body) = request(
        addr,
        "GET",
        &format!("/api/recordings?camera=cam&{range}"),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{body:?}");
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["camera"], "cam");
    let spans = json["spans"].as_array().unwrap();
    assert!(!spans.is_empty(), "{json:#}");
    let span_frames: u64 = spans
        .iter()
        .map(|s| s["frames"].as_u64().unwrap_or(0))
        .sum();
    assert!(span_frames >= recorded.len() as u64, "{json:#}");

    // The MP4: ffprobe counts the frames of the export.
    let path = format!("/cams/cam/recording.mp4?{range}");
    let (status, headers, full) = request(addr, "GET", &path, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(headers[http::header::CONTENT_TYPE], "video/mp4");
    assert_eq!(headers[http::header::ACCEPT_RANGES], "bytes");
    assert_eq!(
        headers[http::header::CONTENT_LENGTH],
        full.len().to_string().as_str()
    );
    let etag = headers[http::header::ETAG].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"'), "strong ETag: {etag}");
    let file = dir.path().join("export.mp4");
    std::fs::write(&file, &full).unwrap();
    let frames = ffprobe_frames(&file);
    assert_eq!(frames, recorded.len() as u64, "ffprobe's frame count");

    // HEAD: same headers, no body.
    let (status, headers, body) = request(addr, "HEAD", &path, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(
        headers[http::header::CONTENT_LENGTH],
        full.len().to_string().as_str()
    );
    assert!(body.is_empty());

    // Ranges.
    let len = full.len();
    for (range, want) in [
        ("bytes=0-99".to_owned(), 0..100),
        (format!("bytes={}-", len - 1000), len - 1000..len),
        ("bytes=-500".to_owned(), len - 500..len),
        (format!("bytes=1000-{}", len + 50), 1000..len),
    ] {
        let (status, headers, body) = request(addr, "GET", &path, &[("range", &range)]).await;
        assert_eq!(status, 206, "{range}");
        assert_eq!(body, full.slice(want.clone()), "{range}");
        assert_eq!(
            headers[http::header::CONTENT_RANGE],
            format!("bytes {}-{}/{len}", want.start, want.end - 1).as_str()
        );
    }
    for bad in [
        format!("bytes={len}-"),
        "bytes=9-2".to_owned(),
        "pages=1-2".to_owned(),
    ] {
        let (status, headers, _) = request(addr, "GET", &path, &[("range", &bad)]).await;
        assert_eq!(status, 416, "{bad}");
        assert_eq!(
            headers[http::header::CONTENT_RANGE],
            format!("bytes */{len}").as_str()
        );
    }
    let (status, _, body) = request(addr, "GET", &path, &[("if-none-match", &etag)]).await;
    assert_eq!(status, 304);
    assert!(body.is_empty());

    // Bad requests.
    for (bad, want) in [
        ("/cams/cam/recording.mp4?start=yesterday&end=1", 400),
        ("/cams/cam/recording.mp4?end=1", 400),
        ("/cams/cam/recording.mp4?start=20&end=10", 400),
        ("/api/recordings?start=1&end=2", 400),
        ("/api/recordings?camera=nope&start=1&end=2", 404),
        ("/cams/nope/recording.mp4?start=1&end=2", 404),
        ("/cams/cam/recording.mp4?start=1&end=2", 404),
    ] {
        let (status, _, body) = request(addr, "GET", bad, &[]).await;
        assert_eq!(status, want, "{bad}: {body:?}");
    }
    relay.shutdown().await;
    mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_recording_the_routes_say_so() {
    let _serial = serial().await;
    let mock = start_mock(MockConfig::default()).await;
    let relay = start_relay(vec![camera_for("cam", &mock)], |c| c.detect = false).await;
    let addr = relay.local_addr();
    let (status, _, body) =
        request(addr, "GET", "/cams/cam/recording.mp4?start=1&end=2", &[]).await;
    assert_eq!(status, 404);
    assert!(String::from_utf8_lossy(&body).contains("not configured"));
    assert!(stats(addr).await["cameras"][0]["recording"].is_null());
    relay.shutdown().await;
    mock.shutdown().await;
}
