use super::*;
use crate::pacing::PacedViewer;
use crate::viewer::tests::{admit, frame, publisher, Tally};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::io::DuplexStream;

/// Reads one unmasked server frame: (opcode bits, payload).
async fn read_frame(client: &mut DuplexStream) -> (u8, Vec<u8>) {
    let mut head = [0u8; 2];
    client.read_exact(&mut head).await.expect("a frame");
    assert_eq!(head[0] & 0x80, 0x80, "FIN set");
    assert_eq!(head[1] & 0x80, 0, "server frames are unmasked");
    let len = match head[1] & 0x7F {
        126 => u64::from(client.read_u16().await.expect("length")),
        127 => client.read_u64().await.expect("length"),
        n => u64::from(n),
    };
    let mut payload = vec![0u8; len as usize];
    client.read_exact(&mut payload).await.expect("payload");
    (head[0] & 0x0F, payload)
}

/// Writes a masked client frame.
async fn write_frame(client: &mut DuplexStream, first: u8, payload: &[u8]) {
    let mask = [1u8, 2, 3, 4];
    let mut frame = vec![first, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    client.write_all(&frame).await.expect("written");
}

type Serving = tokio::task::JoinHandle<Result<(), Error>>;

/// A WebSocket viewer served over an in-memory pipe: the broadcast, the client end, the task.
fn start(
    capacity: usize,
) -> (
    broadcast_core::Publisher<crate::SharedFrame>,
    DuplexStream,
    Serving,
) {
    let publisher = publisher(capacity);
    let tally = Arc::new(Tally::default());
    let viewer = PacedViewer::new(admit(&publisher, &tally), None);
    let (client, server) = tokio::io::duplex(1 << 16);
    let text = |f: &Frame| Bytes::from(format!("{{\"frame_id\":{}}}", f.id));
    let task = tokio::spawn(async move { serve(server, viewer, text, &WsConfig::default()).await });
    (publisher, client, task)
}

#[tokio::test(start_paused = true)]
async fn each_frame_is_its_text_then_the_jpeg_and_the_end_is_a_close() {
    let (publisher, mut client, task) = start(4);
    tokio::task::yield_now().await;
    let shared = frame(5, Duration::ZERO);
    publisher.publish(shared.clone());
    assert_eq!(
        read_frame(&mut client).await,
        (0x1, b"{\"frame_id\":5}".to_vec())
    );
    assert_eq!(read_frame(&mut client).await, (0x2, shared.jpeg.to_vec()));
    drop(publisher);
    let (opcode, payload) = read_frame(&mut client).await;
    assert_eq!((opcode, &payload[..2]), (0x8, &1001u16.to_be_bytes()[..]));
    assert!(task.await.expect("no panic").is_ok());
}

#[tokio::test(start_paused = true)]
async fn pings_are_answered_and_a_close_is_echoed() {
    let (_publisher, mut client, task) = start(4);
    write_frame(&mut client, 0x89, b"hi").await;
    assert_eq!(read_frame(&mut client).await, (0xA, b"hi".to_vec()));
    write_frame(&mut client, 0x81, b"just text").await; // ignored
    write_frame(&mut client, 0x88, &1000u16.to_be_bytes()).await;
    assert_eq!(
        read_frame(&mut client).await,
        (0x8, 1000u16.to_be_bytes().to_vec())
    );
    assert!(task.await.expect("no panic").is_ok());
}

#[tokio::test(start_paused = true)]
async fn the_server_pings_and_closes_a_silent_client() {
    let (_publisher, mut client, task) = start(4);
    for _ in 0..3 {
        assert_eq!(read_frame(&mut client).await, (0x9, Vec::new()));
    }
    let (opcode, payload) = read_frame(&mut client).await;
    assert_eq!((opcode, &payload[..2]), (0x8, &1001u16.to_be_bytes()[..]));
    let ended = task.await.expect("no panic");
    assert_eq!(ended.map_err(|e| e.kind()), Err(ErrorKind::PingTimeout));
}

#[tokio::test(start_paused = true)]
async fn misbehaving_clients_are_closed_with_the_matching_code() {
    for (first, payload, code) in [
        (0x82, &b"bin"[..], close_code::UNSUPPORTED),
        (0x81, &[][..], 0), // 0: an unmasked frame instead
    ] {
        let (_publisher, mut client, task) = start(4);
        if code == 0 {
            client
                .write_all(&[0x81, 0x01, b'x'])
                .await
                .expect("written");
        } else {
            write_frame(&mut client, first, payload).await;
        }
        let (opcode, payload) = read_frame(&mut client).await;
        let expected = if code == 0 {
            close_code::PROTOCOL
        } else {
            code
        };
        assert_eq!((opcode, &payload[..2]), (0x8, &expected.to_be_bytes()[..]));
        let ended = task.await.expect("no panic");
        assert_eq!(ended.map_err(|e| e.kind()), Err(ErrorKind::Protocol));
    }
}

#[tokio::test(start_paused = true)]
async fn a_viewer_that_reads_nothing_is_evicted_and_counted() {
    let publisher = publisher(4);
    let tally = Arc::new(Tally::default());
    let viewer = PacedViewer::new(admit(&publisher, &tally), None);
    let (_client, server) = tokio::io::duplex(64); // smaller than one frame
    let config = WsConfig {
        write_timeout: Duration::from_millis(500),
        ..WsConfig::default()
    };
    let task = tokio::spawn(async move { serve(server, viewer, |_| Bytes::new(), &config).await });
    tokio::task::yield_now().await;
    let mut big = Frame::new(
        1,
        Bytes::from(vec![0u8; 1000]),
        mjpeg_codec::Timestamp::now(),
        crate::FrameState::Live,
        (),
    );
    big.published_at = std::time::Instant::now();
    publisher.publish(Arc::new(big));
    let ended = task.await.expect("no panic");
    assert_eq!(ended.map_err(|e| e.kind()), Err(ErrorKind::WriteTimeout));
    assert_eq!(tally.evicted.load(Ordering::Relaxed), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tiered_viewer_gets_its_tier_in_the_text_and_the_tier_jpeg() {
    use quality_tiers::{ChooserConfig, Ladder, Pins, QualityChoice};
    const VGA: &[u8] = include_bytes!("../../../quality-tiers/testdata/vga-640x480.jpg");
    let camera = publisher(4);
    let tiers = Arc::new(crate::CameraTiers::spawn(
        camera.handle(),
        Ladder::default(),
        broadcast_core::Config::default(),
    ));
    let tally = Arc::new(Tally::default());
    let pins = Pins {
        quality: QualityChoice::Fixed(Tier::Medium),
        max_fps: None,
    };
    let viewer = crate::TieredViewer::new(
        tiers.clone(),
        PacedViewer::new(admit(&camera, &tally), None),
        pins,
        None,
        ChooserConfig::default(),
    );
    let (mut client, server) = tokio::io::duplex(1 << 20);
    let text =
        |f: &Frame, tier: Tier| Bytes::from(format!("{{\"id\":{},\"quality\":\"{tier}\"}}", f.id));
    let task =
        tokio::spawn(async move { serve_tiered(server, viewer, text, &WsConfig::default()).await });
    let publishing = tokio::spawn(async move {
        for id in 0.. {
            let jpeg = Bytes::from_static(VGA);
            let now = mjpeg_codec::Timestamp::now();
            camera.publish(Arc::new(Frame::new(
                id,
                jpeg,
                now,
                crate::FrameState::Live,
                (),
            )));
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
    });
    let mut last = None;
    for _ in 0..3 {
        let (opcode, text) = read_frame(&mut client).await;
        assert_eq!(opcode, 0x1);
        let text = String::from_utf8(text).expect("UTF-8");
        assert!(text.ends_with(",\"quality\":\"medium\"}"), "{text}");
        let id: u64 = text[6..text.find(',').expect("a comma")]
            .parse()
            .expect("an id");
        assert!(last.is_none_or(|last| id > last), "ids increase");
        last = Some(id);
        let (opcode, jpeg) = read_frame(&mut client).await;
        assert_eq!(opcode, 0x2);
        let picture = quality_tiers::decode(&jpeg, quality_tiers::Channels::Rgb).expect("a JPEG");
        assert_eq!((picture.width, picture.height), (320, 240));
    }
    publishing.abort();
    task.abort();
}
