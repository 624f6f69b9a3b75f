//! Publishes made-up detections for one camera, to try the Home Assistant side without a
//! detector or a camera: a person appears for five seconds every fifteen.
//!
//! ```text
//! cargo run -p mqtt-detections --example fake_detections -- mqtt://user:pass@broker:1883
//! mosquitto_sub -h broker -v -t 'camrelay/#'     # watch it
//! ```
//!
//! Home Assistant (with the MQTT integration on the same broker) shows a device `demo` with a
//! "person detected" sensor, a "detector fps" sensor and a camera.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mqtt_detections::{CameraInfo, DetectionBox, DetectionEvent, MqttConfig, MqttPublisher};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "mqtt://127.0.0.1:1883".into());
    let config = MqttConfig {
        relay_id: "demo".into(),
        ..MqttConfig::with_url(url)
    };
    let (mqtt, publisher) = MqttPublisher::start(&config, &[CameraInfo::new("demo")])?;
    tokio::spawn(publisher.run());
    mqtt.set_camera_online("demo", true);

    let mut ticks = tokio::time::interval(Duration::from_millis(100));
    for frame_id in 0u64.. {
        ticks.tick().await;
        let person = frame_id % 150 < 50;
        let capture_us = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
        mqtt.frame(DetectionEvent {
            camera: "demo".into(),
            frame_id,
            capture_us,
            detections: person
                .then(|| DetectionBox {
                    label: "person".into(),
                    score: 0.9,
                    x: 100.0,
                    y: 50.0,
                    w: 80.0,
                    h: 200.0,
                })
                .into_iter()
                .collect(),
            fps: Some(10.0),
            jpeg: None,
        });
        if frame_id % 50 == 0 {
            tracing::info!(stats = ?mqtt.stats().snapshot(), "demo");
        }
    }
    Ok(())
}
