//! Pacing for viewers on slow links: a viewer whose link cannot carry the camera's rate gets
//! its next frame only once the frames already sent to it have drained, so that what it
//! receives is fresh.
//!
//! `TCP_NOTSENT_LOWAT` (see [`crate::server::NOTSENT_LOWAT`]) keeps the relay's own send queue
//! short, but the viewer's receive buffer (256 KiB on Linux for a 128 KiB `SO_RCVBUF`, several
//! MB with autotuning) and router queues still fill with frames: on a 400 KB/s link that is
//! more than half a second of stale video before the newest frame's first byte. So a viewer that
//! fell behind (its queue overflowed) and whose link is the reason (the peer's window held the
//! sender back, or bytes wait unread) is paced for a few seconds: before it takes a frame,
//! `TCP_INFO` must show the relay's unsent bytes under the low-water mark, the peer's window at
//! least half as wide as the widest it advertised (the viewer read what it was sent), and no
//! more than a quarter second of bytes queued in the network. Meanwhile its queue keeps
//! overflowing and it then skips to the newest frame, as any viewer that fell behind does.
//! Viewers that keep up are never paced and cost no system call.

#[cfg(target_os = "linux")]
mod tcp_info;

use std::future::Future;
use std::os::fd::RawFd;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

use crate::camera::viewer::Viewer;
use crate::frame::SharedFrame;

/// Shortest wait before a paced viewer's socket is looked at again.
const RECHECK: Duration = Duration::from_millis(10);
/// Longest wait before a paced viewer's socket is looked at again.
const MAX_RECHECK: Duration = Duration::from_millis(50);
/// How long a viewer stays paced after it last fell behind on a narrow link.
const PACED_FOR: Duration = Duration::from_secs(5);
/// Most time's worth of bytes that may wait in the network before the next frame is sent.
const NETWORK_QUEUE: Duration = Duration::from_millis(250);

/// The pacing state of one viewer connection.
#[derive(Debug)]
pub struct Pacer {
    fd: RawFd,
    /// The widest window the peer advertised: its receive buffer with nothing unread.
    widest_window: u64,
    /// `tcpi_rwnd_limited` at the last look.
    window_limited_us: u64,
    paced_until: Option<Instant>,
    recheck: Option<Pin<Box<Sleep>>>,
}

impl Pacer {
    /// A pacer for the TCP connection `fd`, or `None` where `TCP_INFO` is not available.
    pub fn new(fd: RawFd) -> Option<Pacer> {
        let mut pacer = Pacer {
            fd,
            widest_window: 0,
            window_limited_us: 0,
            paced_until: None,
            recheck: None,
        };
        pacer.look()?;
        Some(pacer)
    }

    /// Whether the viewer is paced now.
    pub fn is_pacing(&self) -> bool {
        self.paced_until.is_some_and(|until| Instant::now() < until)
    }

    /// The viewer fell behind (frames were dropped for it): pace it if its link is the reason.
    /// A viewer already paced that falls behind again stays paced without another look: its
    /// frames were held back because its link had not drained.
    pub fn fell_behind(&mut self) {
        if self.is_pacing() {
            self.paced_until = Some(Instant::now() + PACED_FOR);
            return;
        }
        let before = self.window_limited_us;
        let Some(queues) = self.look() else {
            return;
        };
        if queues.window_limited_us > before || !self.drained(&queues) {
            tracing::debug!(
                ?queues,
                widest_window = self.widest_window,
                "viewer paced: its link is slower than the camera"
            );
            self.paced_until = Some(Instant::now() + PACED_FOR);
        }
    }

    /// Ready when the viewer may take its next frame: at once unless it is paced, else once the
    /// bytes sent to it have drained (looked at again when the link should have carried the
    /// excess, every 10 to 50 ms).
    pub fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if !self.is_pacing() {
            self.paced_until = None;
            self.recheck = None;
            return Poll::Ready(());
        }
        if let Some(sleep) = self.recheck.as_mut() {
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.recheck = None;
        }
        let looked = self.look();
        tracing::trace!(
            ?looked,
            widest_window = self.widest_window,
            "paced viewer's socket"
        );
        match looked {
            Some(queues) if !self.drained(&queues) => {
                let mut sleep = Box::pin(tokio::time::sleep(self.recheck_after(&queues)));
                // Registers the waker; a sleep of 10 ms or more is never ready at once.
                if sleep.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(());
                }
                self.recheck = Some(sleep);
                Poll::Pending
            }
            _ => Poll::Ready(()),
        }
    }

    fn drained(&self, queues: &SocketQueues) -> bool {
        self.excess_bytes(queues) == 0
    }

    /// Bytes to drain before the link counts as drained: the largest excess over the three
    /// limits (unsent bytes, bytes the peer has not read, bytes queued in the network).
    fn excess_bytes(&self, queues: &SocketQueues) -> u64 {
        let unread = self.widest_window.saturating_sub(queues.peer_window);
        let network = match queues.delivery_rate {
            0 => 0,
            rate => queues
                .network_queue
                .saturating_sub(rate.saturating_mul(NETWORK_QUEUE.as_millis() as u64) / 1000),
        };
        let notsent = queues
            .notsent
            .saturating_sub(u64::from(crate::server::NOTSENT_LOWAT));
        notsent
            .max(unread.saturating_sub(self.widest_window / 2))
            .max(network)
    }

    /// When to look again: once the link, at its recent delivery rate, should have carried the
    /// excess, within 10 to 50 ms.
    fn recheck_after(&self, queues: &SocketQueues) -> Duration {
        match queues.delivery_rate {
            0 => RECHECK,
            rate => {
                Duration::from_micros(self.excess_bytes(queues).saturating_mul(1_000_000) / rate)
                    .clamp(RECHECK, MAX_RECHECK)
            }
        }
    }

    fn look(&mut self) -> Option<SocketQueues> {
        let queues = socket_queues(self.fd)?;
        self.widest_window = self.widest_window.max(queues.peer_window);
        self.window_limited_us = queues.window_limited_us;
        Some(queues)
    }
}

/// A viewer with its pacer: yields the frames to send, holding back a paced viewer's next
/// frame until its link has drained, and keeping only the newest frame while it waits.
pub struct PacedViewer {
    viewer: Viewer,
    pacer: Option<Pacer>,
    /// The newest frame that arrived while the viewer was held back.
    held: Option<SharedFrame>,
    ended: bool,
    /// The viewer's drop count when last looked at: when it grows, the viewer fell behind.
    seen_dropped: u64,
}

impl PacedViewer {
    /// Wraps `viewer`; without a pacer frames pass straight through.
    pub fn new(viewer: Viewer, pacer: Option<Pacer>) -> Self {
        let seen_dropped = viewer.dropped();
        PacedViewer {
            viewer,
            pacer,
            held: None,
            ended: false,
            seen_dropped,
        }
    }

    /// Polls for the next frame to send (`None` once the broadcast ended).
    pub fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<SharedFrame>> {
        let Some(pacer) = self.pacer.as_mut() else {
            return self.viewer.poll_frame(cx);
        };
        if !pacer.is_pacing() && self.held.is_none() {
            let polled = self.viewer.poll_frame(cx);
            self.note_drops();
            return polled;
        }
        // Paced: take in every frame that arrived, keeping the newest, so that the frame sent
        // once the link has drained is the camera's latest, not the oldest in the queue.
        let mut replaced = 0;
        while !self.ended {
            match self.viewer.poll_frame(cx) {
                Poll::Ready(Some(frame)) => {
                    if self.held.replace(frame).is_some() {
                        replaced += 1;
                    }
                }
                Poll::Ready(None) => self.ended = true,
                Poll::Pending => break,
            }
        }
        self.viewer.count_paced(replaced);
        self.note_drops();
        let Some(pacer) = self.pacer.as_mut() else {
            return Poll::Pending;
        };
        if replaced > 0 {
            // Still slower than the camera: stay paced while the link is the reason.
            pacer.fell_behind();
        }
        if pacer.poll_ready(cx).is_pending() {
            return Poll::Pending;
        }
        match self.held.take() {
            Some(frame) if self.viewer.is_fresh(&frame) => Poll::Ready(Some(frame)),
            Some(_) => {
                self.viewer.count_stale(1);
                // Nothing fresh: wait for the next frame (its arrival wakes us).
                if self.ended {
                    Poll::Ready(None)
                } else {
                    self.poll_frame(cx)
                }
            }
            None if self.ended => Poll::Ready(None),
            None => Poll::Pending,
        }
    }

    /// Waits for the next frame to send (`None` once the broadcast ended).
    pub async fn next_frame(&mut self) -> Option<SharedFrame> {
        std::future::poll_fn(|cx| self.poll_frame(cx)).await
    }

    /// The viewer paced.
    pub fn viewer(&self) -> &Viewer {
        &self.viewer
    }

    fn note_drops(&mut self) {
        let dropped = self.viewer.dropped();
        if dropped != self.seen_dropped {
            self.seen_dropped = dropped;
            if let Some(pacer) = self.pacer.as_mut() {
                pacer.fell_behind();
            }
        }
    }
}

#[cfg(target_os = "linux")]
use tcp_info::SocketQueues;

#[cfg(target_os = "linux")]
fn socket_queues(fd: RawFd) -> Option<SocketQueues> {
    tcp_info::socket_queues(fd).ok()
}

/// Elsewhere there is no `TCP_INFO` to pace by.
#[cfg(not(target_os = "linux"))]
#[derive(Debug, Clone, Copy, Default)]
struct SocketQueues {
    notsent: u64,
    peer_window: u64,
    network_queue: u64,
    delivery_rate: u64,
    window_limited_us: u64,
}

#[cfg(not(target_os = "linux"))]
fn socket_queues(_fd: RawFd) -> Option<SocketQueues> {
    None
}
