//! A real Mosquitto broker on a free loopback port (optionally with a TLS listener too), and
//! a subscriber that records messages.
//!
//! Shared: the workspace's end-to-end tests include this file with `#[path]`. The waits are
//! long (60 s) because there the relay's detector runs in a debug test build on a busy CI
//! machine; they only bound how long a failing test takes.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::mpsc;

const MOSQUITTO: &str = "/usr/sbin/mosquitto";
/// How long a subscriber waits for an expected message.
const WAIT: Duration = Duration::from_secs(60);

/// A running `mosquitto`, killed on drop.
pub struct Broker {
    /// The plain MQTT listener (the test subscribers use it).
    pub port: u16,
    /// With [`Broker::start_tls`]: the TLS listener's port and the server's PEM certificate
    /// chain and key.
    tls: Option<(u16, PathBuf, PathBuf)>,
    dir: PathBuf,
    child: Option<Child>,
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

impl Broker {
    /// Starts a broker on a free port; fails the test, naming the Debian package, if
    /// Mosquitto is not installed.
    pub async fn start() -> Broker {
        Broker::start_with(None).await
    }

    /// Starts a broker with a plain listener and a TLS listener (`mqtts://`) serving the PEM
    /// certificate chain `cert` with its key `key`. Messages flow between both listeners.
    pub async fn start_tls(cert: &Path, key: &Path) -> Broker {
        Broker::start_with(Some((free_port(), cert.to_owned(), key.to_owned()))).await
    }

    async fn start_with(tls: Option<(u16, PathBuf, PathBuf)>) -> Broker {
        assert!(
            Path::new(MOSQUITTO).exists(),
            "{MOSQUITTO} not found: the MQTT tests need a real broker, install the Debian \
             package `mosquitto` (apt-get install -y mosquitto)"
        );
        let port = free_port();
        let dir =
            std::env::temp_dir().join(format!("mqtt-detections-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let mut broker = Broker {
            port,
            tls,
            dir,
            child: None,
        };
        broker.restart().await;
        broker
    }

    /// Starts the broker (again) on the same port. Retained messages do not survive
    /// (`persistence false`), as after a broker that lost its store.
    pub async fn restart(&mut self) {
        self.kill();
        let conf = self.dir.join("mosquitto.conf");
        let mut text = format!(
            "allow_anonymous true\npersistence false\nlog_dest stderr\nlistener {} 127.0.0.1\n",
            self.port
        );
        if let Some((port, cert, key)) = &self.tls {
            text.push_str(&format!(
                "listener {port} 127.0.0.1\ncertfile {}\nkeyfile {}\n",
                cert.display(),
                key.display()
            ));
        }
        std::fs::write(&conf, text).expect("write mosquitto.conf");
        let child = Command::new(MOSQUITTO)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn mosquitto");
        self.child = Some(child);
        let ports = std::iter::once(self.port).chain(self.tls.as_ref().map(|t| t.0));
        for port in ports {
            Self::wait_for_listener(port).await;
        }
    }

    async fn wait_for_listener(port: u16) {
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("mosquitto did not listen on port {port} within 5 s");
    }

    /// Kills the broker (SIGKILL) and waits until it is gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops (SIGSTOP) or continues (SIGCONT) the broker: a broker that accepts nothing
    /// more, with the connection still open.
    pub fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("broker running").id();
        let status = Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} {pid} failed");
    }

    /// `mqtt://` of the plain listener.
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// `mqtts://` of the TLS listener, with `host` (which the certificate must name).
    pub fn tls_url(&self, host: &str) -> String {
        let (port, _, _) = self.tls.as_ref().expect("started with start_tls");
        format!("mqtts://{host}:{port}")
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if self.child.is_some() {
            let _ = Command::new("kill")
                .args([
                    "-CONT",
                    &self.child.as_ref().map_or(0, |c| c.id()).to_string(),
                ])
                .status();
        }
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One message as a subscriber saw it.
#[derive(Debug, Clone)]
pub struct Message {
    pub topic: String,
    pub payload: Vec<u8>,
    pub retain: bool,
}

impl Message {
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.payload).expect("UTF-8 payload")
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.payload).expect("JSON payload")
    }
}

/// A test client subscribed to some topic filters, with its messages in a channel.
pub struct Subscriber {
    pub rx: mpsc::UnboundedReceiver<Message>,
    task: tokio::task::JoinHandle<()>,
    _client: AsyncClient,
}

impl Subscriber {
    /// Connects and subscribes (QoS 1) to `filters`; returns once the broker acknowledged.
    pub async fn connect(broker: &Broker, name: &str, filters: &[&str]) -> Subscriber {
        let mut options = MqttOptions::new(name, "127.0.0.1", broker.port);
        options.set_max_packet_size(8 << 20, 64 << 10);
        let (client, mut eventloop) = AsyncClient::new(options, 64);
        for filter in filters {
            client
                .subscribe(*filter, QoS::AtLeastOnce)
                .await
                .expect("queue subscribe");
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let (subscribed_tx, mut subscribed_rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let _ = tx.send(Message {
                            topic: p.topic.clone(),
                            payload: p.payload.to_vec(),
                            retain: p.retain,
                        });
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        let _ = subscribed_tx.send(());
                    }
                    Ok(_) => {}
                    Err(e) => panic!("test subscriber lost the broker: {e}"),
                }
            }
        });
        for _ in filters {
            tokio::time::timeout(Duration::from_secs(5), subscribed_rx.recv())
                .await
                .expect("SUBACK within 5 s");
        }
        Subscriber {
            rx,
            task,
            _client: client,
        }
    }

    /// The next message on `topic`, skipping others; fails after [`WAIT`].
    pub async fn next_on(&mut self, topic: &str) -> Message {
        self.next_where(|m| m.topic == topic, topic).await
    }

    /// The next message matching `pred`; fails after [`WAIT`].
    pub async fn next_where(&mut self, pred: impl Fn(&Message) -> bool, what: &str) -> Message {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(m)) if pred(&m) => return m,
                Ok(Some(_)) => {}
                Ok(None) => panic!("subscriber ended while waiting for {what}"),
                Err(_) => panic!("no message for {what} within {WAIT:?}"),
            }
        }
    }

    /// Collects messages until every topic in `topics` has been seen; returns the last message
    /// per topic.
    pub async fn collect(
        &mut self,
        topics: &[String],
    ) -> std::collections::HashMap<String, Message> {
        let mut seen = std::collections::HashMap::new();
        let deadline = tokio::time::Instant::now() + WAIT;
        while !topics.iter().all(|t| seen.contains_key(t)) {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(m)) => {
                    seen.insert(m.topic.clone(), m);
                }
                _ => {
                    let missing: Vec<_> =
                        topics.iter().filter(|t| !seen.contains_key(*t)).collect();
                    panic!("within {WAIT:?}, nothing arrived on {missing:?}");
                }
            }
        }
        seen
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Polls `cond` every 10 ms for up to [`WAIT`].
pub async fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::time::Instant::now() < deadline {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out after {WAIT:?} waiting until {what}");
}
