//! `camrelay_mqtt_*`: the MQTT publisher's counters.

use std::sync::Arc;

use mqtt_detections::MqttStats;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;

/// Encodes the MQTT counters for `/metrics` (`camrelay_mqtt_*`).
#[derive(Debug)]
pub(crate) struct MqttCollector(pub(crate) Arc<MqttStats>);

impl Collector for MqttCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let view = self.0.snapshot();
        let connected = encoder.encode_descriptor(
            "mqtt_connected",
            "1 while the MQTT broker has accepted the connection",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(i64::from(view.connected)).encode(connected)?;
        let counters: [(&str, &str, u64); 3] = [
            (
                "mqtt_published",
                "MQTT messages written to the broker",
                view.published,
            ),
            (
                "mqtt_dropped",
                "MQTT events and messages dropped (broker away or slow)",
                view.dropped,
            ),
            (
                "mqtt_reconnects",
                "MQTT connections after the first",
                view.reconnects,
            ),
        ];
        for (name, help, value) in counters {
            let metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            ConstCounter::new(value).encode(metric)?;
        }
        Ok(())
    }
}
