//! Two relays' camera hubs in one process, one real `nats-server` (Debian package
//! `nats-server`) and one mock ESP32-CAM that serves one client: one upstream for the cluster,
//! the same frame ids on both nodes, and failover when the owner stops.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use camera_hub::cluster::Role;
use camera_hub::frame::FrameState;
use camera_hub::{Camera, CameraSpec, HubSettings, SharedFrame, SourceSpec};
use frame_bus::{Bus, BusConfig};
use mock_camera::{MockCamera, MockConfig};
use tokio_util::sync::CancellationToken;

#[path = "../../frame-bus/tests/support/mod.rs"]
mod nats;
use nats::NatsServer;

/// One relay node's camera "porch" on the mock camera, clustered through NATS.
struct Node {
    camera: Arc<Camera>,
    shutdown: CancellationToken,
    handles: Vec<tokio::task::JoinHandle<()>>,
}

impl Node {
    async fn start(nats: &NatsServer, name: &str, mock: &MockCamera) -> Node {
        let bus = Bus::connect(BusConfig::new(nats.url(), "test", name))
            .await
            .unwrap();
        let settings = HubSettings {
            detect: false,
            ..HubSettings::default()
        };
        let spec = CameraSpec::new(
            "porch",
            SourceSpec::Stream {
                url: mock.stream_url(),
            },
        );
        let (camera, tasks) = Camera::new(spec, &settings).unwrap();
        let link = camera_cluster::BusLink::new(bus, "porch").unwrap();
        let shutdown = CancellationToken::new();
        let handles =
            tasks
                .clustered(Arc::new(link))
                .spawn(&camera, &settings, Box::new(|_| {}), &shutdown);
        Node {
            camera,
            shutdown,
            handles,
        }
    }

    fn role(&self) -> Option<Role> {
        self.camera.cluster_role.load_full().map(|r| (*r).clone())
    }

    async fn stop(self) {
        self.shutdown.cancel();
        for handle in self.handles {
            handle.await.unwrap();
        }
    }
}

/// Reads live frames of `viewer` until `n` arrived: (id, capture time) of each.
async fn live(
    viewer: &mut broadcast_core::Subscriber<SharedFrame>,
    n: usize,
) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    while out.len() < n {
        let frame = tokio::time::timeout(Duration::from_secs(10), viewer.recv())
            .await
            .expect("a frame within 10 s")
            .expect("the camera runs")
            .item;
        if frame.state == FrameState::Live && out.last().map(|(id, _)| *id) != Some(frame.id) {
            out.push((frame.id, frame.camera_time.to_string()));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_one_upstream_show_the_same_ids_and_fail_over() {
    let nats = NatsServer::start();
    let mock = MockCamera::start(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        MockConfig {
            max_clients: 1,
            fps: 20.0,
            width: 320,
            height: 240,
            ..MockConfig::default()
        },
    )
    .await
    .unwrap();
    let a = Node::start(&nats, "a", &mock).await;
    let b = Node::start(&nats, "b", &mock).await;
    let mut viewer_a = a.camera.raw.subscribe();
    let mut viewer_b = b.camera.raw.subscribe();

    // Both nodes show frames; one reads the camera, the other the bus.
    let (seen_a, seen_b) = tokio::join!(live(&mut viewer_a, 40), live(&mut viewer_b, 40));
    let roles = [a.role(), b.role()];
    let owner = match roles {
        [Some(Role::Camera), Some(Role::Bus { .. })] => 0,
        [Some(Role::Bus { .. }), Some(Role::Camera)] => 1,
        other => panic!("not one owner and one follower: {other:?}"),
    };
    assert_eq!(
        mock.stats().stream_connections_total,
        1,
        "one upstream for the cluster"
    );
    // The same frames under the same ids (and capture times) on both nodes.
    let common: Vec<&(u64, String)> = seen_a.iter().filter(|f| seen_b.contains(f)).collect();
    assert!(common.len() >= 20, "a: {seen_a:?}\nb: {seen_b:?}");
    for seen in [&seen_a, &seen_b] {
        assert!(seen.windows(2).all(|w| w[0].0 < w[1].0), "{seen:?}");
    }

    // The owner stops (its lease is no longer renewed); the other node takes the camera over
    // within 3 s, and its viewer, still connected, sees the ids go on.
    let (survivor, mut viewer, last) = if owner == 0 {
        a.stop().await;
        (b, viewer_b, seen_b.last().unwrap().0)
    } else {
        b.stop().await;
        (a, viewer_a, seen_a.last().unwrap().0)
    };
    let stopped = Instant::now();
    while survivor.role() != Some(Role::Camera) {
        assert!(
            stopped.elapsed() < Duration::from_secs(3),
            "no failover within 3 s: {:?}",
            survivor.role()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let after = live(&mut viewer, 10).await;
    assert!(after[0].0 > last, "ids went back: {last} then {after:?}");
    assert_eq!(mock.stats().stream_connections_total, 2);
    survivor.stop().await;
    mock.shutdown().await;
}
