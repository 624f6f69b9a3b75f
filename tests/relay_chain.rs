//! Relays in a chain and behind a proxy: relay B reading relay A's `/cams/NAME/stream` shows
//! A's frame ids and timestamps, ids never go back when A restarts, and nginx with
//! `docs/nginx.conf` in front of a relay passes the stream and its ids through.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use camrelay::config::{CameraConfig, RelayConfig, SourceSpec};
use camrelay_suite::*;

fn fast_idle(config: &mut RelayConfig) {
    config.idle_timeout = Duration::from_millis(300);
    config.detect = false;
}

/// A camera of relay B whose upstream is relay A's stream of camera `name`.
fn chained(name: &str, origin: SocketAddr, origin_camera: &str) -> CameraConfig {
    CameraConfig::new(
        name,
        SourceSpec::Stream {
            url: format!("http://{origin}/cams/{origin_camera}/stream"),
        },
    )
}

/// Reads `n` parts of `path` on `addr` in a task of its own.
fn read_parts(
    addr: SocketAddr,
    path: &'static str,
    n: usize,
) -> tokio::task::JoinHandle<Vec<Received>> {
    tokio::spawn(async move {
        let mut viewer = MjpegViewer::connect(addr, path).await.unwrap();
        assert_eq!(viewer.status, 200);
        viewer.take(n).await
    })
}

/// Checks that every live part `downstream` saw is a part `origin` saw: same id, same
/// timestamp, same JPEG; and that there are at least `min` of them, consecutive.
fn assert_same_frames(origin: &[Received], downstream: &[Received], min: usize) {
    let by_id: HashMap<u64, &Received> = origin.iter().map(|r| (r.frame_id, r)).collect();
    // Parts from before the origin's own viewer connected cannot be compared.
    let first = origin.first().map_or(0, |r| r.frame_id);
    let live: Vec<&Received> = downstream
        .iter()
        .filter(|r| r.camera_state.is_none() && r.frame_id >= first)
        .collect();
    assert!(live.len() >= min, "only {} live parts", live.len());
    for part in &live {
        let seen = by_id.get(&part.frame_id).unwrap_or_else(|| {
            panic!(
                "id {} never left the origin (origin ids {:?}..{:?})",
                part.frame_id,
                origin.first().map(|r| r.frame_id),
                origin.last().map(|r| r.frame_id)
            )
        });
        assert_eq!(part.timestamp, seen.timestamp, "id {}", part.frame_id);
        assert!(part.timestamp.is_some());
        assert_eq!(part.jpeg, seen.jpeg, "id {}", part.frame_id);
    }
    let ids: Vec<u64> = live.iter().map(|r| r.frame_id).collect();
    assert!(consecutive(&ids), "{ids:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chained_relay_shows_the_origins_frame_ids_and_timestamps() {
    let _serial = serial().await;
    let mock = start_mock(MockConfig::default()).await;
    let a = start_relay(vec![camera_for("cam", &mock)], fast_idle).await;
    // A counts for a while first, so its ids are not the 1, 2, 3 ... B would count itself.
    let mut early = MjpegViewer::connect(a.local_addr(), "/cams/cam/stream")
        .await
        .unwrap();
    let early = early.take(20).await;
    let origin = read_parts(a.local_addr(), "/cams/cam/stream", 150);
    let b = start_relay(vec![chained("porch", a.local_addr(), "cam")], fast_idle).await;
    let downstream = read_parts(b.local_addr(), "/cams/porch/stream", 40)
        .await
        .unwrap();
    let origin = origin.await.unwrap();

    assert!(
        downstream[0].frame_id > early[19].frame_id,
        "{downstream:?}"
    );
    assert_same_frames(&origin, &downstream, 30);
    // B's own counters and snapshot say the same.
    let (status, headers, _) = get(b.local_addr(), "/cams/porch/snapshot.jpg").await;
    assert_eq!(status, 200);
    let id: u64 = headers["x-frame-id"].to_str().unwrap().parse().unwrap();
    assert!(id >= downstream.last().unwrap().frame_id);

    b.shutdown().await;
    a.shutdown().await;
    mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_never_go_back_when_the_origin_restarts_and_counts_from_one() {
    let _serial = serial().await;
    let mock = start_mock(MockConfig::default()).await;
    let a = start_relay(vec![camera_for("cam", &mock)], fast_idle).await;
    let a_addr = a.local_addr();
    let b = start_relay(vec![chained("porch", a_addr, "cam")], fast_idle).await;
    let mut viewer = MjpegViewer::connect(b.local_addr(), "/cams/porch/stream")
        .await
        .unwrap();
    let before = viewer.take(60).await;
    let last_before = before.last().unwrap().frame_id;
    assert!(last_before >= 60, "{last_before}");

    // A restarts on the same port: its ids start from 1 again.
    a.shutdown().await;
    let a = start_relay(vec![camera_for("cam", &mock)], |config| {
        fast_idle(config);
        config.listen = a_addr;
    })
    .await;
    let mut after = Vec::new();
    while after
        .iter()
        .filter(|r: &&Received| r.camera_state.is_none())
        .count()
        < 30
    {
        after.push(
            viewer
                .next_within(Duration::from_secs(10))
                .await
                .expect("B's viewer stays connected"),
        );
    }
    let ids: Vec<u64> = before.iter().chain(&after).map(|r| r.frame_id).collect();
    assert!(
        ids.windows(2).all(|w| w[0] <= w[1]),
        "ids went back: {ids:?}"
    );
    // After the restart, B's live ids are A's shifted by one fixed offset: still consecutive.
    let live: Vec<u64> = after
        .iter()
        .filter(|r| r.camera_state.is_none())
        .map(|r| r.frame_id)
        .collect();
    assert!(consecutive(&live[live.len() - 20..]), "{live:?}");

    b.shutdown().await;
    a.shutdown().await;
    mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_origins_offline_card_stays_a_card_downstream() {
    let _serial = serial().await;
    let mock = start_mock(MockConfig::default()).await;
    let a = start_relay(vec![camera_for("cam", &mock)], fast_idle).await;
    let b = start_relay(vec![chained("porch", a.local_addr(), "cam")], fast_idle).await;
    let mut viewer = MjpegViewer::connect(b.local_addr(), "/cams/porch/stream")
        .await
        .unwrap();
    let live = viewer.take(10).await;
    assert!(live.iter().all(|r| r.camera_state.is_none()), "{live:?}");

    // A's camera dies: A sends its "offline" card, and B passes it on as a card, not as a
    // picture of the camera (B's detector, recorder and tiers skip cards).
    mock.shutdown().await;
    let mut card = None;
    while card.is_none() {
        let part = viewer
            .next_within(Duration::from_secs(15))
            .await
            .expect("B keeps sending while A's camera is away");
        card = part
            .camera_state
            .clone()
            .map(|state| (state, part.frame_id));
    }
    let (state, id) = card.unwrap();
    assert_eq!(state, "offline");
    assert!(id > live.last().unwrap().frame_id);
    // A snapshot of the card says so too (a relay reading snapshots then sees a card).
    let (_, headers, _) = get(b.local_addr(), "/cams/porch/snapshot.jpg").await;
    assert_eq!(headers["x-camera-state"], "offline");

    b.shutdown().await;
    a.shutdown().await;
}

/// The nginx binary: `$NGINX`, else `nginx` on the PATH, else Debian's `/usr/sbin/nginx`.
fn nginx_binary() -> PathBuf {
    let on_path = || {
        std::env::var_os("PATH")
            .into_iter()
            .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
            .map(|dir| dir.join("nginx"))
            .find(|candidate| candidate.is_file())
    };
    let binary = std::env::var_os("NGINX")
        .map(PathBuf::from)
        .or_else(on_path)
        .unwrap_or_else(|| PathBuf::from("/usr/sbin/nginx"));
    assert!(
        binary.is_file(),
        "nginx not found (PATH, /usr/sbin/nginx or $NGINX): install the Debian package `nginx` \
         (apt-get install -y nginx) to run this test"
    );
    binary
}

/// A real nginx running `docs/nginx.conf` on a free loopback port in front of `relay`.
struct Nginx {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Nginx {
    fn start(relay: SocketAddr) -> Nginx {
        let binary = nginx_binary();
        let dir = tempfile::tempdir().unwrap();
        let listen = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listen.local_addr().unwrap();
        drop(listen);
        let conf = config_for(dir.path(), addr, relay);
        let conf_path = dir.path().join("nginx.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let prefix = format!("{}/", dir.path().display());
        let child = Command::new(&binary)
            .arg("-p")
            .arg(&prefix)
            .arg("-c")
            .arg(&conf_path)
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .arg("-g")
            .arg(format!(
                "daemon off; pid {};",
                dir.path().join("nginx.pid").display()
            ))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("{} did not start: {e}", binary.display()));
        Nginx {
            child,
            addr,
            _dir: dir,
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM (not SIGKILL) so the master takes its workers down with it.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

/// `docs/nginx.conf` with its two "(port)" lines pointed at `listen` and `relay`, and the temp
/// paths moved into `dir` (Debian's are under /var/lib/nginx, root's only).
fn config_for(dir: &Path, listen: SocketAddr, relay: SocketAddr) -> String {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/nginx.conf");
    let conf = std::fs::read_to_string(&docs).unwrap();
    let mut out = String::new();
    let mut replaced = 0;
    for line in conf.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("server 127.0.0.1:8080;") {
            out.push_str(&format!("        server {relay};\n"));
            replaced += 1;
        } else if trimmed.starts_with("listen 80;") {
            out.push_str(&format!("        listen {listen};\n"));
            replaced += 1;
        } else {
            out.push_str(line);
            out.push('\n');
            if trimmed == "http {" {
                for temp in ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"] {
                    let path = dir.join(temp);
                    out.push_str(&format!("    {temp}_temp_path {};\n", path.display()));
                }
            }
        }
    }
    assert_eq!(replaced, 2, "docs/nginx.conf lost its two (port) lines");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_in_front_keeps_frame_ids_and_streams_live() {
    let _serial = serial().await;
    let mock = start_mock(MockConfig::default()).await;
    let relay = start_relay(vec![camera_for("cam", &mock)], fast_idle).await;
    let nginx = Nginx::start(relay.local_addr());
    let up = wait_until(Duration::from_secs(10), || async {
        tokio::net::TcpStream::connect(nginx.addr).await.is_ok()
    })
    .await;
    assert!(up, "nginx did not listen on {} within 10 s", nginx.addr);

    let direct = read_parts(relay.local_addr(), "/cams/cam/stream", 120);
    let mut proxied = MjpegViewer::connect(nginx.addr, "/cams/cam/stream")
        .await
        .unwrap();
    assert_eq!(proxied.status, 200);
    assert!(proxied.headers[http::header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("multipart/x-mixed-replace"));
    // A part or two may reach the proxied viewer before the direct one has joined (it
    // connects in its own task): those cannot be compared, so take a few more than checked.
    let proxied = proxied.take(44).await;
    let direct = direct.await.unwrap();
    assert_same_frames(&direct, &proxied, 40);

    // A chained relay can read through nginx too.
    let b = start_relay(vec![chained("porch", nginx.addr, "cam")], fast_idle).await;
    let origin = read_parts(relay.local_addr(), "/cams/cam/stream", 120);
    let downstream = read_parts(b.local_addr(), "/cams/porch/stream", 30)
        .await
        .unwrap();
    assert_same_frames(&origin.await.unwrap(), &downstream, 20);

    b.shutdown().await;
    drop(nginx);
    relay.shutdown().await;
    mock.shutdown().await;
}
