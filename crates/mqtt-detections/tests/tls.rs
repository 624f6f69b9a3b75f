//! `mqtts://` against a real Mosquitto with a TLS listener (Debian package `mosquitto`), its
//! certificate signed by a CA made here with rcgen.

mod support;

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use mqtt_detections::{CameraInfo, DetectionBox, DetectionEvent, MqttConfig, MqttPublisher};
use support::{wait_until, Broker, Subscriber};

/// A CA and a broker certificate it signed, as PEM files in a temporary directory.
struct Pki {
    _dir: tempfile::TempDir,
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

/// A self-signed CA certificate and its issuer.
fn make_ca(name: &str) -> rcgen::CertifiedIssuer<'static, rcgen::KeyPair> {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let key = rcgen::KeyPair::generate().expect("CA key");
    rcgen::CertifiedIssuer::self_signed(params, key).expect("CA certificate")
}

impl Pki {
    /// The broker's certificate names `localhost` and `127.0.0.1`.
    fn new() -> Pki {
        let dir = tempfile::tempdir().expect("temp dir");
        let ca = make_ca("camrelay test CA");
        let params =
            rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .expect("server params");
        let key = rcgen::KeyPair::generate().expect("server key");
        let cert = params.signed_by(&key, &*ca).expect("server certificate");
        let pki = Pki {
            ca: dir.path().join("ca.pem"),
            cert: dir.path().join("server.pem"),
            key: dir.path().join("server.key"),
            _dir: dir,
        };
        std::fs::write(&pki.ca, ca.pem()).expect("write CA");
        std::fs::write(&pki.cert, cert.pem()).expect("write certificate");
        std::fs::write(&pki.key, key.serialize_pem()).expect("write key");
        pki
    }
}

fn config(url: String, ca: Option<PathBuf>) -> MqttConfig {
    MqttConfig {
        ca,
        labels: vec!["person".into()],
        relay_id: "tlsrelay".into(),
        keep_alive_secs: 5,
        reconnect_min_secs: 0.05,
        reconnect_max_secs: 0.5,
        ..MqttConfig::with_url(url)
    }
}

fn person(frame_id: u64) -> DetectionEvent {
    DetectionEvent {
        camera: "front".into(),
        frame_id,
        capture_us: 1_764_448_340_000_000,
        detections: vec![DetectionBox {
            label: "person".into(),
            score: 0.9,
            x: 1.0,
            y: 2.0,
            w: 30.0,
            h: 40.0,
        }],
        fps: None,
        jpeg: None,
    }
}

#[tokio::test]
async fn publishes_over_tls_to_a_broker_signed_by_the_ca_file() {
    let pki = Pki::new();
    let broker = Broker::start_tls(&pki.cert, &pki.key).await;
    // The test listens on the plain listener: what arrives there came in over TLS.
    let mut sub = Subscriber::connect(
        &broker,
        "tls-watch",
        &["camrelay/#", "homeassistant/binary_sensor/#"],
    )
    .await;
    for host in ["localhost", "127.0.0.1"] {
        let config = config(broker.tls_url(host), Some(pki.ca.clone()));
        let (mqtt, publisher) =
            MqttPublisher::start(&config, &[CameraInfo::new("front")]).expect("valid config");
        let task = tokio::spawn(publisher.run());
        let stats = mqtt.stats().clone();
        wait_until("the publisher is connected over TLS", || stats.connected()).await;

        sub.next_where(
            |m| m.topic == "camrelay/status" && m.text() == "online",
            "online",
        )
        .await;
        let discovery = sub
            .next_on("homeassistant/binary_sensor/tlsrelay/front_person/config")
            .await;
        assert_eq!(discovery.json()["state_topic"], "camrelay/front/person");

        mqtt.set_camera_online("front", true);
        mqtt.frame(person(1));
        let detections = sub.next_on("camrelay/front/detections").await;
        assert_eq!(detections.json()["labels"], serde_json::json!(["person"]));
        assert_eq!(detections.json()["frame_id"], 1);

        // A graceful stop says offline over the same TLS connection.
        drop(mqtt);
        task.await.expect("publisher task");
        sub.next_where(
            |m| m.topic == "camrelay/status" && m.text() == "offline",
            "offline",
        )
        .await;
        assert!(!stats.connected());
    }
}

/// A `tracing` writer that keeps everything in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("lock")).into_owned()
    }
}

#[tokio::test]
async fn a_broker_certificate_from_another_ca_is_refused() {
    let pki = Pki::new();
    let other = Pki::new();
    let broker = Broker::start_tls(&pki.cert, &pki.key).await;
    let mut sub = Subscriber::connect(&broker, "tls-refused", &["camrelay/#"]).await;

    // The test runs on one thread, so this subscriber sees the publisher's logs.
    let log = Captured::default();
    let writer = log.clone();
    let _logging = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish(),
    );
    let config = config(broker.tls_url("localhost"), Some(other.ca.clone()));
    let (mqtt, publisher) =
        MqttPublisher::start(&config, &[CameraInfo::new("front")]).expect("valid config");
    let task = tokio::spawn(publisher.run());
    wait_until("the publisher says it cannot connect", || {
        log.text().contains("MQTT: cannot connect")
    })
    .await;
    let text = log.text();
    assert!(
        text.to_ascii_lowercase().contains("certificate"),
        "the log names the certificate problem: {text}"
    );
    assert!(!mqtt.stats().connected());
    assert_eq!(mqtt.stats().published(), 0);
    assert!(
        sub.rx.try_recv().is_err(),
        "a message from the refused publisher arrived"
    );
    task.abort();
}

#[test]
fn a_ca_file_is_for_mqtts_only_and_must_exist() {
    let cameras = [CameraInfo::new("front")];
    let plain = config("mqtt://127.0.0.1:1883".into(), Some("/etc/hostname".into()));
    let err = MqttPublisher::start(&plain, &cameras).expect_err("ca with mqtt://");
    assert_eq!(err.kind(), mqtt_detections::ErrorKind::InvalidConfig);
    let missing = config(
        "mqtts://127.0.0.1".into(),
        Some("/nonexistent/camrelay-ca.pem".into()),
    );
    let err = MqttPublisher::start(&missing, &cameras).expect_err("no such file");
    assert_eq!(err.kind(), mqtt_detections::ErrorKind::Tls);
    assert!(
        err.to_string().contains("/nonexistent/camrelay-ca.pem"),
        "{err}"
    );
}
