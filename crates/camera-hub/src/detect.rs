//! The detection task of a camera: while anyone wants detections, it takes the newest raw
//! frame, runs the model once, draws the boxes and publishes the annotated frame (same
//! `X-Frame-Id`) to every detection viewer. It never slows the raw stream: it reads raw frames
//! through a small drop-oldest subscription and always takes the newest, so when it is slower
//! than the camera it skips frames instead of queueing.
//!
//! **In a cluster** (see [`crate::cluster`]) YOLO runs once per frame per cluster, on the
//! owner:
//!
//! - A **follower** with detection viewers does not run its model: it holds
//!   [`ClusterLink::bus_detections`] (which asks the owner for detections, a heartbeat a second)
//!   and pairs each of the owner's [`SharedDetections`] with its own copy of that frame by frame
//!   id (`detect_share`), draws the boxes and publishes the annotated frame where its own
//!   detector's would go: detection viewers, server-sent events, MQTT and the recorder see the
//!   owner's detections under the owner's ids. `detector.source` is then `bus`, `runs` stays 0
//!   and `bus_frames` counts.
//! - The **owner** runs its model while it has detection viewers **or** another node asks
//!   ([`ClusterLink::detection_demand`]); each run's detections go once to
//!   [`ClusterLink::publish_detections`] (only while someone asks). For remote demand alone it
//!   does not draw or encode, and its raw subscription does not keep the camera open: when its
//!   own viewers leave, it idles out and releases the camera, and the asking node (which has
//!   viewers) takes it over and runs its model itself.
//! - **Fallback:** a follower that hears no detections for [`BUS_FALLBACK_AFTER`] (the owner
//!   has detection off, no model, or is an older relay) runs its own model on the frames it has,
//!   as a standalone relay does; it keeps asking, and goes back to the owner's detections as
//!   soon as they come again. While the role is unknown (no owner yet) nothing is detected.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use broadcast_core::{Policy, Publisher, Subscriber};
use futures_util::stream::{BoxStream, StreamExt};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use yolo_detect::Detector;

use crate::detect_model::{load, run_once, Ran};

use super::Camera;
use crate::cluster::{ClusterLink, DetectionDemand, Role};
use crate::detect_share::{self, Matcher, SharedDetections};
use crate::frame::{DetectionMeta, Frame, FrameMeta, FrameState, SharedFrame};
use crate::stats::DetectorStats;

/// How often the task looks at the cluster role, the demand and the fps meter.
const TICK: Duration = Duration::from_millis(250);
/// Raw frames queued for the task (drop-oldest; the model takes the newest of them).
const RAW_QUEUE: usize = 4;
/// A follower that hears no detections from the owner for this long runs its own model, until
/// the owner's come again. Long enough for an owner to load its model when first asked.
pub const BUS_FALLBACK_AFTER: Duration = Duration::from_secs(10);

/// Settings of a detection task.
#[derive(Debug, Clone)]
pub struct DetectTaskConfig {
    /// Model file, or `None` for the embedded YOLOX-Nano.
    pub model: Option<PathBuf>,
    /// JPEG quality of annotated frames.
    pub jpeg_quality: u8,
}

/// Runs until `shutdown`. The model is loaded when it is first needed. `link`: the camera's
/// cluster, if it is shared by several relays (see the module docs).
pub async fn run(
    camera: Arc<Camera>,
    publisher: Publisher<SharedFrame>,
    config: DetectTaskConfig,
    link: Option<Arc<dyn ClusterLink>>,
    shutdown: CancellationToken,
) {
    let span = tracing::info_span!("detector", camera = %camera.name(), id = camera.id);
    let mut task = DetectTask {
        camera,
        publisher,
        config,
        link,
        model: Model::NotLoaded,
        demand: None,
    };
    async move {
        loop {
            if !task.wait_for_demand(&shutdown).await {
                return;
            }
            let stats = &task.camera.detector;
            stats.active.store(true, Ordering::Relaxed);
            tracing::info!("detector started");
            let flow = task.serve(&shutdown).await;
            let stats = &task.camera.detector;
            stats.active.store(false, Ordering::Relaxed);
            stats.for_others_only.store(false, Ordering::Relaxed);
            stats
                .source
                .store(DetectorStats::SOURCE_NONE, Ordering::Relaxed);
            stats.fps_bits.store(0f64.to_bits(), Ordering::Relaxed);
            match flow {
                Flow::Idle => tracing::info!("detector stopped: nobody wants detections"),
                Flow::Stop => return,
            }
        }
    }
    .instrument(span)
    .await
}

/// Why [`DetectTask::serve`] returned.
enum Flow {
    /// Nobody wants detections any more.
    Idle,
    /// Shutdown, or the detector panicked.
    Stop,
}

enum Model {
    NotLoaded,
    Loaded(Box<Detector>),
    /// Failed to load this time: detection viewers get raw frames until they all leave.
    Failed,
}

/// Where this node stands for the camera's detections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// Not clustered: the model runs here.
    Standalone,
    /// Clustered, this node reads the camera: the model runs here, for others too.
    Owner,
    /// Clustered, another node reads the camera: its detections are used here.
    Follower,
    /// Clustered, no owner known (or nobody watches): nothing to detect.
    Unknown,
}

/// What woke the task up.
enum Event {
    Frame(SharedFrame),
    /// The owner's next detections (`None`: the subscription ended).
    Bus(Option<SharedDetections>),
    Tick,
}

struct DetectTask {
    camera: Arc<Camera>,
    publisher: Publisher<SharedFrame>,
    config: DetectTaskConfig,
    link: Option<Arc<dyn ClusterLink>>,
    model: Model,
    /// The owner's view of other nodes' demand: held while this node owns the camera.
    demand: Option<DetectionDemand>,
}

impl DetectTask {
    fn place(&self) -> Place {
        if self.link.is_none() {
            return Place::Standalone;
        }
        match self.camera.cluster_role.load().as_deref() {
            Some(Role::Camera) => Place::Owner,
            Some(Role::Bus { .. }) => Place::Follower,
            _ => Place::Unknown,
        }
    }

    /// Listens to other nodes' demand while this node owns the camera, and only then.
    async fn follow_role(&mut self) {
        let owner = self.place() == Place::Owner;
        match &self.link {
            Some(link) if owner && self.demand.is_none() => {
                self.demand = Some(link.detection_demand().await);
            }
            _ if !owner => self.demand = None,
            _ => {}
        }
        let remote = self.remote_wanted();
        let stats = &self.camera.detector;
        stats.remote_demand.store(remote, Ordering::Relaxed);
    }

    fn remote_wanted(&self) -> bool {
        self.demand.as_ref().is_some_and(|d| *d.wanted.borrow())
    }

    fn local_wanted(&self) -> bool {
        self.camera.detect.subscriber_count() > 0
    }

    /// Detection viewers here, or (owner) another node asks. The detector's raw subscription
    /// for other nodes alone does not keep the camera open (`for_others_only`, read by the
    /// supervisor): when this node's own viewers leave, it idles out and releases the camera
    /// as before, and a node with viewers takes it over.
    ///
    /// `for_others_only` is cleared here only when local demand comes; when all demand is gone
    /// `run` clears it after the raw subscription is dropped, so the supervisor never sees
    /// that subscription without the flag.
    fn wanted(&self) -> bool {
        let local = self.local_wanted();
        let remote = self.remote_wanted() && self.place() == Place::Owner;
        let stats = &self.camera.detector;
        if local {
            stats.for_others_only.store(false, Ordering::Relaxed);
        } else if remote {
            stats.for_others_only.store(true, Ordering::Relaxed);
        }
        local || remote
    }

    /// Waits until someone wants detections; `false` on shutdown.
    async fn wait_for_demand(&mut self, shutdown: &CancellationToken) -> bool {
        let clustered = self.link.is_some();
        loop {
            self.follow_role().await;
            if self.wanted() {
                return true;
            }
            tokio::select! {
                _ = self.camera.detect.subscribed() => {}
                _ = tokio::time::sleep(TICK), if clustered => {}
                _ = shutdown.cancelled() => return false,
            }
        }
    }

    /// Detects (or draws the owner's detections) until nobody wants them.
    async fn serve(&mut self, shutdown: &CancellationToken) -> Flow {
        if matches!(self.model, Model::Failed) {
            self.model = Model::NotLoaded; // try again for the new viewers
        }
        let camera = self.camera.clone();
        let mut raw = camera.raw.subscribe_with(broadcast_core::Config {
            capacity: RAW_QUEUE,
            policy: Policy::DropOldest,
        });
        // Follower: the owner's detections (asking for them while held).
        let mut bus: Option<BoxStream<'static, SharedDetections>> = None;
        let mut heard = Instant::now();
        let mut falling_back = false;
        let mut matcher = Matcher::default();
        let mut last_id: Option<u64> = None;
        let mut ticker = tokio::time::interval(TICK);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut meter = (Instant::now(), annotated(&camera.detector));
        loop {
            let event = tokio::select! {
                delivery = raw.recv() => match delivery {
                    Some(delivery) => Event::Frame(delivery.item),
                    None => return Flow::Idle,
                },
                detections = next_of(&mut bus) => Event::Bus(detections),
                _ = ticker.tick() => Event::Tick,
                _ = shutdown.cancelled() => return Flow::Stop,
            };
            if !self.wanted() {
                return Flow::Idle;
            }
            let place = self.place();
            match (&self.link, place) {
                (Some(link), Place::Follower) if bus.is_none() => {
                    bus = Some(link.bus_detections().await);
                    heard = Instant::now();
                }
                (_, Place::Follower) => {}
                _ => bus = None,
            }
            match event {
                Event::Tick => {
                    self.follow_role().await;
                    let now = Instant::now();
                    if now - meter.0 >= Duration::from_secs(1) {
                        let done = annotated(&camera.detector);
                        let fps = (done - meter.1) as f64 / (now - meter.0).as_secs_f64();
                        let stats = &camera.detector;
                        stats.fps_bits.store(fps.to_bits(), Ordering::Relaxed);
                        meter = (now, done);
                    }
                }
                Event::Bus(None) => bus = None, // reopened on the next event
                Event::Bus(Some(detections)) => {
                    heard = Instant::now();
                    if std::mem::take(&mut falling_back) {
                        tracing::info!("the owner's detections are back: the model here stops");
                    }
                    let paired = matcher.detections(detections);
                    self.count_unmatched(&mut matcher);
                    if let Some((frame, detections)) = paired {
                        if !self.draw_shared(frame, detections).await {
                            return Flow::Stop;
                        }
                    }
                }
                Event::Frame(frame) if frame.state != FrameState::Live => {
                    // Offline cards and the like: pass through unannotated.
                    self.publisher.publish(frame);
                }
                Event::Frame(frame) => match place {
                    Place::Unknown => {}
                    Place::Follower if heard.elapsed() < BUS_FALLBACK_AFTER => {
                        last_id = None;
                        let paired = matcher.frame(frame);
                        self.count_unmatched(&mut matcher);
                        if let Some((frame, detections)) = paired {
                            if !self.draw_shared(frame, detections).await {
                                return Flow::Stop;
                            }
                        }
                    }
                    Place::Follower | Place::Owner | Place::Standalone => {
                        if place == Place::Follower && !falling_back {
                            falling_back = true;
                            tracing::warn!(
                                silent_for = ?BUS_FALLBACK_AFTER,
                                "no detections from the camera's owner: running the model here"
                            );
                        }
                        if matches!(self.model, Model::Failed) {
                            self.publisher.publish(frame); // no model: raw frames
                            continue;
                        }
                        let Some(frame) = newest(&mut raw, frame, &self.publisher) else {
                            continue;
                        };
                        if let Some(previous) = last_id {
                            let skipped = frame.id.saturating_sub(previous + 1);
                            let stats = &camera.detector;
                            stats.skipped.fetch_add(skipped, Ordering::Relaxed);
                        }
                        last_id = Some(frame.id);
                        if !self.run_model(frame, place).await {
                            return Flow::Stop;
                        }
                    }
                },
            }
        }
    }

    fn count_unmatched(&self, matcher: &mut Matcher) {
        let gone = std::mem::take(&mut matcher.gone);
        if gone > 0 {
            let stats = &self.camera.detector;
            stats.bus_unmatched.fetch_add(gone, Ordering::Relaxed);
        }
    }

    /// Draws the owner's detections on this node's copy of their frame and publishes it;
    /// `false` if the drawing thread panicked.
    async fn draw_shared(&mut self, frame: SharedFrame, detections: SharedDetections) -> bool {
        let stats = &self.camera.detector;
        stats
            .source
            .store(DetectorStats::SOURCE_BUS, Ordering::Relaxed);
        if let Ok(mut model) = stats.model.lock() {
            if model.as_deref() != Some(detections.model.as_str()) {
                *model = Some(detections.model.clone());
            }
        }
        let quality = self.config.jpeg_quality;
        let id = frame.id;
        let drawn = tokio::task::spawn_blocking(move || {
            detect_share::annotate(&frame, &detections, quality)
        })
        .await;
        match drawn {
            Ok(Ok(annotated)) => {
                stats.bus_frames.fetch_add(1, Ordering::Relaxed);
                self.publisher.publish(Arc::new(annotated));
                true
            }
            Ok(Err(error)) => {
                stats.errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(frame_id = id, %error, "drawing the owner's detections failed");
                true
            }
            Err(error) => {
                tracing::error!(%error, "drawing panicked; detection stops");
                false
            }
        }
    }

    /// Runs the model on `frame`: publishes the annotated frame to local viewers (if any) and
    /// the detections to the cluster (an owner someone asks); `false` if the model panicked.
    async fn run_model(&mut self, frame: SharedFrame, place: Place) -> bool {
        let mut detector = match std::mem::replace(&mut self.model, Model::NotLoaded) {
            Model::Loaded(detector) => detector,
            Model::Failed => {
                self.model = Model::Failed;
                self.publisher.publish(frame);
                return true;
            }
            Model::NotLoaded => match load(&self.config).await {
                Ok(loaded) => {
                    tracing::info!(model = loaded.model_name(), "detection model loaded");
                    if let Ok(mut name) = self.camera.detector.model.lock() {
                        *name = Some(loaded.model_name().to_owned());
                    }
                    Box::new(loaded)
                }
                Err(error) => {
                    tracing::error!(%error, "detection model failed to load; detection viewers get raw frames");
                    self.model = Model::Failed;
                    self.publisher.publish(frame);
                    return true;
                }
            },
        };
        let draw = self.local_wanted();
        let share = place == Place::Owner && self.remote_wanted();
        let jpeg = frame.jpeg.clone();
        // While the quality tiers decode this camera's frames too, both share one decode.
        let shared = (self.camera.tiers_started())
            .and_then(|tiers| tiers.reader_id())
            .map(|_| (self.camera.decoded.clone(), frame.id));
        let (detector, result) = match tokio::task::spawn_blocking(move || {
            let result = run_once(&mut detector, &jpeg, draw, shared);
            (detector, result)
        })
        .await
        {
            Ok(done) => done,
            Err(error) => {
                tracing::error!(%error, "detector panicked; detection stops");
                return false;
            }
        };
        let model_name = detector.model_name().to_owned();
        self.model = Model::Loaded(detector);
        let stats = &self.camera.detector;
        match result {
            Ok(Ran {
                detections,
                stages,
                annotated,
            }) => {
                if let Ok(mut last) = stats.last.lock() {
                    *last = stages;
                }
                stats.runs.fetch_add(1, Ordering::Relaxed);
                stats
                    .source
                    .store(DetectorStats::SOURCE_MODEL, Ordering::Relaxed);
                let meta = DetectionMeta {
                    detections,
                    inference_ms: stages.inference,
                    total_ms: stages.decode
                        + stages.preprocess
                        + stages.inference
                        + stages.postprocess
                        + stages.draw
                        + stages.encode,
                };
                if let (true, Some(link)) = (share, &self.link) {
                    link.publish_detections(&detect_share::shared(frame.id, &model_name, &meta));
                }
                if let Some(jpeg) = annotated {
                    let out = Frame::new(
                        frame.id,
                        jpeg.into(),
                        frame.camera_time,
                        frame.state,
                        FrameMeta::detected(meta),
                    );
                    self.publisher.publish(Arc::new(out));
                }
            }
            Err(error) => {
                stats.errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(frame_id = frame.id, %error, "detection failed; frame skipped");
            }
        }
        true
    }
}

/// Model runs plus frames drawn with the owner's detections: the annotated frames made here.
fn annotated(stats: &DetectorStats) -> u64 {
    stats.runs.load(Ordering::Relaxed) + stats.bus_frames.load(Ordering::Relaxed)
}

async fn next_of(
    bus: &mut Option<BoxStream<'static, SharedDetections>>,
) -> Option<SharedDetections> {
    match bus {
        Some(detections) => detections.next().await,
        None => std::future::pending().await,
    }
}

/// The newest frame queued after `frame` (the model always takes the newest). `None` when that
/// is not a live frame: it is passed through instead.
fn newest(
    raw: &mut Subscriber<SharedFrame>,
    mut frame: SharedFrame,
    publisher: &Publisher<SharedFrame>,
) -> Option<SharedFrame> {
    while let Ok(delivery) = raw.try_recv() {
        frame = delivery.item;
    }
    if frame.state == FrameState::Live {
        Some(frame)
    } else {
        publisher.publish(frame);
        None
    }
}

#[cfg(test)]
#[path = "detect_tests.rs"]
mod tests;
