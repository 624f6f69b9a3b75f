//! Bad servers written inline: raw TCP listeners writing hostile bytes. The source must turn
//! each into a clear error in its status, keep retrying, stay bounded, and never panic.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use esp32_source::{ErrorKind, Source, SourceConfig};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const WAIT: Duration = Duration::from_secs(5);

/// The kind of the status's last error.
fn kind(status: &esp32_source::SourceStatus) -> Option<ErrorKind> {
    status.last_error_kind()
}

#[tokio::test]
async fn not_found_is_reported_and_retried() {
    let server = RawServer::replying(
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found"
            .to_vec(),
    )
    .await;
    let source = Source::new(fast_config("cam404", server.url("/stream"))).unwrap();
    let status = source.status();
    let driver = drive(source.frames());
    let seen = wait_for(&status, WAIT, |s| s.reconnects >= 2).await;
    let error = seen.last_error.clone().unwrap();
    assert_eq!(error.kind, ErrorKind::Status, "{error:?}");
    assert!(
        error.persistent,
        "a 404 is retried with exponential backoff"
    );
    let ctx = error.context.unwrap();
    assert_eq!(
        (ctx.camera.as_str(), ctx.url),
        ("cam404", server.url("/stream"))
    );
    assert_eq!(seen.connects, 0);
    // `reconnects` counts an attempt when it begins, before its connect reaches the server.
    let deadline = tokio::time::Instant::now() + WAIT;
    while server.connections() < 3 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(server.connections() >= 3, "{}", server.connections());
    driver.abort();
}

#[tokio::test]
async fn html_page_is_an_error_not_a_stream() {
    let body = "<html><body>login</body></html>";
    let server = RawServer::replying(
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
    .await;
    let source = Source::new(fast_config("html", server.url("/stream"))).unwrap();
    let status = source.status();
    let driver = drive(source.frames());
    let seen = wait_for(&status, WAIT, |s| s.last_error.is_some()).await;
    assert_eq!(kind(&seen), Some(ErrorKind::ContentType), "{seen:?}");
    assert_eq!(seen.frames, 0);
    driver.abort();
}

#[tokio::test]
async fn redirect_is_not_followed_and_names_the_location() {
    let server = RawServer::replying(
        b"HTTP/1.1 302 Found\r\nLocation: http://192.0.2.1/login\r\nContent-Length: 0\r\n\r\n"
            .to_vec(),
    )
    .await;
    let source = Source::new(fast_config("moved", server.url("/stream"))).unwrap();
    let status = source.status();
    let driver = drive(source.frames());
    let seen = wait_for(&status, WAIT, |s| s.last_error.is_some()).await;
    assert_eq!(kind(&seen), Some(ErrorKind::Redirect), "{seen:?}");
    // The message names where the camera points to, for the operator to configure.
    let message = &seen.last_error.unwrap().message;
    assert!(message.contains("http://192.0.2.1/login"), "{message}");
    driver.abort();
}

#[tokio::test]
async fn endless_headers_are_cut_off() {
    let server = RawServer::start(|mut stream| async move {
        read_request(&mut stream).await;
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\n").await;
        // Writes header lines until the client hangs up; bounded by the client, not by us.
        for i in 0..1_000_000u32 {
            let line = format!("X-Junk-{i}: {}\r\n", "a".repeat(100));
            if stream.write_all(line.as_bytes()).await.is_err() {
                return;
            }
        }
    })
    .await;
    let source = Source::new(fast_config("chatty", server.url("/stream"))).unwrap();
    let status = source.status();
    let driver = drive(source.frames());
    let seen = wait_for(&status, WAIT, |s| s.last_error.is_some()).await;
    assert_eq!(kind(&seen), Some(ErrorKind::Http), "{seen:?}");
    driver.abort();
}

#[tokio::test]
async fn giant_part_is_refused_within_the_limit() {
    let server = RawServer::start(|mut stream| async move {
        read_request(&mut stream).await;
        let _ = stream.write_all(&esp32_stream_head()).await;
        let head = format!(
            "\r\n--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: 1000000000\r\n\r\n"
        );
        let _ = stream.write_all(head.as_bytes()).await;
        let chunk = vec![0x55u8; 64 * 1024];
        for _ in 0..10_000 {
            if stream.write_all(&chunk).await.is_err() {
                return;
            }
        }
    })
    .await;
    let mut config = fast_config("giant", server.url("/stream"));
    config.decoder.max_part_size = 256 * 1024;
    let source = Source::new(config).unwrap();
    let status = source.status();
    let driver = drive(source.frames());
    let seen = wait_for(&status, WAIT, |s| s.last_error.is_some()).await;
    assert_eq!(kind(&seen), Some(ErrorKind::Codec), "{seen:?}");
    assert_eq!(seen.frames, 0);
    driver.abort();
}

#[tokio::test]
async fn giant_part_without_length_is_refused_too() {
    let server = RawServer::start(|mut stream| async move {
        read_request(&mut stream).await;
        let _ = stream.write_all(&esp32_stream_head()).await;
        let head = format!("\r\n--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n\r\n\u{FF}");
        let _ = stream.write_all(head.as_bytes()).await;
        let chunk = vec![0x55u8; 64 * 1024];
        for _ in 0..10_000 {
            if stream.write_all(&chunk).await.is_err() {
                return;
            }
        }
    })
    .await;
    let mut config = fast_config("giant-nolen", server.url("/stream"));
    config.decoder.max_part_size = 256 * 1024;
    let source = Source::new(config).unwrap();
    let status = source.status();
    let driver = drive(source.frames());
    let seen = wait_for(&status, WAIT, |s| s.last_error.is_some()).await;
    assert_eq!(kind(&seen), Some(ErrorKind::Codec), "{seen:?}");
    driver.abort();
}

#[tokio::test]
async fn octet_stream_without_boundary_is_learned() {
    // What VLC and ffmpeg send: no boundary in the headers, body starts with a blank line.
    let mut response =
        b"HTTP/1.0 200 OK\r\nContent-type: application/octet-stream\r\n\r\n\r\n".to_vec();
    for i in 0..3u8 {
        response.extend_from_slice(
            b"--7b3cc56e5f51db803f790dad720ed50a\r\nContent-Type: image/jpeg\r\n",
        );
        let body = jpeg(2000 + usize::from(i), 0x20 + i);
        response.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
        response.extend_from_slice(&body);
        response.extend_from_slice(b"\r\n");
    }
    let server = RawServer::replying(response).await;
    let source = Source::new(fast_config("vlc", server.url("/cam.mjpg"))).unwrap();
    let mut frames = source.frames();
    for i in 0..2u8 {
        let frame = next_frame(&mut frames, WAIT).await;
        assert_eq!(frame.jpeg.len(), 2000 + usize::from(i));
        assert!(frame.camera_time.is_none());
        assert!(frame.upstream_id.is_none());
    }
}

#[tokio::test]
async fn a_relay_upstream_keeps_its_frame_ids() {
    // Another relay's stream: parts numbered by `X-Frame-Id` (not necessarily from 0 or
    // consecutive); a malformed id is no id, not an error.
    let mut response = esp32_stream_head();
    for (id, secs) in [("7001", 1_700_000_010u64), ("7003", 11), ("-4", 12)] {
        let mut part = esp32_part(&jpeg(1000, 0x50), secs, 5);
        let at = part.len() - 1000 - 2;
        part.splice(at..at, format!("X-Frame-Id: {id}\r\n").bytes());
        response.extend_from_slice(&part);
    }
    let server = RawServer::replying(response).await;
    let source = Source::new(fast_config("relay", server.url("/cams/a/stream"))).unwrap();
    let mut frames = source.frames();
    let mut seen = Vec::new();
    for _ in 0..3 {
        let frame = next_frame(&mut frames, WAIT).await;
        assert_eq!(frame.jpeg.len(), 1000);
        seen.push((frame.upstream_id, frame.camera_time.map(|t| t.secs)));
    }
    assert_eq!(
        seen,
        [
            (Some(7001), Some(1_700_000_010)),
            (Some(7003), Some(11)),
            (None, Some(12))
        ]
    );
}

#[tokio::test]
async fn frames_carry_camera_and_receive_times() {
    let mut response = esp32_stream_head();
    for i in 0..3u32 {
        response.extend_from_slice(&esp32_part(
            &jpeg(5000, 0x30),
            1_700_000_000 + u64::from(i),
            250_000,
        ));
    }
    let server = RawServer::replying(response).await;
    let source = Source::new(fast_config("esp", server.url("/stream"))).unwrap();
    let status = source.status();
    let mut frames = source.frames();
    let before = std::time::Instant::now();
    let first = next_frame(&mut frames, WAIT).await;
    let second = next_frame(&mut frames, WAIT).await;
    let ts = first.camera_time.unwrap();
    assert_eq!((ts.secs, ts.micros), (1_700_000_000, 250_000));
    assert_eq!(second.camera_time.unwrap().secs, 1_700_000_001);
    assert!(first.received_at >= before);
    assert!(first.received_wall.secs > 1_700_000_000);
    assert!(first.latency().is_some());
    let now = status.snapshot();
    assert_eq!(now.state.name(), "streaming");
    assert_eq!((now.frames, now.bytes, now.connects), (2, 10_000, 1));
}

#[tokio::test]
async fn truncated_and_garbage_parts_are_skipped_and_counted() {
    let mut response = esp32_stream_head();
    response.extend_from_slice(&esp32_part(&jpeg(3000, 0x41), 1, 0));
    // Truncated: announced length fits, but the JPEG has no EOI.
    let mut truncated = jpeg(3000, 0x42);
    truncated.truncate(1500);
    response.extend_from_slice(&esp32_part(&truncated, 2, 0));
    // Garbage: not a JPEG at all.
    response.extend_from_slice(&esp32_part(&[0x13u8; 800], 3, 0));
    response.extend_from_slice(&esp32_part(&jpeg(3000, 0x44), 4, 0));
    let server = RawServer::replying(response).await;
    let source = Source::new(fast_config("glitchy", server.url("/stream"))).unwrap();
    let status = source.status();
    let mut frames = source.frames();
    assert_eq!(
        next_frame(&mut frames, WAIT)
            .await
            .camera_time
            .unwrap()
            .secs,
        1
    );
    assert_eq!(
        next_frame(&mut frames, WAIT)
            .await
            .camera_time
            .unwrap()
            .secs,
        4
    );
    let now = status.snapshot();
    assert_eq!(now.corrupt_frames, 2, "{now:?}");
    assert_eq!(now.frames, 2);
    assert_eq!(kind(&now), Some(ErrorKind::Corrupt), "{now:?}");
}

#[tokio::test]
async fn a_stalled_stream_is_dropped_and_reconnected() {
    let server = RawServer::start(|mut stream| async move {
        read_request(&mut stream).await;
        let mut bytes = esp32_stream_head();
        bytes.extend_from_slice(&esp32_part(&jpeg(1000, 0x50), 1, 0));
        let _ = stream.write_all(&bytes).await;
        // Then silence, with the connection open (a silent Wi-Fi drop).
        let _ = stream.read(&mut [0u8; 1]).await;
    })
    .await;
    let mut config = fast_config("stally", server.url("/stream"));
    config.stall_timeout = Duration::from_millis(300);
    let source = Source::new(config).unwrap();
    let status = source.status();
    let mut frames = source.frames();
    next_frame(&mut frames, WAIT).await;
    let started = std::time::Instant::now();
    next_frame(&mut frames, WAIT).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    let now = status.snapshot();
    assert_eq!(kind(&now), Some(ErrorKind::Stall), "{now:?}");
    assert_eq!(now.connects, 2);
    assert_eq!(server.connections(), 2);
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    // A busy ESP32-CAM accepts the connection and never answers.
    let server = RawServer::start(|mut stream| async move {
        let _ = stream.read_to_end(&mut Vec::new()).await;
    })
    .await;
    let mut config = fast_config("busy", server.url("/stream"));
    config.connect_timeout = Duration::from_millis(200);
    let source = Source::new(config).unwrap();
    let status = source.status();
    let driver = drive(source.frames());
    let seen = wait_for(&status, WAIT, |s| s.last_error.is_some()).await;
    assert_eq!(kind(&seen), Some(ErrorKind::Timeout), "{seen:?}");
    driver.abort();
}

#[tokio::test]
async fn first_dial_failure_is_retried_until_the_camera_appears() {
    // go2rtc#257: a source that fails on first dial must still be retried.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let source = Source::new(fast_config("late", format!("http://{addr}/stream"))).unwrap();
    let status = source.status();
    let mut frames = source.frames();
    let waiter =
        tokio::spawn(async move { next_frame(&mut frames, Duration::from_secs(10)).await });
    let seen = wait_for(&status, WAIT, |s| s.reconnects >= 2).await;
    assert_eq!(kind(&seen), Some(ErrorKind::Connect), "{seen:?}");
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let mut response = esp32_stream_head();
    response.extend_from_slice(&esp32_part(&jpeg(1000, 0x60), 9, 0));
    let response = std::sync::Arc::new(response);
    let _server = RawServer::on(listener, move |mut stream| {
        let response = response.clone();
        async move {
            read_request(&mut stream).await;
            let _ = stream.write_all(&response).await;
            let _ = stream.read(&mut [0u8; 1]).await;
        }
    });
    let frame = waiter.await.unwrap();
    assert_eq!(frame.camera_time.unwrap().secs, 9);
}

#[tokio::test]
async fn dropping_the_stream_closes_the_connection() {
    let (closed_tx, closed_rx) = tokio::sync::oneshot::channel::<()>();
    let closed_tx = std::sync::Mutex::new(Some(closed_tx));
    let closed_tx = std::sync::Arc::new(closed_tx);
    let server = RawServer::start(move |mut stream| {
        let closed_tx = closed_tx.clone();
        async move {
            read_request(&mut stream).await;
            let mut bytes = esp32_stream_head();
            bytes.extend_from_slice(&esp32_part(&jpeg(1000, 0x70), 1, 0));
            let _ = stream.write_all(&bytes).await;
            // EOF (or reset) from the client means it closed the socket.
            let _ = stream.read(&mut [0u8; 1]).await;
            if let Some(tx) = closed_tx.lock().unwrap().take() {
                let _ = tx.send(());
            }
        }
    })
    .await;
    let source = Source::new(fast_config("dropme", server.url("/stream"))).unwrap();
    let status = source.status();
    let mut frames = source.frames();
    next_frame(&mut frames, WAIT).await;
    drop(frames);
    tokio::time::timeout(Duration::from_secs(2), closed_rx)
        .await
        .expect("the camera connection was not closed promptly")
        .unwrap();
    assert_eq!(status.snapshot().state.name(), "stopped");
}

#[tokio::test]
async fn garbage_instead_of_http_is_an_error() {
    let server = RawServer::replying(vec![0xFFu8; 4096]).await;
    let source = Source::new(fast_config("noise", server.url("/stream"))).unwrap();
    let status = source.status();
    let driver = drive(source.frames());
    let seen = wait_for(&status, WAIT, |s| s.reconnects >= 1).await;
    assert_eq!(kind(&seen), Some(ErrorKind::Http), "{seen:?}");
    driver.abort();
}

#[test]
fn invalid_urls_are_rejected_up_front() {
    for url in ["ftp://x/", "http://", "https://cam/stream"] {
        assert!(
            Source::new(SourceConfig::stream("x", url)).is_err(),
            "{url}"
        );
    }
    let zero = SourceConfig::snapshot("x", "http://cam/capture", Duration::ZERO);
    assert!(Source::new(zero).is_err());
}

#[tokio::test]
async fn a_trickling_response_head_times_out() {
    // Slowloris from the other side: one header byte every 50 ms, forever.
    let server = RawServer::start(|mut stream| async move {
        read_request(&mut stream).await;
        for byte in b"HTTP/1.1 200 OK\r\nX-Slow: "
            .iter()
            .chain([b'a'; 10_000].iter())
        {
            if stream.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let mut config = fast_config("trickle", server.url("/stream"));
    config.connect_timeout = Duration::from_millis(300);
    let source = Source::new(config).unwrap();
    let status = source.status();
    let driver = drive(source.frames());
    let seen = wait_for(&status, WAIT, |s| s.last_error.is_some()).await;
    assert_eq!(kind(&seen), Some(ErrorKind::Timeout), "{seen:?}");
    driver.abort();
}

fn snapshot_config(name: &str, url: String) -> SourceConfig {
    let mut config = fast_config(name, url);
    config.kind = esp32_source::SourceKind::Snapshot {
        interval: Duration::from_millis(20),
    };
    config
}

#[tokio::test]
async fn snapshot_of_an_html_page_is_an_error() {
    let server = RawServer::replying(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 4\r\n\r\nnope".to_vec(),
    )
    .await;
    let source = Source::new(snapshot_config("snap-html", server.url("/capture"))).unwrap();
    let status = source.status();
    let driver = drive(source.frames());
    let seen = wait_for(&status, WAIT, |s| s.reconnects >= 2).await;
    assert_eq!(kind(&seen), Some(ErrorKind::ContentType), "{seen:?}");
    assert_eq!(seen.frames, 0);
    driver.abort();
}

#[tokio::test]
async fn oversized_snapshot_is_refused() {
    let server = RawServer::start(|mut stream| async move {
        read_request(&mut stream).await;
        // No Content-Length: the limit must hold while reading, not only up front.
        let _ = stream
            .write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nConnection: close\r\n\r\n\xFF\xD8",
            )
            .await;
        let chunk = vec![0x33u8; 64 * 1024];
        for _ in 0..1000 {
            if stream.write_all(&chunk).await.is_err() {
                return;
            }
        }
    })
    .await;
    let mut config = snapshot_config("snap-big", server.url("/capture"));
    config.decoder.max_part_size = 128 * 1024;
    let source = Source::new(config).unwrap();
    let status = source.status();
    let driver = drive(source.frames());
    let seen = wait_for(&status, WAIT, |s| s.last_error.is_some()).await;
    assert_eq!(kind(&seen), Some(ErrorKind::TooLarge), "{seen:?}");
    driver.abort();
}

#[tokio::test]
async fn snapshot_that_is_not_a_jpeg_is_counted_as_corrupt() {
    let server = RawServer::start(|mut stream| async move {
        // Keep-alive: answer every request on this connection.
        loop {
            if read_request(&mut stream).await.is_empty() {
                return;
            }
            let reply =
                b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: 5\r\n\r\nhello";
            if stream.write_all(reply).await.is_err() {
                return;
            }
        }
    })
    .await;
    let source = Source::new(snapshot_config("snap-junk", server.url("/capture"))).unwrap();
    let status = source.status();
    let driver = drive(source.frames());
    let seen = wait_for(&status, WAIT, |s| s.corrupt_frames >= 3).await;
    assert_eq!(seen.frames, 0);
    assert_eq!(seen.connects, 1, "a bad picture is no reason to reconnect");
    assert_eq!(server.connections(), 1);
    driver.abort();
}

#[tokio::test]
async fn control_status_that_is_not_json_is_an_error() {
    let server = RawServer::replying(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 6\r\n\r\n<html>".to_vec(),
    )
    .await;
    let control = esp32_source::Esp32Control::new(&server.url("")).unwrap();
    let err = control.status().await.unwrap_err();
    assert_eq!(
        err.kind(),
        esp32_source::ErrorKind::InvalidResponse,
        "{err}"
    );
    assert!(err.to_string().contains("/status"), "{err}");
}

#[tokio::test]
async fn control_to_a_dead_host_fails_cleanly() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let control = esp32_source::Esp32Control::new(&format!("http://{addr}")).unwrap();
    let err = control.set("framesize", 8).await.unwrap_err();
    assert_eq!(err.kind(), esp32_source::ErrorKind::Connect, "{err}");
}
