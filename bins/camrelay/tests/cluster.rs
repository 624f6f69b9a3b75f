//! Relays clustered over a real `nats-server` (Debian package `nats-server`), each relay a real
//! `camrelay` process, sharing one mock ESP32-CAM that serves one client: one upstream for the
//! cluster, the same frame ids on every node, failover after `kill -9` of the owner, recovery
//! after a NATS restart, a stalled node (and a viewer that never reads) that slows nobody else,
//! detections made once per cluster (on the owner, for the followers' viewers), and the
//! start-up errors.
//!
//! The tests assert on counts, order and ids, never on rates; they run one at a time (the
//! machine may have two cores).
#![allow(clippy::unwrap_used)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use mjpeg_codec::{DecoderConfig, MjpegDecoder};
use mock_camera::{MockCamera, MockConfig};
use serde_json::Value;

/// The camera's name on every node.
const CAMERA: &str = "porch";
/// Its stream path.
const STREAM: &str = "/cams/porch/stream";

/// Makes the tests of this file run one at a time.
async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    SERIAL.lock().await
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_listening(addr: SocketAddr, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "{what} did not listen on {addr}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[path = "../../../crates/frame-bus/tests/support/mod.rs"]
mod nats_server;
use nats_server::NatsServer as Nats;

/// One `camrelay` process of cluster `test`, serving the mock camera as `porch`; killed on drop.
struct Relay {
    node: String,
    child: Option<Child>,
    addr: SocketAddr,
    log: PathBuf,
}

impl Relay {
    fn start(nats: &Nats, node: &str, camera_url: &str, logs: &Path) -> Relay {
        Relay::start_with(nats, node, camera_url, logs, &["--no-detect"])
    }

    /// A node that runs the detector (the embedded model) when someone wants detections.
    fn start_detecting(nats: &Nats, node: &str, camera_url: &str, logs: &Path) -> Relay {
        Relay::start_with(nats, node, camera_url, logs, &["--write-timeout", "60"])
    }

    fn start_with(nats: &Nats, node: &str, camera_url: &str, logs: &Path, extra: &[&str]) -> Relay {
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let log = logs.join(format!("{node}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_camrelay"))
            .args(["--listen", &addr.to_string()])
            .args(extra)
            .arg("--camera")
            .arg(format!("{CAMERA}={camera_url}"))
            .args(["--nats", &nats.url(), "--node", node, "--cluster", "test"])
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        wait_listening(addr, node);
        Relay {
            node: node.to_owned(),
            child: Some(child),
            addr,
            log,
        }
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// `kill -9`.
    fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// Sends `signal` (`STOP`, `CONT`) with kill(1).
    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} {}", self.pid());
    }

    /// The tail of its log, for failure messages.
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let from = lines.len().saturating_sub(30);
        format!("--- {} ---\n{}", self.node, lines[from..].join("\n"))
    }

    async fn stats(&self) -> Value {
        let (status, body) = get(self.addr, "/api/stats").await;
        assert_eq!(status, http::StatusCode::OK, "{}", self.node);
        serde_json::from_slice(&body).unwrap()
    }

    /// `(reads, owner)` of the camera from `/api/stats`.
    async fn cluster(&self) -> (String, String) {
        let stats = self.stats().await;
        let cluster = &stats["cameras"][0]["cluster"];
        (
            cluster["reads"].as_str().unwrap_or("").to_owned(),
            cluster["owner"].as_str().unwrap_or("").to_owned(),
        )
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-CONT", &child.id().to_string()])
                .status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// All nodes' log tails.
fn logs(relays: &[&Relay]) -> String {
    relays
        .iter()
        .map(|r| r.log_tail())
        .collect::<Vec<_>>()
        .join("\n")
}

async fn get(addr: SocketAddr, path: &str) -> (http::StatusCode, Bytes) {
    let (status, body) = request(addr, path).await.unwrap();
    (status, body.collect().await.unwrap().to_bytes())
}

async fn request(
    addr: SocketAddr,
    path: &str,
) -> std::io::Result<(http::StatusCode, hyper::body::Incoming)> {
    let io = tokio::net::TcpStream::connect(addr).await?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(std::io::Error::other)?;
    tokio::spawn(connection);
    let request = http::Request::get(path)
        .header(http::header::HOST, addr.to_string())
        .body(Empty::<Bytes>::new())
        .map_err(std::io::Error::other)?;
    let response = sender
        .send_request(request)
        .await
        .map_err(std::io::Error::other)?;
    let (parts, body) = response.into_parts();
    Ok((parts.status, body))
}

/// One part as a viewer received it.
#[derive(Debug, Clone)]
struct Part {
    id: u64,
    offline: bool,
    timestamp: Option<String>,
    jpeg: Bytes,
}

/// What a viewer has seen so far, filled by its task.
#[derive(Debug, Default)]
struct Seen {
    parts: Vec<Part>,
    /// The response ended (or failed).
    ended: bool,
}

/// A viewer of the camera on one node: one HTTP response, read by a task until dropped.
struct Viewer {
    seen: Arc<Mutex<Seen>>,
    task: tokio::task::JoinHandle<()>,
}

impl Viewer {
    async fn connect(relay: &Relay) -> Viewer {
        Viewer::connect_to(relay, STREAM).await
    }

    async fn connect_to(relay: &Relay, path: &str) -> Viewer {
        let (status, body) = request(relay.addr, path).await.unwrap();
        assert_eq!(status, http::StatusCode::OK);
        let decoder = MjpegDecoder::new(Some("camrelayframe"), DecoderConfig::default());
        let mut parts = mjpeg_codec::body_stream(body, decoder);
        let seen = Arc::new(Mutex::new(Seen::default()));
        let task = tokio::spawn({
            let seen = seen.clone();
            async move {
                while let Some(part) = parts.next().await {
                    let part = match part {
                        Ok(part) => part,
                        Err(error) if error.is_recoverable() => continue,
                        Err(_) => break,
                    };
                    let headers = part.headers();
                    let id = headers
                        .get("x-frame-id")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(u64::MAX);
                    let offline = headers.get("x-camera-state") == Some("offline");
                    let timestamp = headers.get("x-timestamp").map(str::to_owned);
                    seen.lock().unwrap().parts.push(Part {
                        id,
                        offline,
                        timestamp,
                        jpeg: part.into_body(),
                    });
                }
                seen.lock().unwrap().ended = true;
            }
        });
        Viewer { seen, task }
    }

    fn parts(&self) -> Vec<Part> {
        self.seen.lock().unwrap().parts.clone()
    }

    fn live(&self) -> Vec<Part> {
        self.parts().into_iter().filter(|p| !p.offline).collect()
    }

    fn ended(&self) -> bool {
        self.seen.lock().unwrap().ended
    }

    /// Waits until `n` live parts arrived (at most `within`).
    async fn wait_live(&self, n: usize, within: Duration) -> Vec<Part> {
        let deadline = Instant::now() + within;
        loop {
            let live = self.live();
            if live.len() >= n {
                return live;
            }
            assert!(!self.ended(), "the stream ended after {} parts", live.len());
            assert!(
                Instant::now() < deadline,
                "{} live parts within {within:?}, wanted {n}",
                live.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until a live part with an id above `above` arrived; returns it.
    async fn wait_live_above(&self, above: u64, within: Duration) -> Option<Part> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(part) = self.live().into_iter().find(|p| p.id > above) {
                return Some(part);
            }
            if self.ended() || Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Viewer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Ids never go back (cards keep the last id) and live ids strictly increase.
fn assert_ids_go_forward(parts: &[Part], who: &str) {
    let ids: Vec<u64> = parts.iter().map(|p| p.id).collect();
    assert!(
        ids.windows(2).all(|w| w[0] <= w[1]),
        "{who}: ids went back: {ids:?}"
    );
    let live: Vec<u64> = parts.iter().filter(|p| !p.offline).map(|p| p.id).collect();
    assert!(
        live.windows(2).all(|w| w[0] < w[1]),
        "{who}: live ids not increasing: {live:?}"
    );
}

/// A live frame id seen by both viewers carries the same capture time and bytes on both;
/// returns how many ids they share. (Offline cards keep the last id but are each node's own.)
fn assert_same_frames(a: &[Part], b: &[Part], who: &str) -> usize {
    let mut common = 0;
    for part in a.iter().filter(|p| !p.offline) {
        if let Some(other) = b.iter().find(|o| !o.offline && o.id == part.id) {
            assert_eq!(part.timestamp, other.timestamp, "{who}: frame {}", part.id);
            assert!(part.jpeg == other.jpeg, "{who}: frame {} bytes", part.id);
            common += 1;
        }
    }
    common
}

async fn mock_camera() -> MockCamera {
    MockCamera::start(
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
    .unwrap()
}

/// Polls every node's `/api/stats` until exactly one reads the camera and every other reads
/// the bus naming that owner; returns the owner's index.
async fn one_owner(relays: &[&Relay], within: Duration) -> usize {
    let deadline = Instant::now() + within;
    loop {
        let mut views = Vec::new();
        for relay in relays {
            views.push(relay.cluster().await);
        }
        let owners: Vec<usize> = (0..views.len())
            .filter(|i| views[*i].0 == "camera")
            .collect();
        if let [owner] = owners[..] {
            let agree = views.iter().enumerate().all(|(i, (reads, named))| {
                *named == relays[owner].node && (i == owner || reads == "bus")
            });
            if agree {
                return owner;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no single owner within {within:?}: {views:?}\n{}",
            logs(relays)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_then_three_nodes_share_one_upstream_and_show_the_same_ids() {
    let _serial = serial().await;
    let nats = Nats::start();
    let mock = mock_camera().await;
    let dir = tempfile::tempdir().unwrap();
    let a = Relay::start(&nats, "a", &mock.stream_url(), dir.path());
    let b = Relay::start(&nats, "b", &mock.stream_url(), dir.path());

    // Two nodes: the first viewer makes `a` the owner; `b`'s viewer reads the bus.
    let viewer_a = Viewer::connect(&a).await;
    viewer_a.wait_live(5, Duration::from_secs(10)).await;
    let viewer_b = Viewer::connect(&b).await;
    viewer_b.wait_live(40, Duration::from_secs(15)).await;
    assert_eq!(one_owner(&[&a, &b], Duration::from_secs(5)).await, 0);
    let upstream = |stats: &Value| stats["cameras"][0]["upstream"]["state"].clone();
    assert_eq!(upstream(&a.stats().await), "streaming");
    assert_eq!(upstream(&b.stats().await), "bus");
    let stats = mock.stats();
    assert_eq!(stats.stream_connections_total, 1, "one upstream: {stats:?}");
    assert_eq!(stats.stream_clients, 1, "{stats:?}");
    let (seen_a, seen_b) = (viewer_a.parts(), viewer_b.parts());
    assert_ids_go_forward(&seen_a, "a");
    assert_ids_go_forward(&seen_b, "b");
    let common = assert_same_frames(&seen_a, &seen_b, "a/b");
    assert!(common >= 30, "{common} frames in common");

    // A third node joins: still one upstream, the same frames under the same ids everywhere.
    let c = Relay::start(&nats, "c", &mock.stream_url(), dir.path());
    let viewer_c = Viewer::connect(&c).await;
    viewer_c.wait_live(40, Duration::from_secs(15)).await;
    assert_eq!(one_owner(&[&a, &b, &c], Duration::from_secs(5)).await, 0);
    let stats = mock.stats();
    assert_eq!(stats.stream_connections_total, 1, "one upstream: {stats:?}");
    assert_eq!(stats.stream_clients, 1, "{stats:?}");
    let (seen_a, seen_b, seen_c) = (viewer_a.parts(), viewer_b.parts(), viewer_c.parts());
    for (seen, who) in [(&seen_a, "a"), (&seen_b, "b"), (&seen_c, "c")] {
        assert_ids_go_forward(seen, who);
        assert!(seen.iter().all(|p| !p.offline), "{who}: an offline card");
    }
    assert!(assert_same_frames(&seen_a, &seen_c, "a/c") >= 30);
    assert!(assert_same_frames(&seen_b, &seen_c, "b/c") >= 30);

    // The bus carried frames to the followers, published by the owner only.
    let (sa, sb, sc) = (a.stats().await, b.stats().await, c.stats().await);
    assert!(sa["bus"]["frames_published"].as_u64().unwrap() > 0, "{sa}");
    for s in [&sb, &sc] {
        assert_eq!(s["bus"]["frames_published"].as_u64(), Some(0), "{s}");
        assert!(s["bus"]["frames_received"].as_u64().unwrap() > 0, "{s}");
        assert_eq!(s["bus"]["connected"].as_bool(), Some(true), "{s}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_owner_moves_the_camera_and_viewers_stay_connected() {
    let _serial = serial().await;
    let nats = Nats::start();
    let mock = mock_camera().await;
    let dir = tempfile::tempdir().unwrap();
    let mut a = Relay::start(&nats, "a", &mock.stream_url(), dir.path());
    let viewer_a = Viewer::connect(&a).await;
    viewer_a.wait_live(5, Duration::from_secs(10)).await;
    let b = Relay::start(&nats, "b", &mock.stream_url(), dir.path());
    let c = Relay::start(&nats, "c", &mock.stream_url(), dir.path());
    let viewer_b = Viewer::connect(&b).await;
    let viewer_c = Viewer::connect(&c).await;
    viewer_b.wait_live(20, Duration::from_secs(10)).await;
    viewer_c.wait_live(20, Duration::from_secs(10)).await;
    assert_eq!(one_owner(&[&a, &b, &c], Duration::from_secs(5)).await, 0);

    a.kill9();
    let killed = Instant::now();
    let last = [&viewer_b, &viewer_c]
        .iter()
        .filter_map(|v| v.live().last().map(|p| p.id))
        .max()
        .unwrap();
    drop(viewer_a);

    // One of the survivors takes the camera within 3 s (the lease's TTL is 2 s)...
    let new_owner = loop {
        let (reads_b, _) = b.cluster().await;
        let (reads_c, _) = c.cluster().await;
        if reads_b == "camera" || reads_c == "camera" {
            break if reads_b == "camera" { "b" } else { "c" };
        }
        assert!(
            killed.elapsed() < Duration::from_secs(3),
            "no takeover within 3 s: b {reads_b}, c {reads_c}\n{}",
            logs(&[&b, &c])
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let took_over = killed.elapsed();
    // ...and the viewers, on the same responses, see new frames with ids going on.
    for (viewer, who) in [(&viewer_b, "b"), (&viewer_c, "c")] {
        let part = viewer
            .wait_live_above(last, Duration::from_secs(5))
            .await
            .unwrap_or_else(|| panic!("{who}: no new frame\n{}", logs(&[&b, &c])));
        assert!(part.id > last);
        viewer
            .wait_live(viewer.live().len() + 20, Duration::from_secs(10))
            .await;
        assert!(!viewer.ended(), "{who}: disconnected");
        assert_ids_go_forward(&viewer.parts(), who);
    }
    let owner = one_owner(&[&b, &c], Duration::from_secs(2)).await;
    assert_eq!(
        [&b, &c][owner].node,
        new_owner,
        "took over in {took_over:?}"
    );
    // The same frames on both survivors, under the same ids.
    assert!(assert_same_frames(&viewer_b.parts(), &viewer_c.parts(), "b/c") >= 20);
    // The new owner reads the camera on a second connection; the dead one's is gone.
    let stats = mock.stats();
    assert_eq!(stats.stream_connections_total, 2, "{stats:?}");
    assert_eq!(stats.stream_clients, 1, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_recovers_after_a_nats_restart() {
    let _serial = serial().await;
    let mut nats = Nats::start();
    let mock = mock_camera().await;
    let dir = tempfile::tempdir().unwrap();
    let a = Relay::start(&nats, "a", &mock.stream_url(), dir.path());
    let viewer_a = Viewer::connect(&a).await;
    viewer_a.wait_live(5, Duration::from_secs(10)).await;
    let b = Relay::start(&nats, "b", &mock.stream_url(), dir.path());
    let viewer_b = Viewer::connect(&b).await;
    viewer_b.wait_live(20, Duration::from_secs(10)).await;
    assert_eq!(one_owner(&[&a, &b], Duration::from_secs(5)).await, 0);

    // NATS gone: the owner keeps serving its camera.
    nats.kill();
    let before = viewer_a.live().last().unwrap().id;
    let part = viewer_a
        .wait_live_above(before + 20, Duration::from_secs(10))
        .await
        .expect("the owner serves on without NATS");
    assert!(part.id > before);
    let stats = a.stats().await;
    assert_eq!(stats["bus"]["connected"].as_bool(), Some(false), "{stats}");

    // NATS back on the same port and store: the follower's viewer gets frames again, one owner.
    nats.restart();
    let restarted = Instant::now();
    let last_b = viewer_b.live().last().unwrap().id;
    let above = part.id.max(last_b);
    let fresh = viewer_b
        .wait_live_above(above, Duration::from_secs(20))
        .await
        .unwrap_or_else(|| panic!("no frame on b after the restart\n{}", logs(&[&a, &b])));
    assert!(fresh.id > above);
    viewer_b
        .wait_live(viewer_b.live().len() + 20, Duration::from_secs(10))
        .await;
    let owner = one_owner(&[&a, &b], Duration::from_secs(10)).await;
    for relay in [&a, &b] {
        let stats = relay.stats().await;
        assert_eq!(stats["bus"]["connected"].as_bool(), Some(true), "{stats}");
    }
    for (viewer, who) in [(&viewer_a, "a"), (&viewer_b, "b")] {
        assert!(!viewer.ended(), "{who}: disconnected");
        assert_ids_go_forward(&viewer.parts(), who);
    }
    assert!(
        assert_same_frames(&viewer_a.parts(), &viewer_b.parts(), "a/b") >= 20,
        "owner {owner}, recovered in {:?}",
        restarted.elapsed()
    );
    let stats = mock.stats();
    assert_eq!(stats.stream_clients, 1, "one upstream: {stats:?}");
}

/// A client that asks for the stream and never reads it.
async fn dead_viewer(addr: SocketAddr) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(addr).await.unwrap();
    stream
        .write_all(format!("GET {STREAM} HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    stream
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_node_and_a_viewer_that_never_reads_slow_nobody_else() {
    let _serial = serial().await;
    let nats = Nats::start();
    let mock = mock_camera().await;
    let dir = tempfile::tempdir().unwrap();
    let a = Relay::start(&nats, "a", &mock.stream_url(), dir.path());
    let viewer_a = Viewer::connect(&a).await;
    viewer_a.wait_live(5, Duration::from_secs(10)).await;
    let b = Relay::start(&nats, "b", &mock.stream_url(), dir.path());
    let c = Relay::start(&nats, "c", &mock.stream_url(), dir.path());
    let viewer_b = Viewer::connect(&b).await;
    let viewer_c = Viewer::connect(&c).await;
    viewer_b.wait_live(20, Duration::from_secs(10)).await;
    viewer_c.wait_live(20, Duration::from_secs(10)).await;
    assert_eq!(one_owner(&[&a, &b, &c], Duration::from_secs(5)).await, 0);

    // A viewer on `c` that never reads (small receive buffer), and `b` stops dead for 4 s:
    // subscribed, reading nothing.
    let _dead = dead_viewer(c.addr).await;
    let start_a = viewer_a.live().len();
    let start_c = viewer_c.live().len();
    b.signal("STOP");
    tokio::time::sleep(Duration::from_secs(4)).await;
    let during_a: Vec<u64> = viewer_a.live()[start_a..].iter().map(|p| p.id).collect();
    let during_c: Vec<u64> = viewer_c.live()[start_c..].iter().map(|p| p.id).collect();
    b.signal("CONT");

    // The owner's viewer got every frame meanwhile, and the other follower's got frames.
    assert!(during_a.len() >= 20, "a: {during_a:?}");
    assert!(
        during_a.windows(2).all(|w| w[1] == w[0] + 1),
        "a gap on the owner: {during_a:?}"
    );
    assert!(during_c.len() >= 10, "c: {during_c:?}");
    assert!(during_c.windows(2).all(|w| w[0] < w[1]), "c: {during_c:?}");

    // `b` catches up with fresh frames, its viewer still on the same response.
    let newest = viewer_a.live().last().unwrap().id;
    viewer_b
        .wait_live_above(newest, Duration::from_secs(10))
        .await
        .unwrap_or_else(|| panic!("b did not catch up\n{}", logs(&[&a, &b, &c])));
    assert!(!viewer_b.ended());
    assert_ids_go_forward(&viewer_b.parts(), "b");
    assert_eq!(mock.stats().stream_connections_total, 1);
}

/// A viewer of a node's server-sent detection events (`/cams/porch/detections`), read by a
/// task until dropped (which closes the connection).
struct Events {
    seen: Arc<Mutex<Vec<Value>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Events {
    async fn connect(relay: &Relay) -> Events {
        let (status, mut body) = request(relay.addr, "/cams/porch/detections").await.unwrap();
        assert_eq!(status, http::StatusCode::OK);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn({
            let seen = seen.clone();
            async move {
                let mut buffer = Vec::new();
                while let Some(Ok(frame)) = body.frame().await {
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    buffer.extend_from_slice(&data);
                    while let Some(end) = buffer.windows(2).position(|w| w == b"\n\n") {
                        let event: Vec<u8> = buffer.drain(..end + 2).collect();
                        let text = String::from_utf8_lossy(&event);
                        if let Some(json) = text.trim().strip_prefix("data: ") {
                            seen.lock()
                                .unwrap()
                                .push(serde_json::from_str(json).unwrap());
                        }
                    }
                }
            }
        });
        Events { seen, task }
    }

    /// The live events so far (offline cards are events too).
    fn live(&self) -> Vec<Value> {
        let seen = self.seen.lock().unwrap();
        seen.iter()
            .filter(|e| e["state"] == "live")
            .cloned()
            .collect()
    }

    async fn wait_live(&self, n: usize, within: Duration, relays: &[&Relay]) -> Vec<Value> {
        let deadline = Instant::now() + within;
        loop {
            let live = self.live();
            if live.len() >= n {
                return live;
            }
            assert!(
                Instant::now() < deadline,
                "{} live detection events within {within:?}, wanted {n}\n{}",
                live.len(),
                logs(relays)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn id_of(event: &Value) -> u64 {
    event["frame_id"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detections_are_made_once_per_cluster_on_the_owner() {
    let _serial = serial().await;
    let nats = Nats::start();
    let mock = mock_camera().await;
    let dir = tempfile::tempdir().unwrap();
    let a = Relay::start_detecting(&nats, "a", &mock.stream_url(), dir.path());
    let b = Relay::start_detecting(&nats, "b", &mock.stream_url(), dir.path());
    let all = [&a, &b];

    // `a` owns the camera (its raw viewer came first) and watches the detections itself.
    let raw_a = Viewer::connect(&a).await;
    raw_a.wait_live(5, Duration::from_secs(10)).await;
    let events_a = Events::connect(&a).await;
    let detect_a = Viewer::connect_to(&a, "/cams/porch/stream/detect").await;
    events_a.wait_live(3, Duration::from_secs(120), &all).await;
    // `b` gets a detection viewer (events) and an annotated-stream viewer: it asks `a`.
    let events_b = Events::connect(&b).await;
    let detect_b = Viewer::connect_to(&b, "/cams/porch/stream/detect").await;
    let got_b = events_b.wait_live(15, Duration::from_secs(60), &all).await;
    assert_eq!(one_owner(&all, Duration::from_secs(5)).await, 0);

    // The same frames under the same ids with the owner's very results (its inference time,
    // a float measured on `a`, travels along): `b`'s model never ran.
    let got_a = events_a.live();
    let mut common = 0;
    for event in &got_b {
        if let Some(owner) = got_a.iter().find(|e| id_of(e) == id_of(event)) {
            assert_eq!(
                event["detections"], owner["detections"],
                "{event} vs {owner}"
            );
            assert_eq!(
                event["inference_ms"], owner["inference_ms"],
                "{event} vs {owner}"
            );
            assert_eq!(event["timestamp"], owner["timestamp"], "{event} vs {owner}");
            common += 1;
        }
    }
    assert!(common >= 5, "{common} events in common\n{}", logs(&all));
    let ids_b: Vec<u64> = got_b.iter().map(id_of).collect();
    assert!(ids_b.windows(2).all(|w| w[0] < w[1]), "{ids_b:?}");
    let owner_ids: Vec<u64> = raw_a.live().iter().map(|p| p.id).collect();
    assert!(ids_b.iter().all(|id| owner_ids.contains(id)), "{ids_b:?}");
    let annotated = detect_b.wait_live(5, Duration::from_secs(30)).await;
    assert!(annotated.iter().all(|p| owner_ids.contains(&p.id)));
    assert_ids_go_forward(&annotated, "b detect");
    // Drawn on `b` from the owner's detections, the annotated JPEGs are the owner's, byte for
    // byte (same frame, same boxes, same encoder settings).
    let drawn_alike = assert_same_frames(&detect_a.parts(), &detect_b.parts(), "a/b detect");
    assert!(drawn_alike >= 3, "{drawn_alike} annotated frames in common");

    let (sa, sb) = (a.stats().await, b.stats().await);
    let (da, db) = (&sa["cameras"][0]["detector"], &sb["cameras"][0]["detector"]);
    assert_eq!(db["runs"].as_u64(), Some(0), "b ran its model: {db}");
    assert_eq!(db["source"].as_str(), Some("bus"), "{db}");
    assert!(db["bus_frames"].as_u64().unwrap() >= 15, "{db}");
    assert_eq!(db["model"], da["model"], "{da} vs {db}");
    assert!(da["runs"].as_u64().unwrap() > 0, "{da}");
    assert_eq!(da["source"].as_str(), Some("model"), "{da}");
    assert_eq!(da["remote_demand"].as_bool(), Some(true), "{da}");
    assert!(
        sa["bus"]["detections_published"].as_u64().unwrap() > 0,
        "{sa}"
    );
    assert!(
        sb["bus"]["detections_received"].as_u64().unwrap() > 0,
        "{sb}"
    );

    // The owner's own detection viewer leaves: it keeps detecting for `b` alone.
    drop(events_a);
    drop(detect_a);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = events_b.live().len();
    events_b
        .wait_live(before + 10, Duration::from_secs(30), &all)
        .await;
    let (sa, sb) = (a.stats().await, b.stats().await);
    assert_eq!(sa["cameras"][0]["viewers"]["sse"].as_u64(), Some(0), "{sa}");
    assert_eq!(sa["cameras"][0]["detector"]["active"].as_bool(), Some(true));
    assert_eq!(
        sb["cameras"][0]["detector"]["runs"].as_u64(),
        Some(0),
        "{sb}"
    );

    // `b`'s detection viewers leave: the demand expires (3 s) and the owner's model stops.
    drop(events_b);
    drop(detect_b);
    let left = Instant::now();
    loop {
        let stats = a.stats().await;
        if stats["cameras"][0]["detector"]["active"].as_bool() == Some(false) {
            break;
        }
        assert!(
            left.elapsed() < Duration::from_secs(10),
            "the owner still detects: {}\n{}",
            stats["cameras"][0]["detector"],
            logs(&all)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        left.elapsed() >= Duration::from_secs(1),
        "{:?}",
        left.elapsed()
    );
    assert_eq!(mock.stats().stream_connections_total, 1);

    // `b` asks again; then `a`'s last viewer leaves. Detecting for `b` alone does not keep the
    // camera on `a`: after its idle timeout (10 s) `a` releases it, `b` takes it over and runs
    // its own model, its viewer's events going on with increasing ids.
    let events_b = Events::connect(&b).await;
    let asked = events_b.wait_live(5, Duration::from_secs(30), &all).await;
    let stats = b.stats().await;
    assert_eq!(stats["cameras"][0]["detector"]["runs"].as_u64(), Some(0));
    drop(raw_a);
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let (reads, _) = b.cluster().await;
        let detector = &b.stats().await["cameras"][0]["detector"];
        if reads == "camera" && detector["runs"].as_u64().unwrap() > 0 {
            assert_eq!(detector["source"].as_str(), Some("model"), "{detector}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "b did not take over: {reads} {detector}\n{}",
            logs(&all)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let before = events_b.live().len();
    let all_events = events_b
        .wait_live(before + 5, Duration::from_secs(30), &all)
        .await;
    assert!(all_events.len() > asked.len());
    let ids: Vec<u64> = all_events.iter().map(id_of).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    assert_eq!(mock.stats().stream_connections_total, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_whose_owner_does_not_detect_runs_its_own_model_after_10_s() {
    let _serial = serial().await;
    let nats = Nats::start();
    let mock = mock_camera().await;
    let dir = tempfile::tempdir().unwrap();
    // `a` owns the camera with detection off; `b` has a detection viewer.
    let a = Relay::start(&nats, "a", &mock.stream_url(), dir.path());
    let raw_a = Viewer::connect(&a).await;
    raw_a.wait_live(5, Duration::from_secs(10)).await;
    let b = Relay::start_detecting(&nats, "b", &mock.stream_url(), dir.path());
    let all = [&a, &b];
    let asked = Instant::now();
    let events_b = Events::connect(&b).await;

    // First `b` waits for the owner's detections: no model run, no event.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let stats = b.stats().await;
    assert_eq!(stats["cameras"][0]["detector"]["runs"].as_u64(), Some(0));
    assert!(events_b.live().is_empty());

    // After 10 s of silence it runs its own model on the owner's frames (same ids).
    let got = events_b.wait_live(5, Duration::from_secs(90), &all).await;
    assert!(
        asked.elapsed() >= Duration::from_secs(9),
        "{:?}",
        asked.elapsed()
    );
    assert_eq!(one_owner(&all, Duration::from_secs(5)).await, 0);
    let owner_ids: Vec<u64> = raw_a.live().iter().map(|p| p.id).collect();
    assert!(got.iter().all(|e| owner_ids.contains(&id_of(e))), "{got:?}");
    let detector = &b.stats().await["cameras"][0]["detector"];
    assert!(detector["runs"].as_u64().unwrap() > 0, "{detector}");
    assert_eq!(detector["source"].as_str(), Some("model"), "{detector}");
    assert_eq!(detector["bus_frames"].as_u64(), Some(0), "{detector}");
    assert_eq!(mock.stats().stream_connections_total, 1);
}

#[test]
fn start_up_errors_name_nats_and_bad_names_exit_2() {
    // Nothing listens on the port: a start error that names NATS, exit status non-zero.
    let port = free_port();
    let out = Command::new(env!("CARGO_BIN_EXE_camrelay"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--no-detect",
            "--camera",
            "d=demo",
        ])
        .args(["--nats", &format!("nats://127.0.0.1:{port}"), "--node", "a"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("NATS"), "{stderr}");

    // A node name that cannot be a subject token: bad input, exit status 2, said why.
    let out = Command::new(env!("CARGO_BIN_EXE_camrelay"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--no-detect",
            "--camera",
            "d=demo",
        ])
        .args([
            "--nats",
            &format!("nats://127.0.0.1:{port}"),
            "--node",
            "a.b",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("a.b"), "{stderr}");
}
