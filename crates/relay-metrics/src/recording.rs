//! `camrelay_recording_*`: each recorder's [`RecorderStats`] at scrape time.

use std::sync::Arc;

use mjpeg_record::{Recorder, RecorderStats};

/// Encodes every recorder's stats at scrape time.
pub(crate) struct RecordingCollector {
    pub(crate) recorders: Vec<Arc<Recorder>>,
}

impl std::fmt::Debug for RecordingCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecordingCollector")
    }
}

type Metric = (&'static str, &'static str, bool, fn(&RecorderStats) -> f64);

/// `camrelay_recording_*`: (name, help, is a counter, value).
const METRICS: [Metric; 6] = [
    (
        "recording_frames",
        "Frames written to recordings",
        true,
        |s| s.frames_written as f64,
    ),
    (
        "recording_bytes",
        "Bytes written to recordings",
        true,
        |s| s.bytes_written as f64,
    ),
    (
        "recording_dropped_frames",
        "Frames dropped from recordings: the writer's queue was full (slow disk)",
        true,
        |s| s.frames_dropped as f64,
    ),
    (
        "recording_errors",
        "Disk errors seen by the recorder",
        true,
        |s| s.errors as f64,
    ),
    (
        "recording_disk_free_bytes",
        "Free bytes on the recording filesystem",
        false,
        |s| s.disk_free_bytes as f64,
    ),
    (
        "recording_write_latency_seconds",
        "Time of the last fragment write",
        false,
        |s| s.write_latency_last_us as f64 / 1e6,
    ),
];

impl prometheus_client::collector::Collector for RecordingCollector {
    fn encode(
        &self,
        mut encoder: prometheus_client::encoding::DescriptorEncoder,
    ) -> Result<(), std::fmt::Error> {
        use prometheus_client::encoding::EncodeMetric;
        use prometheus_client::metrics::counter::ConstCounter;
        use prometheus_client::metrics::gauge::ConstGauge;
        use prometheus_client::metrics::MetricType;
        let mut stats: Vec<RecorderStats> = self.recorders.iter().map(|r| r.stats()).collect();
        stats.sort_by(|a, b| a.camera.cmp(&b.camera));
        for (name, help, is_counter, value) in METRICS {
            let kind = if is_counter {
                MetricType::Counter
            } else {
                MetricType::Gauge
            };
            let mut metric = encoder.encode_descriptor(name, help, None, kind)?;
            for s in &stats {
                let labels = vec![("camera", s.camera.clone())];
                let family = metric.encode_family(&labels)?;
                if is_counter {
                    ConstCounter::new(value(s)).encode(family)?;
                } else {
                    ConstGauge::new(value(s)).encode(family)?;
                }
            }
        }
        Ok(())
    }
}
