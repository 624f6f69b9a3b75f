//! `camrelay_bus_*` and `camrelay_camera_owner`: this node's part in a cluster of relays.

use std::sync::Arc;

use camera_hub::Camera;
use frame_bus::Bus;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;

/// Encodes the bus counters and who owns each clustered camera.
pub(crate) struct BusCollector {
    pub(crate) bus: Bus,
    pub(crate) cameras: Vec<Arc<Camera>>,
}

impl std::fmt::Debug for BusCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BusCollector")
            .field("node", &self.bus.node())
            .finish()
    }
}

impl Collector for BusCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let view = self.bus.stats();
        let connected = encoder.encode_descriptor(
            "bus_connected",
            "1 while this node is connected to NATS",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(i64::from(view.connected)).encode(connected)?;
        let counters: [(&str, &str, u64); 9] = [
            ("bus_disconnects", "NATS connections lost", view.disconnects),
            (
                "bus_slow_consumer_events",
                "Bus messages dropped because a subscription's buffer was full",
                view.slow_consumer_events,
            ),
            (
                "bus_frames_published",
                "Frames published to the cluster",
                view.frames_published,
            ),
            (
                "bus_publish_dropped",
                "Frames not published: the publish queue was full",
                view.publish_dropped,
            ),
            (
                "bus_frames_received",
                "Frames received from the cluster",
                view.frames_received,
            ),
            (
                "bus_frames_lost",
                "Frames a subscription missed",
                view.frames_lost,
            ),
            (
                "bus_malformed",
                "Messages on a frame or detections subject that were not what it carries",
                view.malformed,
            ),
            (
                "bus_detections_published",
                "Frames' detections published for other nodes",
                view.detections_published,
            ),
            (
                "bus_detections_received",
                "Frames' detections received from cameras' owners",
                view.detections_received,
            ),
        ];
        for (name, help, value) in counters {
            let metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            ConstCounter::new(value).encode(metric)?;
        }
        let latency = encoder.encode_descriptor(
            "bus_latency_last_seconds",
            "Owner's publish to this node's receive, last frame",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(view.latency_last_us as f64 / 1e6).encode(latency)?;
        let mut owner = encoder.encode_descriptor(
            "camera_owner",
            "1 for the node that reads the camera, as this node sees it",
            None,
            MetricType::Gauge,
        )?;
        for camera in &self.cameras {
            let role = camera.cluster_role.load();
            let node = match role.as_deref() {
                Some(camera_hub::cluster::Role::Camera) => self.bus.node().to_owned(),
                Some(camera_hub::cluster::Role::Bus { owner }) => owner.clone(),
                _ => continue,
            };
            let labels: crate::Labels = vec![("camera", camera.name().to_owned()), ("node", node)];
            ConstGauge::new(1i64).encode(owner.encode_family(&labels)?)?;
        }
        Ok(())
    }
}
