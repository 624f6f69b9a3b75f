//! Viewer load generator: opens N MJPEG (or, with `--ws`, WebSocket) viewers on one stream and
//! measures what they get.
//!
//! ```text
//! cargo run --release --example viewer_load -- \
//!     --url http://127.0.0.1:8069/cams/cam/stream --viewers 1000 --thin 2 --seconds 20 \
//!     [--pid PID] [--json out.json]
//! ```
//!
//! Per viewer it records, for every part, `X-Frame-Id`, `X-Timestamp` and the receive instant
//! (16 bytes a part, no strings), then reports over the measured window (after the ramp-up and
//! a warm-up): viewers connected, per-viewer fps (min/median), latency p50/p99/max (receive
//! wall time minus `X-Timestamp`), sync spread per frame id (latest minus earliest receive
//! across the normal viewers), the frame age of "thin" viewers (128 KiB receive buffer,
//! reading 400 KB/s: `--thin-reads smooth`, the default, reads at most 20 KB at a time as a
//! thin link delivers them; `bursty` reads whatever the socket holds, up to hyper's read
//! buffer, then sleeps as long as those bytes take at 400 KB/s) and, with `--pid`, the server's CPU (utime+stime from `/proc/PID/stat`)
//! per viewer-frame, its CPU % and RSS. The parts are parsed by `mjpeg-codec`'s decoder over a
//! hyper HTTP/1 client, so chunked (camrelay) and read-to-close (the floor) bodies both work.
//!
//! The generator shares the machine with the server, so it is kept cheap: a small tokio
//! runtime (`--threads`, default 2), no per-part allocation besides the decoder's.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::BytesMut;
use clap::Parser;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use mjpeg_codec::{DecoderConfig, MjpegDecoder};
use serde_json::json;
use tokio::sync::watch;
use tokio_util::codec::Decoder;

/// Command line of the load generator.
#[derive(Debug, Parser)]
#[command(about = "Open N MJPEG viewers and measure fps, latency, sync spread, server CPU/RSS.")]
struct Args {
    /// Stream URL (http only).
    #[arg(long, default_value = "http://127.0.0.1:8069/cams/cam/stream")]
    url: http::Uri,
    /// Normal viewers (read as fast as they can).
    #[arg(long, default_value_t = 100)]
    viewers: usize,
    /// Extra thin-link viewers (small receive buffer, rate-limited reading).
    #[arg(long, default_value_t = 0)]
    thin: usize,
    /// Measured window in seconds (after ramp-up and warm-up).
    #[arg(long, default_value_t = 20.0)]
    seconds: f64,
    /// Seconds between the last connection and the measured window.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// The server's process id, for CPU and RSS.
    #[arg(long)]
    pid: Option<u32>,
    /// Write the results as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// A label copied into the JSON (e.g. "floor" or "relay").
    #[arg(long, default_value = "")]
    label: String,
    /// Runtime worker threads (1 = current-thread runtime).
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Connections opened per millisecond while ramping up.
    #[arg(long, default_value_t = 2)]
    ramp_per_ms: usize,
    /// Receive buffer of a thin viewer (SO_RCVBUF, bytes).
    #[arg(long, default_value_t = 128 * 1024)]
    thin_rcvbuf: u32,
    /// Reading rate of a thin viewer, bytes per second.
    #[arg(long, default_value_t = 400_000)]
    thin_rate: u64,
    /// How a thin viewer reads.
    #[arg(long, value_enum, default_value = "smooth")]
    thin_reads: ThinReads,
    /// WebSocket viewers (`--url` is then a `/ws` route given as `http://`): per frame, the JSON
    /// text message's `frame_id` and `timestamp`, then the JPEG as a binary message.
    #[arg(long)]
    ws: bool,
}

/// How a thin viewer reads its 400 KB/s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ThinReads {
    /// Token bucket: reads of at most `rate / 20` bytes as the rate allows (a thin link).
    Smooth,
    /// Reads everything the socket holds, then sleeps for as long as it takes at the rate.
    Bursty,
}

/// One received part: 16 bytes, so 2000 viewers x 30 fps x 30 s stay under 30 MB.
#[derive(Debug, Clone, Copy)]
struct Rec {
    frame_id: u64,
    /// Receive instant, microseconds since the generator started.
    recv_us: u32,
    /// Receive wall time minus `X-Timestamp`, microseconds (`i32::MIN` without a timestamp).
    latency_us: i32,
}

/// What one viewer task hands back.
#[derive(Debug, Default)]
struct ViewerOutcome {
    thin: bool,
    connected: bool,
    error: Option<String>,
    decode_errors: u64,
    recs: Vec<Rec>,
}

/// A viewer's connection: a plain socket, or one read through a token bucket.
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

/// State shared by all viewer tasks.
struct Shared {
    start: Instant,
    start_wall: SystemTime,
    addr: SocketAddr,
    uri: http::Uri,
    connected: AtomicUsize,
    failed: AtomicUsize,
    thin_rcvbuf: u32,
    thin_rate: u64,
    thin_reads: ThinReads,
    ws: bool,
}

impl Shared {
    fn micros_since_start(&self, at: Instant) -> u32 {
        u32::try_from(at.duration_since(self.start).as_micros()).unwrap_or(u32::MAX)
    }

    /// The record of a frame received now: its id, and its latency from its `X-Timestamp`.
    fn record(&self, frame_id: u64, timestamp: Option<mjpeg_codec::Timestamp>) -> Rec {
        let now = Instant::now();
        let wall = self.start_wall + now.duration_since(self.start);
        let latency_us = timestamp.map_or(i32::MIN, |ts| {
            match wall.duration_since(ts.to_system_time()) {
                Ok(d) => i32::try_from(d.as_micros()).unwrap_or(i32::MAX),
                Err(e) => -i32::try_from(e.duration().as_micros()).unwrap_or(i32::MAX),
            }
        });
        Rec {
            frame_id,
            recv_us: self.micros_since_start(now),
            latency_us,
        }
    }
}

async fn connect(shared: &Shared, thin: bool) -> io::Result<tokio::net::TcpStream> {
    let socket = match shared.addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    if thin {
        // Before connect, so the advertised window (scaling) matches the small buffer.
        socket.set_recv_buffer_size(shared.thin_rcvbuf)?;
    }
    let stream = socket.connect(shared.addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// One viewer: connect, GET, parse parts until `stop`.
async fn run_viewer(
    shared: Arc<Shared>,
    thin: bool,
    mut stop: watch::Receiver<bool>,
) -> ViewerOutcome {
    let mut out = ViewerOutcome {
        thin,
        ..ViewerOutcome::default()
    };
    let result = viewer_loop(&shared, thin, &mut stop, &mut out).await;
    if let Err(err) = result {
        if !out.connected {
            shared.failed.fetch_add(1, Ordering::Relaxed);
        }
        out.error = Some(err.to_string());
    }
    out
}

async fn viewer_loop(
    shared: &Shared,
    thin: bool,
    stop: &mut watch::Receiver<bool>,
    out: &mut ViewerOutcome,
) -> io::Result<()> {
    let stream = connect(shared, thin).await?;
    let io: Box<dyn Io> = if thin && shared.thin_reads == ThinReads::Smooth {
        Box::new(camrelay_suite::Throttled::new(
            stream,
            shared.thin_rate as f64,
        ))
    } else {
        Box::new(stream)
    };
    if shared.ws {
        return read_websocket(shared, stop, out, io).await;
    }
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(io::Error::other)?;
    // The connection is driven in this task, next to the body reader: a chunk handed from one
    // to the other wakes no second task (hyper hands read-to-close bodies over 8 KiB at a time).
    let session = read_stream(shared, thin, stop, out, sender);
    tokio::pin!(conn, session);
    tokio::select! {
        biased;
        result = &mut session => result,
        _ = &mut conn => session.await,
    }
}

/// Sends the GET on `sender` and parses the response's parts until `stop`.
async fn read_stream(
    shared: &Shared,
    thin: bool,
    stop: &mut watch::Receiver<bool>,
    out: &mut ViewerOutcome,
    mut sender: hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
) -> io::Result<()> {
    let authority = shared
        .uri
        .authority()
        .map(|a| a.as_str())
        .unwrap_or("localhost");
    let path = shared
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let request = http::Request::get(path)
        .header(http::header::HOST, authority)
        .body(Empty::<Bytes>::new())
        .map_err(io::Error::other)?;
    let response = sender
        .send_request(request)
        .await
        .map_err(io::Error::other)?;
    if !response.status().is_success() {
        return Err(io::Error::other(format!("status {}", response.status())));
    }
    let content_type = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    out.connected = true;
    shared.connected.fetch_add(1, Ordering::Relaxed);
    out.recs.reserve(1024);

    let mut decoder = MjpegDecoder::from_content_type(&content_type, DecoderConfig::default());
    let mut body = response.into_body();
    let mut buf = BytesMut::with_capacity(256 * 1024);
    // Thin viewers: the instant before which the bytes read so far may not have been read.
    let mut paced_until = Instant::now();
    let byte_time = Duration::from_secs_f64(1.0 / shared.thin_rate.max(1) as f64);
    loop {
        let frame = tokio::select! {
            biased;
            _ = stop.changed() => return Ok(()),
            frame = body.frame() => frame,
        };
        let Some(frame) = frame else {
            return Err(io::Error::other("stream ended"));
        };
        let frame = frame.map_err(io::Error::other)?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        buf.extend_from_slice(&data);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(part)) => {
                    let frame_id = part
                        .headers()
                        .get("x-frame-id")
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .unwrap_or(u64::MAX);
                    out.recs.push(shared.record(frame_id, part.timestamp()));
                }
                Ok(None) => break,
                Err(err) if err.is_recoverable() => out.decode_errors += 1,
                Err(err) => return Err(io::Error::other(err)),
            }
        }
        if thin && shared.thin_reads == ThinReads::Bursty {
            let now = Instant::now();
            paced_until =
                paced_until.max(now) + byte_time * u32::try_from(data.len()).unwrap_or(u32::MAX);
            if paced_until > now {
                tokio::select! {
                    biased;
                    _ = stop.changed() => return Ok(()),
                    () = tokio::time::sleep_until(paced_until.into()) => {}
                }
            }
        }
    }
}

/// A WebSocket viewer: the relay's JSON text message (`frame_id`, `timestamp`) before each
/// binary JPEG message; one record per JPEG.
async fn read_websocket(
    shared: &Shared,
    stop: &mut watch::Receiver<bool>,
    out: &mut ViewerOutcome,
    io: Box<dyn Io>,
) -> io::Result<()> {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    let url = format!(
        "ws://{}{}",
        shared.addr,
        shared.uri.path_and_query().map_or("/", |p| p.as_str())
    );
    let (mut ws, _) = tokio_tungstenite::client_async(url, io)
        .await
        .map_err(io::Error::other)?;
    out.connected = true;
    shared.connected.fetch_add(1, Ordering::Relaxed);
    out.recs.reserve(1024);
    let mut pending: Option<(u64, Option<mjpeg_codec::Timestamp>)> = None;
    loop {
        let message = tokio::select! {
            biased;
            _ = stop.changed() => return Ok(()),
            message = ws.next() => message,
        };
        let Some(message) = message else {
            return Err(io::Error::other("stream ended"));
        };
        match message.map_err(io::Error::other)? {
            Message::Text(text) => {
                let meta: serde_json::Value =
                    serde_json::from_str(text.as_str()).map_err(io::Error::other)?;
                let id = meta["frame_id"].as_u64().unwrap_or(u64::MAX);
                let ts = meta["timestamp"]
                    .as_str()
                    .and_then(mjpeg_codec::Timestamp::parse);
                pending = Some((id, ts));
            }
            Message::Binary(_) => match pending.take() {
                Some((frame_id, ts)) => out.recs.push(shared.record(frame_id, ts)),
                None => out.decode_errors += 1,
            },
            _ => {}
        }
    }
}

/// `/proc/PID/stat` utime + stime, in clock ticks (USER_HZ = 100 on Linux).
fn cpu_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) start at state (field 3).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Busy and total jiffies of all CPUs, from the first line of `/proc/stat`.
fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<u64> = line
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    let total: u64 = v.iter().take(8).sum();
    // idle + iowait
    let idle = v.get(3)? + v.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

/// A `kB` line of `/proc/PID/status` (e.g. `VmRSS`, `VmHWM`).
fn status_kb(pid: &str, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..]
        .trim_start_matches(':')
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// USER_HZ: the unit of utime/stime in `/proc/PID/stat`.
const TICKS_PER_SEC: f64 = 100.0;

/// Quantile of sorted values (nearest rank).
fn quantile<T: Copy>(sorted: &[T], q: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

fn ms(us: Option<i64>) -> serde_json::Value {
    us.map_or(serde_json::Value::Null, |us| {
        json!((us as f64 / 1000.0 * 100.0).round() / 100.0)
    })
}

fn main() -> io::Result<()> {
    let args = Args::parse();
    let nofile = rlimit::increase_nofile_limit(u64::MAX)?;
    let runtime = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()?
    };
    runtime.block_on(run(args, nofile))
}

async fn run(args: Args, nofile: u64) -> io::Result<()> {
    let host = args
        .url
        .host()
        .ok_or_else(|| io::Error::other("URL without host"))?;
    let port = args.url.port_u16().unwrap_or(80);
    let addr = tokio::net::lookup_host((host, port))
        .await?
        .next()
        .ok_or_else(|| io::Error::other("host did not resolve"))?;
    let total = args.viewers + args.thin;
    if total as u64 + 64 > nofile {
        eprintln!("warning: {total} viewers but RLIMIT_NOFILE is {nofile}");
    }
    let shared = Arc::new(Shared {
        start: Instant::now(),
        start_wall: SystemTime::now(),
        addr,
        uri: args.url.clone(),
        connected: AtomicUsize::new(0),
        failed: AtomicUsize::new(0),
        thin_rcvbuf: args.thin_rcvbuf,
        thin_rate: args.thin_rate,
        thin_reads: args.thin_reads,
        ws: args.ws,
    });
    let (stop_tx, stop_rx) = watch::channel(false);

    // Ramp up: `ramp_per_ms` connections per millisecond, thin viewers spread among them.
    let mut tasks = Vec::with_capacity(total);
    let ramp_start = Instant::now();
    let thin_every = total
        .checked_div(args.thin)
        .map_or(usize::MAX, |every| every.max(1));
    let mut thin_started = 0;
    for i in 0..total {
        let thin = i % thin_every == 0 && thin_started < args.thin;
        thin_started += usize::from(thin);
        let handle = tokio::spawn(run_viewer(shared.clone(), thin, stop_rx.clone()));
        tasks.push((thin, handle));
        if (i + 1) % args.ramp_per_ms.max(1) == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    let ramp_deadline = Instant::now() + Duration::from_secs(10);
    while shared.connected.load(Ordering::Relaxed) + shared.failed.load(Ordering::Relaxed) < total
        && Instant::now() < ramp_deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ramp_s = ramp_start.elapsed().as_secs_f64();
    let connected_after_ramp = shared.connected.load(Ordering::Relaxed);
    eprintln!(
        "{connected_after_ramp}/{total} viewers connected in {ramp_s:.2} s; warm-up {} s",
        args.warmup
    );
    tokio::time::sleep(Duration::from_secs_f64(args.warmup)).await;

    let pid = args.pid.map(|p| p.to_string());
    let server_ticks_0 = pid.as_deref().and_then(cpu_ticks);
    let self_ticks_0 = cpu_ticks("self");
    let machine_0 = machine_ticks();
    let window_start = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(args.seconds)).await;
    let window_end = Instant::now();
    let server_ticks_1 = pid.as_deref().and_then(cpu_ticks);
    let self_ticks_1 = cpu_ticks("self");
    let machine_1 = machine_ticks();
    let rss_kb = pid.as_deref().and_then(|p| status_kb(p, "VmRSS"));
    let hwm_kb = pid.as_deref().and_then(|p| status_kb(p, "VmHWM"));
    let _ = stop_tx.send(true);

    let mut outcomes = Vec::with_capacity(total);
    for (thin, handle) in tasks {
        outcomes.push(handle.await.unwrap_or(ViewerOutcome {
            thin,
            ..ViewerOutcome::default()
        }));
    }
    let window_s = window_end.duration_since(window_start).as_secs_f64();
    let ws = shared.micros_since_start(window_start);
    let we = shared.micros_since_start(window_end);
    let report = aggregate(&args, &outcomes, ws, we, window_s);

    let server_cpu_s = match (server_ticks_0, server_ticks_1) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a) as f64 / TICKS_PER_SEC),
        _ => None,
    };
    let self_cpu_s = match (self_ticks_0, self_ticks_1) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a) as f64 / TICKS_PER_SEC),
        _ => None,
    };
    let viewer_frames = report.viewer_frames;
    let cpu_us_per_vf = server_cpu_s
        .filter(|_| viewer_frames > 0)
        .map(|s| (s * 1e6 / viewer_frames as f64 * 100.0).round() / 100.0);
    let mut json = report.json;
    let obj = json.as_object_mut().unwrap();
    obj.insert("label".into(), json!(args.label));
    obj.insert("url".into(), json!(args.url.to_string()));
    obj.insert("viewers_requested".into(), json!(args.viewers));
    obj.insert(
        "protocol".into(),
        json!(if args.ws { "websocket" } else { "mjpeg" }),
    );
    obj.insert("thin_requested".into(), json!(args.thin));
    obj.insert(
        "thin_reads".into(),
        json!(format!("{:?}", args.thin_reads).to_lowercase()),
    );
    obj.insert("ramp_s".into(), json!((ramp_s * 100.0).round() / 100.0));
    obj.insert(
        "window_s".into(),
        json!((window_s * 1000.0).round() / 1000.0),
    );
    obj.insert("server_cpu_s".into(), json!(server_cpu_s));
    obj.insert(
        "server_cpu_pct".into(),
        json!(server_cpu_s.map(|s| (s / window_s * 1000.0).round() / 10.0)),
    );
    obj.insert(
        "server_cpu_us_per_viewer_frame".into(),
        json!(cpu_us_per_vf),
    );
    obj.insert(
        "server_rss_mb".into(),
        json!(rss_kb.map(|k| (k as f64 / 1024.0 * 10.0).round() / 10.0)),
    );
    obj.insert(
        "server_rss_peak_mb".into(),
        json!(hwm_kb.map(|k| (k as f64 / 1024.0 * 10.0).round() / 10.0)),
    );
    obj.insert(
        "generator_cpu_pct".into(),
        json!(self_cpu_s.map(|s| (s / window_s * 1000.0).round() / 10.0)),
    );
    // How busy the whole machine was (all cores, 100 % = all busy): shows other load.
    let machine_busy_pct = match (machine_0, machine_1) {
        (Some((b0, t0)), Some((b1, t1))) if t1 > t0 => {
            Some(((b1 - b0) as f64 / (t1 - t0) as f64 * 1000.0).round() / 10.0)
        }
        _ => None,
    };
    obj.insert("machine_busy_pct".into(), json!(machine_busy_pct));
    obj.insert(
        "cores".into(),
        json!(std::thread::available_parallelism().map_or(0, usize::from)),
    );
    obj.insert(
        "loadavg".into(),
        json!(std::fs::read_to_string("/proc/loadavg")
            .ok()
            .map(|l| l.trim().to_owned())),
    );
    let text = serde_json::to_string_pretty(&json).map_err(io::Error::other)?;
    println!("{text}");
    if let Some(path) = &args.json {
        std::fs::write(path, text + "\n")?;
    }
    Ok(())
}

/// The measured numbers, as JSON, plus the viewer-frames count for the CPU ratio.
struct Report {
    json: serde_json::Value,
    viewer_frames: u64,
}

/// The latencies (receive time minus `X-Timestamp`, us) of these viewers' frames received in
/// the window, sorted for quantiles.
fn sorted_latencies(viewers: &[&ViewerOutcome], in_window: impl Fn(&Rec) -> bool) -> Vec<i64> {
    let mut latencies: Vec<i64> = viewers
        .iter()
        .flat_map(|o| o.recs.iter())
        .filter(|r| in_window(r) && r.latency_us != i32::MIN)
        .map(|r| i64::from(r.latency_us))
        .collect();
    latencies.sort_unstable();
    latencies
}

fn aggregate(args: &Args, outcomes: &[ViewerOutcome], ws: u32, we: u32, window_s: f64) -> Report {
    let in_window = |r: &Rec| r.recv_us >= ws && r.recv_us < we;
    let normal: Vec<&ViewerOutcome> = outcomes.iter().filter(|o| !o.thin && o.connected).collect();
    let thin: Vec<&ViewerOutcome> = outcomes.iter().filter(|o| o.thin && o.connected).collect();
    let viewer_frames: u64 = outcomes
        .iter()
        .map(|o| o.recs.iter().filter(|r| in_window(r)).count() as u64)
        .sum();

    // Per-viewer fps (normal viewers; a viewer that failed counts as 0 fps).
    let mut fps: Vec<f64> = outcomes
        .iter()
        .filter(|o| !o.thin)
        .map(|o| o.recs.iter().filter(|r| in_window(r)).count() as f64 / window_s)
        .collect();
    fps.sort_by(f64::total_cmp);
    let mut thin_fps: Vec<f64> = thin
        .iter()
        .map(|o| o.recs.iter().filter(|r| in_window(r)).count() as f64 / window_s)
        .collect();
    thin_fps.sort_by(f64::total_cmp);

    // Latency of normal viewers.
    let latency = sorted_latencies(&normal, in_window);

    // Sync spread: per frame id, earliest and latest receive among normal viewers; frames
    // whose earliest receive lies in the window.
    let mut per_frame: HashMap<u64, (u32, u32, u32)> = HashMap::new();
    for o in &normal {
        for r in &o.recs {
            let e = per_frame.entry(r.frame_id).or_insert((u32::MAX, 0, 0));
            e.0 = e.0.min(r.recv_us);
            e.1 = e.1.max(r.recv_us);
            e.2 += 1;
        }
    }
    let everyone = u32::try_from(normal.len()).unwrap_or(u32::MAX);
    let mut spread_all: Vec<i64> = Vec::new();
    let mut spread_complete: Vec<i64> = Vec::new();
    let mut frames_seen = 0u64;
    for (id, (first, last, count)) in &per_frame {
        if *id == u64::MAX || *first < ws || *first >= we {
            continue;
        }
        frames_seen += 1;
        let spread = i64::from(last - first);
        spread_all.push(spread);
        if *count >= everyone {
            spread_complete.push(spread);
        }
    }
    spread_all.sort_unstable();
    spread_complete.sort_unstable();

    // Frame ids a normal viewer missed inside the span it saw (drops).
    let mut missed = 0u64;
    let mut expected = 0u64;
    for o in &normal {
        let ids: Vec<u64> = o
            .recs
            .iter()
            .filter(|r| in_window(r))
            .map(|r| r.frame_id)
            .collect();
        if let (Some(first), Some(last)) = (ids.first(), ids.last()) {
            if last >= first && *last != u64::MAX {
                let span = last - first + 1;
                expected += span;
                missed += span.saturating_sub(ids.len() as u64);
            }
        }
    }

    // Thin viewers' frame age (their latency), in the window (which starts after warm-up).
    let thin_age = sorted_latencies(&thin, in_window);

    let errors: Vec<&str> = outcomes
        .iter()
        .filter_map(|o| o.error.as_deref())
        .take(5)
        .collect();
    let round2 = |v: Option<f64>| v.map(|v| (v * 100.0).round() / 100.0);
    let json = json!({
        "viewers_connected": normal.len(),
        "thin_connected": thin.len(),
        "viewer_errors": outcomes.iter().filter(|o| o.error.is_some()).count(),
        "first_errors": errors,
        "decode_errors": outcomes.iter().map(|o| o.decode_errors).sum::<u64>(),
        "viewer_frames": viewer_frames,
        "fps_min": round2(fps.first().copied()),
        "fps_p1": round2(quantile(&fps, 0.01)),
        "fps_median": round2(quantile(&fps, 0.5)),
        "fps_max": round2(fps.last().copied()),
        "frames_missed_pct": if expected > 0 { json!((missed as f64 / expected as f64 * 10000.0).round() / 100.0) } else { serde_json::Value::Null },
        "latency_ms_p50": ms(quantile(&latency, 0.5)),
        "latency_ms_p99": ms(quantile(&latency, 0.99)),
        "latency_ms_max": ms(latency.last().copied()),
        "frames_in_window": frames_seen,
        "frames_all_viewers_got": spread_complete.len(),
        "sync_spread_ms_p50": ms(quantile(&spread_complete, 0.5)),
        "sync_spread_ms_p99": ms(quantile(&spread_complete, 0.99)),
        "sync_spread_any_ms_p50": ms(quantile(&spread_all, 0.5)),
        "sync_spread_any_ms_p99": ms(quantile(&spread_all, 0.99)),
        "thin_fps_median": round2(quantile(&thin_fps, 0.5)),
        "thin_age_ms_p50": ms(quantile(&thin_age, 0.5)),
        "thin_age_ms_p99": ms(quantile(&thin_age, 0.99)),
        "thin_age_ms_max": ms(thin_age.last().copied()),
        "seconds_requested": args.seconds,
        "warmup_s": args.warmup,
        "wall_unix_s": SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
    });
    Report {
        json,
        viewer_frames,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_quantiles() {
        let v: Vec<i64> = (1..=100).collect();
        assert_eq!(quantile(&v, 0.5), Some(50));
        assert_eq!(quantile(&v, 0.99), Some(99));
        assert_eq!(quantile(&v, 1.0), Some(100));
        assert_eq!(quantile(&[7i64], 0.01), Some(7));
        assert_eq!(quantile::<i64>(&[], 0.5), None);
    }

    #[test]
    fn reads_own_cpu_and_memory() {
        assert!(cpu_ticks("self").is_some());
        assert!(status_kb("self", "VmRSS").unwrap() > 0);
        let (busy, total) = machine_ticks().unwrap();
        assert!(busy <= total);
        assert_eq!(cpu_ticks("no-such-pid"), None);
    }
}
