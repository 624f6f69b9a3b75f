//! The JSON the publisher sends: detection changes and Home Assistant discovery configs.

use serde_json::{json, Value};

use crate::change::Change;
use crate::event::{CameraInfo, DetectionEvent};
use crate::topics::CameraTopics;

/// `capture_us` (µs since the Unix epoch, UTC) as RFC 3339 with microseconds,
/// e.g. `2026-11-29T20:32:20.123456Z`.
///
/// ```
/// assert_eq!(mqtt_detections::rfc3339_micros(0), "1970-01-01T00:00:00.000000Z");
/// assert_eq!(
///     mqtt_detections::rfc3339_micros(1_764_448_340_123_456),
///     "2025-11-29T20:32:20.123456Z"
/// );
/// ```
pub fn rfc3339_micros(capture_us: i64) -> String {
    let secs = capture_us.div_euclid(1_000_000);
    let micros = capture_us.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Days to civil date: Howard Hinnant's algorithm (proleptic Gregorian calendar).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// The message on `<prefix>/<camera>/detections` for a frame that changed the present labels.
/// `counts` says which boxes to include (configured label, score at or above the minimum).
pub(crate) fn detection_message(
    camera: &str,
    event: &DetectionEvent,
    change: &Change,
    counts: impl Fn(&str, f32) -> bool,
) -> Vec<u8> {
    let boxes: Vec<Value> = event
        .detections
        .iter()
        .filter(|d| counts(&d.label, d.score))
        .map(|d| {
            json!({
                "label": d.label,
                "score": d.score,
                "box": {"x": d.x, "y": d.y, "w": d.w, "h": d.h},
            })
        })
        .collect();
    json!({
        "camera": camera,
        "frame_id": event.frame_id,
        "capture_time": rfc3339_micros(event.capture_us),
        "capture_us": event.capture_us,
        "labels": change.present,
        "appeared": change.appeared,
        "left": change.left,
        "detections": boxes,
    })
    .to_string()
    .into_bytes()
}

/// What the discovery configs of one camera need to know.
pub(crate) struct DiscoveryContext<'a> {
    pub discovery_prefix: &'a str,
    pub relay_id: &'a str,
    pub status_topic: &'a str,
    pub camera: &'a CameraInfo,
    /// The camera's topic segment.
    pub segment: &'a str,
    pub topics: &'a CameraTopics,
    pub labels: &'a [String],
}

impl DiscoveryContext<'_> {
    fn device(&self) -> Value {
        let mut device = json!({
            "identifiers": [format!("camrelay_{}_{}", self.relay_id, self.segment)],
            "name": self.camera.name,
            "manufacturer": "camrelay",
            "model": "MJPEG relay camera",
            "sw_version": env!("CARGO_PKG_VERSION"),
        });
        if let (Some(url), Some(map)) = (&self.camera.snapshot_url, device.as_object_mut()) {
            map.insert("configuration_url".into(), json!(url));
        }
        device
    }

    fn common(&self, unique_id: String) -> Value {
        json!({
            "unique_id": unique_id,
            "availability": [
                {"topic": self.status_topic},
                {"topic": self.topics.state},
            ],
            "availability_mode": "all",
            "payload_available": "online",
            "payload_not_available": "offline",
            "device": self.device(),
            "origin": {"name": "camrelay", "sw_version": env!("CARGO_PKG_VERSION")},
        })
    }

    fn with(&self, unique_id: String, fields: Value) -> Vec<u8> {
        let mut config = self.common(unique_id);
        if let (Some(map), Value::Object(extra)) = (config.as_object_mut(), fields) {
            map.extend(extra);
        }
        config.to_string().into_bytes()
    }

    /// `(topic, payload)` of every discovery config of the camera: a binary sensor per label,
    /// the fps sensor and the camera entity.
    pub fn configs(&self) -> Vec<(String, Vec<u8>)> {
        let base = format!("{}_{}", self.relay_id, self.segment);
        let prefix = self.discovery_prefix;
        let node = self.relay_id;
        let mut out = Vec::with_capacity(self.labels.len() + 2);
        for (label, state_topic) in self.labels.iter().zip(&self.topics.labels) {
            let object = format!("{}_{}", self.segment, crate::topics::segment(label));
            out.push((
                format!("{prefix}/binary_sensor/{node}/{object}/config"),
                self.with(
                    format!("{base}_{}", crate::topics::segment(label)),
                    json!({
                        "name": format!("{label} detected"),
                        "state_topic": state_topic,
                        "payload_on": "ON",
                        "payload_off": "OFF",
                        "device_class": "occupancy",
                    }),
                ),
            ));
        }
        out.push((
            format!("{prefix}/sensor/{node}/{}_fps/config", self.segment),
            self.with(
                format!("{base}_fps"),
                json!({
                    "name": "detector fps",
                    "state_topic": self.topics.fps,
                    "unit_of_measurement": "fps",
                    "state_class": "measurement",
                    "suggested_display_precision": 1,
                    "entity_category": "diagnostic",
                    "icon": "mdi:speedometer",
                }),
            ),
        ));
        out.push((
            format!("{prefix}/camera/{node}/{}/config", self.segment),
            self.with(
                format!("{base}_camera"),
                json!({
                    "name": Value::Null,
                    "topic": self.topics.snapshot,
                }),
            ),
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_edges() {
        assert_eq!(rfc3339_micros(-1), "1969-12-31T23:59:59.999999Z");
        assert_eq!(
            rfc3339_micros(951_782_400_000_000),
            "2000-02-29T00:00:00.000000Z"
        );
        assert_eq!(
            rfc3339_micros(4_102_444_799_000_001),
            "2099-12-31T23:59:59.000001Z"
        );
    }

    #[test]
    fn discovery_configs_name_topics_and_device() {
        let labels = ["person".to_string(), "traffic light".to_string()];
        let camera = CameraInfo {
            name: "Front Door".into(),
            snapshot_url: Some("http://relay:8080/cameras/front/snapshot".into()),
        };
        let topics = CameraTopics::new("camrelay", "front_door", &labels);
        let ctx = DiscoveryContext {
            discovery_prefix: "homeassistant",
            relay_id: "garage",
            status_topic: "camrelay/status",
            camera: &camera,
            segment: "front_door",
            topics: &topics,
            labels: &labels,
        };
        let configs = ctx.configs();
        let topics_seen: Vec<&str> = configs.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(
            topics_seen,
            [
                "homeassistant/binary_sensor/garage/front_door_person/config",
                "homeassistant/binary_sensor/garage/front_door_traffic_light/config",
                "homeassistant/sensor/garage/front_door_fps/config",
                "homeassistant/camera/garage/front_door/config",
            ]
        );
        let light: Value = serde_json::from_slice(&configs[1].1).expect("JSON");
        assert_eq!(light["state_topic"], "camrelay/front_door/traffic_light");
        assert_eq!(light["unique_id"], "garage_front_door_traffic_light");
        assert_eq!(
            light["device"]["identifiers"][0],
            "camrelay_garage_front_door"
        );
        assert_eq!(light["device"]["name"], "Front Door");
        assert_eq!(
            light["availability"][1]["topic"],
            "camrelay/front_door/state"
        );
        let cam: Value = serde_json::from_slice(&configs[3].1).expect("JSON");
        assert_eq!(cam["topic"], "camrelay/front_door/snapshot");
        assert!(cam["name"].is_null());
    }
}
