//! The reconnect loop behind [`crate::FrameStream`]: connect, read, back off, repeat.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::{Instant, Interval, MissedTickBehavior};

use crate::http::Connection;
use crate::snapshot::capture;
use crate::stream_session::{Read, StreamSession};
use crate::target::Target;
use crate::{
    CameraFrame, ErrorContext, SourceConfig, SourceError, SourceKind, SourceState, StatusHandle,
};

/// Owns the upstream connection of one frame stream. Dropping it closes the connection and
/// marks the source `Stopped`.
pub(crate) struct Runner {
    /// The camera's configuration, shared with [`crate::Source`].
    config: Arc<SourceConfig>,
    /// The validated URL.
    target: Arc<Target>,
    /// Where state and counters are published.
    status: StatusHandle,
    /// Failures since the last delivered frame: drives the backoff and the attempt number.
    failures: u32,
    /// Whether a connection was ever attempted; every later attempt counts as a reconnect.
    dialled: bool,
    /// Stream sources: the open MJPEG response, if any.
    session: Option<StreamSession>,
    /// Snapshot sources: the kept-alive connection, if any, and its attempt context.
    snapshot_connection: Option<(Connection, ErrorContext)>,
    /// Snapshot sources: the polling clock, created on the first poll.
    snapshot_clock: Option<Interval>,
}

impl Runner {
    pub(crate) fn new(
        config: Arc<SourceConfig>,
        target: Arc<Target>,
        status: StatusHandle,
    ) -> Self {
        Runner {
            config,
            target,
            status,
            failures: 0,
            dialled: false,
            session: None,
            snapshot_connection: None,
            snapshot_clock: None,
        }
    }

    /// The next good frame; reconnects (with backoff) as long as it takes.
    pub(crate) async fn next_frame(&mut self) -> CameraFrame {
        loop {
            let read = match self.config.kind {
                SourceKind::Stream => self.read_stream().await,
                SourceKind::Snapshot { interval } => self.read_snapshot(interval).await,
            };
            match read {
                Ok(Read::Frame(frame)) => {
                    self.deliver(&frame);
                    return frame;
                }
                Ok(Read::Corrupt(reason)) => {
                    tracing::warn!(%reason, "skipped corrupt frame");
                    self.status.update(|s| {
                        s.corrupt_frames += 1;
                        s.last_error = Some(reason);
                    });
                }
                Err(error) => self.fail(error),
            }
        }
    }

    async fn read_stream(&mut self) -> Result<Read, SourceError> {
        let mut session = match self.session.take() {
            Some(session) => session,
            None => {
                let ctx = self.begin_attempt().await;
                let session = StreamSession::open(&self.target, &self.config, ctx).await?;
                tracing::info!(attempt = session.ctx().attempt, "streaming");
                self.connected();
                session
            }
        };
        let read = session.next(self.config.stall_timeout).await;
        if read.is_ok() {
            // Keep the connection only while it works; an error drops (closes) it.
            self.session = Some(session);
        }
        read
    }

    async fn read_snapshot(&mut self, every: Duration) -> Result<Read, SourceError> {
        if self.failures == 0 {
            // Paced by the clock; after a failure the backoff in `begin_attempt` paces instead.
            let clock = self.snapshot_clock.get_or_insert_with(|| {
                let mut clock = tokio::time::interval(every.max(Duration::from_millis(1)));
                clock.set_missed_tick_behavior(MissedTickBehavior::Delay);
                clock
            });
            clock.tick().await;
        }
        // A camera may close the connection after each capture: then just open a new one.
        let reusable = self
            .snapshot_connection
            .take()
            .filter(|(connection, _)| !connection.is_closed());
        let (mut connection, ctx, fresh) = match reusable {
            Some((connection, ctx)) => (connection, ctx, false),
            None => {
                let ctx = self.begin_attempt().await;
                let limit = self.config.connect_timeout;
                let deadline = Instant::now() + limit;
                let connection = Connection::open(
                    &self.target,
                    &ctx,
                    deadline,
                    limit,
                    self.config.max_read_buffer,
                )
                .await?;
                (connection, ctx, true)
            }
        };
        let read = capture(&mut connection, &self.target, &self.config, &ctx).await?;
        if fresh {
            self.connected();
        }
        self.snapshot_connection = Some((connection, ctx));
        Ok(read)
    }

    /// Waits out the backoff (after a failure), publishes `Connecting` and returns the context
    /// for this attempt.
    async fn begin_attempt(&mut self) -> ErrorContext {
        let attempt = self.failures.saturating_add(1);
        if self.failures > 0 {
            let delay = self.config.backoff.delay(self.failures - 1);
            let retry_at = Instant::now() + delay;
            self.status.update(|s| {
                s.state = SourceState::BackingOff {
                    attempt,
                    retry_at: retry_at.into_std(),
                }
            });
            tracing::info!(attempt, delay_ms = delay.as_millis() as u64, "backing off");
            tokio::time::sleep_until(retry_at).await;
            if let Some(clock) = &mut self.snapshot_clock {
                clock.reset();
            }
        }
        let reconnect = std::mem::replace(&mut self.dialled, true);
        self.status.update(|s| {
            s.state = SourceState::Connecting { attempt };
            if reconnect {
                s.reconnects += 1;
            }
        });
        tracing::debug!(attempt, url = %self.target.url, "connecting");
        ErrorContext {
            camera: self.config.name.clone(),
            url: self.target.url.clone(),
            attempt,
        }
    }

    fn connected(&mut self) {
        self.status.update(|s| {
            s.connects += 1;
            s.state = SourceState::Streaming {
                since: std::time::Instant::now(),
            };
        });
    }

    fn deliver(&mut self, frame: &CameraFrame) {
        self.failures = 0;
        let len = frame.jpeg.len() as u64;
        self.status.update(|s| {
            s.frames += 1;
            s.bytes += len;
            s.last_frame_at = Some(frame.received_at);
            if !matches!(s.state, SourceState::Streaming { .. }) {
                s.state = SourceState::Streaming {
                    since: frame.received_at,
                };
            }
        });
    }

    fn fail(&mut self, error: SourceError) {
        self.failures = self.failures.saturating_add(1);
        self.snapshot_connection = None;
        let message = with_causes(&error);
        tracing::warn!(error = %message, kind = ?error.kind(), "camera source error");
        self.status.update(|s| s.last_error = Some(message));
    }
}

/// The error's message followed by its causes (`a: b: c`), skipping causes whose text the
/// message already contains, so the status shows e.g. why an I/O error happened.
fn with_causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        let text = inner.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        cause = inner.source();
    }
    message
}

impl Drop for Runner {
    fn drop(&mut self) {
        self.status.update(|s| s.state = SourceState::Stopped);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_are_appended_once() {
        let ctx = ErrorContext {
            camera: "cam".into(),
            url: "http://x/".into(),
            attempt: 1,
        };
        let error = SourceError::Connect {
            ctx: ctx.clone(),
            source: std::io::Error::other("refused"),
        };
        // Connect's message already contains its source: nothing is repeated.
        assert_eq!(with_causes(&error), error.to_string());
        let error = SourceError::Codec {
            ctx,
            source: mjpeg_codec::CodecError::Io {
                offset: Some(7),
                source: std::io::Error::other("connection reset"),
            },
        };
        let text = with_causes(&error);
        assert!(text.contains("connection reset"), "{text}");
        assert_eq!(text.matches("connection reset").count(), 1, "{text}");
    }
}
