//! The task that owns a camera's upstream: opens it when the first viewer arrives, publishes
//! every frame once to all viewers, re-sends the last frame of a frozen camera, shows an
//! "offline" card while it reconnects, and closes it once nobody watched for the idle timeout.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use esp32_source::{CameraFrame, SourceState};
use futures_util::stream::{BoxStream, StreamExt};
use mjpeg_codec::Timestamp;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::{Camera, Upstream};
use crate::cluster::{self, ClusterLink, Opener, Sourced};
use crate::frame::{Frame, FrameState, SharedFrame};
use crate::frame_ids::FrameIds;

/// Receives the camera-to-hub latency of every live frame that carries a camera timestamp
/// (`X-Timestamp`): a metrics histogram's `observe`, or `Box::new(|_| {})` to ignore it.
pub type LatencySink = Box<dyn Fn(Duration) + Send + Sync>;

/// How often the supervisor looks at idleness, keepalive and the fps meter.
const TICK: Duration = Duration::from_millis(250);
/// How often a status line is logged while streaming.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// Settings of a supervisor.
#[derive(Debug, Clone)]
pub struct SupervisorConfig {
    /// Close the upstream this long after the last viewer left.
    pub idle_timeout: Duration,
    /// Never close the upstream.
    pub always_on: bool,
    /// Re-send the last frame (or an offline card) when nothing new came for this long.
    pub keepalive: Duration,
}

/// Runs until `shutdown`; dropping the publisher at the end ends every viewer's stream.
pub async fn run(
    camera: Arc<Camera>,
    publisher: broadcast_core::Publisher<SharedFrame>,
    upstream: Upstream,
    config: SupervisorConfig,
    latency: LatencySink,
    shutdown: CancellationToken,
) {
    let span = tracing::info_span!("broadcaster", camera = %camera.name(), id = camera.id);
    let mut supervisor = Supervisor {
        latency,
        camera,
        publisher,
        config,
        last_publish: Instant::now(),
        ids: FrameIds::default(),
        link: match &upstream {
            Upstream::Clustered { link, .. } => Some(link.clone()),
            _ => None,
        },
    };
    async move {
        tracing::info!(
            url = supervisor.camera.config.source.url(),
            "broadcaster created"
        );
        loop {
            if !supervisor.config.always_on
                && !wait_for_viewers(&supervisor.camera, &shutdown).await
            {
                break;
            }
            supervisor
                .camera
                .stats
                .upstream_starts
                .fetch_add(1, Ordering::Relaxed);
            tracing::info!(
                viewers = supervisor.camera.raw.subscriber_count(),
                "broadcaster started: opening upstream"
            );
            let frames = open(&upstream, &supervisor.camera).await;
            let stopped = supervisor.stream(frames, &shutdown).await;
            supervisor.camera.cluster_role.store(None);
            supervisor
                .camera
                .stats
                .fps_bits
                .store(0f64.to_bits(), Ordering::Relaxed);
            match stopped {
                Stop::Idle => tracing::info!("broadcaster stopped: no viewers, upstream closed"),
                Stop::Shutdown => break,
            }
        }
        tracing::info!("broadcaster shut down");
    }
    .instrument(span)
    .await
}

/// Waits for a raw subscriber that is a reason to read the camera (a cluster owner's detector
/// serving only other nodes is not); `false` on shutdown.
async fn wait_for_viewers(camera: &Camera, shutdown: &CancellationToken) -> bool {
    loop {
        tokio::select! {
            _ = camera.raw.subscribed() => {}
            _ = shutdown.cancelled() => return false,
        }
        let others_only = camera.detector.for_others_only.load(Ordering::Relaxed);
        if camera.raw.subscriber_count() > usize::from(others_only) {
            return true;
        }
        // Only that detector, about to notice that this node no longer owns the camera.
        tokio::select! {
            _ = tokio::time::sleep(TICK) => {}
            _ = shutdown.cancelled() => return false,
        }
    }
}

async fn open(upstream: &Upstream, camera: &Arc<Camera>) -> BoxStream<'static, Sourced> {
    match upstream {
        Upstream::Clustered { local, link } => {
            let membership = link.join();
            let (local, on_camera) = (local.clone(), camera.clone());
            let open_camera: Opener = Arc::new(move || {
                let (local, camera) = (local.clone(), on_camera.clone());
                futures_util::FutureExt::boxed(async move { open_local(&local, &camera).await })
            });
            let link = link.clone();
            let open_bus: Opener = Arc::new(move || link.bus_frames());
            let on_role = camera.clone();
            cluster::switched(
                membership,
                open_camera,
                open_bus,
                Box::new(move |role| on_role.cluster_role.store(Some(Arc::new(role.clone())))),
            )
        }
        local => open_local(local, camera)
            .await
            .map(|frame| Sourced {
                frame,
                from_camera: true,
            })
            .boxed(),
    }
}

/// Opens this node's own way to the camera.
async fn open_local(upstream: &Upstream, camera: &Arc<Camera>) -> BoxStream<'static, CameraFrame> {
    match upstream {
        Upstream::Camera(source) => {
            apply_esp32_settings(camera);
            source.frames_with(demand(camera)).boxed()
        }
        Upstream::Demo(demo) => demo.frames(camera.clone()).await,
        Upstream::Clustered { .. } => {
            // `CameraTasks::clustered` wraps a local upstream once; never two levels deep.
            tracing::error!(camera = %camera.name(), "a clustered camera inside a clustered camera");
            futures_util::stream::pending().boxed()
        }
    }
}

/// Whether anyone waits for the camera's frames: a raw subscriber, i.e. a viewer, a snapshot
/// request, a recording or the detector (which subscribes to raw frames only while someone
/// watches annotated ones). A camera kept open for nobody (`always_on`) is then retried with
/// exponential backoff instead of every 350 ms while it is down.
fn demand(camera: &Camera) -> esp32_source::Demand {
    let raw = camera.raw.clone();
    esp32_source::Demand::from_fn(move || raw.subscriber_count() > 0)
}

/// Pushes the configured ESP32 settings through `/control`, in the background.
fn apply_esp32_settings(camera: &Arc<Camera>) {
    if camera.config.esp32.is_empty() {
        return;
    }
    let control = match &camera.config.control_url {
        Some(base) => esp32_source::Esp32Control::new(base),
        // The firmware serves /control on port 80 beside the :81 stream.
        None => esp32_source::Esp32Control::for_stream_url(camera.config.source.url()),
    };
    let settings = camera.config.esp32.clone();
    let name = camera.name().to_owned();
    tokio::spawn(async move {
        let control = match control {
            Ok(control) => control,
            Err(error) => {
                tracing::warn!(camera = %name, %error, "ESP32 control URL unusable");
                return;
            }
        };
        for (var, val) in settings {
            match control.set(&var, val).await {
                Ok(()) => tracing::info!(camera = %name, %var, val, "ESP32 setting applied"),
                Err(error) => {
                    tracing::warn!(camera = %name, %var, val, %error, "ESP32 setting failed")
                }
            }
        }
    });
}

enum Stop {
    Idle,
    Shutdown,
}

struct Supervisor {
    camera: Arc<Camera>,
    publisher: broadcast_core::Publisher<SharedFrame>,
    config: SupervisorConfig,
    /// Where this camera's latency goes (the metrics family looked up once, not per frame).
    latency: LatencySink,
    /// When a frame (live, keepalive or placeholder) last went out: drives keepalive.
    last_publish: Instant,
    /// Live frames' ids: the upstream's own when it is a relay (see [`FrameIds`]).
    ids: FrameIds,
    /// A clustered camera's link: live frames read from the camera are published through it.
    link: Option<Arc<dyn ClusterLink>>,
}

impl Supervisor {
    async fn stream(
        &mut self,
        mut frames: BoxStream<'static, Sourced>,
        shutdown: &CancellationToken,
    ) -> Stop {
        let mut ticker = tokio::time::interval(TICK);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut idle_since: Option<Instant> = None;
        let mut meter = (
            Instant::now(),
            self.camera.stats.frames.load(Ordering::Relaxed),
        );
        let mut last_log = Instant::now();
        self.last_publish = Instant::now();
        loop {
            tokio::select! {
                frame = frames.next() => match frame {
                    Some(sourced) => self.publish_live(sourced.frame, sourced.from_camera),
                    // The source gave up (it normally reconnects forever): treat like idle.
                    None => return Stop::Idle,
                },
                _ = ticker.tick() => {
                    self.keepalive();
                    let now = Instant::now();
                    if now - meter.0 >= Duration::from_secs(1) {
                        let frames = self.camera.stats.frames.load(Ordering::Relaxed);
                        let fps = (frames - meter.1) as f64 / (now - meter.0).as_secs_f64();
                        self.camera.stats.fps_bits.store(fps.to_bits(), Ordering::Relaxed);
                        meter = (now, frames);
                    }
                    if now - last_log >= LOG_EVERY {
                        last_log = now;
                        self.log_status();
                    }
                    // A cluster owner's detector that serves only other nodes is no viewer:
                    // it must not keep the camera (and its lease) here.
                    let others_only = self.camera.detector.for_others_only.load(Ordering::Relaxed);
                    let subscribers = self.camera.raw.subscriber_count();
                    if self.config.always_on || subscribers > usize::from(others_only) {
                        idle_since = None;
                    } else if now - *idle_since.get_or_insert(now) >= self.config.idle_timeout {
                        return Stop::Idle;
                    }
                }
                _ = shutdown.cancelled() => return Stop::Shutdown,
            }
        }
    }

    fn publish_live(&mut self, frame: CameraFrame, from_camera: bool) {
        let stats = &self.camera.stats;
        stats.frames.fetch_add(1, Ordering::Relaxed);
        stats
            .bytes
            .fetch_add(frame.jpeg.len() as u64, Ordering::Relaxed);
        if let Some(camera_time) = frame.camera_time {
            let latency = frame
                .received_wall
                .to_system_time()
                .duration_since(camera_time.to_system_time())
                .unwrap_or_default();
            (self.latency)(latency);
        }
        let time = frame.camera_time.unwrap_or(frame.received_wall);
        // Only this task writes the counter (live frames and offline cards).
        let next = self.camera.next_frame_id.load(Ordering::Relaxed);
        let (id, next) = self.ids.assign(frame.upstream_id, next);
        self.camera.next_frame_id.store(next, Ordering::Relaxed);
        // An upstream relay's "offline" card stays a card here (no detection, no recording).
        let state = match frame.upstream_offline {
            true => FrameState::Offline,
            false => FrameState::Live,
        };
        let frame = Arc::new(Frame::new(id, frame.jpeg, time, state, Default::default()));
        stats.frame_id.store(id, Ordering::Relaxed);
        let live = frame.state == FrameState::Live;
        if let (true, true, Some(link)) = (from_camera, live, &self.link) {
            link.publish(&frame);
        }
        self.send(frame);
    }

    fn send(&mut self, frame: SharedFrame) {
        self.camera.latest.store(Some(frame.clone()));
        self.publisher.publish(frame);
        self.last_publish = Instant::now();
    }

    /// Keeps viewers' connections alive: the last frame again when the camera is frozen, an
    /// "offline" card while the upstream reconnects.
    fn keepalive(&mut self) {
        if self.last_publish.elapsed() < self.config.keepalive {
            return;
        }
        let state = self.camera.source_status.as_ref().map(|s| s.snapshot());
        let offline = match &state {
            Some(status) => !matches!(status.state, SourceState::Streaming { .. }),
            None => false,
        };
        let latest = self.camera.latest.load_full();
        if offline {
            let attempt = match state.as_ref().map(|s| &s.state) {
                Some(SourceState::Connecting { attempt })
                | Some(SourceState::BackingOff { attempt, .. }) => *attempt,
                _ => 0,
            };
            let (w, h) = latest
                .as_ref()
                .filter(|f| f.width > 0)
                .map_or((640, 480), |f| (u32::from(f.width), u32::from(f.height)));
            let jpeg: Bytes = mock_camera::placeholder_jpeg(
                w,
                h,
                &[
                    &format!("{} offline", self.camera.name()),
                    &format!("reconnecting, attempt {attempt}"),
                ],
            );
            let id = if self.link.is_some() {
                // Clustered: a card keeps the last id (never back, like a keepalive), so the
                // nodes that show cards during a failover still agree on the next owner's ids.
                self.camera
                    .next_frame_id
                    .load(Ordering::Relaxed)
                    .saturating_sub(1)
            } else {
                self.camera.next_frame_id.fetch_add(1, Ordering::Relaxed)
            };
            self.ids.other_published();
            let frame = Frame::new(
                id,
                jpeg,
                Timestamp::now(),
                FrameState::Offline,
                Default::default(),
            );
            self.camera
                .stats
                .placeholders
                .fetch_add(1, Ordering::Relaxed);
            // The placeholder is not kept as the latest picture: snapshots show the last real one.
            self.publisher.publish(Arc::new(frame));
            self.last_publish = Instant::now();
        } else if let Some(latest) = latest {
            self.camera.stats.keepalives.fetch_add(1, Ordering::Relaxed);
            self.publisher.publish(Arc::new(latest.resend()));
            self.last_publish = Instant::now();
        }
    }

    fn log_status(&self) {
        let stats = &self.camera.stats;
        let state = self
            .camera
            .source_status
            .as_ref()
            .map_or("demo", |s| s.snapshot().state.name());
        tracing::info!(
            frame_id = stats.frame_id.load(Ordering::Relaxed),
            fps = format!("{:.1}", stats.fps()),
            viewers = stats.viewers_total(),
            raw_subscribers = self.camera.raw.subscriber_count(),
            detect_subscribers = self.camera.detect.subscriber_count(),
            upstream = state,
            "broadcasting"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CameraSpec, HubSettings, SourceSpec};

    /// Polls nothing: lets the camera's tasks run for `secs` of (paused) time.
    async fn run_for(secs: f64) {
        tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    }

    fn reconnects(camera: &Camera) -> u64 {
        camera
            .source_status
            .as_ref()
            .expect("a real upstream")
            .snapshot()
            .reconnects
    }

    #[tokio::test(start_paused = true)]
    async fn an_unwatched_camera_backs_off_and_a_viewer_brings_the_steady_retries_back() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/stream", listener.local_addr().expect("addr"));
        drop(listener);
        let settings = HubSettings {
            always_on: true,
            detect: false,
            ..HubSettings::default()
        };
        let spec = CameraSpec::new("down", SourceSpec::Stream { url });
        let (camera, tasks) = Camera::new(spec, &settings).expect("valid camera");
        let shutdown = CancellationToken::new();
        let handles = tasks.spawn(&camera, &settings, Box::new(|_| {}), &shutdown);

        // Always on, nobody watching: exponential backoff (0.5, 1, 2, 4, 8 s ± 25 %), 4 to 6
        // retries in 20 s instead of about 57.
        run_for(20.0).await;
        let quiet = reconnects(&camera);
        assert!((4..=6).contains(&quiet), "{quiet} retries");

        // A viewer: retried within 250 ms, then every 350 ms ± 25 %.
        let mut viewer = camera.raw.subscribe();
        run_for(0.3).await;
        let arrived = reconnects(&camera);
        assert!(
            (quiet + 1..=quiet + 2).contains(&arrived),
            "{quiet} -> {arrived}"
        );
        run_for(10.0).await;
        let watched = reconnects(&camera) - arrived;
        assert!((20..=40).contains(&watched), "{watched} retries in 10 s");
        // Never a live frame (offline cards go by the wall clock, which stands still here).
        assert!(!viewer
            .try_recv()
            .is_ok_and(|frame| frame.item.state == crate::frame::FrameState::Live));

        // The viewer leaves: back to long delays (the retry count is high: the cap, 30 s).
        drop(viewer);
        run_for(1.0).await;
        let left = reconnects(&camera);
        run_for(20.0).await;
        assert!(reconnects(&camera) - left <= 1);

        shutdown.cancel();
        for handle in handles {
            handle.await.expect("task ended");
        }
    }
}
