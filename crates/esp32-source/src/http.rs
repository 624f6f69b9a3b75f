//! One HTTP/1.1 connection to a camera: a plain `TcpStream` plus hyper's client handshake, so
//! a source holds exactly one upstream connection and closes it the moment it is dropped.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper::header::{HeaderMap, CONTENT_LENGTH, CONTENT_TYPE, HOST, LOCATION, USER_AGENT};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio::time::{timeout_at, Instant};

use crate::target::Target;
use crate::{ErrorContext, SourceError};

/// Default of [`crate::SourceConfig::max_read_buffer`].
pub(crate) const DEFAULT_READ_BUFFER: usize = 256 * 1024;

/// hyper refuses read buffers below this.
const MIN_READ_BUFFER: usize = 8 * 1024;

/// Most header lines accepted in a response head.
const MAX_RESPONSE_HEADERS: usize = 64;

const CLIENT_NAME: &str = concat!("camrelay-esp32-source/", env!("CARGO_PKG_VERSION"));

/// Aborts the task when dropped: the connection driver owns the socket, so aborting it closes
/// the TCP connection even if a response body is still being read elsewhere.
#[derive(Debug)]
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// An open connection: the request sender and the task driving the socket.
pub(crate) struct Connection {
    /// Sends requests; hyper answers them one at a time on this socket.
    sender: http1::SendRequest<Empty<Bytes>>,
    /// The task that reads and writes the socket; aborted (socket closed) when this drops.
    _driver: AbortOnDrop,
}

impl Connection {
    /// Opens a TCP connection and performs the HTTP/1.1 handshake, before `deadline`.
    /// `read_buffer` caps hyper's read buffer and with it the response head.
    pub(crate) async fn open(
        target: &Target,
        ctx: &ErrorContext,
        deadline: Instant,
        limit: std::time::Duration,
        read_buffer: usize,
    ) -> Result<Connection, SourceError> {
        let connect = TcpStream::connect((target.host.as_str(), target.port));
        let tcp = timeout_at(deadline, connect)
            .await
            .map_err(|_| SourceError::Timeout {
                ctx: ctx.clone(),
                stage: "connecting",
                after: limit,
            })?
            .map_err(|source| SourceError::Connect {
                ctx: ctx.clone(),
                source,
            })?;
        // Frames are small writes of requests only; latency matters more than batching.
        let _ = tcp.set_nodelay(true);
        let (sender, connection) = http1::Builder::new()
            .max_buf_size(read_buffer.max(MIN_READ_BUFFER))
            .max_headers(MAX_RESPONSE_HEADERS)
            .handshake(TokioIo::new(tcp))
            .await
            .map_err(|source| SourceError::Http {
                ctx: ctx.clone(),
                source,
            })?;
        let camera = ctx.camera.clone();
        let driver = tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(camera = %camera, %error, "camera connection ended");
            }
        });
        Ok(Connection {
            sender,
            _driver: AbortOnDrop(driver),
        })
    }

    /// Whether the camera closed this connection (then a new one is needed).
    pub(crate) fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }

    /// Sends `GET target.path` and waits for the response head until `deadline`; checks the
    /// status (redirects and non-2xx become errors).
    pub(crate) async fn get(
        &mut self,
        target: &Target,
        ctx: &ErrorContext,
        deadline: Instant,
        limit: std::time::Duration,
    ) -> Result<Response<Incoming>, SourceError> {
        let http_error = |source| SourceError::Http {
            ctx: ctx.clone(),
            source,
        };
        let timed_out = |_| SourceError::Timeout {
            ctx: ctx.clone(),
            stage: "waiting for the response head",
            after: limit,
        };
        timeout_at(deadline, self.sender.ready())
            .await
            .map_err(timed_out)?
            .map_err(http_error)?;
        let request = Request::get(target.path.as_str())
            .header(HOST, target.authority.as_str())
            .header(USER_AGENT, CLIENT_NAME)
            .body(Empty::new())
            .map_err(|e| SourceError::InvalidResponse {
                ctx: ctx.clone(),
                reason: format!("cannot build the request: {e}"),
            })?;
        let response = timeout_at(deadline, self.sender.send_request(request))
            .await
            .map_err(timed_out)?
            .map_err(http_error)?;
        check_status(response, ctx)
    }
}

/// Turns redirects and non-success statuses into errors; passes 2xx through.
fn check_status(
    response: Response<Incoming>,
    ctx: &ErrorContext,
) -> Result<Response<Incoming>, SourceError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    if status.is_redirection() {
        let location = response
            .headers()
            .get(LOCATION)
            .map(|v| shorten(&String::from_utf8_lossy(v.as_bytes())))
            .unwrap_or_else(|| "(none)".to_owned());
        return Err(SourceError::Redirect {
            ctx: ctx.clone(),
            status: status.as_u16(),
            location,
        });
    }
    Err(SourceError::Status {
        ctx: ctx.clone(),
        status: status.as_u16(),
    })
}

/// Header text fit for logs: at most 200 characters, control characters replaced.
pub(crate) fn shorten(text: &str) -> String {
    const MAX: usize = 200;
    let mut out: String = text
        .chars()
        .take(MAX)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if text.chars().count() > MAX {
        out.push('…');
    }
    out
}

/// The `Content-Type` header as text, if present and valid.
pub(crate) fn content_type(headers: &HeaderMap) -> Option<&str> {
    headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok())
}

/// The media type of a `Content-Type` value, lower-case, without parameters.
pub(crate) fn mime_essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Reads a whole (small) body: at most `max` bytes, before `deadline`.
pub(crate) async fn read_body(
    response: Response<Incoming>,
    max: usize,
    ctx: &ErrorContext,
    deadline: Instant,
    limit: std::time::Duration,
) -> Result<(hyper::http::response::Parts, Bytes), SourceError> {
    let (parts, body) = response.into_parts();
    let announced = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|len| len > max as u64) {
        return Err(SourceError::TooLarge {
            ctx: ctx.clone(),
            limit: max,
        });
    }
    let collected = timeout_at(deadline, Limited::new(body, max).collect())
        .await
        .map_err(|_| SourceError::Timeout {
            ctx: ctx.clone(),
            stage: "reading the response body",
            after: limit,
        })?;
    match collected {
        Ok(collected) => Ok((parts, collected.to_bytes())),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => {
            Err(SourceError::TooLarge {
                ctx: ctx.clone(),
                limit: max,
            })
        }
        Err(error) => match error.downcast::<hyper::Error>() {
            Ok(source) => Err(SourceError::Http {
                ctx: ctx.clone(),
                source: *source,
            }),
            Err(other) => Err(SourceError::InvalidResponse {
                ctx: ctx.clone(),
                reason: other.to_string(),
            }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shorten_caps_length_and_strips_control_characters() {
        assert_eq!(shorten("http://a/\r\nb"), "http://a/??b");
        let long = "x".repeat(500);
        assert_eq!(shorten(&long).chars().count(), 201);
    }

    #[test]
    fn mime_essence_drops_parameters_and_case() {
        assert_eq!(
            mime_essence("Multipart/X-Mixed-Replace;boundary=abc"),
            "multipart/x-mixed-replace"
        );
        assert_eq!(mime_essence(" text/html "), "text/html");
    }
}
