//! The reconnect loop behind [`crate::FrameStream`]: connect, read, back off, repeat.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::{Instant, Interval, MissedTickBehavior};

use crate::http::Connection;
use crate::snapshot::capture;
use crate::status::LastError;
use crate::stream_session::{Read, StreamSession};
use crate::target::Target;
use crate::{
    CameraFrame, Demand, ErrorContext, SourceConfig, SourceError, SourceKind, SourceState,
    StatusHandle,
};

/// While a long backoff runs for nobody: how often the runner looks whether someone waits now.
const DEMAND_CHECK: Duration = Duration::from_millis(250);

/// Owns the upstream connection of one frame stream. Dropping it closes the connection and
/// marks the source `Stopped`.
pub(crate) struct Runner {
    /// The camera's configuration, shared with [`crate::Source`].
    config: Arc<SourceConfig>,
    /// The validated URL.
    target: Arc<Target>,
    /// Where state and counters are published.
    status: StatusHandle,
    /// Whether someone waits for frames: steady retries, or exponential backoff.
    demand: Demand,
    /// Failures since the last delivered frame: drives the backoff and the attempt number.
    failures: u32,
    /// Whether the last failure was an answer that would repeat (exponential backoff).
    persistent: bool,
    /// When this runner last delivered a frame.
    last_frame: Option<std::time::Instant>,
    /// During an outage: when frames stopped.
    down_since: Option<std::time::Instant>,
    /// During an outage: when the camera first accepted a connection again.
    answered_at: Option<std::time::Instant>,
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
        demand: Demand,
    ) -> Self {
        Runner {
            config,
            target,
            status,
            demand,
            failures: 0,
            persistent: false,
            last_frame: None,
            down_since: None,
            answered_at: None,
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
                Ok(Read::Corrupt(error)) => {
                    tracing::warn!(%error, "skipped corrupt frame");
                    let last = LastError::new(&error);
                    self.status.update(|s| {
                        s.corrupt_frames += 1;
                        s.last_error = Some(last);
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
                self.accepted();
                let session =
                    StreamSession::open(connection, &self.target, &self.config, ctx, deadline)
                        .await?;
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
                self.accepted();
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
            self.back_off(attempt).await;
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

    /// Sleeps before retry `attempt` (the first retry is attempt 2): the steady interval while
    /// someone waits and the failure may go away by itself, else exponential backoff. While a
    /// long delay runs for nobody, the demand is looked at every [`DEMAND_CHECK`]: someone who
    /// arrives cuts the delay to the steady interval (counted from the failure).
    async fn back_off(&mut self, attempt: u32) {
        let backoff = &self.config.backoff;
        let retry = self.failures - 1;
        let failed_at = Instant::now();
        let mut watched = self.demand.is_waiting();
        let delay = backoff.retry_delay(retry, self.persistent || !watched);
        let mut retry_at = failed_at + delay;
        self.publish_backing_off(attempt, retry_at);
        tracing::info!(
            attempt,
            delay_ms = delay.as_millis() as u64,
            persistent = self.persistent,
            watched,
            "backing off"
        );
        loop {
            if watched || self.persistent {
                tokio::time::sleep_until(retry_at).await;
                return;
            }
            let look = retry_at.min(Instant::now() + DEMAND_CHECK);
            tokio::time::sleep_until(look).await;
            if look >= retry_at {
                return;
            }
            if self.demand.is_waiting() {
                watched = true;
                let steady = failed_at + backoff.retry_delay(retry, false);
                if steady < retry_at {
                    retry_at = steady;
                    self.publish_backing_off(attempt, retry_at);
                    tracing::info!(attempt, "someone waits: retrying at the steady interval");
                }
            }
        }
    }

    fn publish_backing_off(&self, attempt: u32, retry_at: Instant) {
        self.status.update(|s| {
            s.state = SourceState::BackingOff {
                attempt,
                retry_at: retry_at.into_std(),
            }
        });
    }

    /// The camera accepted a TCP connection: during an outage the way back starts here.
    fn accepted(&mut self) {
        if self.down_since.is_some() && self.answered_at.is_none() {
            self.answered_at = Some(std::time::Instant::now());
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
        self.persistent = false;
        let at = frame.received_at;
        self.last_frame = Some(at);
        let outage = self.down_since.take().map(|since| {
            let answered = self.answered_at.take().unwrap_or(at);
            (
                at.saturating_duration_since(since),
                at.saturating_duration_since(answered),
            )
        });
        if let Some((down, back)) = outage {
            tracing::info!(
                outage_ms = down.as_millis() as u64,
                recovery_ms = back.as_millis() as u64,
                "frames again after an outage"
            );
        }
        let len = frame.jpeg.len() as u64;
        self.status.update(|s| {
            if let Some((down, back)) = outage {
                s.down_since = None;
                s.last_outage = Some(down);
                s.last_recovery = Some(back);
                s.outages += 1;
            }
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
        self.persistent = error.is_persistent();
        self.snapshot_connection = None;
        let last = LastError::new(&error);
        tracing::warn!(error = %last.message, kind = error.kind().name(), "camera source error");
        let down_since = *self
            .down_since
            .get_or_insert_with(|| self.last_frame.unwrap_or(last.at));
        self.status.update(|s| {
            s.last_error = Some(last);
            s.down_since = Some(down_since);
        });
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        self.status.update(|s| {
            s.state = SourceState::Stopped;
            s.down_since = None;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::with_causes;

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

    /// A refused port, then `frames` polled for `for_secs` of paused time.
    async fn poll_for(url: String, for_secs: u64) -> crate::SourceStatus {
        use futures_util::StreamExt;
        let source = crate::Source::new(SourceConfig::stream("cam", url)).expect("valid URL");
        let status = source.status();
        let mut frames = source.frames();
        let polled = tokio::time::timeout(Duration::from_secs(for_secs), frames.next()).await;
        assert!(polled.is_err(), "no frame expected");
        status.snapshot()
    }

    #[tokio::test(start_paused = true)]
    async fn a_camera_that_is_down_is_retried_at_the_steady_interval() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        drop(listener);
        let status = poll_for(format!("http://{addr}/stream"), 10).await;
        // 350 ms ± 25 % between attempts, never longer however long it is down: 22 to 38
        // retries in 10 s (exponential backoff would make 4).
        assert!((20..=40).contains(&status.reconnects), "{status:?}");
        let error = status.last_error.expect("an error");
        assert_eq!(error.kind, crate::ErrorKind::Connect);
        assert!(!error.persistent);
        assert!(status.down_since.is_some());
        // Between attempts, or in the next one: the paused clock may jump to the end of the
        // 10 s while a real connect waits for the kernel's answer (seen once under the full
        // test suite's load).
        assert!(
            matches!(
                status.state,
                SourceState::BackingOff { .. } | SourceState::Connecting { .. }
            ),
            "{:?}",
            status.state
        );
        assert!(status.state.attempt() > Some(20), "{:?}", status.state);
    }

    /// A port nothing listens on.
    fn refused_url() -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        drop(listener);
        format!("http://{addr}/stream")
    }

    /// A frame stream of a refused port whose demand is `waiting`, and its status.
    fn watched_by(
        waiting: &Arc<std::sync::atomic::AtomicBool>,
    ) -> (crate::FrameStream, StatusHandle) {
        let source =
            crate::Source::new(SourceConfig::stream("cam", refused_url())).expect("valid URL");
        let waiting = waiting.clone();
        let demand = Demand::from_fn(move || waiting.load(std::sync::atomic::Ordering::Relaxed));
        (source.frames_with(demand), source.status())
    }

    /// Polls `frames` for `secs` of (paused) time; no frame may come.
    async fn poll(frames: &mut crate::FrameStream, secs: f64) {
        use futures_util::StreamExt;
        let polled = tokio::time::timeout(Duration::from_secs_f64(secs), frames.next()).await;
        assert!(polled.is_err(), "no frame expected");
    }

    #[tokio::test(start_paused = true)]
    async fn nobody_waiting_backs_off_exponentially_until_someone_arrives() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let waiting = Arc::new(AtomicBool::new(false));
        let (mut frames, status) = watched_by(&waiting);
        poll(&mut frames, 20.0).await;
        // Retries after about 0.5, 1, 2, 4 and 8 s (±25 %, at 0.5 .. 15.5 s): 4 to 6 in 20 s,
        // where the steady interval would make about 57.
        let quiet = status.snapshot();
        assert!((4..=6).contains(&quiet.reconnects), "{quiet:?}");
        let SourceState::BackingOff { retry_at, .. } = quiet.state else {
            panic!("backing off expected: {quiet:?}");
        };
        // The next delay is 8 or 16 s: well beyond the steady interval.
        let in_a_second = (Instant::now() + Duration::from_secs(1)).into_std();
        assert!(retry_at > in_a_second, "{quiet:?}");
        assert!(!quiet.last_error.as_ref().expect("an error").persistent);

        // A viewer arrives: the long delay is cut short within 250 ms.
        waiting.store(true, Ordering::Relaxed);
        poll(&mut frames, 0.3).await;
        let arrived = status.snapshot();
        // (A second retry may follow 262 ms after a first one right at the change.)
        let cut_short = arrived.reconnects - quiet.reconnects;
        assert!((1..=2).contains(&cut_short), "{quiet:?} -> {arrived:?}");
        // From then on the steady interval: 22 to 38 retries in 10 s.
        poll(&mut frames, 10.0).await;
        let steady = status.snapshot();
        assert!(
            (20..=40).contains(&(steady.reconnects - arrived.reconnects)),
            "{arrived:?} -> {steady:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn retries_slow_down_once_nobody_waits() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let waiting = Arc::new(AtomicBool::new(true));
        let (mut frames, status) = watched_by(&waiting);
        poll(&mut frames, 5.0).await;
        let watched = status.snapshot();
        // 350 ms ± 25 %: 11 to 19 retries in 5 s.
        assert!((10..=20).contains(&watched.reconnects), "{watched:?}");
        // The last viewer leaves: after the retry already scheduled, the delay is that of the
        // retry count so far, i.e. the cap (30 s ± 25 %).
        waiting.store(false, Ordering::Relaxed);
        poll(&mut frames, 20.0).await;
        let quiet = status.snapshot();
        assert!(
            quiet.reconnects - watched.reconnects <= 1,
            "{watched:?} -> {quiet:?}"
        );
        let SourceState::BackingOff { retry_at, .. } = quiet.state else {
            panic!("backing off expected: {quiet:?}");
        };
        // That retry came at about 5.3 s, the next one is 22.5 s or more after it.
        let in_two_seconds = (Instant::now() + Duration::from_secs(2)).into_std();
        assert!(retry_at > in_two_seconds, "{quiet:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_404_backs_off_exponentially() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let _ = stream.read(&mut [0u8; 1024]).await;
                let reply = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
                let _ = stream.write_all(reply).await;
            }
        });
        let status = poll_for(format!("http://{addr}/stream"), 10).await;
        // Retries after about 0.5, 1, 2 and 4 s (±25 %): 3 or 4 in 10 s.
        assert!((2..=5).contains(&status.reconnects), "{status:?}");
        let error = status.last_error.expect("an error");
        assert_eq!(error.kind, crate::ErrorKind::Status);
        assert!(error.persistent);
    }
}
