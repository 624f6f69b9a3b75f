//! One camera's recorded frames, as the session sees them: storage-agnostic.

use std::sync::Arc;

/// One recorded frame: its id, its capture time and a cheap handle the caller loads it with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameRef<H> {
    /// The frame id the camera gave it (kept in replay as `X-Frame-Id`).
    pub frame_id: u64,
    /// Capture time, µs since the Unix epoch (kept in replay as `X-Timestamp`).
    pub capture_us: i64,
    /// What the sink needs to get the JPEG: e.g. (segment, offset, size) for a recorder, or the
    /// bytes themselves for frames held in memory. Cloned once per emission, so keep it cheap.
    pub handle: H,
}

/// A recorded span of one camera, both ends inclusive (capture times of its first and last
/// frame, µs since the Unix epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Span {
    /// Capture time of the span's first frame.
    pub start_us: i64,
    /// Capture time of the span's last frame.
    pub end_us: i64,
}

impl Span {
    /// Whether `t_us` lies within the span (ends included).
    pub fn contains(&self, t_us: i64) -> bool {
        (self.start_us..=self.end_us).contains(&t_us)
    }
}

/// One camera's recorded frames, ordered by capture time.
///
/// The session calls these from its driver task while holding its state lock, so they must
/// be quick and must not block on I/O: look up an index held in memory. Loading the JPEG is
/// not part of the trait; the [`crate::Sink`] does it from the frame's
/// [`handle`](FrameRef::handle) (for a file read, inside `spawn_blocking`).
///
/// Capture times within one track are expected to increase strictly; a track may grow while
/// a session reads it (a recorder still recording, the live wall's rings).
pub trait Track: Send + Sync + 'static {
    /// The per-frame handle the sink loads the frame with.
    type Handle: Clone + Send + Sync + 'static;

    /// The newest frame with capture time `<= t_us`.
    fn at_or_before(&self, t_us: i64) -> Option<FrameRef<Self::Handle>>;
    /// The oldest frame with capture time `> t_us` (strictly after).
    fn after(&self, t_us: i64) -> Option<FrameRef<Self::Handle>>;
    /// The newest frame with capture time `< t_us` (strictly before).
    fn before(&self, t_us: i64) -> Option<FrameRef<Self::Handle>>;
    /// The recorded spans, oldest first.
    fn spans(&self) -> Vec<Span>;
}

impl<T: Track> Track for Arc<T> {
    type Handle = T::Handle;
    fn at_or_before(&self, t_us: i64) -> Option<FrameRef<T::Handle>> {
        (**self).at_or_before(t_us)
    }
    fn after(&self, t_us: i64) -> Option<FrameRef<T::Handle>> {
        (**self).after(t_us)
    }
    fn before(&self, t_us: i64) -> Option<FrameRef<T::Handle>> {
        (**self).before(t_us)
    }
    fn spans(&self) -> Vec<Span> {
        (**self).spans()
    }
}

/// A [`Track`] over frames held in a `Vec`, for tests and examples (and anything small).
///
/// Spans are cut where two frames are more than `span_gap_us` apart (default 2 s).
#[derive(Debug, Clone)]
pub struct MemoryTrack<H> {
    frames: Vec<FrameRef<H>>,
    span_gap_us: i64,
}

impl<H: Clone + Send + Sync + 'static> MemoryTrack<H> {
    /// A track of `frames` (sorted here by capture time; frames with a capture time already
    /// present are dropped).
    pub fn new(mut frames: Vec<FrameRef<H>>) -> MemoryTrack<H> {
        frames.sort_by_key(|f| f.capture_us);
        frames.dedup_by_key(|f| f.capture_us);
        MemoryTrack {
            frames,
            span_gap_us: 2_000_000,
        }
    }

    /// Sets the gap (µs) above which two frames belong to different spans.
    pub fn with_span_gap_us(mut self, span_gap_us: i64) -> MemoryTrack<H> {
        self.span_gap_us = span_gap_us;
        self
    }

    /// The frames, oldest first.
    pub fn frames(&self) -> &[FrameRef<H>] {
        &self.frames
    }
}

impl MemoryTrack<u64> {
    /// Frames `first_id..first_id + count` every `period_us` from `start_us`, with the frame
    /// id as handle: the usual test camera.
    pub fn regular(first_id: u64, start_us: i64, period_us: i64, count: usize) -> MemoryTrack<u64> {
        MemoryTrack::new(
            (0..count as u64)
                .map(|i| FrameRef {
                    frame_id: first_id + i,
                    capture_us: start_us + i as i64 * period_us,
                    handle: first_id + i,
                })
                .collect(),
        )
    }
}

impl<H: Clone + Send + Sync + 'static> Track for MemoryTrack<H> {
    type Handle = H;

    fn at_or_before(&self, t_us: i64) -> Option<FrameRef<H>> {
        let n = self.frames.partition_point(|f| f.capture_us <= t_us);
        n.checked_sub(1).and_then(|i| self.frames.get(i)).cloned()
    }

    fn after(&self, t_us: i64) -> Option<FrameRef<H>> {
        let n = self.frames.partition_point(|f| f.capture_us <= t_us);
        self.frames.get(n).cloned()
    }

    fn before(&self, t_us: i64) -> Option<FrameRef<H>> {
        let n = self.frames.partition_point(|f| f.capture_us < t_us);
        n.checked_sub(1).and_then(|i| self.frames.get(i)).cloned()
    }

    fn spans(&self) -> Vec<Span> {
        let mut spans: Vec<Span> = Vec::new();
        for f in &self.frames {
            match spans.last_mut() {
                Some(s) if f.capture_us - s.end_us <= self.span_gap_us => s.end_us = f.capture_us,
                _ => spans.push(Span {
                    start_us: f.capture_us,
                    end_us: f.capture_us,
                }),
            }
        }
        spans
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_and_spans() {
        let mut frames = MemoryTrack::<u64>::regular(1, 1000, 100, 3)
            .frames()
            .to_vec();
        frames.push(FrameRef {
            frame_id: 9,
            capture_us: 10_000_000,
            handle: 9,
        });
        let t = MemoryTrack::new(frames);
        assert_eq!(t.at_or_before(999), None);
        assert_eq!(t.at_or_before(1000).map(|f| f.frame_id), Some(1));
        assert_eq!(t.at_or_before(1199).map(|f| f.frame_id), Some(2));
        assert_eq!(t.after(1100).map(|f| f.frame_id), Some(3));
        assert_eq!(t.before(1100).map(|f| f.frame_id), Some(1));
        assert_eq!(t.after(1200).map(|f| f.frame_id), Some(9));
        assert_eq!(t.after(10_000_000), None);
        assert_eq!(
            t.spans(),
            vec![
                Span {
                    start_us: 1000,
                    end_us: 1200
                },
                Span {
                    start_us: 10_000_000,
                    end_us: 10_000_000
                }
            ]
        );
    }
}
