//! A replay session: one clock, one reader per camera, a driver task emitting into a sink.

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::clock::{Rate, SessionClock};
use crate::track::{FrameRef, Span, Track};
use crate::ReplayError;

/// Where a session's frames go: the binary publishes them into broadcast-core.
///
/// `emit` is awaited by the session's driver task, one camera after the other, in capture
/// order per camera. While it runs, the clock keeps advancing; the next tick emits each
/// camera's newest due frame, so a slow sink makes frames be skipped, never queued. Loading
/// the JPEG belongs here: a ~60 KB read at a known file offset goes in
/// `tokio::task::spawn_blocking` and is awaited.
pub trait Sink<H>: Send + Sync + 'static {
    /// Hands over `frame` of camera `camera` (its index in the session's track list).
    fn emit(&self, camera: usize, frame: FrameRef<H>) -> impl Future<Output = ()> + Send;
}

/// A [`Sink`] from a plain closure (for frames that need no loading, tests and examples).
pub struct FnSink<F>(pub F);

impl<H: Send + 'static, F: Fn(usize, FrameRef<H>) + Send + Sync + 'static> Sink<H> for FnSink<F> {
    fn emit(&self, camera: usize, frame: FrameRef<H>) -> impl Future<Output = ()> + Send {
        (self.0)(camera, frame);
        std::future::ready(())
    }
}

/// Timing settings of a session. The defaults suit replay at 1/16x..16x of 1..30 fps cameras.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// The shortest time between two ticks (default 10 ms). The driver sleeps until the next
    /// frame of any camera is due, but never less than this after the previous tick: at 1x a
    /// frame is emitted exactly when the clock reaches its capture time; at 16x of 30 fps
    /// (480 frames/s per camera) one tick per 10 ms emits every ~5th frame.
    pub min_tick: Duration,
    /// When no camera has a frame after the position, the session keeps playing this long in
    /// capture time (a recording that is still growing catches up) and then pauses at the
    /// last recorded frame with `ended` set in its state (default 2 s). `None`: never ends.
    pub end_grace: Option<Duration>,
    /// A gap in the recordings longer than this (capture time; default 2 s) is jumped over:
    /// the position moves to the next recorded frame at once. `None`: gaps play out in real
    /// time.
    pub skip_gaps_over: Option<Duration>,
    /// How often the driver looks for new frames when none is known after the position
    /// (default 250 ms).
    pub end_poll: Duration,
    /// While no frame was emitted for this long (paused, stepped, ended, or a slow rate),
    /// each camera's frame shown is emitted again, the same frame (default 1 s, as a live
    /// camera's keepalive): a paused stream keeps sending, so browsers and proxies do not
    /// time it out. `None`: never (a live wall's cameras send their own).
    pub keepalive: Option<Duration>,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            min_tick: Duration::from_millis(10),
            end_grace: Some(Duration::from_secs(2)),
            skip_gaps_over: Some(Duration::from_secs(2)),
            end_poll: Duration::from_millis(250),
            keepalive: Some(Duration::from_secs(1)),
        }
    }
}

/// A snapshot of a session, for `GET /api/replay/ID`.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionState {
    /// The clock's position now, µs since the Unix epoch.
    pub position_us: i64,
    /// The rate.
    pub rate: f64,
    /// Whether the clock stands still (paused, stepped, or ended).
    pub paused: bool,
    /// Whether the session paused itself at the end of the recordings.
    pub ended: bool,
    /// Per camera, the id of the last frame emitted (`None`: nothing yet).
    pub last_frame_ids: Vec<Option<u64>>,
    /// Frames emitted so far, all cameras together (keepalive re-sends not included).
    pub emitted: u64,
    /// Keepalive re-sends of a frame shown, all cameras together.
    pub keepalives: u64,
}

/// What a camera last emitted: enough to tell a new frame from the same one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Emitted {
    frame_id: u64,
    capture_us: i64,
}

/// The state the driver and the handles share, behind one short-held lock.
struct Inner {
    clock: SessionClock,
    last: Vec<Option<Emitted>>,
    ended: bool,
    stopped: bool,
    emitted: u64,
    keepalives: u64,
}

/// Everything a session's driver and handles share.
pub(crate) struct Shared<T: Track> {
    tracks: Vec<T>,
    config: SessionConfig,
    /// Live wall: emit a camera's frame only when newer than the last (the clock only moves
    /// forward there, a resync must not show an older frame again); no end, no gap skipping.
    live: bool,
    inner: Mutex<Inner>,
    /// Wakes the driver after a control changed the clock, or (live wall) a frame arrived.
    wake: Notify,
}

impl<T: Track> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind (no invariant spans
        // several fields mid-update), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The newest frame at or before `t` over all cameras.
    fn latest_at_or_before(&self, t: i64) -> Option<i64> {
        self.tracks
            .iter()
            .filter_map(|tr| tr.at_or_before(t).map(|f| f.capture_us))
            .max()
    }
}

/// Whether `t` lies inside one of the cameras' spans; if not, the error carries them all.
fn check_inside<T: Track>(tracks: &[T], t: i64) -> Result<(), ReplayError> {
    let spans: Vec<Vec<Span>> = tracks.iter().map(|t| t.spans()).collect();
    if spans.iter().flatten().any(|s| s.contains(t)) {
        Ok(())
    } else {
        Err(ReplayError::OutsideRecordings {
            requested_us: t,
            spans,
        })
    }
}

/// Stops the driver when the last [`ReplayHandle`] clone is dropped.
struct StopOnDrop<T: Track>(Arc<Shared<T>>);

impl<T: Track> Drop for StopOnDrop<T> {
    fn drop(&mut self) {
        self.0.lock().stopped = true;
        self.0.wake.notify_one();
    }
}

/// Starts replay sessions; see [`ReplaySession::start`].
pub struct ReplaySession;

impl ReplaySession {
    /// Starts a session over `tracks` (one per camera, in the order the sink's camera index
    /// uses) at `start_us`, playing at `rate`, emitting into `sink` from a spawned driver task.
    /// Each camera's frame at or before `start_us` is emitted at once.
    ///
    /// Errors: no tracks ([`ReplayError::NoCameras`]), a bad rate, or `start_us` outside
    /// every camera's spans ([`ReplayError::OutsideRecordings`], with the spans).
    ///
    /// The session runs until [`ReplayHandle::stop`] or until every handle is dropped.
    ///
    /// # Panics
    /// Outside a Tokio runtime.
    pub fn start<T: Track, S: Sink<T::Handle>>(
        tracks: Vec<T>,
        start_us: i64,
        rate: f64,
        config: SessionConfig,
        sink: S,
    ) -> Result<ReplayHandle<T>, ReplayError> {
        let rate = Rate::new(rate)?;
        if tracks.is_empty() {
            return Err(ReplayError::NoCameras);
        }
        check_inside(&tracks, start_us)?;
        Ok(spawn(tracks, start_us, rate, config, false, sink))
    }
}

/// Builds the shared state and spawns the driver (no validation: the live wall uses it too).
pub(crate) fn spawn<T: Track, S: Sink<T::Handle>>(
    tracks: Vec<T>,
    start_us: i64,
    rate: Rate,
    config: SessionConfig,
    live: bool,
    sink: S,
) -> ReplayHandle<T> {
    let cameras = tracks.len();
    let shared = Arc::new(Shared {
        tracks,
        config,
        live,
        inner: Mutex::new(Inner {
            clock: SessionClock::new(start_us, rate, Instant::now()),
            last: vec![None; cameras],
            ended: false,
            stopped: false,
            emitted: 0,
            keepalives: 0,
        }),
        wake: Notify::new(),
    });
    let handle = ReplayHandle {
        owner: Arc::new(StopOnDrop(shared.clone())),
        shared: shared.clone(),
    };
    tokio::spawn(drive(shared, sink));
    handle
}

/// The driver: emits due frames, then sleeps until the next one is due or a control wakes it.
async fn drive<T: Track, S: Sink<T::Handle>>(shared: Arc<Shared<T>>, sink: S) {
    let keepalive = shared.config.keepalive.filter(|_| !shared.live);
    let mut last_emit = Instant::now();
    loop {
        let now = Instant::now();
        let (frames, wake_at) = {
            let mut st = shared.lock();
            if st.stopped {
                return;
            }
            let pos = st.clock.position_at(now);
            let mut frames = due_frames(&shared, &mut st, pos);
            // In a long gap, once the last frame before it was shown: jump to the next one.
            if frames.is_empty() {
                if let Some(next) = gap_to_jump(&shared, &st, pos) {
                    tracing::debug!(from_us = pos, to_us = next, "replay jumps over a gap");
                    st.clock.seek(next, now);
                    frames = due_frames(&shared, &mut st, next);
                }
            }
            let pos = st.clock.position_at(now);
            let wake_at = plan_wake(&shared, &mut st, pos, now);
            if !frames.is_empty() {
                last_emit = now;
            } else if keepalive.is_some_and(|every| now >= last_emit + every) {
                frames = shown_frames(&shared, &mut st);
                last_emit = now;
            }
            let wake_at = match (wake_at, keepalive) {
                (Some(at), Some(every)) => Some(at.min(last_emit + every)),
                (None, Some(every)) => Some(last_emit + every),
                (wake_at, None) => wake_at,
            };
            (frames, wake_at)
        };
        for (camera, frame) in frames {
            sink.emit(camera, frame).await;
        }
        match wake_at {
            Some(at) => {
                // Never tick more often than `min_tick`: at high rates frames are skipped.
                let at = at.max(now + shared.config.min_tick);
                tokio::select! {
                    _ = tokio::time::sleep_until(at) => {}
                    _ = shared.wake.notified() => {}
                }
            }
            None => shared.wake.notified().await,
        }
    }
}

/// The next frame's capture time when the session plays and `pos` lies in a gap longer than
/// [`SessionConfig::skip_gaps_over`].
fn gap_to_jump<T: Track>(shared: &Shared<T>, st: &Inner, pos: i64) -> Option<i64> {
    let gap = shared.config.skip_gaps_over?;
    if shared.live || st.clock.is_paused() {
        return None;
    }
    next_frame(&shared.tracks, pos).filter(|n| n - pos > gap.as_micros() as i64)
}

/// The capture time of the next frame of any camera strictly after `pos`.
fn next_frame<T: Track>(tracks: &[T], pos: i64) -> Option<i64> {
    tracks
        .iter()
        .filter_map(|t| t.after(pos).map(|f| f.capture_us))
        .min()
}

/// Each camera's newest frame at or before `pos` that it has not emitted yet; recorded as
/// emitted.
fn due_frames<T: Track>(
    shared: &Shared<T>,
    st: &mut Inner,
    pos: i64,
) -> Vec<(usize, FrameRef<T::Handle>)> {
    let mut frames = Vec::new();
    for (camera, track) in shared.tracks.iter().enumerate() {
        let Some(frame) = track.at_or_before(pos) else {
            continue;
        };
        let this = Emitted {
            frame_id: frame.frame_id,
            capture_us: frame.capture_us,
        };
        let new = match st.last.get(camera).copied().flatten() {
            None => true,
            Some(prev) if shared.live => this.capture_us > prev.capture_us,
            Some(prev) => prev != this,
        };
        if new {
            if let Some(slot) = st.last.get_mut(camera) {
                *slot = Some(this);
            }
            st.emitted += 1;
            frames.push((camera, frame));
        }
    }
    frames
}

/// Each camera's frame shown now, to emit again as a keepalive (counted as such).
fn shown_frames<T: Track>(shared: &Shared<T>, st: &mut Inner) -> Vec<(usize, FrameRef<T::Handle>)> {
    let frames: Vec<_> = st
        .last
        .iter()
        .enumerate()
        .filter_map(|(camera, shown)| {
            let shown = (*shown)?;
            let frame = shared.tracks.get(camera)?.at_or_before(shown.capture_us)?;
            (frame.frame_id == shown.frame_id).then_some((camera, frame))
        })
        .collect();
    st.keepalives += frames.len() as u64;
    frames
}

/// When the driver should look again: the next frame's due time, an end poll, or never
/// (paused: only a control wakes it). Pauses the session at the end of the recordings.
fn plan_wake<T: Track>(
    shared: &Shared<T>,
    st: &mut Inner,
    pos: i64,
    now: Instant,
) -> Option<Instant> {
    if st.clock.is_paused() {
        return None;
    }
    if gap_to_jump(shared, st, pos).is_some() {
        // The frame before the gap was just shown: jump at the next tick.
        return Some(now);
    }
    if let Some(next) = next_frame(&shared.tracks, pos) {
        return st.clock.until(next, now).map(|d| now + d);
    }
    let poll = Some(now + shared.config.end_poll);
    let (Some(grace), false) = (shared.config.end_grace, shared.live) else {
        return poll;
    };
    let last = shared.latest_at_or_before(pos).unwrap_or(pos);
    if pos - last >= grace.as_micros() as i64 {
        tracing::debug!(
            position_us = last,
            "replay reached the end of the recordings"
        );
        st.clock.pause(now);
        st.clock.seek(last, now);
        st.ended = true;
        return None;
    }
    let to_end = st.clock.until(last + grace.as_micros() as i64, now);
    to_end.map(|d| now + d.min(shared.config.end_poll))
}

/// Controls one session; cheap to clone, for HTTP handlers. The session stops when the last
/// clone is dropped.
pub struct ReplayHandle<T: Track> {
    shared: Arc<Shared<T>>,
    owner: Arc<StopOnDrop<T>>,
}

impl<T: Track> Clone for ReplayHandle<T> {
    fn clone(&self) -> Self {
        ReplayHandle {
            shared: self.shared.clone(),
            owner: self.owner.clone(),
        }
    }
}

impl<T: Track> ReplayHandle<T> {
    /// Runs `f` on the state unless the session stopped, then wakes the driver.
    fn control<R>(
        &self,
        f: impl FnOnce(&mut Inner, Instant) -> Result<R, ReplayError>,
    ) -> Result<R, ReplayError> {
        let r = {
            let mut st = self.shared.lock();
            if st.stopped {
                return Err(ReplayError::Stopped);
            }
            f(&mut st, Instant::now())?
        };
        self.shared.wake.notify_one();
        Ok(r)
    }

    /// Pauses: the position and every camera's frame freeze.
    pub fn pause(&self) -> Result<(), ReplayError> {
        self.control(|st, now| {
            st.clock.pause(now);
            Ok(())
        })
    }

    /// Plays from the current position (after the end, it ends again after the grace time).
    pub fn play(&self) -> Result<(), ReplayError> {
        self.control(|st, now| {
            st.ended = false;
            st.clock.play(now);
            Ok(())
        })
    }

    /// Moves the position to `to_us`; each camera's frame at or before it is emitted at once,
    /// paused or not. Outside every recorded span: [`ReplayError::OutsideRecordings`] and
    /// nothing changes.
    pub fn seek(&self, to_us: i64) -> Result<(), ReplayError> {
        check_inside(&self.shared.tracks, to_us)?;
        self.control(|st, now| {
            st.ended = false;
            st.clock.seek(to_us, now);
            Ok(())
        })
    }

    /// Changes the rate; a bad rate changes nothing.
    pub fn set_rate(&self, rate: f64) -> Result<(), ReplayError> {
        let rate = Rate::new(rate)?;
        self.control(|st, now| {
            st.clock.set_rate(rate, now);
            Ok(())
        })
    }

    /// Steps `frames` frames forward (positive) or back (negative) and pauses.
    ///
    /// A step forward moves the position to the next frame of any camera (the earliest next
    /// capture time over all cameras), so with cameras at different rates every frame of
    /// every camera is visited once. A step back starts from the newest frame shown (the latest
    /// frame at or before the position over all cameras) and moves to the previous frame of
    /// any camera. Steps stop at the first/last recorded frame. Returns the new position.
    pub fn step(&self, frames: i64) -> Result<i64, ReplayError> {
        let tracks = &self.shared.tracks;
        self.control(|st, now| {
            st.clock.pause(now);
            let pos = st.clock.position_at(now);
            let mut t = pos;
            if frames > 0 {
                for _ in 0..frames {
                    match next_frame(tracks, t) {
                        Some(n) => t = n,
                        None => break,
                    }
                }
            } else if frames < 0 {
                t = self.shared.latest_at_or_before(pos).unwrap_or(pos);
                for _ in 0..frames.unsigned_abs() {
                    let prev = tracks
                        .iter()
                        .filter_map(|tr| tr.before(t).map(|f| f.capture_us))
                        .max();
                    match prev {
                        Some(p) => t = p,
                        None => break,
                    }
                }
            }
            if t != pos {
                st.ended = false;
            }
            st.clock.seek(t, now);
            Ok(t)
        })
    }

    /// The session's state now.
    pub fn state(&self) -> SessionState {
        let st = self.shared.lock();
        SessionState {
            position_us: st.clock.position_at(Instant::now()),
            rate: st.clock.rate().get(),
            paused: st.clock.is_paused(),
            ended: st.ended,
            last_frame_ids: st.last.iter().map(|e| e.map(|e| e.frame_id)).collect(),
            emitted: st.emitted,
            keepalives: st.keepalives,
        }
    }

    /// The tracks, in camera order.
    pub fn tracks(&self) -> &[T] {
        &self.shared.tracks
    }

    /// Stops the driver task (the sink is dropped with it); controls then answer
    /// [`ReplayError::Stopped`].
    pub fn stop(&self) {
        self.shared.lock().stopped = true;
        self.shared.wake.notify_one();
    }

    /// Whether the session was stopped.
    pub fn is_stopped(&self) -> bool {
        self.shared.lock().stopped
    }

    /// Moves the clock to `to_us` without checking the spans (the live wall's resync).
    pub(crate) fn seek_unchecked(&self, to_us: i64) {
        let _ = self.control(|st, now| {
            st.clock.seek(to_us, now);
            Ok(())
        });
    }

    /// Wakes the driver (a frame arrived in a live track).
    pub(crate) fn wake(&self) {
        self.shared.wake.notify_one();
    }
}
