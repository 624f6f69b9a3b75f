//! The synchronized live wall: every camera's live frames held back by a playout delay
//! (default 200 ms) so that what the wall shows of the cameras agrees in capture time within
//! one frame period (`replay-session`'s [`SyncWall`]: a session whose clock is "now minus the
//! delay", fed from memory), republished into one broadcast per camera that viewers subscribe
//! to like a live camera's.
//!
//! The wall runs only while someone watches it: the first viewer starts it (its feeders
//! subscribe to the cameras' raw broadcasts, which opens them), the last one leaving stops it.
//! A camera whose capture clock is more than [`CLOCK_TRUST`] away from the relay's is placed
//! on the wall by its receive time instead; a camera that is down shows its offline cards.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use broadcast_core::{Handle, Policy, Publisher};
use camera_hub::frame::SharedFrame;
use camera_hub::Camera;
use mjpeg_serve::{Admission, Refused, Viewer, ViewerCounters};
use replay_session::{FrameRef, Sink, SyncWall, WallConfig};
use tokio_util::sync::CancellationToken;

/// How far a camera's capture clock may be from the relay's before the wall uses the receive
/// time instead.
pub const CLOCK_TRUST: Duration = Duration::from_secs(5);
/// How often the wall's clock is re-anchored to the system clock.
const RESYNC: Duration = Duration::from_secs(30);

/// The wall over a relay's cameras; cheap to share (`Arc`).
pub struct LiveWall {
    cameras: Vec<Arc<Camera>>,
    config: WallConfig,
    queue: broadcast_core::Config,
    running: Mutex<Option<Arc<Running>>>,
}

struct Running {
    handles: Vec<Handle<SharedFrame>>,
    wall: Arc<SyncWall<SharedFrame>>,
    stop: CancellationToken,
    viewers: AtomicUsize,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.cancel();
        self.wall.stop();
    }
}

/// Publishes what the wall emits into the camera's wall broadcast.
struct WallSink {
    publishers: Vec<Publisher<SharedFrame>>,
}

impl Sink<SharedFrame> for WallSink {
    fn emit(
        &self,
        camera: usize,
        frame: FrameRef<SharedFrame>,
    ) -> impl std::future::Future<Output = ()> + Send {
        if let Some(publisher) = self.publishers.get(camera) {
            publisher.publish(frame.handle);
        }
        std::future::ready(())
    }
}

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

/// Where a frame goes on the wall: its capture time, or its receive time when the camera's
/// clock is not to be trusted.
fn wall_time(frame: &SharedFrame, now: i64) -> i64 {
    let t = frame.camera_time;
    let capture = i64::try_from(t.secs)
        .unwrap_or(i64::MAX / 2_000_000)
        .saturating_mul(1_000_000)
        .saturating_add(i64::from(t.micros));
    let received = now - i64::try_from(frame.published_at.elapsed().as_micros()).unwrap_or(0);
    if (capture - received).unsigned_abs() > CLOCK_TRUST.as_micros() as u64 {
        received
    } else {
        capture
    }
}

impl LiveWall {
    /// A wall over `cameras` (not running until its first viewer); `queue` is each viewer's
    /// queue.
    pub fn new(
        cameras: Vec<Arc<Camera>>,
        config: WallConfig,
        queue: broadcast_core::Config,
    ) -> Arc<LiveWall> {
        Arc::new(LiveWall {
            cameras,
            config,
            queue,
            running: Mutex::new(None),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Option<Arc<Running>>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The wall's broadcast of `camera` and a guard that counts its viewer (starting the wall
    /// if it is not running); `None` for an unknown camera.
    pub fn subscribe(self: &Arc<Self>, camera: &str) -> Option<WallSubscription> {
        let index = self.cameras.iter().position(|c| c.name() == camera)?;
        let mut running = self.lock();
        let current = match running.as_ref() {
            Some(r) => r.clone(),
            None => {
                let started = Arc::new(self.start());
                *running = Some(started.clone());
                started
            }
        };
        current.viewers.fetch_add(1, Ordering::Relaxed);
        Some(WallSubscription {
            broadcast: current.handles[index].clone(),
            guard: WallGuard {
                wall: self.clone(),
                running: current,
                label: format!("wall {camera}"),
            },
        })
    }

    /// The wall's state while it runs: its clock and the last frame id it showed of each
    /// camera (in the order of the cameras given to [`LiveWall::new`]).
    pub fn state(&self) -> Option<replay_session::SessionState> {
        self.lock().as_ref().map(|r| r.wall.state())
    }

    /// Whether the wall runs now (someone watches it).
    pub fn is_running(&self) -> bool {
        self.lock().is_some()
    }

    fn start(&self) -> Running {
        let publishers: Vec<Publisher<SharedFrame>> = self
            .cameras
            .iter()
            .map(|_| Publisher::new(self.queue))
            .collect();
        let handles = publishers.iter().map(Publisher::handle).collect();
        let wall = Arc::new(SyncWall::start(
            self.cameras.len(),
            now_us(),
            self.config.clone(),
            WallSink { publishers },
        ));
        let stop = CancellationToken::new();
        tracing::info!(
            cameras = self.cameras.len(),
            delay_ms = self.config.delay.as_millis() as u64,
            "synchronized wall started"
        );
        for (index, camera) in self.cameras.iter().enumerate() {
            let queue = broadcast_core::Config::new(8, Policy::DropOldest);
            let mut frames = camera.raw.subscribe_with(queue);
            let (wall, stop) = (wall.clone(), stop.clone());
            tokio::spawn(async move {
                let mut last_id = 0;
                let mut resync = tokio::time::interval(RESYNC);
                loop {
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        _ = resync.tick(), if index == 0 => wall.resync(now_us()),
                        delivery = frames.recv() => {
                            let Some(delivery) = delivery else { break };
                            let frame = delivery.item;
                            if frame.id <= last_id {
                                continue; // keepalive repeats
                            }
                            last_id = frame.id;
                            let capture_us = wall_time(&frame, now_us());
                            wall.push(index, FrameRef { frame_id: frame.id, capture_us, handle: frame });
                        }
                    }
                }
            });
        }
        Running {
            handles,
            wall,
            stop,
            viewers: AtomicUsize::new(0),
        }
    }

    fn viewer_left(&self, running: &Arc<Running>) {
        if running.viewers.fetch_sub(1, Ordering::Relaxed) != 1 {
            return;
        }
        let mut current = self.lock();
        let same = current.as_ref().is_some_and(|r| Arc::ptr_eq(r, running));
        if same && running.viewers.load(Ordering::Relaxed) == 0 {
            *current = None; // dropped with the last guard: feeders and clock stop
            tracing::info!("synchronized wall stopped: nobody watches it");
        }
    }
}

/// A camera's wall broadcast and the guard that counts its viewer.
pub struct WallSubscription {
    /// The wall's broadcast of the camera.
    pub broadcast: Handle<SharedFrame>,
    /// Counts the viewer until dropped (the last one stops the wall).
    pub guard: WallGuard,
}

impl WallSubscription {
    /// Admits an `mjpeg-serve` viewer of the wall's broadcast; the viewer holds the guard.
    pub fn admit(
        self,
        admission: &Arc<Admission>,
        max_age: Duration,
    ) -> Result<camera_hub::viewer::Viewer, Refused> {
        let counters = Arc::new(self.guard);
        Viewer::admit(&self.broadcast, admission, counters, max_age)
    }
}

/// One viewer of the wall; dropping it counts the viewer out.
pub struct WallGuard {
    wall: Arc<LiveWall>,
    running: Arc<Running>,
    label: String,
}

impl Drop for WallGuard {
    fn drop(&mut self) {
        self.wall.viewer_left(&self.running);
    }
}

impl ViewerCounters for WallGuard {
    fn joined(&self) -> usize {
        self.running.viewers.load(Ordering::Relaxed)
    }
    fn left(&self) -> usize {
        self.running.viewers.load(Ordering::Relaxed)
    }
    fn dropped_queue(&self, _frames: u64) {}
    fn dropped_age(&self, _frames: u64) {}
    fn dropped_paced(&self, _frames: u64) {}
    fn evicted(&self) {}
    fn label(&self) -> &str {
        &self.label
    }
}
