//! The relay server: cameras and their tasks, the listener, per-connection socket settings,
//! and graceful shutdown.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_io_timeout::TimeoutStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

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
    tasks.push(tokio::spawn(accept_loop(
        listener,
        state.clone(),
        tls,
        shutdown.clone(),
    )));
    Ok(RelayHandle {
        addr,
        state,
        shutdown,
        tasks,
    })
}

async fn accept_loop(
    listener: TcpListener,
    state: Arc<RelayState>,
    tls: Option<Arc<relay_auth::tls::ReloadableTls>>,
    shutdown: CancellationToken,
) {
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
        mjpeg_serve::pacing::tune_viewer_socket(&stream);
        let fd = std::os::fd::AsRawFd::as_raw_fd(&stream);
        let conn_info = Arc::new(ConnInfo::new(Some(fd)));
        let acceptor = tls.as_ref().map(|tls| tls.acceptor());
        let (state, builder, shutdown) = (state.clone(), builder.clone(), shutdown.clone());
        connections.spawn(async move {
            // TLS (when configured) sits above the timed socket, so the write timeout and the
            // pacer (which reads the raw fd) see the encrypted bytes on the wire.
            let mut io = TimeoutStream::new(stream);
            io.set_write_timeout(Some(state.config.write_timeout));
            let io = Box::pin(io);
            match acceptor {
                None => serve(builder, TokioIo::new(io), state, conn_info, peer, shutdown).await,
                Some(acceptor) => {
                    let handshake =
                        tokio::time::timeout(state.config.header_read_timeout, acceptor.accept(io));
                    match handshake.await {
                        Ok(Ok(tls)) => {
                            serve(builder, TokioIo::new(tls), state, conn_info, peer, shutdown)
                                .await
                        }
                        Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
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

/// Serves one connection (plain or TLS) until it ends or the relay shuts down.
async fn serve<I>(
    builder: http1::Builder,
    io: I,
    state: Arc<RelayState>,
    conn_info: Arc<ConnInfo>,
    peer: SocketAddr,
    shutdown: CancellationToken,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = {
        let conn_info = conn_info.clone();
        service_fn(move |req| {
            let state = state.clone();
            let conn_info = conn_info.clone();
            async move {
                Ok::<_, std::convert::Infallible>(crate::http::route(state, conn_info, req).await)
            }
        })
    };
    let connection = builder.serve_connection(io, service).with_upgrades();
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
}

fn connection_error(conn: &ConnInfo, peer: SocketAddr, error: &hyper::Error) {
    let timed_out = std::iter::successors(Some(error as &(dyn std::error::Error + 'static)), |e| {
        e.source()
    })
    .any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
    });
    match (timed_out, conn.camera()) {
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
