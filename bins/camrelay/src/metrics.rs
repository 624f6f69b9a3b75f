//! `GET /metrics`: the Prometheus text format, through `prometheus-client`.
//!
//! The relay's counters live in atomics next to the code that updates them ([`CameraStats`],
//! broadcast-core's per-subscriber counters); a [`Collector`] reads them at scrape time, so the
//! per-frame path pays nothing for metrics except the latency histogram.
//!
//! [`CameraStats`]: crate::camera::stats::CameraStats

use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::camera::stats::ViewerKind;
use crate::camera::Camera;

type Labels = Vec<(&'static str, String)>;

fn latency_histogram() -> Histogram {
    // 1 ms .. ~4 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 13))
}

/// The relay's metrics registry.
pub struct Metrics {
    registry: OnceLock<Registry>,
    latency: Family<Labels, Histogram, fn() -> Histogram>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            registry: OnceLock::new(),
            latency: Family::new_with_constructor(latency_histogram),
        }
    }
}

impl Metrics {
    /// Registers the collectors for these cameras (once).
    pub fn register(&self, cameras: Vec<Arc<Camera>>) {
        let mut registry = Registry::with_prefix("camrelay");
        registry.register(
            "frame_latency_seconds",
            "Camera capture time (X-Timestamp) to relay receive time",
            self.latency.clone(),
        );
        registry.register_collector(Box::new(CameraCollector { cameras }));
        let _ = self.registry.set(registry);
    }

    /// The camera-to-relay latency histogram of one camera (look it up once, observe per frame).
    pub fn latency_histogram(&self, camera: &str) -> Histogram {
        self.latency
            .get_or_create(&vec![("camera", camera.to_owned())])
            .clone()
    }

    /// The text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Some(registry) = self.registry.get() {
            if let Err(error) = prometheus_client::encoding::text::encode(&mut out, registry) {
                tracing::warn!(%error, "metrics encoding failed");
            }
        }
        out
    }
}

struct CameraCollector {
    cameras: Vec<Arc<Camera>>,
}

impl std::fmt::Debug for CameraCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CameraCollector")
            .field("cameras", &self.cameras.len())
            .finish()
    }
}

fn upstream_state(camera: &Camera) -> &'static str {
    match &camera.source_status {
        Some(status) => status.snapshot().state.name(),
        None if camera.stats.fps() > 0.0 => "streaming",
        None => "idle",
    }
}

impl CameraCollector {
    fn counter(
        &self,
        encoder: &mut DescriptorEncoder,
        name: &str,
        help: &str,
        value: impl Fn(&Camera) -> u64,
    ) -> Result<(), std::fmt::Error> {
        let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
        for camera in &self.cameras {
            let labels: Labels = vec![("camera", camera.name().to_owned())];
            ConstCounter::new(value(camera)).encode(metric.encode_family(&labels)?)?;
        }
        Ok(())
    }

    fn gauge(
        &self,
        encoder: &mut DescriptorEncoder,
        name: &str,
        help: &str,
        value: impl Fn(&Camera) -> f64,
    ) -> Result<(), std::fmt::Error> {
        let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
        for camera in &self.cameras {
            let labels: Labels = vec![("camera", camera.name().to_owned())];
            ConstGauge::new(value(camera)).encode(metric.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

impl Collector for CameraCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let rel = Ordering::Relaxed;
        self.counter(
            &mut encoder,
            "frames",
            "Frames received from the camera",
            |c| c.stats.frames.load(rel),
        )?;
        self.counter(
            &mut encoder,
            "bytes",
            "JPEG bytes received from the camera",
            |c| c.stats.bytes.load(rel),
        )?;
        self.gauge(&mut encoder, "fps", "Camera frames per second", |c| {
            c.stats.fps()
        })?;
        self.counter(
            &mut encoder,
            "dropped_queue_frames",
            "Frames dropped because a viewer's queue was full",
            queue_drops,
        )?;
        self.counter(
            &mut encoder,
            "dropped_age_frames",
            "Frames skipped because they were older than --max-frame-age",
            |c| c.stats.dropped_age.load(rel),
        )?;
        self.counter(
            &mut encoder,
            "dropped_paced_frames",
            "Frames skipped for viewers on slow links: replaced by a newer one before the link drained",
            |c| c.stats.dropped_paced.load(rel),
        )?;
        self.counter(
            &mut encoder,
            "evicted_viewers",
            "Viewers disconnected by the write timeout",
            |c| c.stats.evicted.load(rel),
        )?;
        self.counter(&mut encoder, "reconnects", "Upstream reconnections", |c| {
            c.source_status
                .as_ref()
                .map_or(0, |s| s.snapshot().reconnects)
        })?;
        self.counter(&mut encoder, "detector_runs", "Detector runs", |c| {
            c.detector.runs.load(rel)
        })?;
        self.counter(
            &mut encoder,
            "detector_skipped_frames",
            "Raw frames the detector skipped to stay on the newest",
            |c| c.detector.skipped.load(rel),
        )?;
        let mut viewers = encoder.encode_descriptor(
            "viewers",
            "Connected viewers by kind",
            None,
            MetricType::Gauge,
        )?;
        for camera in &self.cameras {
            for kind in ViewerKind::ALL {
                let labels: Labels = vec![
                    ("camera", camera.name().to_owned()),
                    ("kind", kind.as_str().to_owned()),
                ];
                ConstGauge::new(camera.stats.viewers(kind) as i64)
                    .encode(viewers.encode_family(&labels)?)?;
            }
        }
        let mut state = encoder.encode_descriptor(
            "upstream_state",
            "1 for the upstream's current state",
            None,
            MetricType::Gauge,
        )?;
        for camera in &self.cameras {
            let labels: Labels = vec![
                ("camera", camera.name().to_owned()),
                ("state", upstream_state(camera).to_owned()),
            ];
            ConstGauge::new(1i64).encode(state.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

/// Queue-full drops of viewers gone and of viewers connected now.
pub fn queue_drops(camera: &Camera) -> u64 {
    let live: u64 = camera
        .raw
        .subscriber_stats()
        .iter()
        .chain(camera.detect.subscriber_stats().iter())
        .map(|s| s.dropped)
        .sum();
    camera.stats.dropped_queue_gone.load(Ordering::Relaxed) + live
}
