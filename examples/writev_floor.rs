//! The **floor** of MJPEG fan-out: the least work any relay can do to send the same frames to
//! the same viewers. One thread, non-blocking sockets (mio/epoll), and per viewer and frame ONE
//! `writev` of `[part head, JPEG, closing delimiter]`. No queues, no copies, no HTTP parser.
//! The relay benchmark (`docs/bench/viewers.sh`) runs it next to camrelay and reports ratios.
//!
//! ```text
//! cargo run --release --example writev_floor -- --port 8070 --fps 30
//! curl -s http://127.0.0.1:8070/stream | head -c 300
//! cargo run --release --example viewer_load -- --url http://127.0.0.1:8070/stream --viewers 100
//! ```
//!
//! Any request gets `HTTP/1.0 200 OK` and `multipart/x-mixed-replace; boundary=camrelayframe`;
//! the frames are `mock_camera::Scene::new(640, 480, 80)` (~60 KB photo JPEGs), each part with
//! `Content-Length`, `X-Frame-Id` and `X-Timestamp` (when the frame was sent). A viewer whose
//! `writev` was partial gets the rest of that part when its socket is writable again and skips
//! frames until it is done, so a part is never interleaved with the next one.
#![allow(clippy::unwrap_used)]

use std::io::{self, IoSlice, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use mjpeg_codec::{MultipartWriter, PartHead, Timestamp};

/// Command line of the floor server.
#[derive(Debug, Parser)]
#[command(about = "One thread, one non-blocking writev per viewer and frame: the fan-out floor.")]
struct Args {
    /// Port to listen on (0 = any free port; the address is printed).
    #[arg(long, default_value_t = 8070)]
    port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    bind: std::net::IpAddr,
    /// Frames per second.
    #[arg(long, default_value_t = 30.0)]
    fps: f64,
    /// Frame width.
    #[arg(long, default_value_t = 640)]
    width: u32,
    /// Frame height.
    #[arg(long, default_value_t = 480)]
    height: u32,
    /// JPEG quality of the scene.
    #[arg(long, default_value_t = 80)]
    quality: u8,
    /// Answer HTTP/1.1 with chunked framing (each part one chunk, as hyper frames the relay's
    /// stream) instead of HTTP/1.0 delimited by closing: the same bytes a client of the relay
    /// parses.
    #[arg(long)]
    chunked: bool,
}

/// The listener's token; viewer `i` has token `i + 1`.
const LISTENER: Token = Token(0);
/// Largest request head read before answering anyway.
const MAX_REQUEST: usize = 8 * 1024;

/// Bytes still owed to one viewer: the slices of one write and how far it got.
struct Pending {
    slices: [Bytes; 5],
    written: usize,
}

impl Pending {
    /// `bytes` alone, nothing written yet.
    fn whole(bytes: Bytes) -> Pending {
        Pending {
            slices: [
                bytes,
                Bytes::new(),
                Bytes::new(),
                Bytes::new(),
                Bytes::new(),
            ],
            written: 0,
        }
    }

    fn total(&self) -> usize {
        self.slices.iter().map(Bytes::len).sum()
    }
}

/// One connected viewer.
struct Viewer {
    stream: TcpStream,
    /// Request bytes until the blank line; `None` once the response started.
    request: Option<Vec<u8>>,
    /// A partly written response head or part; new frames are skipped until it is done.
    pending: Option<Pending>,
}

/// Writes `pending` from where it stopped, until done or the socket is full.
/// Returns `Ok(true)` when everything is written.
fn write_pending(stream: &mut TcpStream, pending: &mut Pending) -> io::Result<bool> {
    let total = pending.total();
    while pending.written < total {
        let mut skip = pending.written;
        let mut iov = [IoSlice::new(&[]); 5];
        let mut n = 0;
        for slice in &pending.slices {
            if skip >= slice.len() {
                skip -= slice.len();
                continue;
            }
            iov[n] = IoSlice::new(&slice[skip..]);
            skip = 0;
            n += 1;
        }
        match stream.write_vectored(&iov[..n]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(written) => pending.written += written,
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(true)
}

/// Counters printed once a second.
#[derive(Default)]
struct Counters {
    frames: u64,
    parts_sent: u64,
    frames_skipped: u64,
    closed: u64,
}

fn main() -> io::Result<()> {
    let args = Args::parse();
    let scene =
        mock_camera::Scene::new(args.width, args.height, args.quality).map_err(io::Error::other)?;
    let nofile = rlimit::increase_nofile_limit(u64::MAX)?;
    let writer = MultipartWriter::default();
    let preamble = writer.preamble();
    let response = if args.chunked {
        Bytes::from(format!(
            "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:X}\r\n{}\r\n",
            writer.content_type(),
            preamble.len(),
            String::from_utf8_lossy(&preamble),
        ))
    } else {
        Bytes::from(format!(
            "HTTP/1.0 200 OK\r\nContent-Type: {}\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n{}",
            writer.content_type(),
            String::from_utf8_lossy(&preamble),
        ))
    };

    let addr = SocketAddr::new(args.bind, args.port);
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        None,
    )?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(4096)?;
    socket.set_nonblocking(true)?;
    let std_listener: std::net::TcpListener = socket.into();
    let mut listener = TcpListener::from_std(std_listener);
    let local = listener.local_addr()?;

    let mut poll = Poll::new()?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    println!(
        "writev floor: http://{local}/stream ({}x{} q{}, {} frames, {:.0} fps, nofile {nofile})",
        args.width,
        args.height,
        args.quality,
        scene.frame_count(),
        args.fps
    );
    io::stdout().flush()?;

    let period = Duration::from_secs_f64(1.0 / args.fps.max(0.1));
    let mut viewers: Vec<Option<Viewer>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut events = Events::with_capacity(4096);
    let mut next_tick = Instant::now();
    let mut next_report = Instant::now() + Duration::from_secs(1);
    let mut counters = Counters::default();
    let mut read_buf = [0u8; 2048];

    loop {
        let now = Instant::now();
        poll.poll(&mut events, Some(next_tick.saturating_duration_since(now)))?;
        for event in &events {
            if event.token() == LISTENER {
                loop {
                    match listener.accept() {
                        Ok((mut stream, _)) => {
                            stream.set_nodelay(true)?;
                            let index = free.pop().unwrap_or_else(|| {
                                viewers.push(None);
                                viewers.len() - 1
                            });
                            poll.registry().register(
                                &mut stream,
                                Token(index + 1),
                                Interest::READABLE | Interest::WRITABLE,
                            )?;
                            viewers[index] = Some(Viewer {
                                stream,
                                request: Some(Vec::new()),
                                pending: None,
                            });
                        }
                        Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                        Err(err) => {
                            eprintln!("accept: {err}");
                            break;
                        }
                    }
                }
                continue;
            }
            let index = event.token().0 - 1;
            let Some(viewer) = viewers.get_mut(index).and_then(Option::as_mut) else {
                continue;
            };
            let mut alive = true;
            if event.is_readable() {
                alive = read_request(viewer, &mut read_buf, &response);
            }
            if alive && event.is_writable() {
                if let Some(pending) = viewer.pending.as_mut() {
                    match write_pending(&mut viewer.stream, pending) {
                        Ok(true) => viewer.pending = None,
                        Ok(false) => {}
                        Err(_) => alive = false,
                    }
                }
            }
            if !alive {
                close(&poll, &mut viewers, &mut free, index, &mut counters);
            }
        }

        let now = Instant::now();
        if now >= next_tick {
            let jpeg = scene.frame(counters.frames);
            let head = writer.part_head(&PartHead {
                content_length: jpeg.len(),
                frame_id: Some(counters.frames),
                timestamp: Some(Timestamp::now()),
                extra: &[],
            });
            let delimiter = writer.delimiter();
            let (chunk_head, chunk_end) = if args.chunked {
                let size = head.len() + jpeg.len() + delimiter.len();
                (
                    Bytes::from(format!("{size:X}\r\n")),
                    Bytes::from_static(b"\r\n"),
                )
            } else {
                (Bytes::new(), Bytes::new())
            };
            for index in 0..viewers.len() {
                let Some(viewer) = viewers[index].as_mut() else {
                    continue;
                };
                if viewer.request.is_some() {
                    continue;
                }
                if viewer.pending.is_some() {
                    counters.frames_skipped += 1;
                    continue;
                }
                let mut pending = Pending {
                    slices: [
                        chunk_head.clone(),
                        head.clone(),
                        jpeg.clone(),
                        delimiter.clone(),
                        chunk_end.clone(),
                    ],
                    written: 0,
                };
                match write_pending(&mut viewer.stream, &mut pending) {
                    Ok(true) => counters.parts_sent += 1,
                    Ok(false) => {
                        counters.parts_sent += 1;
                        viewer.pending = Some(pending);
                    }
                    Err(_) => close(&poll, &mut viewers, &mut free, index, &mut counters),
                }
            }
            counters.frames += 1;
            next_tick += period;
            if next_tick + period < now {
                next_tick = now + period;
            }
        }
        if now >= next_report {
            next_report += Duration::from_secs(1);
            let live = viewers.iter().flatten().count();
            eprintln!(
                "floor: viewers {live} frames {} parts {} skipped {} closed {}",
                counters.frames, counters.parts_sent, counters.frames_skipped, counters.closed
            );
        }
    }
}

/// Reads the request head; at its blank line queues the response head. False when the viewer
/// went away.
fn read_request(viewer: &mut Viewer, buf: &mut [u8], response: &Bytes) -> bool {
    loop {
        match viewer.stream.read(buf) {
            Ok(0) => return false,
            Ok(n) => {
                let Some(request) = viewer.request.as_mut() else {
                    continue; // bytes after the request: ignored
                };
                request.extend_from_slice(&buf[..n]);
                if request.windows(4).any(|w| w == b"\r\n\r\n") || request.len() > MAX_REQUEST {
                    viewer.request = None;
                    let mut pending = Pending::whole(response.clone());
                    match write_pending(&mut viewer.stream, &mut pending) {
                        Ok(true) => {}
                        Ok(false) => viewer.pending = Some(pending),
                        Err(_) => return false,
                    }
                }
            }
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => return true,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

/// Drops viewer `index`, deregistering its socket.
fn close(
    poll: &Poll,
    viewers: &mut [Option<Viewer>],
    free: &mut Vec<usize>,
    index: usize,
    counters: &mut Counters,
) {
    if let Some(mut viewer) = viewers[index].take() {
        let _ = poll.registry().deregister(&mut viewer.stream);
        free.push(index);
        counters.closed += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A partial `writev` resumes at the right byte of the right slice, across slices.
    #[test]
    fn pending_write_resumes_across_slices() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        server.set_nonblocking(true).unwrap();
        let mut server = TcpStream::from_std(server);
        let jpeg: Vec<u8> = (0..4_000_000u32).map(|i| (i % 251) as u8).collect();
        let mut pending = Pending {
            slices: [
                Bytes::from_static(b"head"),
                Bytes::from(jpeg.clone()),
                Bytes::from_static(b"tail"),
                Bytes::new(),
                Bytes::from_static(b"end"),
            ],
            written: 0,
        };
        // 4 MB does not fit the socket buffers of a peer that has not read yet: the first
        // call stops part-way. (With the reader already draining, loopback can take it all.)
        assert!(!write_pending(&mut server, &mut pending).unwrap());
        let reader = std::thread::spawn(move || {
            let mut client = client;
            let mut all = Vec::new();
            client.read_to_end(&mut all).unwrap();
            all
        });
        while !write_pending(&mut server, &mut pending).unwrap() {
            std::thread::sleep(Duration::from_millis(1));
        }
        drop(server);
        let all = reader.join().unwrap();
        assert_eq!(&all[..4], b"head");
        assert_eq!(&all[4..all.len() - 7], &jpeg[..]);
        assert_eq!(&all[all.len() - 7..], b"tailend");
    }
}
