//! WebSocket viewers on the same path as MJPEG viewers: per frame an optional text message
//! (say, JSON metadata) then the JPEG as one binary message, both written with **one** vectored
//! write of `[text header, text, binary header, shared JPEG]`: the JPEG is never copied per
//! viewer. Pacing and the age bound come with the [`PacedViewer`].
//!
//! The handshake (`Sec-WebSocket-Accept`) is the application's (hyper's upgrade plus, say,
//! `tungstenite::handshake::derive_accept_key`); [`serve`] runs on the upgraded connection. It
//! answers pings and the closing handshake, pings the client itself, refuses unmasked or
//! malformed frames, binary messages and messages over [`WsConfig::max_message`] with a close
//! frame, and ignores text messages (they only show the client is alive).

pub mod codec;

use std::io::IoSlice;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use crate::error::{Error, ErrorKind};
use crate::frame::Frame;
use crate::pacing::PacedViewer;
use crate::source::FrameSource;
use crate::tiered::TieredViewer;
use codec::{close_code, close_payload, Header, OpCode};
use quality_tiers::Tier;

/// Settings of a WebSocket viewer.
#[derive(Debug, Clone)]
pub struct WsConfig {
    /// A viewer that accepts no bytes of a frame for this long is evicted.
    pub write_timeout: Duration,
    /// How often the server pings.
    pub ping_every: Duration,
    /// A client that sent nothing (pongs included) for this long is gone.
    pub pong_timeout: Duration,
    /// Largest frame a client may send (it has nothing to say beyond small control text).
    pub max_message: usize,
}

impl Default for WsConfig {
    fn default() -> Self {
        WsConfig {
            write_timeout: Duration::from_secs(10),
            ping_every: Duration::from_secs(15),
            pong_timeout: Duration::from_secs(45),
            max_message: 4 * 1024,
        }
    }
}

enum Event<M> {
    Frame(Option<std::sync::Arc<Frame<M>>>),
    Read(std::io::Result<usize>),
    Ping,
}

/// Serves `viewer` on the upgraded connection `io` until the broadcast ends (`Ok`, after a
/// close frame), the client closes (`Ok`) or something fails. `text` gives the text message
/// sent before each frame's JPEG (empty: none). A viewer evicted for the write timeout is
/// counted on its [`ViewerCounters`](crate::ViewerCounters).
pub async fn serve<S, M>(
    io: S,
    viewer: PacedViewer<M>,
    mut text: impl FnMut(&Frame<M>) -> Bytes,
    config: &WsConfig,
) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    serve_source(io, viewer, |frame, _| text(frame), config).await
}

/// [`serve`] for a viewer on its camera's quality tiers: `text` also gets the tier each frame
/// is sent at, to say it in the text message (as `X-Quality` says it in an MJPEG part head).
pub async fn serve_tiered<S, M>(
    io: S,
    viewer: TieredViewer<M>,
    text: impl FnMut(&Frame<M>, Tier) -> Bytes,
    config: &WsConfig,
) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    M: Clone + Send + Sync + 'static,
{
    serve_source(io, viewer, text, config).await
}

/// [`serve`] for any frame source; `text` gets each frame and the tier it is sent at.
pub async fn serve_source<S, M, V>(
    mut io: S,
    mut viewer: V,
    mut text: impl FnMut(&Frame<M>, Tier) -> Bytes,
    config: &WsConfig,
) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    V: FrameSource<M>,
{
    let mut incoming = BytesMut::with_capacity(256);
    let mut ping = tokio::time::interval(config.ping_every);
    ping.reset();
    let mut last_heard = Instant::now();
    let (code, reason, error) = loop {
        let event = tokio::select! {
            frame = std::future::poll_fn(|cx| viewer.poll_next_frame(cx)) => Event::Frame(frame),
            read = io.read_buf(&mut incoming) => Event::Read(read),
            _ = ping.tick() => Event::Ping,
        };
        match event {
            Event::Frame(None) => break (close_code::AWAY, "relay shutting down", None),
            Event::Frame(Some(frame)) => {
                let meta = text(&frame, viewer.tier());
                let meta_header = Header::new(OpCode::Text, meta.len());
                let jpeg_header = Header::new(OpCode::Binary, frame.jpeg.len());
                let parts: [&[u8]; 4] = if meta.is_empty() {
                    [jpeg_header.as_slice(), &frame.jpeg, &[], &[]]
                } else {
                    [
                        meta_header.as_slice(),
                        &meta,
                        jpeg_header.as_slice(),
                        &frame.jpeg,
                    ]
                };
                let written = write_all(&mut io, &parts, config.write_timeout).await;
                if let Err(error) = written {
                    if error.kind() == ErrorKind::WriteTimeout {
                        viewer.counters().evicted();
                    }
                    return Err(error);
                }
            }
            Event::Read(Ok(0)) => return Ok(()),
            Event::Read(Ok(_)) => {
                last_heard = Instant::now();
                match answer(&mut io, &mut incoming, config).await {
                    Ok(true) => {}
                    Ok(false) => return Ok(()),
                    Err(error) => {
                        let code = match error {
                            Error::TooBig(_) => close_code::TOO_BIG,
                            Error::Unsupported => close_code::UNSUPPORTED,
                            _ => close_code::PROTOCOL,
                        };
                        break (code, "bad message", Some(error));
                    }
                }
            }
            Event::Read(Err(error)) => return Err(error.into()),
            Event::Ping => {
                if last_heard.elapsed() > config.pong_timeout {
                    break (close_code::AWAY, "ping timeout", Some(Error::PingTimeout));
                }
                let header = Header::new(OpCode::Ping, 0);
                write_all(&mut io, &[header.as_slice()], config.write_timeout).await?;
            }
        }
    };
    let payload = close_payload(code, reason);
    let header = Header::new(OpCode::Close, payload.len());
    let _ = write_all(
        &mut io,
        &[header.as_slice(), &payload],
        Duration::from_secs(1),
    )
    .await;
    error.map_or(Ok(()), Err)
}

/// Handles every whole frame the client sent: `false` once it closed (after the answer).
async fn answer<S>(io: &mut S, incoming: &mut BytesMut, config: &WsConfig) -> Result<bool, Error>
where
    S: AsyncWrite + Unpin,
{
    while let Some(frame) = codec::parse(incoming, config.max_message)? {
        match frame.opcode {
            OpCode::Ping => {
                let header = Header::new(OpCode::Pong, frame.payload.len());
                write_all(
                    io,
                    &[header.as_slice(), &frame.payload],
                    config.write_timeout,
                )
                .await?;
            }
            OpCode::Close => {
                // Echo the client's code (RFC 6455 5.5.1); a bare close gets a bare close.
                let code = frame.payload.get(..2).unwrap_or_default();
                let header = Header::new(OpCode::Close, code.len());
                let _ = write_all(io, &[header.as_slice(), code], config.write_timeout).await;
                return Ok(false);
            }
            OpCode::Binary => return Err(Error::Unsupported),
            OpCode::Text | OpCode::Continuation | OpCode::Pong => {}
        }
    }
    Ok(true)
}

/// Writes `parts` whole with vectored writes (one, unless the socket takes less), within
/// `timeout`.
async fn write_all<S>(io: &mut S, parts: &[&[u8]], timeout: Duration) -> Result<(), Error>
where
    S: AsyncWrite + Unpin,
{
    let write = async {
        let mut storage = [IoSlice::new(&[]); 4];
        let mut count = 0;
        for part in parts.iter().filter(|p| !p.is_empty()).take(storage.len()) {
            storage[count] = IoSlice::new(part);
            count += 1;
        }
        let mut slices = &mut storage[..count];
        while !slices.is_empty() {
            let n = io.write_vectored(slices).await?;
            if n == 0 {
                return Err(std::io::Error::from(std::io::ErrorKind::WriteZero));
            }
            IoSlice::advance_slices(&mut slices, n);
        }
        io.flush().await
    };
    match tokio::time::timeout(timeout, write).await {
        Ok(result) => Ok(result?),
        Err(_) => Err(Error::WriteTimeout),
    }
}

#[cfg(test)]
mod tests;
