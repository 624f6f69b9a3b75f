//! The emulated board: sensor settings, the current scene and the frame clock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use bytes::Bytes;
use tokio::sync::{watch, Semaphore};
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::config::{esp_quality_of, jpeg_quality_of};
use crate::framesize::{framesize_dimensions, framesize_of};
use crate::sensor::SensorSettings;
use crate::stats::Counters;
use crate::{MockConfig, MockError, Scene};

/// One frame as the "sensor" captured it; every stream client sends the same one.
#[derive(Debug)]
pub(crate) struct CapturedFrame {
    /// 0 at start, +1 per capture: one per frame interval (ticks skipped under load are not
    /// numbered), plus one when `/control` changes framesize or quality.
    pub id: u64,
    /// Wall-clock capture time: the part's `X-Timestamp`.
    pub captured_at: SystemTime,
    pub jpeg: Bytes,
    /// Whether `jpeg` already carries the "Frame: N" label.
    pub labelled: bool,
}

impl CapturedFrame {
    /// `X-Timestamp` as the firmware prints it: `%d.%06d` of the UNIX time.
    pub(crate) fn timestamp(&self) -> String {
        let since = self
            .captured_at
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        format!("{}.{:06}", since.as_secs(), since.subsec_micros())
    }
}

/// Why `/control` refused a setting (the firmware answers 500 for both).
#[derive(Debug)]
pub(crate) enum ControlError {
    UnknownVar,
    BadValue,
    Scene(MockError),
}

/// State shared by the server, the frame clock and every response.
pub(crate) struct Camera {
    pub config: MockConfig,
    /// What `/status` reports; held only for short reads and writes, never across `.await`.
    sensor: Mutex<SensorSettings>,
    /// The picture at the current framesize and quality; swapped whole by `/control`.
    scene: ArcSwap<Scene>,
    /// The latest captured frame. Stream clients subscribe; the clock task publishes.
    latest: watch::Sender<Arc<CapturedFrame>>,
    /// One permit per allowed `/stream` client (`None` = unlimited). A permit lives in the
    /// response body, so it returns when the client goes away or the stream ends.
    pub stream_slots: Option<Arc<Semaphore>>,
    /// Id of the next captured frame; shared by the clock and `/control`'s capture.
    next_id: AtomicU64,
    /// Serialises `/control` scene rebuilds so two requests cannot race.
    reconfigure: tokio::sync::Mutex<()>,
    pub counters: Counters,
}

impl Camera {
    pub(crate) fn new(config: MockConfig, scene: Scene) -> Camera {
        let (width, height) = scene.size();
        let sensor = SensorSettings::new(
            framesize_of(width, height).unwrap_or(-1),
            esp_quality_of(config.quality),
        );
        let first = CapturedFrame {
            id: 0,
            captured_at: SystemTime::now(),
            jpeg: scene.frame(0),
            labelled: false,
        };
        let stream_slots =
            (config.max_clients > 0).then(|| Arc::new(Semaphore::new(config.max_clients)));
        Camera {
            config,
            sensor: Mutex::new(sensor),
            scene: ArcSwap::from_pointee(scene),
            latest: watch::Sender::new(Arc::new(first)),
            stream_slots,
            next_id: AtomicU64::new(1),
            reconfigure: tokio::sync::Mutex::new(()),
            counters: Counters::default(),
        }
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<Arc<CapturedFrame>> {
        self.latest.subscribe()
    }

    pub(crate) fn latest(&self) -> Arc<CapturedFrame> {
        self.latest.borrow().clone()
    }

    pub(crate) fn status_json(&self) -> String {
        self.sensor
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .to_json()
    }

    /// `frame` with its "Frame: N" label, encoded on the blocking pool.
    pub(crate) async fn labelled(&self, frame: &CapturedFrame) -> Bytes {
        let scene = self.scene.load_full();
        let id = frame.id;
        tokio::task::spawn_blocking(move || scene.frame_with_label(id, &format!("Frame: {id}")))
            .await
            .unwrap_or_else(|_| frame.jpeg.clone())
    }

    /// The frame clock: captures a frame every interval until `cancel` fires.
    pub(crate) async fn run_clock(self: Arc<Self>, cancel: CancellationToken) {
        let mut interval = tokio::time::interval(self.config.frame_interval());
        interval.set_missed_tick_behavior(MissedTickBehavior::Skip);
        interval.tick().await; // The first tick is immediate: frame 0 is already there.
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = interval.tick() => {}
            }
            self.capture().await;
        }
    }

    /// Captures the next frame from the current scene and publishes it to every client.
    async fn capture(&self) {
        // Relaxed: the read-modify-write alone makes ids unique; nothing else is ordered by it.
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let captured_at = SystemTime::now();
        let scene = self.scene.load_full();
        // Label only while someone streams: the label costs an encode per frame.
        let label = self.config.show_frame_id && self.latest.receiver_count() > 0;
        let jpeg = if label {
            let fallback = scene.frame(id);
            let encode = move || scene.frame_with_label(id, &format!("Frame: {id}"));
            tokio::task::spawn_blocking(encode)
                .await
                .unwrap_or(fallback)
        } else {
            scene.frame(id)
        };
        self.counters.last_frame_id.fetch_max(id, Ordering::Relaxed);
        let frame = Arc::new(CapturedFrame {
            id,
            captured_at,
            jpeg,
            labelled: label,
        });
        // A capture by `/control` may race the clock's: never publish an older frame.
        self.latest.send_if_modified(|latest| {
            let newer = frame.id > latest.id;
            if newer {
                *latest = frame;
            }
            newer
        });
    }

    /// `/control?var=&val=`: stores the value; `framesize` and `quality` rebuild the scene
    /// before returning, so frames captured after the response have the new settings.
    pub(crate) async fn control(&self, var: &str, val: i32) -> Result<(), ControlError> {
        let _one_at_a_time = self.reconfigure.lock().await;
        let mut next = self
            .sensor
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        *next.field_mut(var).ok_or(ControlError::UnknownVar)? = val;
        if matches!(var, "framesize" | "quality") {
            let (width, height) = framesize_dimensions(next.framesize)
                .or_else(|| (next.framesize == -1).then(|| self.scene.load().size()))
                .ok_or(ControlError::BadValue)?;
            if !(0..=63).contains(&next.quality) {
                return Err(ControlError::BadValue);
            }
            let quality = jpeg_quality_of(next.quality);
            let loop_frames = self.config.loop_frames;
            let build = move || Scene::with_loop_frames(width, height, quality, loop_frames);
            let scene = tokio::task::spawn_blocking(build)
                .await
                .map_err(|_| ControlError::BadValue)?
                .map_err(ControlError::Scene)?;
            tracing::info!(width, height, quality, "mock camera reconfigured");
            self.scene.store(Arc::new(scene));
            *self.sensor.lock().unwrap_or_else(PoisonError::into_inner) = next;
            // Like a sensor that restarts with the new setting: the next frame is new-style,
            // so a `/capture` right after this response already has it.
            self.capture().await;
            return Ok(());
        }
        *self.sensor.lock().unwrap_or_else(PoisonError::into_inner) = next;
        Ok(())
    }
}
