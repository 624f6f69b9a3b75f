//! Recording: opens the `mjpeg-record` archive, gives each recorded camera a [`Recorder`] and
//! a task that feeds it.
//!
//! The feeding task is a `broadcast-core` subscriber of the camera's raw broadcast, like a
//! viewer, with its own bounded queue: the live path never waits for the disk, and the
//! subscription keeps the upstream open (the supervisor reads a camera while it has
//! subscribers), so a camera being recorded is read whether or not anyone watches. In events
//! mode it also subscribes to the annotated broadcast (which starts the detector), joins the
//! detections to the raw frames by frame id, and records the raw JPEGs with the labels.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use mjpeg_record::{Archive, RecordFrame, Recorder, RecorderStats};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use camera_hub::frame::{FrameState, SharedFrame};
use camera_hub::Camera;
use mjpeg_record::{RecordConfig, RecordMode};

/// Frames the recording subscription may queue before it drops (the recorder's own queue
/// comes after it).
const SUBSCRIBER_QUEUE: usize = 64;
/// Raw frames held while waiting for their detections (events mode); older ones are recorded
/// without detections.
const JOIN_WINDOW: usize = 64;

/// The archive and the recorders of the recorded cameras.
pub struct Recording {
    /// The recordings directory.
    pub archive: Arc<Archive>,
    recorders: HashMap<String, Arc<Recorder>>,
}

impl Recording {
    /// The recorder of a camera, if it is recorded.
    pub fn recorder(&self, camera: &str) -> Option<&Arc<Recorder>> {
        self.recorders.get(camera)
    }

    /// The recording stats of a camera (`None` when it is not recorded).
    pub fn stats(&self, camera: &str) -> Option<RecorderStats> {
        self.recorder(camera).map(|r| r.stats())
    }

    /// Every recorder, for the metrics.
    pub fn recorders(&self) -> Vec<Arc<Recorder>> {
        self.recorders.values().cloned().collect()
    }
}

/// Opens the archive in `config.dir` and starts one feeding task per camera whose mode is on
/// (`modes` gives each camera's mode, by name; a camera not in it is recorded with the
/// default, continuous). The tasks end on `shutdown`, after closing their segment cleanly.
pub fn start(
    config: RecordConfig,
    cameras: &[Arc<Camera>],
    modes: impl Fn(&str) -> Option<RecordMode>,
    shutdown: &CancellationToken,
    tasks: &mut Vec<JoinHandle<()>>,
) -> Result<Recording, mjpeg_record::Error> {
    let dir = config.dir.clone();
    let archive = Arc::new(Archive::open(config)?);
    let mut recorders = HashMap::new();
    for camera in cameras {
        let mode = modes(camera.name()).unwrap_or_default();
        if !mode.is_on() {
            continue;
        }
        let recorder = Arc::new(archive.recorder(camera.name(), mode.clone())?);
        tracing::info!(camera = %camera.name(), dir = %dir.display(), ?mode, "recording");
        let events = mode.needs_detector() && camera.detect_enabled;
        if mode.needs_detector() && !camera.detect_enabled {
            tracing::warn!(camera = %camera.name(), "events recording needs detection, which is off for this camera: nothing will match");
        }
        tasks.push(tokio::spawn(feed(
            camera.clone(),
            recorder.clone(),
            events,
            shutdown.clone(),
        )));
        recorders.insert(camera.name().to_owned(), recorder);
    }
    Ok(Recording { archive, recorders })
}

/// Unix microseconds of a frame's camera time.
fn capture_us(frame: &SharedFrame) -> i64 {
    let t = frame.camera_time;
    i64::try_from(t.secs)
        .unwrap_or(i64::MAX / 2_000_000)
        .saturating_mul(1_000_000)
        .saturating_add(i64::from(t.micros))
}

/// Unix microseconds at which the relay published the frame.
fn receive_us(frame: &SharedFrame) -> i64 {
    let age = frame.published_at.elapsed();
    let published = SystemTime::now()
        .checked_sub(age)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    published
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

fn record_frame(frame: &SharedFrame) -> RecordFrame {
    RecordFrame::new(
        frame.jpeg.clone(),
        frame.id,
        capture_us(frame),
        receive_us(frame),
    )
}

/// Feeds one camera's recorder until shutdown or the broadcast closes.
async fn feed(
    camera: Arc<Camera>,
    recorder: Arc<Recorder>,
    events: bool,
    shutdown: CancellationToken,
) {
    let queue = broadcast_core::Config::new(SUBSCRIBER_QUEUE, broadcast_core::Policy::DropOldest);
    let mut raw = camera.raw.subscribe_with(queue);
    let mut detect = events.then(|| camera.detect.subscribe_with(queue));
    // Events mode: raw frames waiting for their detections, by frame id.
    let mut pending: BTreeMap<u64, RecordFrame> = BTreeMap::new();
    // The newest frame id already handed to the recorder (keepalive re-sends repeat ids).
    let mut last_id = 0u64;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            delivery = raw.recv() => {
                let Some(delivery) = delivery else { break };
                let frame = delivery.item;
                if frame.state != FrameState::Live || frame.id <= last_id {
                    continue;
                }
                last_id = frame.id;
                if detect.is_some() {
                    pending.insert(frame.id, record_frame(&frame));
                    while pending.len() > JOIN_WINDOW {
                        if let Some((_, f)) = pending.pop_first() {
                            recorder.try_record(f);
                        }
                    }
                } else {
                    recorder.try_record(record_frame(&frame));
                }
            }
            delivery = async { match detect.as_mut() { Some(d) => d.recv().await, None => std::future::pending().await } } => {
                let Some(delivery) = delivery else { detect = None; continue };
                let annotated = delivery.item;
                // Everything older than this frame gets no detections any more.
                while let Some(entry) = pending.first_entry() {
                    if *entry.key() >= annotated.id {
                        break;
                    }
                    recorder.try_record(entry.remove());
                }
                if let Some(f) = pending.remove(&annotated.id) {
                    recorder.try_record(with_detections(f, &annotated));
                }
            }
        }
    }
    for (_, f) in pending {
        recorder.try_record(f);
    }
    // Close the segment cleanly off the async threads.
    let _ = tokio::task::spawn_blocking(move || recorder.flush()).await;
}

fn with_detections(frame: RecordFrame, annotated: &SharedFrame) -> RecordFrame {
    let Some(meta) = annotated.meta.detections.as_deref() else {
        return frame;
    };
    let labels: Vec<&str> = meta
        .detections
        .iter()
        .map(|d| d.class_name.as_str())
        .collect();
    let json = serde_json::to_vec(meta)
        .map(Bytes::from)
        .unwrap_or_default();
    frame.with_detections(&labels, json)
}
