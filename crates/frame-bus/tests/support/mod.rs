//! A real `nats-server` with JetStream on a free loopback port, for the integration tests (of
//! frame-bus, camera-cluster and the relay, which include this file with `#[path]`).
#![allow(clippy::unwrap_used, dead_code)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use frame_bus::{Bus, BusConfig, Lease, Ownership};

/// The binary: `$NATS_SERVER`, else `nats-server` on the PATH.
fn binary() -> PathBuf {
    let on_path = || {
        std::env::var_os("PATH")
            .into_iter()
            .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
            .map(|dir| dir.join("nats-server"))
            .find(|candidate| candidate.is_file())
    };
    std::env::var_os("NATS_SERVER")
        .map(PathBuf::from)
        .or_else(on_path)
        .filter(|binary| binary.is_file())
        .unwrap_or_else(|| {
            panic!(
                "nats-server not found on the PATH (or $NATS_SERVER): install the Debian package \
                 `nats-server` (apt-get install -y nats-server) to run the cluster tests"
            )
        })
}

/// `nats-server -js -sd <tmpdir> -a 127.0.0.1 -p <port>`, killed on drop.
pub struct NatsServer {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

impl NatsServer {
    /// Starts a server on a free port and waits until it accepts connections.
    pub fn start() -> NatsServer {
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let mut server = NatsServer {
            child: None,
            port,
            dir: tempfile::tempdir().unwrap(),
        };
        server.spawn();
        server
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL: no goodbye to the clients).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and store directory.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    fn spawn(&mut self) {
        let child = Command::new(binary())
            .args(["-js", "-a", "127.0.0.1", "-p"])
            .arg(self.port.to_string())
            .arg("-sd")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server starts");
        self.child = Some(child);
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "nats-server did not listen on {addr}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A node of cluster `test` named `node`.
pub async fn node(server: &NatsServer, node: &str) -> Bus {
    Bus::connect(BusConfig::new(server.url(), "test", node))
        .await
        .unwrap()
}

/// Waits (up to `within`) until exactly one of `leases` owns the camera and all others follow
/// it; returns the owner's index.
pub async fn one_owner(leases: &[&Lease], nodes: &[&str], within: Duration) -> usize {
    let deadline = Instant::now() + within;
    loop {
        let states: Vec<Ownership> = leases.iter().map(|l| l.ownership()).collect();
        let owners: Vec<usize> = (0..states.len())
            .filter(|i| states[*i].is_owner())
            .collect();
        if let [owner] = owners[..] {
            let followers_agree = states.iter().enumerate().all(|(i, s)| {
                i == owner
                    || *s
                        == Ownership::Follower {
                            owner: nodes[owner].to_owned(),
                        }
            });
            if followers_agree {
                return owner;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no single owner within {within:?}: {states:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
