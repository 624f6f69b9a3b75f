//! Brown-out soak (issue #22): a camera that reboots again and again under 100 viewers.
//!
//! ```text
//! cargo build --release -p camrelay --bin camrelay
//! cargo run --release --example brownout_soak -- [--relay target/release/camrelay] \
//!     [--viewers 100] [--down 5] [--up 5] [--seconds 180] [--json out.json] [-- RELAY FLAGS]
//! ```
//!
//! Starts an in-process mock ESP32-CAM (`mock-camera`, 30 fps VGA, one stream client at a
//! time and silent when busy, like the board), spawns the relay binary with
//! `--camera cam=MOCK --no-detect` (plus whatever follows `--`), connects the viewers to
//! `/cams/cam/stream` and waits until all get live frames and the warm-up passed. Then it cuts
//! the camera's power for `--down` seconds and gives it back for `--up` seconds, until
//! `--seconds` passed (ending after an up period), and reports:
//!
//! - viewers connected and kept (a viewer whose stream ends is lost; none reconnects);
//! - parts whose `X-Frame-Id` is lower than an earlier one (must be 0);
//! - from each power-on (the camera accepts connections again) to the first NEW live frame
//!   (an id above every id before, not an offline card, not a keepalive re-send) at each
//!   viewer: at the slowest viewer per reboot (p50 / p99 / max over the reboots) and per
//!   viewer (pooled);
//! - the kept viewers' mean rate of new live frames over the window (first power cut to the
//!   end) as a share of what the camera's up-time allows (`fps * up / window`);
//! - the relay's `/api/stats` upstream block at the end (outages, last outage and recovery).
//!
//! The relay's log goes to `--relay-log` (`RUST_LOG` is passed on; default `info`).
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use camrelay_suite::brownouts::{watch_stream, Seen, Soak, Timeline};
use camrelay_suite::{MockCamera, MockConfig};
use clap::Parser;
use http_body_util::BodyExt;
use serde_json::json;
use tokio::sync::watch;

/// Command line of the soak.
#[derive(Debug, Parser)]
#[command(
    about = "Reboot a mock camera under N relay viewers; report viewers kept, time back \
                   to live and the frame rate's share of the camera's up-time."
)]
struct Args {
    /// The relay binary.
    #[arg(long, env = "CAMRELAY_BIN", default_value = "target/release/camrelay")]
    relay: PathBuf,
    /// MJPEG viewers.
    #[arg(long, default_value_t = 100)]
    viewers: usize,
    /// Seconds the camera stays off per reboot.
    #[arg(long, default_value_t = 5.0)]
    down: f64,
    /// Seconds the camera stays on between reboots.
    #[arg(long, default_value_t = 5.0)]
    up: f64,
    /// Length of the reboot loop in seconds (whole down+up cycles, at least one).
    #[arg(long, default_value_t = 180.0)]
    seconds: f64,
    /// Seconds of normal streaming before the first power cut, once every viewer has frames.
    #[arg(long, default_value_t = 3.0)]
    warmup: f64,
    /// The camera's frame rate.
    #[arg(long, default_value_t = 30.0)]
    fps: f64,
    /// Frame width.
    #[arg(long, default_value_t = 640)]
    width: u32,
    /// Frame height.
    #[arg(long, default_value_t = 480)]
    height: u32,
    /// Where the relay's stdout and stderr go.
    #[arg(long, default_value = "target/brownout-soak-relay.log")]
    relay_log: PathBuf,
    /// Write the summary JSON here too.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Runtime worker threads of this tool (viewers and mock camera).
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// More relay flags (after `--`), e.g. `-- --always-on`.
    #[arg(last = true)]
    relay_args: Vec<String>,
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()?;
    runtime.block_on(run(args))
}

/// A free loopback port (bound, read back, released).
fn free_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// `GET /api/stats`, or `None` while the relay is not up.
async fn relay_stats(addr: SocketAddr) -> Option<serde_json::Value> {
    let (status, _, body) = camrelay_suite::get_streaming(addr, "/api/stats")
        .await
        .ok()?;
    if !status.is_success() {
        return None;
    }
    let body = body.collect().await.ok()?.to_bytes();
    serde_json::from_slice(&body).ok()
}

async fn run(args: Args) -> std::io::Result<()> {
    let mock = MockCamera::start(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        MockConfig {
            fps: args.fps,
            width: args.width,
            height: args.height,
            ..MockConfig::default()
        },
    )
    .await?;
    let port = free_port()?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    if let Some(dir) = args.relay_log.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let log = std::fs::File::create(&args.relay_log)?;
    let mut relay = tokio::process::Command::new(&args.relay)
        .arg("--listen")
        .arg(addr.to_string())
        .arg("--camera")
        .arg(format!("cam={}", mock.stream_url()))
        .arg("--no-detect")
        .args(&args.relay_args)
        .env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
        )
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log))
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| std::io::Error::other(format!("{}: {e}", args.relay.display())))?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while relay_stats(addr).await.is_none() {
        if Instant::now() > deadline || relay.try_wait()?.is_some() {
            return Err(std::io::Error::other(format!(
                "the relay did not come up; see {}",
                args.relay_log.display()
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let (stop_tx, stop_rx) = watch::channel(false);
    let viewers: Vec<_> = (0..args.viewers)
        .map(|_| tokio::spawn(watch_stream(addr, "/cams/cam/stream", stop_rx.clone())))
        .collect();
    // Every viewer streaming live frames (the upstream opened with the first one).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let stats = relay_stats(addr).await.unwrap_or_default();
        let viewers_now = stats["viewers_total"].as_u64().unwrap_or(0);
        let streaming = stats["cameras"][0]["upstream"]["state"] == "streaming";
        if viewers_now as usize >= args.viewers && streaming {
            break;
        }
        if Instant::now() > deadline {
            eprintln!("warning: {viewers_now}/{} viewers after 30 s", args.viewers);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "{} viewers connected; warm-up {} s, then {} s of {} s down / {} s up",
        args.viewers, args.warmup, args.seconds, args.down, args.up
    );
    tokio::time::sleep(Duration::from_secs_f64(args.warmup)).await;

    let down = Duration::from_secs_f64(args.down);
    let up = Duration::from_secs_f64(args.up);
    let cycles = ((args.seconds / (args.down + args.up)).round() as usize).max(1);
    let mut timeline = Timeline {
        offs: Vec::with_capacity(cycles),
        ons: Vec::with_capacity(cycles),
        end: Instant::now(),
        fps: args.fps,
    };
    let start = Instant::now();
    for k in 0..cycles {
        // A fixed schedule from `start`, so the pauses of power_off do not add up.
        let cycle = start + (down + up) * u32::try_from(k).unwrap_or(u32::MAX);
        tokio::time::sleep_until(cycle.into()).await;
        timeline.offs.push(Instant::now());
        mock.power_off().await;
        tokio::time::sleep_until((cycle + down).into()).await;
        mock.power_on().await?;
        timeline.ons.push(Instant::now());
        eprintln!("reboot {}/{cycles}", k + 1);
    }
    tokio::time::sleep_until((start + (down + up) * u32::try_from(cycles).unwrap_or(0)).into())
        .await;
    timeline.end = Instant::now();
    let upstream = relay_stats(addr)
        .await
        .map(|s| s["cameras"][0]["upstream"].clone())
        .unwrap_or_default();
    let _ = stop_tx.send(true);
    let mut seen: Vec<Seen> = Vec::with_capacity(viewers.len());
    for viewer in viewers {
        seen.push(viewer.await.unwrap_or_default());
    }
    relay.start_kill()?;
    let _ = relay.wait().await;
    mock.shutdown().await;

    let soak = Soak::analyse(&seen, &timeline);
    let mut summary = soak.to_json();
    let all = soak.all_live_sorted();
    let p99 = camrelay_suite::brownouts::quantile(&all, 0.99);
    summary["goals"] = json!({
        "every_viewer_kept": soak.kept == args.viewers,
        "ids_never_go_back": soak.ids_went_back == 0,
        "live_within_1s_p99": soak.missed == 0 && p99.is_some_and(|d| d <= Duration::from_secs(1)),
        "fps_share_at_least_90pct": soak.fps_share() >= 0.9,
    });
    summary["settings"] = json!({
        "viewers": args.viewers, "down_s": args.down, "up_s": args.up,
        "seconds": args.seconds, "fps": args.fps, "width": args.width, "height": args.height,
        "relay": args.relay.display().to_string(), "relay_args": args.relay_args,
    });
    summary["relay_upstream_at_end"] = upstream;
    let text = serde_json::to_string_pretty(&summary).map_err(std::io::Error::other)?;
    println!("{text}");
    if let Some(path) = &args.json {
        std::fs::write(path, text + "\n")?;
    }
    Ok(())
}
