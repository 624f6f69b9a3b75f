//! The synchronized live wall: live cameras held back by a playout delay so that the tiles
//! show frames whose capture times agree.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::clock::Rate;
use crate::session::{spawn, ReplayHandle, SessionConfig, SessionState, Sink};
use crate::track::{FrameRef, Span, Track};

/// The newest frames of one live camera, in a small ring: a [`Track`] that grows.
pub struct RingTrack<P> {
    frames: Mutex<VecDeque<FrameRef<P>>>,
    capacity: usize,
    /// Frames pushed out of the full ring (oldest first). Relaxed: a statistic only.
    dropped: AtomicU64,
    /// Frames refused because their capture time was not after the newest one. Relaxed too.
    out_of_order: AtomicU64,
}

impl<P: Clone + Send + Sync + 'static> RingTrack<P> {
    /// An empty ring holding at most `capacity` (at least 1) frames.
    pub fn new(capacity: usize) -> RingTrack<P> {
        RingTrack {
            frames: Mutex::new(VecDeque::with_capacity(capacity.max(1))),
            capacity: capacity.max(1),
            dropped: AtomicU64::new(0),
            out_of_order: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<FrameRef<P>>> {
        // Plain data: usable after a panic elsewhere.
        self.frames.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a frame; `false` (and counted) when its capture time is not after the newest
    /// frame's. A full ring drops its oldest frame (counted).
    pub fn push(&self, frame: FrameRef<P>) -> bool {
        let mut ring = self.lock();
        if ring
            .back()
            .is_some_and(|b| frame.capture_us <= b.capture_us)
        {
            self.out_of_order.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        if ring.len() >= self.capacity {
            ring.pop_front();
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        ring.push_back(frame);
        true
    }

    /// Frames dropped from the full ring so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Frames refused as out of order so far.
    pub fn out_of_order(&self) -> u64 {
        self.out_of_order.load(Ordering::Relaxed)
    }
}

impl<P: Clone + Send + Sync + 'static> Track for RingTrack<P> {
    type Handle = P;

    fn at_or_before(&self, t_us: i64) -> Option<FrameRef<P>> {
        self.lock()
            .iter()
            .rev()
            .find(|f| f.capture_us <= t_us)
            .cloned()
    }

    fn after(&self, t_us: i64) -> Option<FrameRef<P>> {
        self.lock().iter().find(|f| f.capture_us > t_us).cloned()
    }

    fn before(&self, t_us: i64) -> Option<FrameRef<P>> {
        self.lock()
            .iter()
            .rev()
            .find(|f| f.capture_us < t_us)
            .cloned()
    }

    fn spans(&self) -> Vec<Span> {
        let ring = self.lock();
        match (ring.front(), ring.back()) {
            (Some(a), Some(b)) => vec![Span {
                start_us: a.capture_us,
                end_us: b.capture_us,
            }],
            _ => Vec::new(),
        }
    }
}

/// Settings of a [`SyncWall`].
#[derive(Debug, Clone)]
pub struct WallConfig {
    /// How far the wall's clock runs behind now (default 200 ms): a camera whose frames reach
    /// the relay later than this after capture shows them late (still in order).
    pub delay: Duration,
    /// Frames kept per camera (default 32: about a second at 30 fps, well over the delay).
    pub ring: usize,
    /// The shortest time between two ticks (default 5 ms).
    pub min_tick: Duration,
}

impl Default for WallConfig {
    fn default() -> Self {
        WallConfig {
            delay: Duration::from_millis(200),
            ring: 32,
            min_tick: Duration::from_millis(5),
        }
    }
}

/// A synchronized live wall over N cameras: a replay session whose clock is "now minus the
/// delay", reading from a [`RingTrack`] per camera that [`SyncWall::push`] fills.
///
/// Each camera's newest frame with capture time at or before the clock is emitted, once, in
/// capture order, so all tiles show frames whose capture times agree within one frame period
/// (as long as every camera's frames arrive within the delay).
pub struct SyncWall<P: Clone + Send + Sync + 'static> {
    rings: Vec<Arc<RingTrack<P>>>,
    session: ReplayHandle<Arc<RingTrack<P>>>,
    delay_us: i64,
}

impl<P: Clone + Send + Sync + 'static> SyncWall<P> {
    /// Starts a wall of `cameras` cameras, emitting into `sink`. `now_us` is the wall-clock
    /// time now (µs since the Unix epoch, e.g. from `SystemTime::now()`); the wall's clock
    /// starts at `now_us - delay` and then follows Tokio's monotonic clock (see
    /// [`SyncWall::resync`]).
    ///
    /// # Panics
    /// Outside a Tokio runtime.
    pub fn start<S: Sink<P>>(
        cameras: usize,
        now_us: i64,
        config: WallConfig,
        sink: S,
    ) -> SyncWall<P> {
        let rings: Vec<Arc<RingTrack<P>>> = (0..cameras)
            .map(|_| Arc::new(RingTrack::new(config.ring)))
            .collect();
        let delay_us = config.delay.as_micros() as i64;
        let session_config = SessionConfig {
            min_tick: config.min_tick,
            end_grace: None,
            skip_gaps_over: None,
            end_poll: Duration::from_secs(1),
            keepalive: None,
        };
        let session = spawn(
            rings.clone(),
            now_us - delay_us,
            Rate::ONE,
            session_config,
            true,
            sink,
        );
        SyncWall {
            rings,
            session,
            delay_us,
        }
    }

    /// Hands in a live frame of `camera`; `false` if there is no such camera or the frame is
    /// out of order (not after that camera's newest).
    pub fn push(&self, camera: usize, frame: FrameRef<P>) -> bool {
        let Some(ring) = self.rings.get(camera) else {
            return false;
        };
        let pushed = ring.push(frame);
        if pushed {
            self.session.wake();
        }
        pushed
    }

    /// Re-anchors the clock at `now_us - delay`: call it now and then (e.g. every minute) so
    /// the wall follows the system clock's adjustments. Never shows an older frame again.
    pub fn resync(&self, now_us: i64) {
        self.session.seek_unchecked(now_us - self.delay_us);
    }

    /// The ring of `camera` (its drop counters).
    pub fn ring(&self, camera: usize) -> Option<&RingTrack<P>> {
        self.rings.get(camera).map(|r| &**r)
    }

    /// The wall's state (position, last frame ids, frames emitted).
    pub fn state(&self) -> SessionState {
        self.session.state()
    }

    /// Stops the wall (also when dropped).
    pub fn stop(&self) {
        self.session.stop();
    }
}
