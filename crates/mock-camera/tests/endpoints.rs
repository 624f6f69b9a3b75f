//! The four firmware endpoints, checked byte by byte with a raw HTTP client.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use mock_camera::{MockConfig, WhenBusy, STREAM_DELIMITER};

#[tokio::test]
async fn stream_is_byte_faithful_to_the_firmware() {
    let camera = start(test_config()).await;
    let mut response = get(camera.addr(), "/stream").await;
    // Response head: exactly the firmware's headers (no Date), chunked.
    assert!(
        response.head.starts_with("HTTP/1.1 200 OK\r\n"),
        "{}",
        response.head
    );
    assert!(
        response.head.contains(
            "Content-Type: multipart/x-mixed-replace;boundary=123456789000000000000987654321\r\n"
        ),
        "{}",
        response.head
    );
    assert!(response.head.contains("Access-Control-Allow-Origin: *\r\n"));
    assert!(response.head.contains("X-Framerate: 60\r\n"));
    assert_eq!(response.header("transfer-encoding"), Some("chunked"));
    assert_eq!(response.header("date"), None);

    // Chunk layout of one frame: delimiter, part headers, JPEG, as the firmware sends them.
    let delimiter = response.chunk().await.unwrap().unwrap();
    assert_eq!(delimiter, STREAM_DELIMITER);
    assert_eq!(delimiter, b"\r\n--123456789000000000000987654321\r\n");
    let headers = String::from_utf8(response.chunk().await.unwrap().unwrap()).unwrap();
    let jpeg = response.chunk().await.unwrap().unwrap();
    let expected = format!(
        "Content-Type: image/jpeg\r\nContent-Length: {}\r\nX-Timestamp: ",
        jpeg.len()
    );
    assert!(headers.starts_with(&expected), "{headers:?}");
    assert!(headers.ends_with("\r\n\r\n"));
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
    assert_eq!(&jpeg[jpeg.len() - 2..], &[0xFF, 0xD9]);

    // Then parts keep coming, each a valid JPEG with a fresh X-Timestamp (%d.%06d).
    let mut reader = MultipartReader::new(response);
    let mut last_ts = 0.0;
    for _ in 0..5 {
        let part = reader.next_part().await.unwrap().unwrap();
        assert_eq!(part.content_length, part.body.len());
        let (secs, micros) = part.timestamp.split_once('.').unwrap();
        assert_eq!(micros.len(), 6, "{}", part.timestamp);
        assert!(
            secs.bytes().all(|b| b.is_ascii_digit()) && micros.bytes().all(|b| b.is_ascii_digit())
        );
        let ts: f64 = part.timestamp.parse().unwrap();
        assert!(
            (unix_now() - ts).abs() < 5.0,
            "timestamp {ts} is the capture time"
        );
        assert!(ts > last_ts, "timestamps increase");
        last_ts = ts;
        let image = image::load_from_memory(&part.body).unwrap();
        assert_eq!((image.width(), image.height()), (320, 240));
    }
    assert!(camera.stats().frames_sent >= 6);
    assert_eq!(camera.stats().stream_clients, 1);
    camera.shutdown().await;
}

#[tokio::test]
async fn second_stream_client_is_refused_until_the_first_leaves() {
    let camera = start(MockConfig {
        when_busy: WhenBusy::Refuse503,
        ..test_config()
    })
    .await;
    let mut first = open_stream(&camera).await;
    first.next_part().await.unwrap().unwrap();

    let mut second = get(camera.addr(), "/stream").await;
    assert_eq!(second.status, 503);
    let body = String::from_utf8(second.body().await).unwrap();
    assert!(body.contains("busy"), "{body}");
    assert_eq!(camera.stats().refused_total, 1);

    // Once the first client hangs up, its slot frees (at the next frame write at the latest).
    drop(first);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let mut again = get(camera.addr(), "/stream").await;
        if again.status == 200 {
            MultipartReader::new(again)
                .next_part()
                .await
                .unwrap()
                .unwrap();
            break;
        }
        again.body().await;
        assert!(tokio::time::Instant::now() < deadline, "slot never freed");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(camera.stats().stream_connections_total, 2);
    camera.shutdown().await;
}

#[tokio::test]
async fn by_default_a_second_stream_client_waits_without_an_answer_like_the_board() {
    let camera = start(test_config()).await;
    assert_eq!(camera.config().when_busy, WhenBusy::Silent);
    let mut first = open_stream(&camera).await;
    first.next_part().await.unwrap().unwrap();

    let addr = camera.addr();
    let mut second = tokio::spawn(async move { get(addr, "/stream").await });
    // The connection is accepted and the request read, but no response head comes.
    let early = tokio::time::timeout(std::time::Duration::from_millis(500), &mut second).await;
    assert!(early.is_err(), "a busy camera answered");
    assert_eq!(camera.stats().refused_total, 1);
    assert_eq!(camera.stats().stream_connections_total, 1);

    // Once the first client hangs up, the waiting request is served.
    drop(first);
    let second = tokio::time::timeout(PATIENCE, second)
        .await
        .expect("the waiting client was never served")
        .unwrap();
    assert_eq!(second.status, 200);
    MultipartReader::new(second)
        .next_part()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(camera.stats().stream_connections_total, 2);
    camera.shutdown().await;
}

#[tokio::test]
async fn max_clients_zero_means_unlimited_and_all_see_the_same_frames() {
    let camera = start(MockConfig {
        max_clients: 0,
        ..test_config()
    })
    .await;
    let mut readers = Vec::new();
    for _ in 0..4 {
        readers.push(open_stream(&camera).await);
    }
    assert_eq!(camera.stats().stream_clients, 4);
    let mut seen = Vec::new();
    for reader in &mut readers {
        let mut timestamps = std::collections::HashSet::new();
        for _ in 0..6 {
            timestamps.insert(reader.next_part().await.unwrap().unwrap().timestamp);
        }
        seen.push(timestamps);
    }
    assert_eq!(camera.stats().refused_total, 0);
    // All clients are fed from the one frame clock: they see the very same captures
    // (identical X-Timestamp to the microsecond).
    for other in &seen[1..] {
        assert!(seen[0].intersection(other).count() > 0, "{seen:?}");
    }
    camera.shutdown().await;
}

#[tokio::test]
async fn capture_returns_one_jpeg_with_timestamp() {
    let camera = start(test_config()).await;
    let mut response = get(camera.addr(), "/capture").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("image/jpeg"));
    assert_eq!(
        response.header("content-disposition"),
        Some("inline; filename=capture.jpg")
    );
    assert_eq!(response.header("access-control-allow-origin"), Some("*"));
    let ts: f64 = response.header("x-timestamp").unwrap().parse().unwrap();
    assert!((unix_now() - ts).abs() < 5.0);
    let jpeg = response.body().await;
    assert_eq!(sof_dimensions(&jpeg), Some((320, 240)));
    image::load_from_memory(&jpeg).unwrap();
    assert_eq!(camera.stats().captures, 1);
    camera.shutdown().await;
}

#[tokio::test]
async fn status_reports_sensor_settings_as_json() {
    let camera = start(test_config()).await;
    let mut response = get(camera.addr(), "/status").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("application/json"));
    let json: serde_json::Value = serde_json::from_slice(&response.body().await).unwrap();
    assert_eq!(json["framesize"], 5);
    assert_eq!(json["quality"], 12);
    for key in [
        "brightness",
        "contrast",
        "saturation",
        "special_effect",
        "awb",
        "aec",
        "agc",
        "hmirror",
        "vflip",
    ] {
        assert!(json[key].is_i64(), "{key} missing from {json}");
    }
    camera.shutdown().await;
}

#[tokio::test]
async fn control_framesize_changes_the_frames() {
    let camera = start(test_config()).await;
    let mut stream = open_stream(&camera).await;
    let part = stream.next_part().await.unwrap().unwrap();
    assert_eq!(sof_dimensions(&part.body), Some((320, 240)));

    let mut response = get(camera.addr(), "/control?var=framesize&val=6").await;
    assert_eq!(response.status, 200);
    assert!(response.body().await.is_empty());
    let mut status = get(camera.addr(), "/status").await;
    let json: serde_json::Value = serde_json::from_slice(&status.body().await).unwrap();
    assert_eq!(json["framesize"], 6);
    // A capture right after the response already has the new size.
    let mut capture = get(camera.addr(), "/capture").await;
    assert_eq!(sof_dimensions(&capture.body().await), Some((400, 296)));

    // The stream switches to CIF 400x296 once the frames already in the socket buffers
    // (sent while this test was not reading) are read.
    let mut switched = false;
    for _ in 0..500 {
        let part = stream.next_part().await.unwrap().unwrap();
        if sof_dimensions(&part.body) == Some((400, 296)) {
            switched = true;
            break;
        }
    }
    assert!(switched, "stream never switched to 400x296");
    camera.shutdown().await;
}

#[tokio::test]
async fn control_quality_changes_frame_size_in_bytes() {
    let camera = start(test_config()).await;
    let mut capture = get(camera.addr(), "/capture").await;
    let before = capture.body().await.len();
    let mut response = get(camera.addr(), "/control?var=quality&val=60").await;
    assert_eq!(response.status, 200);
    response.body().await;
    let mut capture = get(camera.addr(), "/capture").await;
    let after = capture.body().await.len();
    assert!(
        after * 2 < before,
        "quality 60 (worst) should shrink frames: {before} -> {after}"
    );
    camera.shutdown().await;
}

#[tokio::test]
async fn control_rejects_unknown_vars_and_bad_values() {
    let camera = start(test_config()).await;
    for (path, status) in [
        ("/control?var=nonsense&val=1", 500),
        ("/control?var=framesize&val=99", 500),
        ("/control?var=framesize&val=abc", 500),
        ("/control?var=framesize", 404),
        ("/control?var=vflip&val=1", 200),
        ("/nope", 404),
    ] {
        let mut response = get(camera.addr(), path).await;
        assert_eq!(response.status, status, "{path}");
        response.body().await;
    }
    let mut status = get(camera.addr(), "/status").await;
    let json: serde_json::Value = serde_json::from_slice(&status.body().await).unwrap();
    assert_eq!(json["vflip"], 1);
    assert_eq!(json["framesize"], 5);
    camera.shutdown().await;
}

#[tokio::test]
async fn show_frame_id_labels_stream_and_capture() {
    let camera = start(MockConfig {
        show_frame_id: true,
        ..test_config()
    })
    .await;
    let mut stream = open_stream(&camera).await;
    let part = stream.next_part().await.unwrap().unwrap();
    let image = image::load_from_memory(&part.body).unwrap().to_rgb8();
    // The label sits on a black box in the top-left corner; the scene has no black there.
    assert!(
        image.get_pixel(5, 5).0.iter().all(|&c| c < 40),
        "{:?}",
        image.get_pixel(5, 5)
    );
    let mut capture = get(camera.addr(), "/capture").await;
    let image = image::load_from_memory(&capture.body().await)
        .unwrap()
        .to_rgb8();
    assert!(image.get_pixel(5, 5).0.iter().all(|&c| c < 40));
    camera.shutdown().await;
}
