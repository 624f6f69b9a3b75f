//! WebSocket viewers end to end: a JSON text message then the JPEG per frame, the same frame
//! ids as the MJPEG viewers, detections on the detect stream, and a misbehaving client closed
//! alone.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use camrelay_suite::*;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(addr: std::net::SocketAddr, path: &str) -> Ws {
    let (ws, response) = tokio_tungstenite::connect_async(format!("ws://{addr}{path}"))
        .await
        .unwrap();
    assert_eq!(response.status(), 101);
    ws
}

/// The next frame: its JSON announcement and its JPEG.
async fn next_frame(ws: &mut Ws) -> (serde_json::Value, bytes::Bytes) {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(30), ws.next())
            .await
            .expect("no WebSocket message for 30 s")
            .expect("WebSocket closed")
            .unwrap();
        if let Message::Text(text) = message {
            let meta: serde_json::Value = serde_json::from_str(text.as_str()).unwrap();
            let jpeg = match ws.next().await.unwrap().unwrap() {
                Message::Binary(jpeg) => jpeg,
                other => panic!("expected the JPEG after {meta}, got {other:?}"),
            };
            return (meta, jpeg);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_viewers_get_json_then_jpeg_on_the_shared_frame_ids() {
    let _serial = serial().await;
    let relay = start_relay(Vec::new(), |c| c.detect = false).await;
    let addr = relay.local_addr();
    let mut a = connect(addr, "/ws").await;
    let mut b = connect(addr, "/cams/demo/ws?stream=raw").await;
    let mut mjpeg = MjpegViewer::connect(addr, "/stream").await.unwrap();
    let (ids_a, ids_b, ids_http) = tokio::join!(
        async {
            let mut ids = Vec::new();
            for _ in 0..15 {
                let (meta, jpeg) = next_frame(&mut a).await;
                assert_eq!(meta["type"], "frame");
                assert_eq!(meta["camera"], "demo");
                assert_eq!(meta["stream"], "raw");
                assert_eq!(meta["bytes"].as_u64().unwrap() as usize, jpeg.len());
                assert!(meta["timestamp"].as_str().unwrap().contains('.'));
                assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
                ids.push(meta["frame_id"].as_u64().unwrap());
            }
            ids
        },
        async {
            let mut ids = Vec::new();
            for _ in 0..15 {
                ids.push(next_frame(&mut b).await.0["frame_id"].as_u64().unwrap());
            }
            ids
        },
        async {
            mjpeg
                .take(15)
                .await
                .iter()
                .map(|r| r.frame_id)
                .collect::<Vec<_>>()
        }
    );
    let common = ids_a
        .iter()
        .filter(|id| ids_b.contains(id) && ids_http.contains(id));
    assert!(common.count() >= 8, "{ids_a:?} / {ids_b:?} / {ids_http:?}");
    let json = stats(addr).await;
    assert_eq!(json["cameras"][0]["viewers"]["ws_raw"], 2);
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_detect_stream_carries_detections() {
    let _serial = serial().await;
    let mock = start_mock(MockConfig {
        fps: 5.0,
        ..MockConfig::default()
    })
    .await;
    let relay = start_relay(vec![camera_for("cam", &mock)], |_| {}).await;
    let mut ws = connect(relay.local_addr(), "/cams/cam/ws?stream=detect").await;
    let mut found = 0;
    for _ in 0..3 {
        let (meta, jpeg) = next_frame(&mut ws).await;
        assert_eq!(meta["stream"], "detect");
        assert!(meta["inference_ms"].as_f64().is_some(), "{meta}");
        found += meta["detections"].as_array().unwrap().len();
        assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
    }
    assert!(
        found > 0,
        "the mock camera's people, cat and cup were not found"
    );
    relay.shutdown().await;
    mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misbehaving_client_is_closed_alone() {
    let _serial = serial().await;
    let relay = start_relay(Vec::new(), |c| c.detect = false).await;
    let addr = relay.local_addr();
    let mut good = connect(addr, "/ws").await;
    let mut bad = connect(addr, "/ws").await;
    next_frame(&mut bad).await;
    // An oversized message: the relay closes this socket.
    let _ = bad.send(Message::Text("x".repeat(64 * 1024).into())).await;
    let mut closed = false;
    for _ in 0..200 {
        match tokio::time::timeout(Duration::from_secs(5), bad.next()).await {
            Ok(Some(Ok(Message::Close(_)))) | Ok(None) | Ok(Some(Err(_))) => {
                closed = true;
                break;
            }
            Ok(Some(Ok(_))) => continue,
            Err(_) => break,
        }
    }
    assert!(closed, "oversized message did not close the socket");
    // The other viewer goes on.
    for _ in 0..5 {
        next_frame(&mut good).await;
    }
    // And a clean close from the client is answered.
    good.close(None).await.unwrap();
    assert!(
        wait_until(Duration::from_secs(3), || async {
            stats(addr).await["viewers_total"] == 0
        })
        .await
    );
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_get_on_a_websocket_route_is_a_clear_error() {
    let relay = start_relay(Vec::new(), |c| c.detect = false).await;
    let (status, _, body) = get(relay.local_addr(), "/ws").await;
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("WebSocket"));
    relay.shutdown().await;
}
