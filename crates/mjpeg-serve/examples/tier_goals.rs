//! The quality-tier goals side by side in one run, on loopback: a camera of VGA frames at
//! 25 fps, its tiers, and viewers that read like a thin link (400 KB/s, 128 KiB receive
//! buffer), like an application that takes one frame a second, and like a link that drops
//! from 2 MB/s to 400 KB/s and comes back, each on `quality=original` and on `auto`.
//!
//! ```text
//! cargo run --release -p mjpeg-serve --example tier_goals [-- seconds]
//! ```
//!
//! Prints per viewer: frames a second and frame age (receive time minus `X-Timestamp`) over
//! the run after a 5 s warm-up, the tiers it was sent, and for the changing link when it
//! left and came back to `original`; then each tier's encode time per frame.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use broadcast_core::{Config, Publisher};
use bytes::{Bytes, BytesMut};
use http_body_util::{combinators::UnsyncBoxBody, BodyExt, Full};
use hyper::{Request, Response};
use mjpeg_codec::{DecoderConfig, MjpegDecoder, Timestamp};
use mjpeg_serve::pacing::TcpInfo;
use mjpeg_serve::quality_tiers::{ChooserConfig, Ladder, Pins, Tier};
use mjpeg_serve::{
    Admission, CameraTiers, Frame, FrameState, MjpegBody, PacedViewer, Pacer, SharedFrame,
    TieredViewer, Viewer, ViewerCount, ViewerCounters,
};
use tokio_util::codec::Decoder;

const VGA: &[u8] = include_bytes!("../../quality-tiers/testdata/vga-640x480.jpg");
const WARM_UP: f64 = 5.0;

type Body = UnsyncBoxBody<mjpeg_serve::FrameBuf, Infallible>;

fn answer(
    request: &Request<hyper::body::Incoming>,
    fd: std::os::fd::RawFd,
    tiers: &Arc<CameraTiers<()>>,
    admission: &Arc<Admission>,
    counters: Arc<dyn ViewerCounters>,
) -> Response<Body> {
    let pins = match Pins::from_query(request.uri().query().unwrap_or("")) {
        Ok(pins) => pins,
        Err(error) => {
            let body = Full::new(mjpeg_serve::one(Bytes::from(error.to_string())));
            return Response::builder()
                .status(400)
                .body(body.boxed_unsync())
                .unwrap();
        }
    };
    let viewer = Viewer::admit(
        tiers.handle(Tier::Original),
        admission,
        counters,
        Duration::from_secs(1),
    )
    .unwrap();
    let paced = PacedViewer::new(viewer, Pacer::new(fd));
    let probe = Some(Box::new(TcpInfo(fd)) as Box<dyn mjpeg_serve::pacing::QueueProbe>);
    let tiered = TieredViewer::new(tiers.clone(), paced, pins, probe, ChooserConfig::default());
    Response::builder()
        .header("Content-Type", mjpeg_serve::content_type())
        .body(MjpegBody::tiered(tiered).boxed_unsync())
        .unwrap()
}

async fn relay(tiers: Arc<CameraTiers<()>>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let admission = Arc::new(Admission::new(0, 0));
    let counters: Arc<dyn ViewerCounters> = Arc::new(ViewerCount::default());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            mjpeg_serve::pacing::tune_viewer_socket(&stream);
            let fd = stream.as_raw_fd();
            let (tiers, admission, counters) = (tiers.clone(), admission.clone(), counters.clone());
            let service = hyper::service::service_fn(move |request| {
                let response = answer(&request, fd, &tiers, &admission, counters.clone());
                async move { Ok::<_, Infallible>(response) }
            });
            tokio::spawn(async move {
                // As the relay: hyper buffers at most one frame beyond the socket (its default
                // 400 KB would hold eight stale camera frames in front of a slow reader).
                let _ = hyper::server::conn::http1::Builder::new()
                    .max_buf_size(8192)
                    .writev(true)
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

/// How a viewer reads.
#[derive(Clone, Copy)]
enum Reads {
    /// Bytes a second, as a function of seconds since the start (a thin or changing link).
    Rate(fn(f64) -> u64),
    /// One whole frame a second (an application doing heavy work per frame).
    FramePerSecond,
    /// All it has every this many seconds (an application busy between reads: a loaded
    /// client, a script's loop).
    Bursts(f64),
}

struct Seen {
    at: f64,
    age: f64,
    quality: String,
}

fn watch(
    addr: SocketAddr,
    query: &'static str,
    rcvbuf: Option<usize>,
    reads: Reads,
    seconds: f64,
) -> Vec<Seen> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    if let Some(size) = rcvbuf {
        socket.set_recv_buffer_size(size).unwrap();
    }
    // MSS=1448: segments as on an Ethernet or Wi-Fi path instead of loopback's 64 KiB, so the
    // receiver announces its window in steps as a remote client's does.
    if let Ok(mss) = std::env::var("MSS") {
        let mss = mss.parse().expect("MSS=n: a segment size in bytes");
        socket.set_tcp_mss(mss).expect("MSS=n: TCP_MAXSEG refused");
    }
    socket.connect(&addr.into()).unwrap();
    let mut stream: std::net::TcpStream = socket.into();
    write!(
        stream,
        "GET /stream?{query} HTTP/1.0\r\nHost: relay\r\n\r\n"
    )
    .unwrap();
    let timeout = match reads {
        Reads::Bursts(_) => Duration::from_millis(1),
        _ => Duration::from_millis(50),
    };
    stream.set_read_timeout(Some(timeout)).unwrap();
    let started = Instant::now();
    let mut wire = BytesMut::new();
    let mut decoder: Option<MjpegDecoder> = None;
    let mut seen = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let mut allowed = 0.0f64;
    let mut last = Instant::now();
    let mut next_frame_at = 0.0;
    while started.elapsed().as_secs_f64() < seconds {
        let now = started.elapsed().as_secs_f64();
        let take = match reads {
            Reads::Rate(rate) => {
                let limit = rate(now) as f64;
                allowed = (allowed + limit * last.elapsed().as_secs_f64()).min(limit / 20.0);
                last = Instant::now();
                if allowed < 1.0 {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                }
                (allowed as usize).min(chunk.len())
            }
            Reads::FramePerSecond => {
                if now < next_frame_at {
                    std::thread::sleep(Duration::from_secs_f64(next_frame_at - now));
                    continue;
                }
                4096
            }
            Reads::Bursts(_) => {
                if now < next_frame_at {
                    std::thread::sleep(Duration::from_secs_f64(next_frame_at - now));
                    continue;
                }
                chunk.len()
            }
        };
        if let Some(decoder) = decoder.as_mut() {
            if let Ok(Some(part)) = decoder.decode(&mut wire) {
                let headers = part.headers();
                let sent = headers
                    .get("x-timestamp")
                    .and_then(Timestamp::parse)
                    .map(Timestamp::to_system_time)
                    .unwrap();
                let age = SystemTime::now()
                    .duration_since(sent)
                    .unwrap_or_default()
                    .as_secs_f64();
                seen.push(Seen {
                    at: started.elapsed().as_secs_f64(),
                    age,
                    quality: headers.get("x-quality").unwrap_or("").to_owned(),
                });
                if matches!(reads, Reads::FramePerSecond) {
                    next_frame_at = started.elapsed().as_secs_f64() + 1.0;
                }
                continue;
            }
        }
        let n = match stream.read(&mut chunk[..take]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(_) => {
                if let Reads::Bursts(every) = reads {
                    // Read all there was: busy until the next burst.
                    next_frame_at = started.elapsed().as_secs_f64() + every;
                }
                continue;
            }
        };
        allowed -= n as f64;
        wire.extend_from_slice(&chunk[..n]);
        if decoder.is_none() {
            let Some(end) = wire.windows(4).position(|w| w == b"\r\n\r\n") else {
                continue;
            };
            let head = String::from_utf8_lossy(&wire[..end]).into_owned();
            let content_type = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(": ")?;
                    name.eq_ignore_ascii_case("content-type")
                        .then(|| value.to_owned())
                })
                .unwrap();
            let _ = wire.split_to(end + 4);
            decoder = Some(MjpegDecoder::from_content_type(
                &content_type,
                DecoderConfig::default(),
            ));
        }
    }
    seen
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn report(name: &str, seen: &[Seen], seconds: f64) {
    let steady: Vec<&Seen> = seen.iter().filter(|s| s.at >= WARM_UP).collect();
    let mut ages: Vec<f64> = steady.iter().map(|s| s.age).collect();
    ages.sort_by(f64::total_cmp);
    let mut tiers: Vec<(String, usize)> = Vec::new();
    for s in &steady {
        match tiers.iter_mut().find(|(q, _)| *q == s.quality) {
            Some((_, n)) => *n += 1,
            None => tiers.push((s.quality.clone(), 1)),
        }
    }
    let tiers: Vec<String> = tiers.iter().map(|(q, n)| format!("{q} {n}")).collect();
    println!(
        "| {name:<44} | {:>5.1} | {:>5.2} | {:>5.2} | {:>5.2} | {} |",
        steady.len() as f64 / (seconds - WARM_UP),
        percentile(&ages, 0.5),
        percentile(&ages, 0.99),
        ages.last().copied().unwrap_or(f64::NAN),
        tiers.join(", ")
    );
}

fn main() {
    let seconds: f64 = std::env::args()
        .nth(1)
        .map_or(40.0, |s| s.parse().expect("seconds"));
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .init();
    }
    // ONLY=n runs the n-th viewer alone (to read its trace); AGES=1 lists every frame; MSS=n
    // sets the clients' TCP_MAXSEG (1448: as over Ethernet or Wi-Fi).
    let only: Option<usize> = std::env::var("ONLY")
        .ok()
        .map(|n| n.parse().expect("ONLY=n"));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _guard = runtime.enter();
    let camera = Publisher::<SharedFrame>::new(Config::default());
    let tiers = Arc::new(CameraTiers::spawn(
        camera.handle(),
        Ladder::default(),
        Config::default(),
    ));
    runtime.spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(40));
        for id in 0.. {
            tick.tick().await;
            let frame = Frame::new(
                id,
                Bytes::from_static(VGA),
                Timestamp::now(),
                FrameState::Live,
                (),
            );
            camera.publish(Arc::new(frame));
        }
    });
    let addr = runtime.block_on(relay(tiers.clone()));

    fn thin(_: f64) -> u64 {
        400_000
    }
    // 2 MB/s, then 400 KB/s from 10 s to 25 s, then 2 MB/s again.
    fn dropping(t: f64) -> u64 {
        if (10.0..25.0).contains(&t) {
            400_000
        } else {
            2_000_000
        }
    }
    let small = Some(128 * 1024);
    let viewers: Vec<(&str, &'static str, Option<usize>, Reads)> = vec![
        (
            "thin 400 KB/s, 128 KiB buffer, original",
            "quality=original",
            small,
            Reads::Rate(thin),
        ),
        (
            "thin 400 KB/s, 128 KiB buffer, auto",
            "quality=auto",
            small,
            Reads::Rate(thin),
        ),
        (
            "app reading 1 frame/s, original",
            "quality=original",
            None,
            Reads::FramePerSecond,
        ),
        (
            "app reading 1 frame/s, auto",
            "quality=auto",
            None,
            Reads::FramePerSecond,
        ),
        (
            "app reading all it has every 0.3 s, original",
            "quality=original",
            None,
            Reads::Bursts(0.3),
        ),
        (
            "app reading all it has every 0.3 s, auto",
            "quality=auto",
            None,
            Reads::Bursts(0.3),
        ),
        (
            "2 MB/s -> 400 KB/s (10-25 s) -> 2 MB/s, auto",
            "",
            small,
            Reads::Rate(dropping),
        ),
    ];
    let handles: Vec<_> = viewers
        .iter()
        .enumerate()
        .map(|(i, &(_, query, rcvbuf, reads))| {
            let run = only.is_none_or(|n| n == i);
            std::thread::spawn(move || {
                if run {
                    watch(addr, query, rcvbuf, reads, seconds)
                } else {
                    Vec::new()
                }
            })
        })
        .collect();
    let results: Vec<Vec<Seen>> = handles.into_iter().map(|h| h.join().unwrap()).collect();

    println!("{seconds} s run, figures after a {WARM_UP} s warm-up; camera 640x480 at 25 fps, {} B frames", VGA.len());
    println!("| viewer                                       |   fps | age p50 | p99 |  max | tiers sent (frames) |");
    println!("|---|---|---|---|---|---|");
    for ((name, ..), seen) in viewers.iter().zip(&results) {
        report(name, seen, seconds);
    }
    if std::env::var_os("AGES").is_some() {
        // AGES=1 lists every frame each viewer got: when, how old, which tier.
        for ((name, ..), seen) in viewers.iter().zip(&results) {
            for s in seen {
                eprintln!("{name}: at {:.2} s age {:.2} s {}", s.at, s.age, s.quality);
            }
        }
    }
    let changing = results.last().expect("the changing link");
    let left = changing
        .iter()
        .find(|s| s.at >= 10.0 && s.quality != "original");
    let back = changing
        .iter()
        .filter(|s| s.at >= 25.0)
        .find(|s| s.quality == "original");
    let switches = changing
        .windows(2)
        .filter(|w| w[0].quality != w[1].quality)
        .count();
    println!(
        "changing link: left original {:.1} s after the drop, back on original {:.1} s after the recovery, {switches} switches in all",
        left.map_or(f64::NAN, |s| s.at - 10.0),
        back.map_or(f64::NAN, |s| s.at - 25.0),
    );
    for stats in tiers.stats().iter().skip(1) {
        println!(
            "tier {:<6}: {:>5} frames, {:>6.0} B mean, encode (shrink + encode) {:.2} ms per frame",
            stats.tier.as_str(),
            stats.frames,
            stats.mean_frame_bytes().unwrap_or(0.0),
            stats.mean_encode_time().unwrap_or_default().as_secs_f64() * 1000.0
        );
    }
    let decodes = tiers.decodes().max(1);
    println!(
        "decodes: {} ({:.2} ms each), camera frames skipped while encoding: {}",
        tiers.decodes(),
        tiers.decode_time().as_secs_f64() * 1000.0 / decodes as f64,
        tiers.skipped()
    );
}
