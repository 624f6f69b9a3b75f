//! `GET /metrics`: the Prometheus text format, through `prometheus-client`.
//!
//! The relay's counters live in atomics next to the code that updates them ([`CameraStats`],
//! broadcast-core's per-subscriber counters); at scrape time a [`Collector`] takes each camera's
//! [`CameraSnapshot`], the same reading `GET /api/stats` serialises, and encodes it, so the
//! per-frame path pays nothing for metrics except the latency histogram.
//!
//! [`CameraStats`]: crate::camera::stats::CameraStats
//! [`CameraSnapshot`]: crate::camera::snapshot::CameraSnapshot

use std::sync::{Arc, OnceLock};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::camera::snapshot::CameraSnapshot;
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
    mqtt: OnceLock<Arc<mqtt_detections::MqttStats>>,
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
            mqtt: OnceLock::new(),
            latency: Family::new_with_constructor(latency_histogram),
        }
    }
}

impl Metrics {
    /// Registers the collectors for these cameras (once).
    pub fn register(&self, cameras: Vec<Arc<Camera>>) {
        self.register_with(cameras, Vec::new());
    }

    /// Registers the collectors for these cameras and more collectors (recording), once.
    pub fn register_with(&self, cameras: Vec<Arc<Camera>>, extra: Vec<Box<dyn Collector>>) {
        let mut registry = Registry::with_prefix("camrelay");
        for collector in extra {
            registry.register_collector(collector);
        }
        registry.register(
            "frame_latency_seconds",
            "Camera capture time (X-Timestamp) to relay receive time",
            self.latency.clone(),
        );
        registry.register_collector(Box::new(CameraCollector { cameras }));
        if let Some(stats) = self.mqtt.get() {
            registry.register_collector(Box::new(crate::mqtt::MqttCollector(stats.clone())));
        }
        let _ = self.registry.set(registry);
    }

    /// Adds the MQTT publisher's counters to the metrics (call before [`Metrics::register`]).
    pub fn set_mqtt(&self, stats: Arc<mqtt_detections::MqttStats>) {
        let _ = self.mqtt.set(stats);
    }

    /// Where one camera's camera-to-relay latency goes: its histogram, looked up once and
    /// observed per frame.
    pub fn latency_sink(&self, camera: &str) -> crate::camera::LatencySink {
        let histogram = self
            .latency
            .get_or_create(&vec![("camera", camera.to_owned())])
            .clone();
        Box::new(move |latency| histogram.observe(latency.as_secs_f64()))
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

fn camera_label(snapshot: &CameraSnapshot) -> Labels {
    vec![("camera", snapshot.name.clone())]
}

fn counter(
    encoder: &mut DescriptorEncoder,
    snapshots: &[CameraSnapshot],
    (name, help): (&str, &str),
    value: impl Fn(&CameraSnapshot) -> u64,
) -> Result<(), std::fmt::Error> {
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for snapshot in snapshots {
        ConstCounter::new(value(snapshot))
            .encode(metric.encode_family(&camera_label(snapshot))?)?;
    }
    Ok(())
}

/// Counters: metric name, help, and the snapshot field it reads.
type CounterField = (&'static str, &'static str, fn(&CameraSnapshot) -> u64);

const COUNTERS: [CounterField; 10] = [
    ("frames", "Frames received from the camera", |s| s.frames),
    ("bytes", "JPEG bytes received from the camera", |s| s.bytes),
    (
        "dropped_queue_frames",
        "Frames dropped because a viewer's queue was full",
        |s| s.dropped_queue_total,
    ),
    (
        "dropped_age_frames",
        "Frames skipped because they were older than --max-frame-age",
        |s| s.dropped_age_total,
    ),
    (
        "dropped_paced_frames",
        "Frames skipped for viewers on slow links: replaced by a newer one before the link drained",
        |s| s.dropped_paced_total,
    ),
    (
        "evicted_viewers",
        "Viewers disconnected by the write timeout",
        |s| s.evicted_total,
    ),
    ("reconnects", "Upstream reconnections", |s| {
        s.upstream.reconnects
    }),
    (
        "upstream_outages",
        "Camera outages that ended with a frame",
        |s| s.upstream.outages,
    ),
    ("detector_runs", "Detector runs", |s| s.detector.runs),
    (
        "detector_skipped_frames",
        "Raw frames the detector skipped to stay on the newest",
        |s| s.detector.skipped,
    ),
];

/// Gauges of the last outage, in seconds; absent until the camera had one.
type OutageGauge = (
    &'static str,
    &'static str,
    fn(&CameraSnapshot) -> Option<u64>,
);

const OUTAGE_GAUGES: [OutageGauge; 2] = [
    (
        "upstream_last_outage_seconds",
        "How long the last finished outage lasted, from frames stopping to the next frame",
        |s| s.upstream.last_outage_ms,
    ),
    (
        "upstream_last_recovery_seconds",
        "After the last outage: from the camera accepting a connection to its first frame",
        |s| s.upstream.last_recovery_ms,
    ),
];

impl Collector for CameraCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let snapshots: Vec<CameraSnapshot> = self.cameras.iter().map(|c| c.snapshot()).collect();
        let [frames, bytes, rest @ ..] = &COUNTERS;
        for &(name, help, value) in [frames, bytes] {
            counter(&mut encoder, &snapshots, (name, help), value)?;
        }
        // Kept in the order the exposition always had: fps after bytes.
        let mut fps = encoder.encode_descriptor(
            "fps",
            "Camera frames per second",
            None,
            MetricType::Gauge,
        )?;
        for snapshot in &snapshots {
            ConstGauge::new(snapshot.fps).encode(fps.encode_family(&camera_label(snapshot))?)?;
        }
        for &(name, help, value) in rest {
            counter(&mut encoder, &snapshots, (name, help), value)?;
        }
        let mut viewers = encoder.encode_descriptor(
            "viewers",
            "Connected viewers by kind",
            None,
            MetricType::Gauge,
        )?;
        for snapshot in &snapshots {
            for kind in ViewerKind::ALL {
                let labels: Labels = vec![
                    ("camera", snapshot.name.clone()),
                    ("kind", kind.as_str().to_owned()),
                ];
                ConstGauge::new(snapshot.viewers.of(kind) as i64)
                    .encode(viewers.encode_family(&labels)?)?;
            }
        }
        let mut state = encoder.encode_descriptor(
            "upstream_state",
            "1 for the upstream's current state",
            None,
            MetricType::Gauge,
        )?;
        for snapshot in &snapshots {
            let labels: Labels = vec![
                ("camera", snapshot.name.clone()),
                ("state", snapshot.upstream.state.to_owned()),
            ];
            ConstGauge::new(1i64).encode(state.encode_family(&labels)?)?;
        }
        for (name, help, value) in OUTAGE_GAUGES {
            let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            for snapshot in &snapshots {
                if let Some(ms) = value(snapshot) {
                    ConstGauge::new(ms as f64 / 1000.0)
                        .encode(metric.encode_family(&camera_label(snapshot))?)?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;
    use crate::config::RelayConfig;

    #[test]
    fn metrics_encode_the_same_snapshot_as_the_stats_json() {
        let relay = RelayConfig::default();
        let (camera, _tasks) =
            Camera::new(RelayConfig::demo_camera().spec(), &relay.hub_settings()).expect("demo");
        camera.stats.frames.store(42, Ordering::Relaxed);
        camera.stats.dropped_queue_gone.store(3, Ordering::Relaxed);
        camera
            .stats
            .fps_bits
            .store(12.34f64.to_bits(), Ordering::Relaxed);
        let metrics = Metrics::default();
        metrics.register(vec![camera.clone()]);
        let text = metrics.encode();
        let json = serde_json::to_value(camera.snapshot()).expect("json");
        assert_eq!(json["frames"], 42);
        assert_eq!(json["dropped_queue_total"], 3);
        assert_eq!(json["fps"], 12.3);
        for line in [
            "camrelay_frames_total{camera=\"demo\"} 42",
            "camrelay_dropped_queue_frames_total{camera=\"demo\"} 3",
            "camrelay_fps{camera=\"demo\"} 12.34",
            "camrelay_upstream_state{camera=\"demo\",state=\"streaming\"} 1",
            "camrelay_viewers{camera=\"demo\",kind=\"http_raw\"} 0",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
    }
}
