//! The goal figures of issue #20, with real processes: a `nats-server -js`, three `camrelay`
//! processes clustered over it, one mock ESP32-CAM (in this process, one client at a time).
//!
//! ```text
//! cargo build --release --bin camrelay --example viewer_load --example cluster_goals
//! target/release/examples/cluster_goals --latency-seconds 30 --load-viewers 300 \
//!     --load-seconds 15 --failovers 5 --json target/cluster-goals.json
//! ```
//!
//! In order:
//! 1. **Added latency** from the owner to another node: a viewer on the owner and one on each
//!    follower; per frame id, the follower viewer's receive instant minus the owner viewer's
//!    (one clock: both viewers live in this process). p50/p99/max.
//! 2. **Bytes between machines, 1 viewer per node**: per node, over the same window, the bus
//!    frames received (`/api/stats`) and the bytes NATS sent to the node and received from it
//!    (nats-server's monitoring `/connz`, per connection named `camrelay NODE`).
//! 3. **Load**: `viewer_load --viewers N` against each node at once (three processes); fps per
//!    viewer per node; the same per-node bus and NATS bytes over the run, to compare with 2;
//!    the added latency of 1 measured again meanwhile (the driver's viewers stay connected).
//! 4. **Failover**: `kill -9` of the owner, repeated; from the kill to the first new frame at a
//!    follower's viewer (and at each follower), with every other viewer still connected; the
//!    killed node is started again (it rejoins as a follower) before the next round.
//!
//! Binaries: `--camrelay` (default `target/release/camrelay`, else `target/debug/camrelay`),
//! `--viewer-load` (likewise under `examples/`), `nats-server` on the PATH or `$NATS_SERVER`.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use camrelay_suite::{get, stats, MjpegViewer, MockCamera, MockConfig};
use clap::Parser;
use serde_json::{json, Value};

/// Command line.
#[derive(Debug, Parser)]
#[command(about = "Cluster goal figures of #20 with real nats-server and camrelay processes.")]
struct Args {
    /// The camrelay binary.
    #[arg(long)]
    camrelay: Option<PathBuf>,
    /// The viewer_load example binary (phase 3).
    #[arg(long)]
    viewer_load: Option<PathBuf>,
    /// Mock camera frame rate.
    #[arg(long, default_value_t = 30.0)]
    fps: f64,
    /// Mock camera frame width.
    #[arg(long, default_value_t = 640)]
    width: u32,
    /// Mock camera frame height.
    #[arg(long, default_value_t = 480)]
    height: u32,
    /// Seconds of the latency (and 1-viewer bytes) window.
    #[arg(long, default_value_t = 30.0)]
    latency_seconds: f64,
    /// Viewers per node in the load phase (0: skip it).
    #[arg(long, default_value_t = 300)]
    load_viewers: usize,
    /// Measured seconds of the load phase (viewer_load's window).
    #[arg(long, default_value_t = 15.0)]
    load_seconds: f64,
    /// viewer_load's runtime threads (each of the three processes).
    #[arg(long, default_value_t = 1)]
    load_threads: usize,
    /// Kill -9 rounds.
    #[arg(long, default_value_t = 5)]
    failovers: usize,
    /// Write the figures here as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_listening(addr: SocketAddr, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "{what} did not listen on {addr}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `path` if given, else the release build if present, else the debug build.
fn binary(given: Option<PathBuf>, relative: &str) -> PathBuf {
    given.unwrap_or_else(|| {
        let release = Path::new("target/release").join(relative);
        if release.is_file() {
            release
        } else {
            Path::new("target/debug").join(relative)
        }
    })
}

/// `nats-server -js` with monitoring, killed on drop.
struct Nats {
    child: Child,
    port: u16,
    monitor: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Nats {
    fn start() -> Nats {
        let binary = std::env::var_os("NATS_SERVER")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("nats-server"));
        let (port, monitor) = (free_port(), free_port());
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new(&binary)
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string()])
            .args(["-m", &monitor.to_string(), "-sd"])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "{} ({e}): install the Debian package `nats-server`",
                    binary.display()
                )
            });
        wait_listening(SocketAddr::from(([127, 0, 0, 1], port)), "nats-server");
        let monitor = SocketAddr::from(([127, 0, 0, 1], monitor));
        wait_listening(monitor, "nats-server monitoring");
        Nats {
            child,
            port,
            monitor,
            _dir: dir,
        }
    }

    /// `(in_bytes, out_bytes)` per connection name (nats-server's view: in = from the node).
    async fn bytes(&self) -> HashMap<String, (u64, u64)> {
        let (_, _, body) = get(self.monitor, "/connz?limit=1024").await;
        let connz: Value = serde_json::from_slice(&body).unwrap();
        let mut out = HashMap::new();
        for conn in connz["connections"].as_array().into_iter().flatten() {
            let name = conn["name"].as_str().unwrap_or("").to_owned();
            let bytes = (
                conn["in_bytes"].as_u64().unwrap_or(0),
                conn["out_bytes"].as_u64().unwrap_or(0),
            );
            out.insert(name, bytes);
        }
        out
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One camrelay process.
struct Relay {
    node: String,
    child: Option<Child>,
    addr: SocketAddr,
}

impl Relay {
    fn start(binary: &Path, nats: &Nats, node: &str, camera: &str, logs: &Path) -> Relay {
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let log = std::fs::File::create(logs.join(format!("{node}.log"))).unwrap();
        let child = Command::new(binary)
            .args(["--listen", &addr.to_string(), "--no-detect", "--camera"])
            .arg(format!("porch={camera}"))
            .args(["--nats", &format!("nats://127.0.0.1:{}", nats.port)])
            .args(["--node", node, "--cluster", "goals"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("{} ({e})", binary.display()));
        wait_listening(addr, node);
        Relay {
            node: node.to_owned(),
            child: Some(child),
            addr,
        }
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// `(reads, owner, bus frames_received)`.
    async fn cluster(&self) -> (String, String, u64) {
        let stats = stats(self.addr).await;
        let cluster = &stats["cameras"][0]["cluster"];
        (
            cluster["reads"].as_str().unwrap_or("").to_owned(),
            cluster["owner"].as_str().unwrap_or("").to_owned(),
            stats["bus"]["frames_received"].as_u64().unwrap_or(0),
        )
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One received part: id, offline card or not, when.
type Seen = (u64, bool, Instant);

/// A viewer read by a task, its parts recorded.
struct Watch {
    seen: Arc<Mutex<Vec<Seen>>>,
    ended: Arc<Mutex<bool>>,
    task: tokio::task::JoinHandle<()>,
}

impl Watch {
    async fn start(relay: &Relay) -> Watch {
        let mut viewer = MjpegViewer::connect(relay.addr, "/cams/porch/stream")
            .await
            .unwrap();
        assert!(
            viewer.status.is_success(),
            "{}: {}",
            relay.node,
            viewer.status
        );
        let seen = Arc::new(Mutex::new(Vec::new()));
        let ended = Arc::new(Mutex::new(false));
        let task = tokio::spawn({
            let (seen, ended) = (seen.clone(), ended.clone());
            async move {
                while let Some(part) = viewer.next().await {
                    let offline = part.camera_state.as_deref() == Some("offline");
                    seen.lock().unwrap().push((part.frame_id, offline, part.at));
                }
                *ended.lock().unwrap() = true;
            }
        });
        Watch { seen, ended, task }
    }

    fn live(&self) -> Vec<(u64, Instant)> {
        let seen = self.seen.lock().unwrap();
        seen.iter().filter(|s| !s.1).map(|s| (s.0, s.2)).collect()
    }

    fn ended(&self) -> bool {
        *self.ended.lock().unwrap()
    }

    async fn wait_live(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.live().len() < n {
            assert!(Instant::now() < deadline && !self.ended(), "no frames");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The first live part with an id above `above`.
    fn first_above(&self, above: u64) -> Option<(u64, Instant)> {
        self.live().into_iter().find(|(id, _)| *id > above)
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn round(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// The single owner's index, waiting for the nodes to agree.
async fn one_owner(relays: &[&Relay]) -> usize {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut views = Vec::new();
        for relay in relays {
            views.push(relay.cluster().await);
        }
        let owners: Vec<usize> = (0..views.len())
            .filter(|i| views[*i].0 == "camera")
            .collect();
        if let [owner] = owners[..] {
            if views.iter().all(|v| v.1 == relays[owner].node) {
                return owner;
            }
        }
        assert!(Instant::now() < deadline, "no single owner: {views:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Per node over a window: bus frames received, NATS bytes to and from the node.
struct Traffic {
    frames: Vec<u64>,
    nats: HashMap<String, (u64, u64)>,
    at: Instant,
}

async fn traffic(nats: &Nats, relays: &[&Relay]) -> Traffic {
    let mut frames = Vec::new();
    for relay in relays {
        frames.push(relay.cluster().await.2);
    }
    Traffic {
        frames,
        nats: nats.bytes().await,
        at: Instant::now(),
    }
}

fn traffic_json(before: &Traffic, after: &Traffic, relays: &[&Relay], viewers: usize) -> Value {
    let seconds = (after.at - before.at).as_secs_f64();
    let nodes: Vec<Value> = relays
        .iter()
        .enumerate()
        .map(|(i, relay)| {
            let name = format!("camrelay {}", relay.node);
            let (in0, out0) = before.nats.get(&name).copied().unwrap_or_default();
            let (in1, out1) = after.nats.get(&name).copied().unwrap_or_default();
            json!({
                "node": relay.node,
                "viewers": viewers,
                "bus_frames_per_s": round((after.frames[i] - before.frames[i]) as f64 / seconds),
                "nats_to_node_kb_per_s": round(out1.saturating_sub(out0) as f64 / seconds / 1000.0),
                "node_to_nats_kb_per_s": round(in1.saturating_sub(in0) as f64 / seconds / 1000.0),
            })
        })
        .collect();
    json!({ "seconds": round(seconds), "nodes": nodes })
}

/// Per frame id, a follower viewer's receive instant minus the owner viewer's, over the parts
/// after `marks` (live parts already seen per watch).
fn added_latency(watches: &[Watch], owner: usize, marks: &[usize]) -> Value {
    let at_owner: HashMap<u64, Instant> = watches[owner].live()[marks[owner]..]
        .iter()
        .copied()
        .collect();
    let mut added = Vec::new();
    let mut missing = 0;
    for (i, watch) in watches.iter().enumerate().filter(|(i, _)| *i != owner) {
        let live: HashMap<u64, Instant> = watch.live()[marks[i]..].iter().copied().collect();
        for (id, t_owner) in &at_owner {
            match live.get(id) {
                Some(t) => added.push(match t.checked_duration_since(*t_owner) {
                    Some(d) => d.as_secs_f64() * 1000.0,
                    None => -(t_owner.duration_since(*t).as_secs_f64() * 1000.0),
                }),
                None => missing += 1,
            }
        }
    }
    added.sort_by(f64::total_cmp);
    json!({
        "frames_at_owner_viewer": at_owner.len(),
        "samples": added.len(),
        "missing_at_followers": missing,
        "added_ms_p50": round(quantile(&added, 0.5)),
        "added_ms_p99": round(quantile(&added, 0.99)),
        "added_ms_max": round(added.last().copied().unwrap_or(f64::NAN)),
    })
}

/// Busy CPU time of the whole machine (all cores), in clock ticks, from /proc/stat.
fn machine_busy_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal: busy = all but idle and iowait.
    fields.iter().sum::<u64>() - fields.get(3).unwrap_or(&0) - fields.get(4).unwrap_or(&0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = Args::parse();
    let camrelay = binary(args.camrelay.clone(), "camrelay");
    let viewer_load = binary(args.viewer_load.clone(), "examples/viewer_load");
    let logs = tempfile::tempdir().unwrap();
    let nats = Nats::start();
    let mock = MockCamera::start(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        MockConfig {
            max_clients: 1,
            fps: args.fps,
            width: args.width,
            height: args.height,
            ..MockConfig::default()
        },
    )
    .await
    .unwrap();
    let camera = mock.stream_url();
    let mut report = json!({
        "camrelay": camrelay.display().to_string(),
        "fps": args.fps,
        "size": format!("{}x{}", args.width, args.height),
    });
    eprintln!("camrelay: {}", camrelay.display());

    let mut relays: Vec<Relay> = Vec::new();
    let mut watches: Vec<Watch> = Vec::new();
    for node in ["a", "b", "c"] {
        relays.push(Relay::start(&camrelay, &nats, node, &camera, logs.path()));
        let watch = Watch::start(relays.last().unwrap()).await;
        watch.wait_live(10).await;
        watches.push(watch);
    }
    let owner = one_owner(&relays.iter().collect::<Vec<_>>()).await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    // 1 and 2: latency owner -> follower viewers; traffic with one viewer per node.
    let marks: Vec<usize> = watches.iter().map(|w| w.live().len()).collect();
    let busy0 = (machine_busy_ticks(), Instant::now());
    let before = traffic(&nats, &relays.iter().collect::<Vec<_>>()).await;
    tokio::time::sleep(Duration::from_secs_f64(args.latency_seconds)).await;
    let after = traffic(&nats, &relays.iter().collect::<Vec<_>>()).await;
    let busy_pct = (machine_busy_ticks() - busy0.0) as f64 / busy0.1.elapsed().as_secs_f64();
    let mut latency = added_latency(&watches, owner, &marks);
    latency["owner"] = json!(relays[owner].node);
    latency["machine_busy_pct_of_one_core"] = json!(round(busy_pct));
    report["latency"] = latency;
    report["traffic_1_viewer"] =
        traffic_json(&before, &after, &relays.iter().collect::<Vec<_>>(), 1);
    eprintln!("latency: {}", report["latency"]);
    eprintln!("traffic, 1 viewer per node: {}", report["traffic_1_viewer"]);

    // 3: viewer_load against every node at once.
    if args.load_viewers > 0 {
        let out = tempfile::tempdir().unwrap();
        let before = traffic(&nats, &relays.iter().collect::<Vec<_>>()).await;
        let busy0 = (machine_busy_ticks(), Instant::now());
        let marks: Vec<usize> = watches.iter().map(|w| w.live().len()).collect();
        let loads: Vec<Child> = relays
            .iter()
            .map(|relay| {
                Command::new(&viewer_load)
                    .args(["--url", &format!("http://{}/cams/porch/stream", relay.addr)])
                    .args(["--viewers", &args.load_viewers.to_string()])
                    .args(["--seconds", &args.load_seconds.to_string()])
                    .args(["--threads", &args.load_threads.to_string()])
                    .args(["--pid", &relay.pid().to_string(), "--label", &relay.node])
                    .arg("--json")
                    .arg(out.path().join(format!("{}.json", relay.node)))
                    .stdout(Stdio::null())
                    .spawn()
                    .unwrap_or_else(|e| panic!("{} ({e})", viewer_load.display()))
            })
            .collect();
        for mut load in loads {
            load.wait().unwrap();
        }
        let busy_pct = (machine_busy_ticks() - busy0.0) as f64 / busy0.1.elapsed().as_secs_f64();
        let after = traffic(&nats, &relays.iter().collect::<Vec<_>>()).await;
        let mut nodes = Vec::new();
        for relay in &relays {
            let path = out.path().join(format!("{}.json", relay.node));
            let load: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            nodes.push(json!({
                "node": relay.node,
                "viewers_connected": load["viewers_connected"],
                "fps_min": load["fps_min"],
                "fps_p1": load["fps_p1"],
                "fps_median": load["fps_median"],
                "latency_ms_p99": load["latency_ms_p99"],
                "server_cpu_pct": load["server_cpu_pct"],
                "rss_mb": load["server_rss_mb"],
            }));
        }
        report["load"] = json!({
            "viewers_per_node": args.load_viewers,
            "seconds": args.load_seconds,
            "nodes": nodes,
            "machine_busy_pct_of_one_core": round(busy_pct),
            "added_latency_meanwhile": added_latency(&watches, owner, &marks),
        });
        report["traffic_load"] = traffic_json(
            &before,
            &after,
            &relays.iter().collect::<Vec<_>>(),
            args.load_viewers + 1,
        );
        eprintln!("load: {}", report["load"]);
        eprintln!("traffic under load: {}", report["traffic_load"]);
    }

    // 4: kill -9 of the owner, repeated.
    let mut rounds = Vec::new();
    for round_no in 0..args.failovers {
        let owner = one_owner(&relays.iter().collect::<Vec<_>>()).await;
        let last = watches
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != owner)
            .filter_map(|(_, w)| w.live().last().map(|p| p.0))
            .max()
            .unwrap();
        relays[owner].kill9();
        let killed = Instant::now();
        let deadline = killed + Duration::from_secs(20);
        let followers: Vec<usize> = (0..relays.len()).filter(|i| *i != owner).collect();
        let firsts = loop {
            let firsts: Vec<Option<(u64, Instant)>> = followers
                .iter()
                .map(|i| watches[*i].first_above(last))
                .collect();
            if firsts.iter().all(Option::is_some) || Instant::now() > deadline {
                break firsts;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        let ms = |f: &Option<(u64, Instant)>| {
            f.map(|(_, t)| round(t.duration_since(killed).as_secs_f64() * 1000.0))
        };
        let per_follower: Vec<Option<f64>> = firsts.iter().map(ms).collect();
        let disconnected = followers.iter().filter(|i| watches[**i].ended()).count();
        let survivors: Vec<&Relay> = followers.iter().map(|i| &relays[*i]).collect();
        let new_owner = survivors[one_owner(&survivors).await].node.clone();
        let first_ms = per_follower
            .iter()
            .flatten()
            .copied()
            .fold(f64::NAN, f64::min);
        rounds.push(json!({
            "killed": relays[owner].node,
            "new_owner": new_owner,
            "first_new_frame_ms": first_ms,
            "per_follower_ms": per_follower,
            "follower_viewers_disconnected": disconnected,
        }));
        eprintln!("failover {round_no}: {}", rounds.last().unwrap());
        // The killed node comes back as a follower, with a viewer, before the next round.
        let name = relays[owner].node.clone();
        relays[owner] = Relay::start(&camrelay, &nats, &name, &camera, logs.path());
        watches[owner] = Watch::start(&relays[owner]).await;
        watches[owner].wait_live(10).await;
        tokio::time::sleep(Duration::from_millis(1500 + 300 * round_no as u64)).await;
    }
    report["failover"] = json!(rounds);
    report["mock_stream_connections"] = json!(mock.stats().stream_connections_total);

    let text = serde_json::to_string_pretty(&report).unwrap();
    println!("{text}");
    if let Some(path) = args.json {
        std::fs::write(path, text).unwrap();
    }
}
