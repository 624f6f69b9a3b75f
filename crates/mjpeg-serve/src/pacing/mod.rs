//! Pacing for viewers on slow links: a viewer whose link cannot carry the camera's rate gets
//! its next frame only once the frames already sent to it have drained, so that what it
//! receives is fresh.
//!
//! `TCP_NOTSENT_LOWAT` ([`NOTSENT_LOWAT`], set by [`tune_viewer_socket`]) keeps the server's own
//! send queue short, but the viewer's receive buffer (256 KiB on Linux for a 128 KiB
//! `SO_RCVBUF`, several MB with autotuning) and router queues still fill with frames: on a
//! 400 KB/s link that is more than half a second of stale video before the newest frame's first
//! byte. So a viewer that fell behind (its queue overflowed) and whose link is the reason (the
//! peer's window held the sender back, or bytes wait unread) is paced for a few seconds: before
//! it takes a frame, `TCP_INFO` must show the unsent bytes under the low-water mark, the peer's
//! window at least half as wide as the widest it advertised (the viewer read what it was sent),
//! and no more than a quarter second of bytes queued in the network. Meanwhile its queue keeps
//! overflowing and it then skips to the newest frame, as any viewer that fell behind does.
//! Viewers that keep up are never paced and cost no system call.

mod paced_viewer;
#[cfg(target_os = "linux")]
mod tcp_info;

use std::future::Future;
use std::os::fd::RawFd;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

pub use paced_viewer::PacedViewer;

/// Unsent bytes a viewer socket may hold before it stops being writable (Linux
/// `TCP_NOTSENT_LOWAT`): keeps stale frames out of kernel buffers so a slow viewer gets fresh
/// ones, at no cost to viewers that keep up. A paced viewer's link counts as drained only below it.
pub const NOTSENT_LOWAT: u32 = 16 * 1024;

/// Shortest wait before a paced viewer's socket is looked at again.
const RECHECK: Duration = Duration::from_millis(10);
/// Longest wait before a paced viewer's socket is looked at again.
const MAX_RECHECK: Duration = Duration::from_millis(50);
/// How long after a look that found a viewer's link not the reason it fell behind (a reader
/// slower than the camera on a fast link) its falling behind again is taken as the same.
const BEHIND_LOOK_INTERVAL: Duration = Duration::from_millis(250);
/// How long a viewer stays paced after it last fell behind on a narrow link.
pub const PACED_FOR: Duration = Duration::from_secs(5);
/// Most time's worth of bytes that may wait in the network before the next frame is sent.
const NETWORK_QUEUE: Duration = Duration::from_millis(250);
/// How long the widest window a peer advertised is remembered: between one and two of these.
/// Linux shrinks receive buffers under TCP memory pressure (thousands of viewers on one
/// machine), after which the old widest window is never advertised again; a viewer measured
/// against it would wait forever for a drain it cannot show.
pub const WIDEST_WINDOW_MEMORY: Duration = Duration::from_secs(1);

/// Sets up an accepted viewer connection: `TCP_NODELAY`, and on Linux [`NOTSENT_LOWAT`].
pub fn tune_viewer_socket(stream: &tokio::net::TcpStream) {
    let _ = stream.set_nodelay(true);
    #[cfg(target_os = "linux")]
    {
        let socket = socket2::SockRef::from(stream);
        if let Err(error) = socket.set_tcp_notsent_lowat(NOTSENT_LOWAT) {
            tracing::debug!(%error, "TCP_NOTSENT_LOWAT not set");
        }
    }
}

/// What the kernel says about one connection's queues, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SocketQueues {
    /// Written by the server, not yet sent (`tcpi_notsent_bytes`).
    pub notsent: u64,
    /// The peer's receive window as last advertised (`tcpi_snd_wnd`): shrinks while the
    /// viewer's application leaves received bytes unread.
    pub peer_window: u64,
    /// Sent beyond what the path holds (bytes in flight minus delivery rate x minimum RTT):
    /// bytes waiting in some router's queue.
    pub network_queue: u64,
    /// The recent delivery rate, bytes per second (`tcpi_delivery_rate`; 0 before any).
    pub delivery_rate: u64,
    /// Total time the peer's window held the sender back, in µs (`tcpi_rwnd_limited`).
    pub window_limited_us: u64,
    /// Bytes the peer acknowledged so far (`tcpi_bytes_acked`).
    pub bytes_acked: u64,
}

/// Where a pacer reads a connection's queues: `TCP_INFO` ([`TcpInfo`]), or a test's values.
pub trait QueueProbe: Send {
    /// The connection's queues now, or `None` when they cannot be read.
    fn socket_queues(&mut self) -> Option<SocketQueues>;

    /// Keeps the peer's advertised window fresh while nothing is sent (TCP keepalive probes
    /// every second on [`TcpInfo`]); called once when a viewer's frames start waiting for its
    /// receive buffer to drain. Does nothing by default.
    fn keep_window_fresh(&mut self) {}
}

/// Reads a TCP socket's queues with `getsockopt(TCP_INFO)` (Linux 5.18 or later; elsewhere
/// always `None`).
#[derive(Debug, Clone, Copy)]
pub struct TcpInfo(pub RawFd);

impl QueueProbe for TcpInfo {
    #[cfg(target_os = "linux")]
    fn socket_queues(&mut self) -> Option<SocketQueues> {
        tcp_info::socket_queues(self.0).ok()
    }

    #[cfg(not(target_os = "linux"))]
    fn socket_queues(&mut self) -> Option<SocketQueues> {
        None
    }

    #[cfg(target_os = "linux")]
    fn keep_window_fresh(&mut self) {
        if let Err(error) = tcp_info::keep_window_fresh(self.0) {
            tracing::debug!(%error, "keepalive not set");
        }
    }
}

/// The pacing state of one viewer connection.
pub struct Pacer {
    probe: Box<dyn QueueProbe>,
    /// The widest window the peer advertised recently (the larger of this and the previous
    /// [`WIDEST_WINDOW_MEMORY`] bucket): its receive buffer with nothing unread.
    widest_window: u64,
    /// The widest window advertised in the current bucket, and when the bucket began.
    bucket_widest: u64,
    bucket_started: Option<Instant>,
    /// `tcpi_rwnd_limited` at the last look.
    window_limited_us: u64,
    paced_until: Option<Instant>,
    recheck: Option<Pin<Box<Sleep>>>,
    /// Looks in a row that found the link not drained: each doubles the shortest wait
    /// before the next ([`Pacer::recheck_after`]).
    undrained: u32,
    /// When falling behind last led to a look that did not pace the viewer.
    not_the_link_at: Option<Instant>,
}

impl std::fmt::Debug for Pacer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pacer")
            .field("widest_window", &self.widest_window)
            .field("paced_until", &self.paced_until)
            .finish_non_exhaustive()
    }
}

impl Pacer {
    /// A pacer for the TCP connection `fd`, or `None` where `TCP_INFO` is not available.
    pub fn new(fd: RawFd) -> Option<Pacer> {
        Pacer::with_probe(Box::new(TcpInfo(fd)))
    }

    /// A pacer reading its connection's queues from `probe`, or `None` if it reads none now.
    pub fn with_probe(probe: Box<dyn QueueProbe>) -> Option<Pacer> {
        let mut pacer = Pacer {
            probe,
            widest_window: 0,
            bucket_widest: 0,
            bucket_started: None,
            window_limited_us: 0,
            paced_until: None,
            recheck: None,
            undrained: 0,
            not_the_link_at: None,
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
    /// frames were held back because its link had not drained. One whose link was found not
    /// to be the reason is looked at again only 250 ms later: a reader slower than the camera
    /// falls behind at every frame, and a look each time cost a `getsockopt` per viewer-frame
    /// at saturation.
    pub fn fell_behind(&mut self) {
        let now = Instant::now();
        if self.is_pacing() {
            self.paced_until = Some(now + PACED_FOR);
            return;
        }
        if self
            .not_the_link_at
            .is_some_and(|at| now.duration_since(at) < BEHIND_LOOK_INTERVAL)
        {
            return;
        }
        let before = self.window_limited_us;
        let Some(queues) = self.look() else {
            return;
        };
        self.not_the_link_at = Some(now);
        if queues.window_limited_us > before || !self.drained(&queues) {
            self.not_the_link_at = None;
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
            self.undrained = 0;
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
                self.undrained = self.undrained.saturating_add(1);
                let mut sleep = Box::pin(tokio::time::sleep(self.recheck_after(&queues)));
                // Registers the waker; a sleep of 10 ms or more is never ready at once.
                if sleep.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(());
                }
                self.recheck = Some(sleep);
                Poll::Pending
            }
            _ => {
                self.undrained = 0;
                Poll::Ready(())
            }
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
        let notsent = queues.notsent.saturating_sub(u64::from(NOTSENT_LOWAT));
        notsent
            .max(unread.saturating_sub(self.widest_window / 2))
            .max(network)
    }

    /// When to look again: once the link, at its recent delivery rate, should have carried the
    /// excess, within 10 to 50 ms; and no sooner than 10 ms doubled for each look in a row
    /// that found it not drained after the first. Bytes the peer has not read drain at the
    /// rate its application reads, which the delivery rate does not tell: on loopback, or for
    /// a client short of CPU, it says gigabytes a second while nothing moves, and looking
    /// every 10 ms cost thousands of viewers a `getsockopt` each four times a frame
    /// (docs/benchmarks.md, "TCP_INFO looks at saturation").
    fn recheck_after(&self, queues: &SocketQueues) -> Duration {
        let by_rate = match queues.delivery_rate {
            0 => RECHECK,
            rate => {
                Duration::from_micros(self.excess_bytes(queues).saturating_mul(1_000_000) / rate)
            }
        };
        let backed_off = RECHECK * (1u32 << self.undrained.saturating_sub(1).min(3));
        by_rate.max(backed_off).clamp(RECHECK, MAX_RECHECK)
    }

    /// Keeps the widest window of the current and the previous bucket: a window wider than any
    /// the peer advertised for [`WIDEST_WINDOW_MEMORY`] is forgotten.
    fn remember_window(&mut self, window: u64, now: Instant) {
        let started = *self.bucket_started.get_or_insert(now);
        if now.duration_since(started) >= WIDEST_WINDOW_MEMORY {
            let previous = if now.duration_since(started) >= 2 * WIDEST_WINDOW_MEMORY {
                0 // nothing was looked at during the last bucket
            } else {
                self.bucket_widest
            };
            self.bucket_widest = window;
            self.bucket_started = Some(now);
            self.widest_window = previous.max(window);
        } else {
            self.bucket_widest = self.bucket_widest.max(window);
            self.widest_window = self.widest_window.max(window);
        }
    }

    fn look(&mut self) -> Option<SocketQueues> {
        let queues = self.probe.socket_queues()?;
        self.remember_window(queues.peer_window, Instant::now());
        self.window_limited_us = queues.window_limited_us;
        Some(queues)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    /// A socket whose queues the test sets, counting the looks.
    #[derive(Clone, Default)]
    pub(crate) struct FakeSocket {
        pub queues: Arc<Mutex<SocketQueues>>,
        pub looks: Arc<AtomicUsize>,
    }

    impl FakeSocket {
        pub(crate) fn set(&self, f: impl FnOnce(&mut SocketQueues)) {
            f(&mut self.queues.lock().expect("not poisoned"));
        }
        pub(crate) fn pacer(&self) -> Pacer {
            Pacer::with_probe(Box::new(self.clone())).expect("the fake always answers")
        }
    }

    impl QueueProbe for FakeSocket {
        fn socket_queues(&mut self) -> Option<SocketQueues> {
            self.looks.fetch_add(1, Ordering::Relaxed);
            Some(*self.queues.lock().expect("not poisoned"))
        }
    }

    pub(crate) const WINDOW: u64 = 256 * 1024;

    /// An open socket: wide window, nothing queued, 400 KB/s.
    pub(crate) fn open_socket() -> FakeSocket {
        let socket = FakeSocket::default();
        socket.set(|q| {
            q.peer_window = WINDOW;
            q.delivery_rate = 400_000;
        });
        socket
    }

    fn poll(pacer: &mut Pacer) -> Poll<()> {
        pacer.poll_ready(&mut Context::from_waker(std::task::Waker::noop()))
    }

    #[tokio::test(start_paused = true)]
    async fn a_viewer_that_keeps_up_is_never_paced_and_never_looked_at() {
        let socket = open_socket();
        let mut pacer = socket.pacer();
        for _ in 0..100 {
            assert!(poll(&mut pacer).is_ready());
        }
        assert_eq!(
            socket.looks.load(Ordering::Relaxed),
            1,
            "only the first look"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn falling_behind_on_a_fast_link_does_not_pace() {
        let socket = open_socket();
        let mut pacer = socket.pacer();
        pacer.fell_behind(); // a slow reader, not a slow link: everything drained
        assert!(!pacer.is_pacing());
        assert!(poll(&mut pacer).is_ready());
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_reader_on_a_fast_link_is_looked_at_once_per_interval() {
        let socket = open_socket();
        let mut pacer = socket.pacer();
        let before = socket.looks.load(Ordering::Relaxed);
        // Falling behind at every frame (30 fps) for a second: four looks, not thirty.
        for _ in 0..30 {
            pacer.fell_behind();
            tokio::time::advance(Duration::from_millis(33)).await;
        }
        assert_eq!(socket.looks.load(Ordering::Relaxed) - before, 4);
        assert!(!pacer.is_pacing());
        // Once its link becomes the reason, the next look after the interval paces it.
        socket.set(|q| q.peer_window = WINDOW / 8);
        tokio::time::advance(BEHIND_LOOK_INTERVAL).await;
        pacer.fell_behind();
        assert!(pacer.is_pacing());
    }

    #[tokio::test(start_paused = true)]
    async fn a_narrow_link_is_paced_until_its_bytes_drain() {
        let socket = open_socket();
        let mut pacer = socket.pacer();
        // 100 KB unread by the viewer on top of half its window: 20 KB over the bound.
        socket.set(|q| q.peer_window = WINDOW / 2 - 20_000);
        pacer.fell_behind();
        assert!(pacer.is_pacing());
        assert!(poll(&mut pacer).is_pending());
        // 20 KB at 400 KB/s: looked at again in 50 ms (the longest wait), not before.
        let looks = socket.looks.load(Ordering::Relaxed);
        tokio::time::advance(Duration::from_millis(49)).await;
        assert!(poll(&mut pacer).is_pending());
        assert_eq!(
            socket.looks.load(Ordering::Relaxed),
            looks,
            "no look before the recheck"
        );
        socket.set(|q| q.peer_window = WINDOW - 4_000); // the viewer read its bytes
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(poll(&mut pacer).is_ready());
        assert!(
            pacer.is_pacing(),
            "still paced: the next frame waits for a drain too"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn unsent_bytes_over_the_low_water_mark_wait_and_recheck_by_the_delivery_rate() {
        let socket = open_socket();
        let mut pacer = socket.pacer();
        // 4 KB over the low-water mark at 400 KB/s: 10 ms (the shortest wait).
        socket.set(|q| q.notsent = u64::from(NOTSENT_LOWAT) + 4_000);
        pacer.fell_behind();
        assert!(poll(&mut pacer).is_pending());
        tokio::time::advance(Duration::from_millis(10)).await;
        assert!(poll(&mut pacer).is_pending(), "looked again: still unsent");
        socket.set(|q| q.notsent = 0);
        // The rate was wrong once: the next look waits twice as long.
        tokio::time::advance(Duration::from_millis(10)).await;
        assert!(poll(&mut pacer).is_pending(), "not looked at yet");
        tokio::time::advance(Duration::from_millis(10)).await;
        assert!(poll(&mut pacer).is_ready());
    }

    #[tokio::test(start_paused = true)]
    async fn a_peer_that_reads_nothing_is_looked_at_less_and_less_often() {
        let socket = open_socket();
        let mut pacer = socket.pacer();
        // Unread bytes on a link that says it is fast (loopback, a client short of CPU): the
        // delivery rate would call for a look every 10 ms.
        socket.set(|q| {
            q.peer_window = WINDOW / 4;
            q.delivery_rate = 2_000_000_000;
        });
        pacer.fell_behind();
        let before = socket.looks.load(Ordering::Relaxed);
        for _ in 0..1000 {
            let _ = poll(&mut pacer);
            tokio::time::advance(Duration::from_millis(1)).await;
        }
        // 10, 20, 40, then every 50 ms: 22 looks in a second, not 100.
        let looks = socket.looks.load(Ordering::Relaxed) - before;
        assert!((20..=23).contains(&looks), "{looks} looks in a second");
        // Drained: the next undrained look waits 10 ms again.
        socket.set(|q| q.peer_window = WINDOW);
        while poll(&mut pacer).is_pending() {
            tokio::time::advance(Duration::from_millis(1)).await;
        }
        socket.set(|q| q.peer_window = WINDOW / 4);
        assert!(poll(&mut pacer).is_pending());
        let before = socket.looks.load(Ordering::Relaxed);
        tokio::time::advance(Duration::from_millis(10)).await;
        assert!(poll(&mut pacer).is_pending());
        assert_eq!(socket.looks.load(Ordering::Relaxed), before + 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_receive_buffer_shrunk_under_memory_pressure_drains_after_the_window_memory() {
        let socket = open_socket();
        let mut pacer = socket.pacer();
        // The kernel shrank the viewer's receive buffer to a quarter: the window never comes
        // back to its old width, though the viewer reads everything.
        socket.set(|q| q.peer_window = WINDOW / 4);
        pacer.fell_behind();
        assert!(pacer.is_pacing());
        assert!(
            poll(&mut pacer).is_pending(),
            "measured against the old width"
        );
        let mut waited = Duration::ZERO;
        while poll(&mut pacer).is_pending() {
            tokio::time::advance(MAX_RECHECK).await;
            waited += MAX_RECHECK;
            assert!(waited <= 2 * WIDEST_WINDOW_MEMORY + MAX_RECHECK, "starved");
        }
        assert!(
            waited >= WIDEST_WINDOW_MEMORY,
            "not before the memory ran out"
        );
        // A narrow link still waits: bytes unread against the new width.
        socket.set(|q| q.peer_window = WINDOW / 16);
        tokio::time::advance(MAX_RECHECK).await;
        assert!(poll(&mut pacer).is_pending());
    }

    #[tokio::test(start_paused = true)]
    async fn a_growing_window_limit_paces_and_pacing_ends_after_its_time() {
        let socket = open_socket();
        let mut pacer = socket.pacer();
        socket.set(|q| q.window_limited_us = 1_000);
        pacer.fell_behind();
        assert!(pacer.is_pacing(), "the peer's window held the sender back");
        assert!(poll(&mut pacer).is_ready(), "but its queues are drained");
        tokio::time::advance(PACED_FOR).await;
        assert!(!pacer.is_pacing());
        pacer.fell_behind(); // the window limit did not grow: not the link's fault
        assert!(!pacer.is_pacing());
    }
}
