//! The fault options and shutdown: what a relay must survive.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use mock_camera::MockConfig;

#[tokio::test]
async fn close_after_ends_the_stream_cleanly() {
    let camera = start(MockConfig {
        close_after: Some(3),
        ..test_config()
    })
    .await;
    let mut stream = open_stream(&camera).await;
    for _ in 0..3 {
        stream.next_part().await.unwrap().unwrap();
    }
    // Then the chunked body ends (zero chunk) and the slot frees.
    assert!(stream.next_part().await.unwrap().is_none());
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(camera.stats().stream_clients, 0);
    assert_eq!(camera.stats().frames_sent, 3);
    camera.shutdown().await;
}

#[tokio::test]
async fn truncate_every_cuts_every_nth_jpeg() {
    let camera = start(MockConfig {
        truncate_every: Some(2),
        ..test_config()
    })
    .await;
    let mut stream = open_stream(&camera).await;
    for n in 1..=6 {
        let part = stream.next_part().await.unwrap().unwrap();
        assert_eq!(
            part.content_length,
            part.body.len(),
            "Content-Length stays honest"
        );
        assert_eq!(&part.body[..2], &[0xFF, 0xD8]);
        let complete = part.body.ends_with(&[0xFF, 0xD9]);
        assert_eq!(complete, n % 2 == 1, "part {n}");
    }
    camera.shutdown().await;
}

#[tokio::test]
async fn garbage_every_sends_non_jpeg_parts() {
    let camera = start(MockConfig {
        garbage_every: Some(3),
        ..test_config()
    })
    .await;
    let mut stream = open_stream(&camera).await;
    for n in 1..=6 {
        let part = stream.next_part().await.unwrap().unwrap();
        let is_jpeg = part.body.starts_with(&[0xFF, 0xD8]);
        assert_eq!(is_jpeg, n % 3 != 0, "part {n}");
        assert!(part.body.len() >= 64);
    }
    camera.shutdown().await;
}

#[tokio::test]
async fn stall_pauses_then_resumes() {
    let stall = Duration::from_millis(800);
    let config = MockConfig {
        stall_after: Some(2),
        stall_for: stall,
        ..test_config()
    };
    let camera = start(config).await;
    let mut stream = open_stream(&camera).await;
    stream.next_part().await.unwrap().unwrap();
    stream.next_part().await.unwrap().unwrap();
    let started = Instant::now();
    let third = stream.next_part().await.unwrap().unwrap();
    let gap = started.elapsed();
    assert!(gap >= stall - Duration::from_millis(50), "gap {gap:?}");
    assert!(gap < stall + Duration::from_secs(3), "gap {gap:?}");
    // After the stall the frame is a fresh one, not one held from before.
    let ts: f64 = third.timestamp.parse().unwrap();
    assert!(unix_now() - ts < 0.5);
    // And it keeps streaming at the normal pace.
    let started = Instant::now();
    stream.next_part().await.unwrap().unwrap();
    assert!(started.elapsed() < stall);
    camera.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_open_streams_and_stops_listening() {
    let camera = start(MockConfig {
        max_clients: 0,
        ..test_config()
    })
    .await;
    let addr = camera.addr();
    let mut a = open_stream(&camera).await;
    let mut b = open_stream(&camera).await;
    a.next_part().await.unwrap().unwrap();
    b.next_part().await.unwrap().unwrap();

    tokio::time::timeout(PATIENCE, camera.shutdown())
        .await
        .expect("shutdown hangs");
    // Open streams end abruptly (no zero chunk): reading hits EOF or an error.
    for reader in [&mut a, &mut b] {
        let mut ended = false;
        for _ in 0..1000 {
            match reader.next_part().await {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("stream ended cleanly; expected an abrupt close"),
                Err(_) => {
                    ended = true;
                    break;
                }
            }
        }
        assert!(ended);
    }
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "still listening"
    );
}

#[tokio::test]
async fn dropping_the_camera_stops_it_too() {
    let camera = start(test_config()).await;
    let addr = camera.addr();
    let mut stream = open_stream(&camera).await;
    stream.next_part().await.unwrap().unwrap();
    drop(camera);
    let result = tokio::time::timeout(PATIENCE, async {
        loop {
            if stream.next_part().await.is_err() {
                break;
            }
        }
    })
    .await;
    assert!(result.is_ok(), "stream survived the camera");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn power_off_closes_and_refuses_then_power_on_serves_on_the_same_port() {
    let camera = start(test_config()).await;
    let addr = camera.addr();
    let mut stream = open_stream(&camera).await;
    stream.next_part().await.unwrap().unwrap();

    tokio::time::timeout(PATIENCE, camera.power_off())
        .await
        .expect("power_off hangs");
    assert!(!camera.is_powered().await);
    // The open stream ends abruptly; new connections are refused.
    let ended = tokio::time::timeout(PATIENCE, async {
        while let Ok(Some(_)) = stream.next_part().await {}
    })
    .await;
    assert!(ended.is_ok(), "stream survived the power cut");
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    assert_eq!(camera.stats().stream_clients, 0);
    camera.power_off().await; // already off: nothing happens

    camera.power_on().await.unwrap();
    camera.power_on().await.unwrap(); // already on: nothing happens
    assert!(camera.is_powered().await);
    // The one stream slot is free again: a new client is served at once.
    let mut again = open_stream(&camera).await;
    again.next_part().await.unwrap().unwrap();
    assert_eq!(camera.addr(), addr);
    assert_eq!(camera.stats().stream_connections_total, 2);

    // reboot() is the two with a pause between.
    let started = Instant::now();
    camera.reboot(Duration::from_millis(200)).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(200));
    let mut third = open_stream(&camera).await;
    third.next_part().await.unwrap().unwrap();
    camera.shutdown().await;
}

#[tokio::test]
async fn start_rejects_bad_config() {
    let err = mock_camera::MockCamera::start(
        "127.0.0.1:0".parse().unwrap(),
        MockConfig {
            quality: 0,
            ..test_config()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("quality"), "{err}");
}
