//! The detection task of a cluster follower, with a fake cluster: the owner's detections are
//! drawn on this node's frames of the same id, and the model never runs.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use esp32_source::CameraFrame;
use futures_util::future::BoxFuture;
use futures_util::stream::{self, BoxStream, StreamExt};
use futures_util::FutureExt;
use mjpeg_codec::Timestamp;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::cluster::{ClusterLink, Membership, Role};
use crate::detect_share::SharedDetections;
use crate::frame::{FrameState, SharedFrame};
use crate::{Camera, CameraSpec, HubSettings, SourceSpec};

/// A follower of owner `a`: the test feeds the owner's frames and detections.
struct Follower {
    role: watch::Sender<Role>,
    frames: Mutex<Option<mpsc::Receiver<CameraFrame>>>,
    detections: Mutex<Option<mpsc::Receiver<SharedDetections>>>,
    /// How often this node asked for the owner's detections.
    asked: AtomicUsize,
}

fn stream_of<T: Send + 'static>(rx: Option<mpsc::Receiver<T>>) -> BoxStream<'static, T> {
    match rx {
        Some(rx) => {
            stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|x| (x, rx)) }).boxed()
        }
        None => stream::pending().boxed(),
    }
}

impl ClusterLink for Follower {
    fn join(&self) -> Membership {
        Membership {
            role: self.role.subscribe(),
            guard: Box::new(()),
        }
    }

    fn bus_frames(&self) -> BoxFuture<'static, BoxStream<'static, CameraFrame>> {
        let rx = self.frames.lock().expect("lock").take();
        async move { stream_of(rx) }.boxed()
    }

    fn publish(&self, _frame: &SharedFrame) {}

    fn bus_detections(&self) -> BoxFuture<'static, BoxStream<'static, SharedDetections>> {
        self.asked.fetch_add(1, Ordering::Relaxed);
        let rx = self.detections.lock().expect("lock").take();
        async move { stream_of(rx) }.boxed()
    }
}

fn owner_frame(id: u64) -> CameraFrame {
    CameraFrame {
        jpeg: mock_camera::placeholder_jpeg(64, 48, &[&id.to_string()]),
        camera_time: Some(Timestamp::now()),
        upstream_id: Some(id),
        upstream_offline: false,
        received_at: std::time::Instant::now(),
        received_wall: Timestamp::now(),
    }
}

fn found(id: u64) -> SharedDetections {
    SharedDetections {
        frame_id: id,
        model: "owner-model".into(),
        detections: vec![yolo_detect::Detection {
            class_id: 15,
            class_name: "cat".into(),
            score: 0.75,
            bbox: yolo_detect::BBox {
                x1: 1.0,
                y1: 2.0,
                x2: 40.0,
                y2: 30.0,
            },
        }],
        inference_ms: 31.25,
        total_ms: 40.0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_draws_the_owners_detections_on_its_frames_and_runs_no_model() {
    // A model path that does not exist: had the follower tried its own model, it would fail.
    let settings = HubSettings {
        model: Some("/nonexistent/model.onnx".into()),
        ..HubSettings::default()
    };
    let (camera, tasks) =
        Camera::new(CameraSpec::new("porch", SourceSpec::Demo), &settings).expect("camera");
    let (frames, frames_rx) = mpsc::channel(16);
    let (detections, detections_rx) = mpsc::channel(16);
    let link = Arc::new(Follower {
        role: watch::channel(Role::Bus { owner: "a".into() }).0,
        frames: Mutex::new(Some(frames_rx)),
        detections: Mutex::new(Some(detections_rx)),
        asked: AtomicUsize::new(0),
    });
    let shutdown = CancellationToken::new();
    let handles =
        tasks
            .clustered(link.clone())
            .spawn(&camera, &settings, Box::new(|_| {}), &shutdown);

    // A detection viewer: the follower asks the owner for detections.
    let mut viewer = camera.detect.subscribe();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while link.asked.load(Ordering::Relaxed) == 0 {
        assert!(tokio::time::Instant::now() < deadline, "never asked");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The owner's model took 9001 and 9003; 9003's detections overtake their frame.
    for id in 9000..=9002 {
        frames.send(owner_frame(id)).await.expect("open");
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    detections.send(found(9001)).await.expect("open");
    detections.send(found(9003)).await.expect("open");
    detections.send(found(8000)).await.expect("open"); // long gone: counted
    tokio::time::sleep(Duration::from_millis(100)).await;
    frames.send(owner_frame(9003)).await.expect("open");

    let mut annotated = Vec::new();
    while annotated.len() < 2 {
        let frame = tokio::time::timeout(Duration::from_secs(10), viewer.recv())
            .await
            .expect("an annotated frame within 10 s")
            .expect("the camera runs")
            .item;
        if frame.state == FrameState::Live {
            annotated.push(frame);
        }
    }
    let ids: Vec<u64> = annotated.iter().map(|f| f.id).collect();
    assert_eq!(ids, [9001, 9003]);
    for frame in &annotated {
        let meta = frame.meta.detections.as_deref().expect("detections");
        assert_eq!(meta.detections, found(frame.id).detections);
        assert_eq!(meta.inference_ms, 31.25);
        assert!(frame.jpeg.starts_with(&[0xFF, 0xD8]));
    }
    let snapshot = camera.snapshot();
    let detector = &snapshot.detector;
    assert_eq!(detector.runs, 0);
    assert_eq!((detector.bus_frames, detector.bus_unmatched), (2, 1));
    assert_eq!(detector.source, Some("bus"));
    assert_eq!(detector.model.as_deref(), Some("owner-model"));
    assert!(!detector.remote_demand);

    shutdown.cancel();
    for handle in handles {
        handle.await.expect("task ended");
    }
}
