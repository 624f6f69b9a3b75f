//! The registry: what is registered, the latency histogram, the text exposition.

use std::sync::{Arc, OnceLock};

use camera_hub::Camera;
use mjpeg_record::Recorder;
use mqtt_detections::MqttStats;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::camera::CameraCollector;
use crate::mqtt::MqttCollector;
use crate::recording::RecordingCollector;
use crate::Labels;

fn latency_histogram() -> Histogram {
    // 1 ms .. ~4 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 13))
}

/// The relay's metrics registry: fill it once with [`Metrics::register`], encode it per
/// scrape with [`Metrics::encode`].
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
    /// Registers what the relay runs (once; later calls change nothing): the cameras, the
    /// recorders of the recorded cameras, the MQTT publisher's counters.
    pub fn register(
        &self,
        cameras: Vec<Arc<Camera>>,
        recorders: Vec<Arc<Recorder>>,
        mqtt: Option<Arc<MqttStats>>,
        bus: Option<frame_bus::Bus>,
    ) {
        let mut registry = Registry::with_prefix("camrelay");
        if !recorders.is_empty() {
            registry.register_collector(Box::new(RecordingCollector { recorders }));
        }
        registry.register(
            "frame_latency_seconds",
            "Camera capture time (X-Timestamp) to relay receive time",
            self.latency.clone(),
        );
        if let Some(bus) = bus {
            let cameras = cameras.clone();
            registry.register_collector(Box::new(crate::bus::BusCollector { bus, cameras }));
        }
        registry.register_collector(Box::new(CameraCollector { cameras }));
        if let Some(stats) = mqtt {
            registry.register_collector(Box::new(MqttCollector(stats)));
        }
        let _ = self.registry.set(registry);
    }

    /// Where one camera's camera-to-relay latency goes: its histogram, looked up once and
    /// observed per frame.
    pub fn latency_sink(&self, camera: &str) -> camera_hub::LatencySink {
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
