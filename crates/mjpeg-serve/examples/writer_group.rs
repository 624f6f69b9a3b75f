//! A measurement for #19, not a server to run: the relay's viewer path with **one writer loop
//! per group of viewers** instead of a tokio task and a hyper connection per viewer. Frames
//! are published on a `broadcast-core` broadcast as the relay publishes a camera's, and every
//! viewer is the relay's own `PacedViewer` (its queue, age bound, skip-to-newest and pacing);
//! but a group's viewers are driven by one task, which polls only the viewers that were woken
//! (each has a waker of its own) and writes each frame with one non-blocking `writev`, as the
//! writev floor does.
//! No HTTP parser (a request is read to its blank line), no per-viewer task, no per-write
//! timer.
//!
//! ```text
//! cargo run --release -p mjpeg-serve --example writer_group -- --port 8071 --groups 2
//! cargo run --release --example viewer_load -- --url http://127.0.0.1:8071/stream --viewers 100
//! ```
//!
//! `docs/bench/writer_group.sh` runs it next to the floor and the relay and prints ratios.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::IoSlice;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use broadcast_core::{Config, Publisher};
use bytes::Bytes;
use futures_util::stream::{FuturesUnordered, StreamExt};
use mjpeg_codec::Timestamp;
use mjpeg_serve::{
    pacing, Admission, Frame, FrameState, PacedViewer, Pacer, SharedFrame, Viewer, ViewerCount,
    ViewerCounters,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

const VGA: &[u8] = include_bytes!("../../quality-tiers/testdata/vga-640x480.jpg");

/// A viewer of a group: its socket, its frames, and what is still owed of the last one.
struct Member {
    stream: TcpStream,
    viewer: PacedViewer,
    /// The part being written and how much of it went.
    pending: Option<([Bytes; 3], usize)>,
}

impl Member {
    /// Writes what is owed and every frame the viewer has, until it waits for a frame or for
    /// room in its socket (`Pending`) or is gone: its socket failed or its broadcast ended.
    fn drive(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            if let Some((parts, written)) = self.pending.as_mut() {
                match write_part(&self.stream, parts, written) {
                    Ok(true) => self.pending = None,
                    Ok(false) => match self.stream.poll_write_ready(cx) {
                        Poll::Ready(Ok(())) => continue,
                        Poll::Ready(Err(_)) => return Poll::Ready(()),
                        Poll::Pending => return Poll::Pending,
                    },
                    Err(_) => return Poll::Ready(()),
                }
            }
            match self.viewer.poll_frame(cx) {
                Poll::Ready(Some(frame)) => {
                    let parts = [
                        frame.head.clone(),
                        frame.jpeg.clone(),
                        mjpeg_serve::writer().delimiter(),
                    ];
                    self.pending = Some((parts, 0));
                }
                Poll::Ready(None) => return Poll::Ready(()),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// One non-blocking `writev` of what is left of `parts`; `Ok(true)` once all went.
fn write_part(
    stream: &TcpStream,
    parts: &[Bytes; 3],
    written: &mut usize,
) -> std::io::Result<bool> {
    let total: usize = parts.iter().map(Bytes::len).sum();
    while *written < total {
        let mut skip = *written;
        let mut slices = [IoSlice::new(&[]); 3];
        let mut n = 0;
        for part in parts {
            if skip >= part.len() {
                skip -= part.len();
                continue;
            }
            slices[n] = IoSlice::new(&part[skip..]);
            skip = 0;
            n += 1;
        }
        match stream.try_write_vectored(&slices[..n]) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(sent) => *written += sent,
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => return Ok(false),
            Err(error) => return Err(error),
        }
    }
    Ok(true)
}

/// A group's writer loop: takes new members from `joins` and drives the members that were
/// woken (each has a waker of its own, as in `FuturesUnordered`; a frame published wakes the
/// loop's task once for all its viewers, and a slow viewer's socket wakes only that viewer).
async fn writer_loop(mut joins: mpsc::UnboundedReceiver<Member>) {
    let mut members = FuturesUnordered::new();
    std::future::poll_fn(|cx| {
        while let Poll::Ready(Some(mut member)) = joins.poll_recv(cx) {
            members.push(std::future::poll_fn(move |cx| member.drive(cx)));
        }
        while let Poll::Ready(Some(())) = members.poll_next_unpin(cx) {}
        Poll::<()>::Pending
    })
    .await
}

/// Reads a request to its blank line, answers with the stream's head and hands the viewer to
/// its group.
async fn accept(
    mut stream: TcpStream,
    broadcast: broadcast_core::Handle<SharedFrame>,
    admission: Arc<Admission>,
    counters: Arc<dyn ViewerCounters>,
    group: mpsc::UnboundedSender<Member>,
) -> std::io::Result<()> {
    let mut request = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 8192 {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        request.extend_from_slice(&buf[..n]);
    }
    pacing::tune_viewer_socket(&stream);
    let writer = mjpeg_serve::writer();
    let head = format!(
        "HTTP/1.0 200 OK\r\nContent-Type: {}\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n",
        writer.content_type()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(&writer.preamble()).await?;
    let viewer = Viewer::admit(&broadcast, &admission, counters, Duration::from_secs(1))
        .map_err(|_| std::io::Error::other("not admitted"))?;
    let pacer = Pacer::new(stream.as_raw_fd());
    let member = Member {
        stream,
        viewer: PacedViewer::new(viewer, pacer),
        pending: None,
    };
    group
        .send(member)
        .map_err(|_| std::io::Error::other("group gone"))
}

fn main() -> std::io::Result<()> {
    let mut port = 8071u16;
    let mut groups = 2usize;
    let mut fps = 30.0f64;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().expect("a value after each option");
        match arg.as_str() {
            "--port" => port = value.parse().expect("--port N"),
            "--groups" => groups = value.parse().expect("--groups N"),
            "--fps" => fps = value.parse().expect("--fps F"),
            other => panic!("unknown option {other}"),
        }
    }
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let camera = Publisher::<SharedFrame>::new(Config::default());
        let broadcast = camera.handle();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / fps));
            for id in 0.. {
                tick.tick().await;
                let jpeg = Bytes::from_static(VGA);
                let frame = Frame::new(id, jpeg, Timestamp::now(), FrameState::Live, ());
                camera.publish(Arc::new(frame));
            }
        });
        let senders: Vec<_> = (0..groups.max(1))
            .map(|_| {
                let (tx, rx) = mpsc::unbounded_channel();
                tokio::spawn(writer_loop(rx));
                tx
            })
            .collect();
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        println!(
            "writer groups: http://{}/stream ({} groups, {} B frames, {fps} fps)",
            listener.local_addr()?,
            senders.len(),
            VGA.len()
        );
        let admission = Arc::new(Admission::new(0, 0));
        let counters: Arc<dyn ViewerCounters> = Arc::new(ViewerCount::default());
        for i in 0usize.. {
            let (stream, _) = listener.accept().await?;
            let group = senders[i % senders.len()].clone();
            let (broadcast, admission, counters) =
                (broadcast.clone(), admission.clone(), counters.clone());
            tokio::spawn(async move {
                let _ = accept(stream, broadcast, admission, counters, group).await;
            });
        }
        Ok(())
    })
}
