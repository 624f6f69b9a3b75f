//! The relay server: cameras and their tasks, the listener, per-connection socket settings,
//! and graceful shutdown.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::camera::Camera;
use crate::config::{RelayConfig, SourceSpec};
use crate::error::{ConfigError, StartError};
use crate::state::{ConnInfo, RelayState};
use relay_metrics::Metrics;

/// A running relay.
pub struct RelayHandle {
    addr: SocketAddr,
    state: Arc<RelayState>,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl RelayHandle {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its shared state (cameras, counters).
    pub fn state(&self) -> &Arc<RelayState> {
        &self.state
    }

    /// A token that stops the relay when cancelled.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Stops accepting, ends every stream and waits for the tasks (at most a few seconds).
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        self.wait().await;
    }

    /// Waits until the relay has stopped (after its shutdown token was cancelled).
    pub async fn wait(self) {
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Builds the cameras, starts their tasks and the listener.
pub async fn start(mut config: RelayConfig) -> Result<RelayHandle, StartError> {
    if config.cameras.is_empty() {
        config.cameras.push(RelayConfig::demo_camera());
    }
    let mut names = std::collections::HashSet::new();
    for camera in &config.cameras {
        camera.spec.validate().map_err(ConfigError::from)?;
        if !names.insert(camera.name()) {
            return Err(ConfigError::DuplicateCamera(camera.name().to_owned()).into());
        }
    }
    if let Some(model) = &config.model {
        if !model.is_file() {
            return Err(StartError::model_file_missing(model));
        }
    }
    let auth = Arc::new(config.access.token_store()?);
    let tls = config.access.tls()?;
    if let Some(tls) = &tls {
        relay_auth::tls::spawn_reload_on_sighup(tls.clone())?;
    }
    let listener = http_listener::Listener::bind(config.listen, config.listener_settings()).await?;
    let addr = listener.local_addr();
    relay_auth::warn_if_exposed(addr, &auth);
    let bus = match config.nats.clone() {
        Some(nats) => Some(
            frame_bus::Bus::connect(nats)
                .await
                .map_err(StartError::Bus)?,
        ),
        None => None,
    };
    let shutdown = CancellationToken::new();
    let metrics = Arc::new(Metrics::default());
    let mut cameras = Vec::new();
    let mut tasks = Vec::new();
    let hub = config.hub_settings();
    for camera_config in &config.cameras {
        let (camera, mut camera_tasks) = Camera::new(camera_config.spec.clone(), &hub)?;
        if let Some(bus) = &bus {
            let link = camera_cluster::BusLink::new(bus.clone(), camera.name());
            camera_tasks = camera_tasks.clustered(Arc::new(link.map_err(ConfigError::Nats)?));
        }
        let latency = metrics.latency_sink(camera.name());
        tasks.extend(camera_tasks.spawn(&camera, &hub, latency, &shutdown));
        cameras.push(camera);
    }
    let recording = match &config.record {
        Some(record) => {
            let modes = |name: &str| {
                let camera = config.cameras.iter().find(|c| c.name() == name);
                camera.and_then(|c| c.record.clone())
            };
            let started =
                camera_taps::record::start(record.clone(), &cameras, modes, &shutdown, &mut tasks);
            Some(Arc::new(started.map_err(|e| {
                shutdown.cancel();
                StartError::recording(e)
            })?))
        }
        None => None,
    };
    let mqtt = match &config.mqtt {
        Some(mqtt_config) => {
            let (stats, mqtt_tasks) = camera_taps::mqtt::start(mqtt_config, &cameras, &shutdown)
                .inspect_err(|_| shutdown.cancel())?;
            tasks.extend(mqtt_tasks);
            Some(stats)
        }
        None => None,
    };
    let recorders = recording.as_ref().map_or_else(Vec::new, |r| r.recorders());
    metrics.register(cameras.clone(), recorders, mqtt.clone(), bus.clone());
    let admission = Arc::new(mjpeg_serve::Admission::new(
        config.max_viewers,
        config.max_viewers_per_camera,
    ));
    let queue = config.hub_settings().queue;
    let wall = camera_taps::wall::LiveWall::new(cameras.clone(), Default::default(), queue);
    let state = Arc::new(RelayState {
        config,
        cameras,
        admission,
        metrics,
        started: Instant::now(),
        wall,
        replay: recording
            .as_ref()
            .map(|r| crate::http::replay::Replay::new(r.archive.clone(), Default::default())),
        recording,
        secure: tls.is_some(),
        bus,
        auth,
        mqtt,
    });
    let scheme = if tls.is_some() { "https" } else { "http" };
    for camera in &state.cameras {
        let what = match &camera.config.source {
            SourceSpec::Demo => "built-in demo camera".to_owned(),
            other => other.url().to_owned(),
        };
        tracing::info!(
            camera = %camera.name(),
            broadcaster = camera.id,
            "serving {what} at {scheme}://{addr}/cams/{}/stream",
            camera.name()
        );
    }
    let listener = match tls {
        Some(tls) => listener.with_tls(Arc::new(move || tls.acceptor())),
        None => listener,
    };
    tasks.push(tokio::spawn(
        listener.serve(state.clone(), shutdown.clone()),
    ));
    Ok(RelayHandle {
        addr,
        state,
        shutdown,
        tasks,
    })
}

impl http_listener::Handler for RelayState {
    type Conn = ConnInfo;
    type Body = crate::http::body::RelayBody;

    fn accepted(&self, stream: &tokio::net::TcpStream) -> ConnInfo {
        mjpeg_serve::pacing::tune_viewer_socket(stream);
        ConnInfo::new(Some(std::os::fd::AsRawFd::as_raw_fd(stream)))
    }

    fn call(
        self: Arc<Self>,
        conn: Arc<ConnInfo>,
        request: hyper::Request<hyper::body::Incoming>,
    ) -> impl std::future::Future<Output = hyper::Response<Self::Body>> + Send {
        crate::http::route(self, conn, request)
    }

    fn evicted(&self, conn: &ConnInfo, peer: SocketAddr) {
        if let Some(camera) = conn.camera() {
            camera.stats.evicted.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(camera = %camera.name(), broadcaster = camera.id, %peer, "viewer evicted: it accepted no bytes for the write timeout");
        }
    }
}
