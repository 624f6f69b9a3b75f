//! The listener and its accept loop.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Body;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_io_timeout::TimeoutStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::shutdown_watch::ShutdownWatch;
use crate::{Ended, Handler, ListenError, Settings, TlsSource};

/// How long shutdown waits for open connections to finish.
const DRAIN: Duration = Duration::from_secs(5);

/// A bound TCP listener, ready to [`serve`](Listener::serve) a [`Handler`].
pub struct Listener {
    listener: TcpListener,
    addr: SocketAddr,
    settings: Settings,
    tls: Option<TlsSource>,
}

impl Listener {
    /// Binds `addr` (port 0 picks a free port; see [`Listener::local_addr`]).
    pub async fn bind(addr: SocketAddr, settings: Settings) -> Result<Listener, ListenError> {
        let bind_error = |source| ListenError::Bind { addr, source };
        let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
        let local = listener.local_addr().map_err(bind_error)?;
        Ok(Listener {
            listener,
            addr: local,
            settings,
            tls: None,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves HTTPS: each connection's handshake uses the acceptor `tls` returns then (so a
    /// reloaded certificate applies to the next connection), within the header timeout.
    pub fn with_tls(mut self, tls: TlsSource) -> Listener {
        self.tls = Some(tls);
        self
    }

    /// Accepts connections and serves each with `handler` until `shutdown` is cancelled; then
    /// stops accepting, lets every connection finish its response in flight (streams end as
    /// the handler's bodies end) and waits for them, at most 5 s.
    pub async fn serve<H>(self, handler: Arc<H>, shutdown: CancellationToken)
    where
        H: Handler,
        H::Body: Body + Send + 'static,
        <H::Body as Body>::Data: Send,
        <H::Body as Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let Listener {
            listener,
            settings,
            tls,
            ..
        } = self;
        // Every connection task, so that shutdown can wait for them.
        let connections = TaskTracker::new();
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(settings.header_read_timeout)
            .max_buf_size(settings.max_header_size.max(8192))
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
            let conn = Arc::new(handler.accepted(&stream));
            let acceptor = tls.as_ref().map(|tls| tls());
            let (handler, builder, shutdown) = (handler.clone(), builder.clone(), shutdown.clone());
            // Each connection's logs (a viewer's tier switches, its pacing) carry its peer. A
            // debug span: off by default, it costs the viewer path nothing per poll.
            let span = tracing::debug_span!("connection", %peer);
            let connection = async move {
                // TLS (when configured) sits above the timed socket, so the write timeout and
                // the handler (which may read the raw socket's state) see the bytes on the wire.
                let mut io = TimeoutStream::new(stream);
                io.set_write_timeout(Some(settings.write_timeout));
                let io = Box::pin(io);
                let Some(acceptor) = acceptor else {
                    let io = TokioIo::new(io);
                    return serve_connection(builder, io, handler, conn, peer, shutdown).await;
                };
                let handshake =
                    tokio::time::timeout(settings.header_read_timeout, acceptor.accept(io));
                match handshake.await {
                    Ok(Ok(tls)) => {
                        let io = TokioIo::new(tls);
                        serve_connection(builder, io, handler, conn, peer, shutdown).await
                    }
                    Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                }
            };
            connections.spawn(connection.instrument(span));
        }
        drop(listener);
        tracing::info!("shutting down: no new connections, ending streams");
        connections.close();
        if tokio::time::timeout(DRAIN, connections.wait())
            .await
            .is_err()
        {
            tracing::warn!("some connections did not close within 5 s");
        }
    }
}

/// Serves one connection (plain or TLS) until it ends or the server shuts down.
async fn serve_connection<H, I>(
    builder: http1::Builder,
    io: I,
    handler: Arc<H>,
    conn: Arc<H::Conn>,
    peer: SocketAddr,
    shutdown: CancellationToken,
) where
    H: Handler,
    H::Body: Body + Send + 'static,
    <H::Body as Body>::Data: Send,
    <H::Body as Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = {
        let (handler, conn) = (handler.clone(), conn.clone());
        service_fn(move |request| {
            let response = handler.clone().call(conn.clone(), request);
            async move { Ok::<_, std::convert::Infallible>(response.await) }
        })
    };
    let connection = builder.serve_connection(io, service).with_upgrades();
    tokio::pin!(connection);
    let mut shutdown = ShutdownWatch::new(shutdown);
    let mut draining = false;
    let result = std::future::poll_fn(|cx| {
        if !draining && shutdown.poll_cancelled(cx).is_ready() {
            // Finish the response in flight; streams end as their bodies end.
            connection.as_mut().graceful_shutdown();
            draining = true;
        }
        connection.as_mut().poll(cx)
    })
    .await;
    if let Err(error) = result {
        let ended = Ended::of(&error);
        ended.log(peer, &error);
        if ended == Ended::WriteTimedOut {
            handler.evicted(&conn, peer);
        }
    }
}
