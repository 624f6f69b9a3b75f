//! The relay server: cameras and their tasks, the listener, per-connection socket settings,
//! and graceful shutdown.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_io_timeout::TimeoutStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::camera::detect::{self, DetectTaskConfig};
use crate::camera::supervisor::{self, SupervisorConfig};
use crate::camera::viewer::Admission;
use crate::camera::Camera;
use crate::config::{RelayConfig, SourceSpec};
use crate::error::{ConfigError, StartError};
use crate::metrics::Metrics;

/// Unsent bytes a viewer socket may hold before it stops being writable (Linux
/// `TCP_NOTSENT_LOWAT`): keeps stale frames out of kernel buffers so a slow viewer gets fresh
/// ones, at no cost to viewers that keep up.
pub const NOTSENT_LOWAT: u32 = 16 * 1024;

/// Shared by every connection and task.
pub struct RelayState {
    /// The configuration it runs with.
    pub config: RelayConfig,
    /// The cameras, in configuration order.
    pub cameras: Vec<Arc<Camera>>,
    /// Viewer limits and the global viewer count.
    pub admission: Arc<Admission>,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Start time, for uptime.
    pub started: Instant,
}

impl RelayState {
    /// A camera by name.
    pub fn camera(&self, name: &str) -> Option<&Arc<Camera>> {
        self.cameras.iter().find(|c| c.name() == name)
    }

    /// Whether detection runs for this camera.
    pub fn detect_enabled(&self, camera: &Camera) -> bool {
        self.config.detect && camera.config.detect
    }
}

/// What a connection's task needs to know about what the connection did.
#[derive(Default)]
pub struct ConnInfo {
    camera: OnceLock<Arc<Camera>>,
    /// The connection's socket, for pacing a viewer on a slow link (`None` in tests that build
    /// a `ConnInfo` without one).
    fd: Option<std::os::fd::RawFd>,
}

impl ConnInfo {
    /// Information about the connection on socket `fd`.
    pub fn new(fd: Option<std::os::fd::RawFd>) -> Self {
        ConnInfo {
            camera: OnceLock::new(),
            fd,
        }
    }

    /// A pacer for a viewer on this connection (see [`crate::pacing`]).
    pub fn pacer(&self) -> Option<crate::pacing::Pacer> {
        self.fd.and_then(crate::pacing::Pacer::new)
    }

    /// Records that this connection is a viewer of `camera` (for eviction counts).
    pub fn watching(&self, camera: &Arc<Camera>) {
        let _ = self.camera.set(camera.clone());
    }
}

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
        camera.validate()?;
        if !names.insert(camera.name.clone()) {
            return Err(ConfigError::DuplicateCamera(camera.name.clone()).into());
        }
    }
    if let Some(model) = &config.model {
        if !model.is_file() {
            return Err(StartError::model_file_missing(model));
        }
    }
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.listen,
        source,
    })?;
    let shutdown = CancellationToken::new();
    let metrics = Arc::new(Metrics::default());
    let mut cameras = Vec::new();
    let mut tasks = Vec::new();
    for camera_config in config.cameras.clone() {
        let (camera, camera_tasks) = Camera::new(camera_config, &config)?;
        let supervisor_config = SupervisorConfig {
            idle_timeout: config.idle_timeout,
            always_on: config.always_on,
            keepalive: config.keepalive,
        };
        let detect_config = DetectTaskConfig {
            model: camera.config.model.clone().or_else(|| config.model.clone()),
            jpeg_quality: config.detect_jpeg_quality,
        };
        tasks.push(tokio::spawn(supervisor::run(
            camera.clone(),
            camera_tasks.raw,
            camera_tasks.upstream,
            supervisor_config,
            metrics.latency_histogram(camera.name()),
            shutdown.clone(),
        )));
        if config.detect && camera.config.detect {
            tasks.push(tokio::spawn(detect::run(
                camera.clone(),
                camera_tasks.detect,
                detect_config,
                shutdown.clone(),
            )));
        }
        cameras.push(camera);
    }
    metrics.register(cameras.clone());
    let admission = Arc::new(Admission {
        total: AtomicUsize::new(0),
        max_total: config.max_viewers,
        max_per_camera: config.max_viewers_per_camera,
    });
    let state = Arc::new(RelayState {
        config,
        cameras,
        admission,
        metrics,
        started: Instant::now(),
    });
    for camera in &state.cameras {
        let what = match &camera.config.source {
            SourceSpec::Demo => "built-in demo camera".to_owned(),
            other => other.url().to_owned(),
        };
        tracing::info!(
            camera = %camera.name(),
            broadcaster = camera.id,
            "serving {what} at http://{addr}/cams/{}/stream",
            camera.name()
        );
    }
    tasks.push(tokio::spawn(accept_loop(
        listener,
        state.clone(),
        shutdown.clone(),
    )));
    Ok(RelayHandle {
        addr,
        state,
        shutdown,
        tasks,
    })
}

async fn accept_loop(listener: TcpListener, state: Arc<RelayState>, shutdown: CancellationToken) {
    // Every connection task, so that shutdown can wait for them.
    let connections = TaskTracker::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(state.config.header_read_timeout)
        .max_buf_size(state.config.max_header_size.max(8192))
        .writev(true);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        tune_socket(&stream);
        let fd = std::os::fd::AsRawFd::as_raw_fd(&stream);
        let mut io = TimeoutStream::new(stream);
        io.set_write_timeout(Some(state.config.write_timeout));
        let io = TokioIo::new(Box::pin(io));
        let conn_info = Arc::new(ConnInfo::new(Some(fd)));
        let service = {
            let state = state.clone();
            let conn_info = conn_info.clone();
            service_fn(move |req| {
                let state = state.clone();
                let conn_info = conn_info.clone();
                async move {
                    Ok::<_, std::convert::Infallible>(
                        crate::http::route(state, conn_info, req).await,
                    )
                }
            })
        };
        let connection = builder.serve_connection(io, service).with_upgrades();
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            tokio::pin!(connection);
            let result = tokio::select! {
                result = connection.as_mut() => result,
                _ = shutdown.cancelled() => {
                    // Finish the response in flight; streams end as their broadcasts close.
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(error) = result {
                connection_error(&conn_info, peer, &error);
            }
        });
    }
    drop(listener);
    tracing::info!("shutting down: no new connections, ending streams");
    connections.close();
    if tokio::time::timeout(Duration::from_secs(5), connections.wait())
        .await
        .is_err()
    {
        tracing::warn!("some connections did not close within 5 s");
    }
}

fn tune_socket(stream: &TcpStream) {
    let _ = stream.set_nodelay(true);
    #[cfg(target_os = "linux")]
    {
        let socket = socket2::SockRef::from(stream);
        if let Err(error) = socket.set_tcp_notsent_lowat(NOTSENT_LOWAT) {
            tracing::debug!(%error, "TCP_NOTSENT_LOWAT not set");
        }
    }
}

fn connection_error(conn: &ConnInfo, peer: SocketAddr, error: &hyper::Error) {
    let timed_out = std::iter::successors(Some(error as &(dyn std::error::Error + 'static)), |e| {
        e.source()
    })
    .any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
    });
    match (timed_out, conn.camera.get()) {
        (true, Some(camera)) => {
            camera.stats.evicted.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(camera = %camera.name(), broadcaster = camera.id, %peer, "viewer evicted: it accepted no bytes for the write timeout");
        }
        _ if error.is_timeout() => {
            tracing::debug!(%peer, "request head not received in time; connection closed")
        }
        _ => tracing::debug!(%peer, %error, "connection ended with an error"),
    }
}
