//! The accept loop of an HTTP/1.1 server whose responses are long-lived streams (MJPEG,
//! WebSocket, server-sent events), on hyper.
//!
//! What it does for every connection, so that the server's handler only answers requests:
//! - a **header timeout** (a client that opens a socket and sends nothing is closed) and a cap
//!   on the request head's size;
//! - a **write timeout** on the socket: a peer that accepts no bytes for that long (a viewer
//!   that stopped reading) is closed and reported to [`Handler::evicted`];
//! - optional **TLS** with a per-connection acceptor (certificates can be reloaded), the
//!   handshake bounded by the header timeout;
//! - a per-connection value made by [`Handler::accepted`] from the raw socket (socket tuning,
//!   the file descriptor for `TCP_INFO`), handed to every request on that connection;
//! - HTTP upgrades (WebSocket) and vectored writes;
//! - a **graceful drain**: on shutdown it stops accepting, lets responses in flight finish and
//!   waits for the connections, at most 5 s.
//!
//! ```
//! use std::sync::Arc;
//! use http_listener::{Handler, Listener, Settings};
//! use hyper::{body::Incoming, Request, Response};
//!
//! struct Hello;
//!
//! impl Handler for Hello {
//!     type Conn = ();
//!     type Body = String;
//!     fn accepted(&self, _stream: &tokio::net::TcpStream) {}
//!     async fn call(self: Arc<Self>, _conn: Arc<()>, _req: Request<Incoming>) -> Response<String> {
//!         Response::new("hello\n".to_owned())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), http_listener::ListenError> {
//! let listener = Listener::bind("127.0.0.1:0".parse().unwrap(), Settings::default()).await?;
//! println!("curl http://{}/", listener.local_addr());
//! let shutdown = tokio_util::sync::CancellationToken::new();
//! let server = tokio::spawn(listener.serve(Arc::new(Hello), shutdown.clone()));
//! shutdown.cancel(); // on Ctrl-C, say: stops accepting, drains open connections
//! server.await.expect("the server task ends");
//! # Ok(()) }
//! ```

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::{Request, Response};

mod ended;
mod error;
mod listener;
mod shutdown_watch;

pub use ended::Ended;
pub use error::{ErrorKind, ListenError};
pub use listener::Listener;

/// Hands out the TLS acceptor for a new connection.
pub type TlsSource = Arc<dyn Fn() -> tokio_rustls::TlsAcceptor + Send + Sync>;

/// Timeouts and limits of every connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// How long a client may take to send its request head (and the TLS handshake).
    pub header_read_timeout: Duration,
    /// Largest request head accepted, in bytes (at least 8 KiB is used).
    pub max_header_size: usize,
    /// How long a write may wait for the peer to accept bytes before the connection is closed.
    pub write_timeout: Duration,
}

impl Default for Settings {
    /// 10 s for the head, 16 KiB heads, 30 s for a write.
    fn default() -> Self {
        Settings {
            header_read_timeout: Duration::from_secs(10),
            max_header_size: 16 * 1024,
            write_timeout: Duration::from_secs(30),
        }
    }
}

/// What a server does with its connections.
pub trait Handler: Send + Sync + 'static {
    /// What the handler keeps about one connection, shared by its requests.
    type Conn: Send + Sync + 'static;
    /// The response body type.
    type Body;

    /// Called with each accepted socket, before any byte is read: tune it, remember its file
    /// descriptor.
    fn accepted(&self, stream: &tokio::net::TcpStream) -> Self::Conn;

    /// Answers one request on connection `conn`.
    fn call(
        self: Arc<Self>,
        conn: Arc<Self::Conn>,
        request: Request<Incoming>,
    ) -> impl Future<Output = Response<Self::Body>> + Send;

    /// Called when connection `conn` from `peer` was closed because its peer accepted no bytes
    /// for the write timeout (a viewer that stopped reading). Does nothing by default.
    fn evicted(&self, conn: &Self::Conn, peer: SocketAddr) {
        let _ = (conn, peer);
    }
}
