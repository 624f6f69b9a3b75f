//! The publisher against a real Mosquitto broker (Debian package `mosquitto`).

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use mqtt_detections::{
    CameraInfo, DetectionBox, DetectionEvent, MqttConfig, MqttHandle, MqttPublisher,
};
use support::{wait_until, Broker, Subscriber};

fn config(broker: &Broker) -> MqttConfig {
    MqttConfig {
        labels: vec!["person".into(), "car".into()],
        relay_id: "testrelay".into(),
        off_after_frames: 2,
        keep_alive_secs: 1,
        reconnect_min_secs: 0.05,
        reconnect_max_secs: 0.5,
        snapshot_interval_secs: 0.0,
        ..MqttConfig::with_url(broker.url())
    }
}

fn cameras() -> Vec<CameraInfo> {
    vec![
        CameraInfo {
            name: "front".into(),
            snapshot_url: Some("http://127.0.0.1:8080/cameras/front/snapshot".into()),
        },
        CameraInfo::new("Back Yard"),
    ]
}

fn frame(camera: &str, id: u64, seen: &[(&str, f32)]) -> DetectionEvent {
    DetectionEvent {
        camera: camera.into(),
        frame_id: id,
        capture_us: 1_764_448_340_000_000 + id as i64 * 100_000,
        detections: seen
            .iter()
            .map(|&(label, score)| DetectionBox {
                label: label.into(),
                score,
                x: 1.0,
                y: 2.0,
                w: 30.0,
                h: 40.0,
            })
            .collect(),
        fps: None,
        jpeg: None,
    }
}

async fn start(broker: &Broker) -> (MqttHandle, tokio::task::JoinHandle<()>) {
    let (handle, publisher) =
        MqttPublisher::start(&config(broker), &cameras()).expect("valid config");
    let task = tokio::spawn(publisher.run());
    let stats = handle.stats().clone();
    wait_until("the publisher is connected", || stats.connected()).await;
    (handle, task)
}

fn discovery_topics() -> Vec<String> {
    let mut topics = Vec::new();
    for cam in ["front", "back_yard"] {
        for label in ["person", "car"] {
            topics.push(format!(
                "homeassistant/binary_sensor/testrelay/{cam}_{label}/config"
            ));
        }
        topics.push(format!("homeassistant/sensor/testrelay/{cam}_fps/config"));
        topics.push(format!("homeassistant/camera/testrelay/{cam}/config"));
    }
    topics
}

#[tokio::test]
async fn discovery_and_states_are_retained_for_a_late_subscriber() {
    let broker = Broker::start().await;
    let (mqtt, _task) = start(&broker).await;
    assert!(mqtt.set_camera_online("front", true));
    // Wait until the re-publish after connecting is through (its last message is the last
    // camera's last label state) and the front camera is online: a subscriber that comes
    // later gets everything from the broker's retained store, with the retain flag set.
    let mut early = Subscriber::connect(
        &broker,
        "early",
        &["camrelay/back_yard/car", "camrelay/front/state"],
    )
    .await;
    early.next_on("camrelay/back_yard/car").await;
    early
        .next_where(
            |m| m.topic == "camrelay/front/state" && m.text() == "online",
            "front online",
        )
        .await;

    let mut late = Subscriber::connect(&broker, "late", &["homeassistant/#", "camrelay/#"]).await;
    let mut wanted = discovery_topics();
    wanted.extend(
        [
            "camrelay/status",
            "camrelay/front/state",
            "camrelay/back_yard/state",
            "camrelay/front/person",
            "camrelay/front/car",
            "camrelay/back_yard/person",
            "camrelay/back_yard/car",
        ]
        .map(String::from),
    );
    let got = late.collect(&wanted).await;
    for topic in &wanted {
        assert!(got[topic].retain, "{topic} should be retained");
    }
    assert_eq!(got["camrelay/status"].text(), "online");
    assert_eq!(got["camrelay/front/state"].text(), "online");
    assert_eq!(got["camrelay/back_yard/state"].text(), "offline");
    assert_eq!(got["camrelay/front/person"].text(), "OFF");

    let person = got["homeassistant/binary_sensor/testrelay/front_person/config"].json();
    assert_eq!(person["name"], "person detected");
    assert_eq!(person["device_class"], "occupancy");
    assert_eq!(person["state_topic"], "camrelay/front/person");
    assert_eq!(person["unique_id"], "testrelay_front_person");
    assert_eq!(
        person["device"]["identifiers"][0],
        "camrelay_testrelay_front"
    );
    assert_eq!(
        person["device"]["configuration_url"],
        "http://127.0.0.1:8080/cameras/front/snapshot"
    );
    let availability: Vec<&str> = person["availability"]
        .as_array()
        .expect("availability list")
        .iter()
        .map(|a| a["topic"].as_str().expect("topic"))
        .collect();
    assert_eq!(availability, ["camrelay/status", "camrelay/front/state"]);
    assert_eq!(person["availability_mode"], "all");

    let camera = got["homeassistant/camera/testrelay/back_yard/config"].json();
    assert_eq!(camera["topic"], "camrelay/back_yard/snapshot");
    assert_eq!(camera["device"]["name"], "Back Yard");
    let fps = got["homeassistant/sensor/testrelay/back_yard_fps/config"].json();
    assert_eq!(fps["state_topic"], "camrelay/back_yard/fps");
    assert_eq!(mqtt.stats().dropped(), 0);
}

#[tokio::test]
async fn one_message_per_change_not_per_frame() {
    let broker = Broker::start().await;
    let (mqtt, _task) = start(&broker).await;
    let mut sub = Subscriber::connect(
        &broker,
        "watcher",
        &[
            "camrelay/front/detections",
            "camrelay/front/person",
            "camrelay/front/car",
        ],
    )
    .await;
    // The retained OFF states from connecting arrive first.
    sub.next_where(
        |m| m.topic == "camrelay/front/person" && m.text() == "OFF",
        "person OFF",
    )
    .await;

    let frames: Vec<&[(&str, f32)]> = vec![
        &[],
        &[("person", 0.3)],                // below min_score: nothing
        &[("person", 0.9), ("dog", 0.99)], // person appears (dog is not configured)
        &[("person", 0.8)],
        &[], // missing once: debounced
        &[("person", 0.7)],
        &[],
        &[], // missing twice: person leaves
        &[],
        &[("car", 0.6)], // the sentinel: car appears
    ];
    for (id, seen) in frames.iter().enumerate() {
        assert!(mqtt.frame(frame("front", id as u64, seen)));
        // Other cameras' frames never show up on front's topics.
        assert!(mqtt.frame(frame("Back Yard", id as u64, &[("person", 0.9)])));
    }

    // Everything up to the car's ON, which is published right after the sentinel's message.
    let mut all = Vec::new();
    while !all
        .last()
        .is_some_and(|m: &support::Message| m.topic == "camrelay/front/car" && m.text() == "ON")
    {
        let m = tokio::time::timeout(Duration::from_secs(10), sub.rx.recv())
            .await
            .expect("car ON within 10 s")
            .expect("subscriber open");
        all.push(m);
    }
    let detections: Vec<serde_json::Value> = all
        .iter()
        .filter(|m| m.topic == "camrelay/front/detections")
        .map(|m| m.json())
        .collect();
    // Exactly three changes in ten frames: person appears, person leaves, car appears.
    assert_eq!(detections.len(), 3, "{detections:?}");
    let (appear, leave, car) = (&detections[0], &detections[1], &detections[2]);
    assert_eq!(appear["frame_id"], 2);
    assert_eq!(appear["camera"], "front");
    assert_eq!(appear["labels"], serde_json::json!(["person"]));
    assert_eq!(appear["appeared"], serde_json::json!(["person"]));
    assert_eq!(appear["capture_us"], 1_764_448_340_200_000i64);
    assert_eq!(appear["capture_time"], "2025-11-29T20:32:20.200000Z");
    let boxes = appear["detections"].as_array().expect("boxes");
    assert_eq!(
        boxes.len(),
        1,
        "only configured labels above min_score: {boxes:?}"
    );
    assert_eq!(boxes[0]["label"], "person");
    assert_eq!(boxes[0]["box"]["w"], 30.0);

    assert_eq!(leave["frame_id"], 7);
    assert_eq!(leave["labels"], serde_json::json!([]));
    assert_eq!(leave["left"], serde_json::json!(["person"]));

    assert_eq!(car["frame_id"], 9);
    assert_eq!(car["appeared"], serde_json::json!(["car"]));

    // Before the frames came only the retained OFFs of connecting; the person went ON and OFF
    // once each, however many frames showed it.
    let person: Vec<&str> = all
        .iter()
        .filter(|m| m.topic == "camrelay/front/person")
        .map(|m| m.text())
        .collect();
    assert_eq!(person, ["ON", "OFF"], "{all:?}");
    drop(sub);
    let mut late = Subscriber::connect(&broker, "late", &["camrelay/front/+"]).await;
    let got = late
        .collect(&["camrelay/front/person".into(), "camrelay/front/car".into()])
        .await;
    assert_eq!(got["camrelay/front/person"].text(), "OFF");
    assert_eq!(got["camrelay/front/car"].text(), "ON");
    assert!(got["camrelay/front/car"].retain);
    assert_eq!(mqtt.stats().dropped(), 0);
}

#[tokio::test]
async fn label_states_go_on_and_off() {
    let broker = Broker::start().await;
    let (mqtt, _task) = start(&broker).await;
    let mut sub = Subscriber::connect(&broker, "states", &["camrelay/back_yard/person"]).await;
    sub.next_where(|m| m.text() == "OFF", "initial OFF").await;
    mqtt.frame(frame("Back Yard", 1, &[("person", 0.95)]));
    assert_eq!(sub.next_on("camrelay/back_yard/person").await.text(), "ON");
    mqtt.frame(frame("Back Yard", 2, &[]));
    mqtt.frame(frame("Back Yard", 3, &[]));
    assert_eq!(sub.next_on("camrelay/back_yard/person").await.text(), "OFF");
}

#[tokio::test]
async fn snapshot_on_change_and_fps() {
    let broker = Broker::start().await;
    let (mqtt, _task) = start(&broker).await;
    let mut sub = Subscriber::connect(
        &broker,
        "pictures",
        &["camrelay/front/snapshot", "camrelay/front/fps"],
    )
    .await;
    let jpeg = Bytes::from_static(b"\xff\xd8 not really a jpeg \xff\xd9");
    let mut first = frame("front", 1, &[]);
    first.jpeg = Some(jpeg.clone());
    first.fps = Some(12.345);
    mqtt.frame(first); // no change: no snapshot, but the first fps value
    let fps = sub.next_where(|m| m.topic.ends_with("/fps"), "fps").await;
    assert_eq!(fps.text(), "12.3");
    let mut change = frame("front", 2, &[("car", 0.9)]);
    change.jpeg = Some(jpeg.clone());
    change.fps = Some(13.0); // within fps_interval: not published
    mqtt.frame(change);
    let snap = sub.next_on("camrelay/front/snapshot").await;
    assert_eq!(snap.payload, jpeg.as_ref());
    assert!(mqtt.snapshot("front", Bytes::from_static(b"explicit")));
    assert_eq!(
        sub.next_on("camrelay/front/snapshot").await.payload,
        b"explicit"
    );
    assert!(!mqtt.snapshot("nope", Bytes::new()));
}

#[tokio::test]
async fn graceful_stop_says_offline_and_a_crash_leaves_the_last_will() {
    let broker = Broker::start().await;
    let mut sub = Subscriber::connect(
        &broker,
        "status",
        &["camrelay/status", "camrelay/front/state"],
    )
    .await;

    // Graceful: every handle dropped -> cameras and relay offline, the task ends.
    let (mqtt, task) = start(&broker).await;
    mqtt.set_camera_online("front", true);
    sub.next_where(
        |m| m.topic == "camrelay/front/state" && m.text() == "online",
        "front online",
    )
    .await;
    drop(mqtt);
    sub.next_where(
        |m| m.topic == "camrelay/front/state" && m.text() == "offline",
        "front offline",
    )
    .await;
    sub.next_where(
        |m| m.topic == "camrelay/status" && m.text() == "offline",
        "relay offline",
    )
    .await;
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("task ends after the handles are dropped")
        .expect("task did not panic");

    // Crash: the task is aborted mid-connection -> the broker publishes the will, retained.
    let (mqtt, task) = start(&broker).await;
    sub.next_where(
        |m| m.topic == "camrelay/status" && m.text() == "online",
        "relay online",
    )
    .await;
    task.abort();
    let will = sub
        .next_where(|m| m.topic == "camrelay/status", "the last will")
        .await;
    assert_eq!(will.text(), "offline");
    drop(mqtt);
    let mut late = Subscriber::connect(&broker, "late", &["camrelay/status"]).await;
    let retained = late.next_on("camrelay/status").await;
    assert!(retained.retain);
    assert_eq!(retained.text(), "offline");
}

#[tokio::test]
async fn broker_restart_recovers_and_frames_never_block_meanwhile() {
    let mut broker = Broker::start().await;
    let (mqtt, _task) = start(&broker).await;
    let stats = mqtt.stats().clone();
    mqtt.set_camera_online("front", true);

    broker.kill();
    wait_until("the publisher notices the broker is gone", || {
        !stats.connected()
    })
    .await;
    let before = stats.dropped();
    let started = Instant::now();
    for id in 0..2_000u64 {
        let seen: &[(&str, f32)] = if id % 3 == 0 { &[("person", 0.9)] } else { &[] };
        mqtt.frame(frame("front", id, seen));
    }
    // frame() is synchronous and never waits for the broker; this only guards against a
    // regression to a blocking send (2 000 calls would then take seconds at least).
    assert!(started.elapsed() < Duration::from_secs(2));
    wait_until("drops are counted", || stats.dropped() > before).await;
    // Person ends present: frame 1 998 saw it, 1 999 missed it once, 2 000 sees it.
    mqtt.frame(frame("front", 2_000, &[("person", 0.9)]));

    broker.restart().await;
    wait_until("the publisher reconnects", || {
        stats.connected() && stats.reconnects() >= 1
    })
    .await;
    // persistence is off, so the restarted broker lost every retained message: what a late
    // subscriber sees was re-published after the reconnect.
    let mut late =
        Subscriber::connect(&broker, "after-restart", &["homeassistant/#", "camrelay/#"]).await;
    let mut wanted = discovery_topics();
    wanted.extend(
        [
            "camrelay/status",
            "camrelay/front/state",
            "camrelay/front/person",
        ]
        .map(String::from),
    );
    let got = late.collect(&wanted).await;
    assert_eq!(got["camrelay/status"].text(), "online");
    assert_eq!(got["camrelay/front/state"].text(), "online");
    assert_eq!(got["camrelay/front/person"].text(), "ON");
}

#[tokio::test]
async fn a_stalled_broker_costs_drops_not_waiting() {
    let broker = Broker::start().await;
    let (mqtt, _task) = start(&broker).await;
    let stats = mqtt.stats().clone();
    let mut sub = Subscriber::connect(&broker, "after-stall", &["camrelay/front/detections"]).await;

    // The broker stops reading: the socket buffers fill with snapshots, then rumqttc's queue,
    // then the handle's queue; from there on everything is dropped and counted.
    broker.signal("-STOP");
    let jpeg = Bytes::from(vec![0xA5u8; 256 << 10]);
    let started = Instant::now();
    for id in 0..600u64 {
        let seen: &[(&str, f32)] = if id % 3 == 0 { &[("person", 0.9)] } else { &[] };
        let mut event = frame("front", id, seen);
        event.jpeg = Some(jpeg.clone());
        mqtt.frame(event);
    }
    assert!(started.elapsed() < Duration::from_secs(2));
    wait_until("drops are counted while the broker stalls", || {
        stats.dropped() > 0
    })
    .await;
    broker.signal("-CONT");

    // Once the broker reads again, new changes get through. Which frames the stall dropped
    // decides whether the person is present now, so offer both: present, then gone.
    let mut id = 600u64;
    let message = loop {
        for seen in [&[("person", 0.9)][..], &[], &[]] {
            mqtt.frame(frame("front", id, seen));
            id += 1;
        }
        let deadline = tokio::time::Instant::now() + Duration::from_millis(200);
        let mut found = None;
        while let Ok(Some(m)) = tokio::time::timeout_at(deadline, sub.rx.recv()).await {
            if m.json()["frame_id"].as_u64() >= Some(600) {
                found = Some(m.json());
                break;
            }
        }
        if let Some(found) = found {
            break found;
        }
        assert!(
            id < 600 + 300,
            "no detection message after the broker continued"
        );
    };
    assert_eq!(message["camera"], "front");
}

#[test]
fn camera_names_that_collide_are_rejected() {
    let cfg = MqttConfig::with_url("mqtt://127.0.0.1:1");
    let err = MqttPublisher::start(&cfg, &[CameraInfo::new("Front"), CameraInfo::new("front")])
        .expect_err("same topic segment");
    assert_eq!(err.kind(), mqtt_detections::ErrorKind::InvalidCamera);
}
