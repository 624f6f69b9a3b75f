//! Where a viewer's stream gets its frames: one broadcast ([`PacedViewer`]) or the quality
//! tiers of a camera ([`TieredViewer`](crate::TieredViewer)).

use std::sync::Arc;
use std::task::{Context, Poll};

use quality_tiers::Tier;

use crate::frame::SharedFrame;
use crate::pacing::PacedViewer;
use crate::viewer::ViewerCounters;

/// A stream of frames for one viewer, as [`MjpegBody`](crate::MjpegBody) and
/// [`ws::serve_source`](crate::ws::serve_source) take it.
pub trait FrameSource<M> {
    /// Polls for the next frame to send (`None` once the broadcast ended).
    fn poll_next_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<SharedFrame<M>>>;
    /// The quality tier of the frames it yields now.
    fn tier(&self) -> Tier;
    /// Where the viewer's counts go.
    fn counters(&self) -> &Arc<dyn ViewerCounters>;
}

impl<M> FrameSource<M> for PacedViewer<M> {
    fn poll_next_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<SharedFrame<M>>> {
        self.poll_frame(cx)
    }

    fn tier(&self) -> Tier {
        Tier::Original
    }

    fn counters(&self) -> &Arc<dyn ViewerCounters> {
        self.viewer().counters()
    }
}
