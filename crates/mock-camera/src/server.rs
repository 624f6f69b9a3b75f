//! The HTTP side: listener, connections and the firmware's four endpoints.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{combinators::UnsyncBoxBody, BodyExt, Empty, Full};
use hyper::header::{HeaderValue, ACCESS_CONTROL_ALLOW_ORIGIN, CONTENT_DISPOSITION, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::camera::{Camera, ControlError};
use crate::stats::Counters;
use crate::stream::{stream_body, STREAM_CONTENT_TYPE};
use crate::{MockConfig, MockStats, Scene, WhenBusy};

type Body = UnsyncBoxBody<Bytes, Infallible>;

/// A running ESP32-CAM emulator.
///
/// Serves, on one port (the board uses port 81 for `/stream` and 80 for the rest):
/// - `GET /stream`: the firmware's chunked `multipart/x-mixed-replace` loop, byte for byte;
/// - `GET /capture`: the latest frame as one JPEG with `X-Timestamp`;
/// - `GET /status`: the sensor settings as JSON;
/// - `GET /control?var=NAME&val=N`: sets one (`framesize` and `quality` change the frames);
/// - `GET /`: a small HTML page showing the stream.
///
/// With `max_clients` streams open, a further `/stream` request is, like on the board,
/// accepted and left without an answer until a slot frees ([`WhenBusy::Silent`], the default),
/// or gets a prompt **HTTP 503** ([`WhenBusy::Refuse503`]).
///
/// [`power_off`](MockCamera::power_off) and [`power_on`](MockCamera::power_on) (or
/// [`reboot`](MockCamera::reboot)) emulate a board that browns out: every connection closes,
/// connections are refused while it is off, and it comes back on the same port.
///
/// Dropping it stops the camera too; [`shutdown`](MockCamera::shutdown) also waits until
/// every connection is closed.
#[derive(Debug)]
pub struct MockCamera {
    addr: SocketAddr,
    camera: Arc<Camera>,
    /// Fired by `shutdown` or `Drop`: stops the accept loop, the frame clock and every
    /// connection (dropping a connection closes its socket mid-stream, as a board that loses
    /// power would).
    cancel: CancellationToken,
    /// Tracks the accept loop, the clock and each connection, so `shutdown` can wait for all.
    tasks: TaskTracker,
    /// The listener's side while the camera is powered on; `None` while it is off.
    power: tokio::sync::Mutex<Option<PowerCycle>>,
}

/// One power-on period: its accept loop and connections end together at power-off.
#[derive(Debug)]
struct PowerCycle {
    /// Child of the camera's token: stops this period's accept loop and connections.
    cancel: CancellationToken,
    /// The accept loop and connections of this period (also tracked by the camera's tracker).
    tasks: TaskTracker,
}

impl std::fmt::Debug for Camera {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Camera")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl MockCamera {
    /// Builds the scene (on the blocking pool), binds `addr` (`127.0.0.1:0` picks a free
    /// port: read it back with [`addr`](MockCamera::addr)) and starts serving.
    ///
    /// Errors: a bind failure, or `InvalidInput` for a size, quality or loop length that
    /// [`Scene`] rejects.
    pub async fn start(addr: SocketAddr, config: MockConfig) -> io::Result<MockCamera> {
        let (w, h, q, n) = (
            config.width,
            config.height,
            config.quality,
            config.loop_frames,
        );
        let scene = tokio::task::spawn_blocking(move || Scene::with_loop_frames(w, h, q, n))
            .await
            .map_err(io::Error::other)?
            .map_err(|err| io::Error::new(io::ErrorKind::InvalidInput, err))?;
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let camera = Arc::new(Camera::new(config, scene));
        let cancel = CancellationToken::new();
        let tasks = TaskTracker::new();
        tasks.spawn(Arc::clone(&camera).run_clock(cancel.clone()));
        let mock = MockCamera {
            addr,
            camera,
            cancel,
            tasks,
            power: tokio::sync::Mutex::new(None),
        };
        *mock.power.lock().await = Some(mock.serve(listener));
        tracing::info!(%addr, width = w, height = h, fps = mock.camera.config.fps, "mock camera listening");
        Ok(mock)
    }

    /// Starts a power-on period: accepts on `listener` until the period is cancelled.
    fn serve(&self, listener: TcpListener) -> PowerCycle {
        let cycle = PowerCycle {
            cancel: self.cancel.child_token(),
            tasks: TaskTracker::new(),
        };
        let accept = accept_loop(
            listener,
            Arc::clone(&self.camera),
            cycle.cancel.clone(),
            (self.tasks.clone(), cycle.tasks.clone()),
        );
        self.tasks.spawn(cycle.tasks.track_future(accept));
        cycle
    }

    /// Cuts the power: stops listening (connection attempts are refused) and closes every
    /// open connection at once, mid-stream, as a board that browns out. Returns once all of
    /// them are closed. The frame clock keeps running, so frame ids go on after
    /// [`power_on`](MockCamera::power_on). Does nothing when already off.
    pub async fn power_off(&self) {
        let Some(cycle) = self.power.lock().await.take() else {
            return;
        };
        cycle.cancel.cancel();
        cycle.tasks.close();
        cycle.tasks.wait().await;
        tracing::info!(addr = %self.addr, "mock camera powered off");
    }

    /// Powers the camera back on: listens on the same address again. When this returns, the
    /// camera accepts connections. Does nothing when already on.
    ///
    /// Errors: the port cannot be bound again (taken by someone else meanwhile).
    pub async fn power_on(&self) -> io::Result<()> {
        let mut power = self.power.lock().await;
        if power.is_some() {
            return Ok(());
        }
        let listener = TcpListener::bind(self.addr).await?;
        *power = Some(self.serve(listener));
        tracing::info!(addr = %self.addr, "mock camera powered on");
        Ok(())
    }

    /// Whether the camera is powered on (listening).
    pub async fn is_powered(&self) -> bool {
        self.power.lock().await.is_some()
    }

    /// [`power_off`](MockCamera::power_off), stays off for `down`, then
    /// [`power_on`](MockCamera::power_on).
    pub async fn reboot(&self, down: Duration) -> io::Result<()> {
        self.power_off().await;
        tokio::time::sleep(down).await;
        self.power_on().await
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://ADDR/stream`.
    pub fn stream_url(&self) -> String {
        format!("{}/stream", self.base_url())
    }

    /// `http://ADDR/capture`.
    pub fn capture_url(&self) -> String {
        format!("{}/capture", self.base_url())
    }

    /// `http://ADDR/status`.
    pub fn status_url(&self) -> String {
        format!("{}/status", self.base_url())
    }

    /// `http://ADDR/control?var=VAR&val=VAL`.
    pub fn control_url(&self, var: &str, val: i32) -> String {
        format!("{}/control?var={var}&val={val}", self.base_url())
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> MockStats {
        self.camera.counters.snapshot()
    }

    /// The settings it was started with.
    pub fn config(&self) -> &MockConfig {
        &self.camera.config
    }

    /// Stops listening and closes every open connection at once (open streams end without
    /// the chunked terminator: the camera "disappears"), then waits for all tasks to end.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        self.tasks.close();
        self.tasks.wait().await;
        tracing::info!(addr = %self.addr, "mock camera shut down");
    }
}

impl Drop for MockCamera {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Accepts until `cancel` fires; each connection is tracked by the camera's tracker and by
/// the power-on period's (`trackers`), so both shutdown and power-off can wait for it.
async fn accept_loop(
    listener: TcpListener,
    camera: Arc<Camera>,
    cancel: CancellationToken,
    trackers: (TaskTracker, TaskTracker),
) {
    let (tasks, cycle) = trackers;
    loop {
        let accepted = tokio::select! {
            _ = cancel.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((socket, peer)) => {
                tasks.spawn(cycle.track_future(serve_connection(
                    socket,
                    peer,
                    Arc::clone(&camera),
                    cancel.clone(),
                )));
            }
            Err(err) => {
                // E.g. out of file descriptors: back off instead of spinning.
                tracing::warn!(%err, "mock camera accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn serve_connection(
    socket: TcpStream,
    peer: SocketAddr,
    camera: Arc<Camera>,
    cancel: CancellationToken,
) {
    if let Err(err) = socket.set_nodelay(true) {
        tracing::debug!(%peer, %err, "set_nodelay failed");
    }
    let service = hyper::service::service_fn(move |req| handle(Arc::clone(&camera), req));
    let mut builder = hyper::server::conn::http1::Builder::new();
    // Like esp_http_server: no Date header, Title-Case names.
    builder
        .auto_date_header(false)
        .title_case_headers(true)
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10));
    let connection = builder.serve_connection(TokioIo::new(socket), service);
    tokio::select! {
        result = connection => {
            if let Err(err) = result {
                tracing::debug!(%peer, %err, "mock camera connection ended with an error");
            }
        }
        // Dropping the connection closes the socket, mid-stream if need be.
        _ = cancel.cancelled() => tracing::debug!(%peer, "mock camera closes connection"),
    }
}

async fn handle(
    camera: Arc<Camera>,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Body>, Infallible> {
    if req.method() != Method::GET {
        return Ok(text(
            StatusCode::METHOD_NOT_ALLOWED,
            "only GET is supported\n",
        ));
    }
    let response = match req.uri().path() {
        "/stream" => stream(camera).await,
        "/capture" => capture(&camera).await,
        "/status" => {
            let mut res = Response::new(full(camera.status_json()));
            res.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            res
        }
        "/control" => control(&camera, req.uri().query().unwrap_or("")).await,
        "/" => {
            let mut res = Response::new(full(INDEX_HTML));
            res.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
            res
        }
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    };
    Ok(with_cors(response))
}

async fn stream(camera: Arc<Camera>) -> Response<Body> {
    let permit = match &camera.stream_slots {
        None => None,
        Some(slots) => match Arc::clone(slots).try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(_) => {
                Counters::bump(&camera.counters.refused_total);
                match camera.config.when_busy {
                    WhenBusy::Refuse503 => {
                        tracing::info!(
                            max = camera.config.max_clients,
                            "mock camera refuses a stream client"
                        );
                        return busy(&camera);
                    }
                    WhenBusy::Silent => {
                        tracing::info!(
                            max = camera.config.max_clients,
                            "mock camera is busy: the stream client waits without an answer"
                        );
                        // The semaphore is never closed; if it were, say so like Refuse503.
                        match Arc::clone(slots).acquire_owned().await {
                            Ok(permit) => Some(permit),
                            Err(_) => return busy(&camera),
                        }
                    }
                }
            }
        },
    };
    let mut res = Response::new(stream_body(camera, permit));
    let headers = res.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(STREAM_CONTENT_TYPE));
    headers.insert("x-framerate", HeaderValue::from_static("60"));
    res
}

/// The 503 of a busy camera ([`WhenBusy::Refuse503`]).
fn busy(camera: &Camera) -> Response<Body> {
    let body = format!(
        "camera busy: this ESP32-CAM serves {} /stream client(s) at a time\n",
        camera.config.max_clients
    );
    text(StatusCode::SERVICE_UNAVAILABLE, &body)
}

async fn capture(camera: &Camera) -> Response<Body> {
    let frame = camera.latest();
    let jpeg = if camera.config.show_frame_id && !frame.labelled {
        camera.labelled(&frame).await
    } else {
        frame.jpeg.clone()
    };
    Counters::bump(&camera.counters.captures);
    let mut res = Response::new(full(jpeg));
    let headers = res.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("image/jpeg"));
    headers.insert(
        CONTENT_DISPOSITION,
        HeaderValue::from_static("inline; filename=capture.jpg"),
    );
    if let Ok(value) = HeaderValue::from_str(&frame.timestamp()) {
        headers.insert("x-timestamp", value);
    }
    res
}

async fn control(camera: &Camera, query: &str) -> Response<Body> {
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
    };
    // The firmware answers 404 when `var` or `val` is missing.
    let (Some(var), Some(val)) = (param("var"), param("val")) else {
        return text(StatusCode::NOT_FOUND, "need var and val\n");
    };
    let Ok(val) = val.parse::<i32>() else {
        return text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "val must be an integer\n",
        );
    };
    match camera.control(var, val).await {
        Ok(()) => {
            tracing::info!(var, val, "mock camera control");
            Response::new(Empty::new().boxed_unsync())
        }
        Err(err) => {
            tracing::info!(var, val, ?err, "mock camera control refused");
            let why = match err {
                ControlError::UnknownVar => format!("unknown var {var}\n"),
                ControlError::BadValue => format!("bad value {val} for {var}\n"),
                ControlError::Scene(err) => format!("cannot build the scene: {err}\n"),
            };
            text(StatusCode::INTERNAL_SERVER_ERROR, &why)
        }
    }
}

fn full(body: impl Into<Bytes>) -> Body {
    Full::new(body.into()).boxed_unsync()
}

fn text(status: StatusCode, body: &str) -> Response<Body> {
    let mut res = Response::new(full(body.to_owned()));
    *res.status_mut() = status;
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    res
}

fn with_cors(mut res: Response<Body>) -> Response<Body> {
    res.headers_mut()
        .insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    res
}

const INDEX_HTML: &str = "<!doctype html><title>mock ESP32-CAM</title>\
<h1>mock ESP32-CAM</h1><p><a href=\"/status\">status</a> \
<a href=\"/capture\">capture</a></p><img src=\"/stream\" alt=\"stream\">\n";
