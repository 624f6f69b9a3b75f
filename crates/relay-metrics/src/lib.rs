//! `GET /metrics` of camrelay: the Prometheus text format, through `prometheus-client`.
//!
//! The relay's counters live in atomics next to the code that updates them (camera-hub's
//! `CameraStats`, broadcast-core's per-subscriber counters, the recorder's and the MQTT
//! publisher's stats); at scrape time each collector reads them once and encodes them. The
//! cameras are read through camera-hub's `CameraSnapshot`, the same reading `GET /api/stats`
//! serialises, so both always agree. The per-frame path pays nothing for metrics except the
//! latency histogram ([`Metrics::latency_sink`]).
//!
//! | collector | metrics |
//! | --- | --- |
//! | cameras | `camrelay_frames_total`, `_bytes_total`, `_fps`, `_dropped_*_frames_total`, `_evicted_viewers_total`, `_reconnects_total`, `_upstream_*`, `_detector_*`, `_viewers{kind}` |
//! | latency | `camrelay_frame_latency_seconds` (histogram per camera) |
//! | recorders | `camrelay_recording_*` (frames, bytes, drops, errors, free disk, write latency) |
//! | MQTT | `camrelay_mqtt_connected`, `_published_total`, `_dropped_total`, `_reconnects_total` |
//! | bus (clustered) | `camrelay_bus_connected`, `_disconnects_total`, `_slow_consumer_events_total`, `_frames_published_total`, `_publish_dropped_total`, `_frames_received_total`, `_frames_lost_total`, `_malformed_total`, `_detections_published_total`, `_detections_received_total`; `camrelay_camera_owner{camera,node}` |
//!
//! ```
//! use camera_hub::{Camera, CameraSpec, HubSettings, SourceSpec};
//! use relay_metrics::Metrics;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let spec = CameraSpec::new("demo", SourceSpec::Demo);
//! let (camera, _tasks) = Camera::new(spec, &HubSettings::default()).unwrap();
//! let metrics = Metrics::default();
//! metrics.register(vec![camera], Vec::new(), None, None);
//! let text = metrics.encode();
//! assert!(text.contains("camrelay_frames_total{camera=\"demo\"} 0"));
//! # }
//! ```

mod bus;
mod camera;
mod mqtt;
mod recording;
mod registry;

pub use registry::Metrics;

type Labels = Vec<(&'static str, String)>;

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use camera_hub::{Camera, CameraSpec, HubSettings, SourceSpec};

    use super::*;

    #[tokio::test]
    async fn metrics_encode_the_same_snapshot_as_the_stats_json() {
        let spec = CameraSpec::new("demo", SourceSpec::Demo);
        let (camera, _tasks) = Camera::new(spec, &HubSettings::default()).expect("demo");
        camera.stats.frames.store(42, Ordering::Relaxed);
        camera.stats.dropped_queue_gone.store(3, Ordering::Relaxed);
        camera
            .stats
            .fps_bits
            .store(12.34f64.to_bits(), Ordering::Relaxed);
        let metrics = Metrics::default();
        metrics.register(vec![camera.clone()], Vec::new(), None, None);
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
        assert!(
            !text.contains("camrelay_recording_"),
            "no recorders, no recording metrics"
        );
        assert!(!text.contains("camrelay_mqtt_"));
    }
}
