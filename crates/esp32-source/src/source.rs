//! [`Source`]: one configured camera, and [`FrameStream`]: its frames.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;
use tracing::Instrument;

use crate::runner::Runner;
use crate::target::Target;
use crate::{CameraFrame, Demand, SourceConfig, SourceError, SourceKind, StatusHandle};

/// One camera: its validated configuration and its status.
///
/// A `Source` does nothing by itself; [`Source::frames`] returns the stream that connects.
#[derive(Debug)]
pub struct Source {
    /// Shared with every frame stream of this source.
    config: Arc<SourceConfig>,
    /// The URL, validated once here.
    target: Arc<Target>,
    /// State and counters, written by the frame stream.
    status: StatusHandle,
}

impl Source {
    /// Validates the configuration: the URL must be `http://` with a host and no credentials,
    /// and a snapshot interval must not be zero.
    pub fn new(config: SourceConfig) -> Result<Source, SourceError> {
        let target = Target::parse(&config.url)?;
        if let SourceKind::Snapshot { interval } = config.kind {
            if interval.is_zero() {
                return Err(SourceError::InvalidInput(format!(
                    "camera `{}`: snapshot interval must be greater than zero",
                    config.name
                )));
            }
        }
        Ok(Source {
            config: Arc::new(config),
            target: Arc::new(target),
            status: StatusHandle::new(),
        })
    }

    /// The configuration this source was built with.
    pub fn config(&self) -> &SourceConfig {
        &self.config
    }

    /// A handle on the state and counters, readable from anywhere.
    pub fn status(&self) -> StatusHandle {
        self.status.clone()
    }

    /// The camera's frames, forever.
    ///
    /// Connects on the first poll, reconnects whenever the connection fails, stalls or ends
    /// (steadily while it may come back by itself, with backoff where retrying fast is
    /// pointless; see [`Backoff`](crate::Backoff)), and never yields `None`. Dropping the
    /// stream closes the upstream connection at once and marks the source `stopped`.
    ///
    /// Each call opens its own upstream connection and all share one status: call it once per
    /// source and fan the frames out (many cameras serve a single client).
    ///
    /// Whoever polls the stream counts as waiting for frames; a stream that is kept open for
    /// nobody should be made with [`frames_with`](Source::frames_with).
    pub fn frames(&self) -> FrameStream {
        self.frames_with(Demand::always())
    }

    /// [`frames`](Source::frames), retrying at the steady interval only while `demand` says
    /// someone waits, and with exponential backoff while nobody does (e.g. a relay keeping a
    /// camera open with no viewers and no recording).
    pub fn frames_with(&self, demand: Demand) -> FrameStream {
        let runner = Runner::new(
            self.config.clone(),
            self.target.clone(),
            self.status.clone(),
            demand,
        );
        let span = tracing::info_span!("camera", name = %self.config.name);
        let frames = futures_util::stream::unfold(runner, move |mut runner| {
            async move {
                let frame = runner.next_frame().await;
                Some((frame, runner))
            }
            .instrument(span.clone())
        });
        FrameStream {
            inner: Box::pin(frames),
        }
    }
}

/// The endless stream of a source's frames; see [`Source::frames`].
pub struct FrameStream {
    /// The reconnect loop; dropping it drops the connection.
    inner: Pin<Box<dyn Stream<Item = CameraFrame> + Send>>,
}

impl fmt::Debug for FrameStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameStream").finish_non_exhaustive()
    }
}

impl Stream for FrameStream {
    type Item = CameraFrame;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<CameraFrame>> {
        self.inner.as_mut().poll_next(cx)
    }
}
