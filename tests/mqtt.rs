//! The relay publishes detections over MQTT for Home Assistant against a real Mosquitto
//! (Debian package `mosquitto`), with no viewer connected: the detector runs for MQTT alone.

// The mqtt-detections crate's broker and subscriber helpers (one copy for both test suites).
#[path = "../crates/mqtt-detections/tests/support/mod.rs"]
mod mqtt_broker;

use camrelay_suite::{serial, start_relay};
use mqtt_broker::{Broker, Subscriber};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detections_reach_the_broker_without_viewers_and_stopping_says_offline() {
    let _serial = serial().await;
    let broker = Broker::start().await;
    let mut sub = Subscriber::connect(&broker, "ha-test", &["camrelay/#", "homeassistant/#"]).await;

    let mut mqtt = mqtt_detections::MqttConfig::with_url(broker.url());
    // The demo scene shows people, a cat and a cup; a low score makes a detection certain.
    mqtt.labels = ["person", "cat", "dog", "cup", "car"]
        .map(String::from)
        .to_vec();
    mqtt.min_score = 0.2;
    let relay = start_relay(Vec::new(), |config| config.mqtt = Some(mqtt)).await;
    let state = relay.state().clone();

    // The relay's retained `online`, the discovery configs of the demo camera and, with
    // nobody watching, a detection change: the detector runs for MQTT alone.
    let seen = sub
        .collect(
            &[
                "camrelay/status",
                "homeassistant/camera/camrelay/demo/config",
                "homeassistant/binary_sensor/camrelay/demo_person/config",
                "camrelay/demo/detections",
            ]
            .map(String::from),
        )
        .await;
    let status = &seen["camrelay/status"];
    assert_eq!(status.text(), "online");
    let camera_config = &seen["homeassistant/camera/camrelay/demo/config"];
    assert_eq!(camera_config.json()["topic"], "camrelay/demo/snapshot");
    let sensor = &seen["homeassistant/binary_sensor/camrelay/demo_person/config"];
    assert_eq!(sensor.json()["state_topic"], "camrelay/demo/person");
    let json = seen["camrelay/demo/detections"].json();
    assert_eq!(json["camera"], "demo");
    assert!(
        json["frame_id"].as_u64().is_some_and(|id| id >= 1),
        "{json}"
    );
    assert!(
        json["capture_us"].as_i64().is_some_and(|us| us > 0),
        "{json}"
    );
    let labels = json["labels"].as_array().expect("labels array");
    assert!(
        !labels.is_empty(),
        "the demo scene has something to find: {json}"
    );
    assert_eq!(state.admission.total(), 0, "no viewer took part");
    // Discovery is retained: a client that subscribes only now (Home Assistant starting after
    // the relay) still reads it. A broker clears the retain flag on messages it forwards live,
    // so only a late subscriber can check it.
    let mut late_ha = Subscriber::connect(&broker, "ha-late-discovery", &["homeassistant/#"]).await;
    let discovery = late_ha
        .next_on("homeassistant/camera/camrelay/demo/config")
        .await;
    assert!(discovery.retain, "discovery configs are retained");
    assert_eq!(discovery.json()["topic"], "camrelay/demo/snapshot");

    // The relay's stats say so too.
    let stats = camrelay::http::stats::relay_stats(&state);
    let mqtt = stats.mqtt.expect("mqtt stats when configured");
    assert!(mqtt.connected);
    assert!(mqtt.published > 0);
    let metrics = state.metrics.encode();
    assert!(metrics.contains("camrelay_mqtt_connected 1"), "{metrics}");
    assert!(
        metrics.contains("camrelay_mqtt_published_total"),
        "{metrics}"
    );

    // Stopping the relay marks the camera and the relay offline.
    relay.shutdown().await;
    let offline = sub
        .next_where(
            |m| m.topic == "camrelay/status" && m.payload == b"offline",
            "camrelay/status offline",
        )
        .await;
    assert_eq!(offline.text(), "offline");
    // Retained: a client that subscribes now (Home Assistant after a restart) reads it.
    let mut late = Subscriber::connect(&broker, "ha-late", &["camrelay/status"]).await;
    let retained = late.next_on("camrelay/status").await;
    assert_eq!(retained.text(), "offline");
    assert!(retained.retain, "the relay status is retained");
}
