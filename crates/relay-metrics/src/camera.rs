//! `camrelay_frames_total`, `camrelay_fps`, `camrelay_viewers`... from camera-hub's
//! [`CameraSnapshot`], the same reading `GET /api/stats` serialises.

use std::sync::Arc;

use camera_hub::snapshot::CameraSnapshot;
use camera_hub::stats::ViewerKind;
use camera_hub::Camera;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;

use crate::Labels;

/// Encodes every camera's [`CameraSnapshot`] at scrape time.
pub(crate) struct CameraCollector {
    pub(crate) cameras: Vec<Arc<Camera>>,
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

const COUNTERS: [CounterField; 12] = [
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
        "detector_bus_frames",
        "Frames annotated with the cluster owner's detections (no model run here)",
        |s| s.detector.bus_frames,
    ),
    (
        "detector_skipped_frames",
        "Raw frames the detector skipped to stay on the newest",
        |s| s.detector.skipped,
    ),
    (
        "detector_decodes_shared",
        "Frame decodes saved because the detector and the quality tiers shared one",
        |s| s.detector.decodes_shared,
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
        encode_tiers(&mut encoder, &snapshots)?;
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

/// `camrelay_tier_viewers`, `camrelay_tier_frames_total`, `camrelay_tier_bytes_total` and
/// `camrelay_tier_encode_seconds` (mean per frame), labelled by camera and tier; only cameras
/// whose tiers were ever asked for.
fn encode_tiers(
    encoder: &mut DescriptorEncoder,
    snapshots: &[CameraSnapshot],
) -> Result<(), std::fmt::Error> {
    let tiers = || {
        snapshots.iter().flat_map(|s| {
            let views = s.quality.iter().flatten();
            views.map(move |t| {
                (
                    vec![("camera", s.name.clone()), ("tier", t.tier.to_owned())],
                    t,
                )
            })
        })
    };
    let mut viewers = encoder.encode_descriptor(
        "tier_viewers",
        "Viewers on each quality tier",
        None,
        MetricType::Gauge,
    )?;
    for (labels, tier) in tiers() {
        ConstGauge::new(tier.viewers as i64).encode(viewers.encode_family(&labels)?)?;
    }
    type Value = fn(&camera_hub::snapshot::TierView) -> u64;
    let counters: [(&str, &str, Value); 2] = [
        ("tier_frames", "Frames encoded for each quality tier", |t| {
            t.frames
        }),
        (
            "tier_bytes",
            "Bytes of the frames encoded for each tier",
            |t| t.bytes,
        ),
    ];
    for (name, help, value) in counters {
        let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
        for (labels, tier) in tiers() {
            ConstCounter::new(value(tier)).encode(metric.encode_family(&labels)?)?;
        }
    }
    let mut encode = encoder.encode_descriptor(
        "tier_encode_seconds",
        "Mean time to shrink and encode one frame of each tier",
        None,
        MetricType::Gauge,
    )?;
    for (labels, tier) in tiers() {
        if let Some(ms) = tier.encode_ms {
            ConstGauge::new(ms / 1000.0).encode(encode.encode_family(&labels)?)?;
        }
    }
    Ok(())
}
