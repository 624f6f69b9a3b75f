//! [`ArchiveTrack`]: one camera's recordings as a `replay_session::Track`, from a window of
//! its index held in memory.

use std::sync::Arc;

use arc_swap::ArcSwap;
use bytes::Bytes;
use mjpeg_record::{Archive, SegmentFile};
use replay_session::{FrameRef, Span, Track};

/// Where a recorded frame's JPEG is: the [`ArchiveTrack`]'s per-frame handle. Cheap to clone
/// (the segment is shared and stays open).
#[derive(Debug, Clone)]
pub struct FrameLocation {
    /// The open segment file.
    pub segment: Arc<SegmentFile>,
    /// Offset of the JPEG's first byte in the segment.
    pub offset: u64,
    /// JPEG size in bytes.
    pub size: u32,
}

impl FrameLocation {
    /// Reads the JPEG, bytes as recorded. Blocking (one `pread`): call it from
    /// `tokio::task::spawn_blocking`.
    pub fn read(&self) -> mjpeg_record::Result<Bytes> {
        self.segment.read_jpeg(self.offset, self.size)
    }
}

/// One frame of a loaded window, 32 bytes.
#[derive(Debug, Clone, Copy)]
struct Entry {
    frame_id: u64,
    capture_us: i64,
    offset: u64,
    size: u32,
    segment: u32,
}

/// The frames of `[from_us, to_us)`, sorted by capture time.
#[derive(Debug, Default)]
struct Window {
    from_us: i64,
    to_us: i64,
    /// When it was loaded, Unix µs: frames recorded later (a window reaching into the
    /// present) are not in it.
    loaded_at_us: i64,
    segments: Vec<Arc<SegmentFile>>,
    frames: Vec<Entry>,
    spans: Vec<Span>,
}

impl Window {
    /// Reads the index of `camera` over `[from_us, to_us)` (blocking).
    fn load(
        archive: &Archive,
        camera: &str,
        from_us: i64,
        to_us: i64,
    ) -> mjpeg_record::Result<Window> {
        let loaded_at_us = mjpeg_record::now_micros();
        let index = archive.frame_index(camera, from_us, to_us)?;
        let mut frames: Vec<Entry> = index
            .frames
            .iter()
            .map(|f| Entry {
                frame_id: f.record.frame_id,
                capture_us: f.record.capture_us,
                offset: f.record.offset,
                size: f.record.size,
                segment: f.segment,
            })
            .collect();
        // File order is capture order unless the camera's clock jumped back; lookups need
        // strictly increasing capture times (the first frame of a capture time is kept).
        frames.sort_by_key(|e| e.capture_us);
        frames.dedup_by_key(|e| e.capture_us);
        // The archive's spans end one frame period after their last frame (as
        // `GET /api/recordings` reports them): a start at a span's reported end is accepted.
        let spans = index
            .spans
            .iter()
            .map(|s| Span {
                start_us: s.start_us,
                end_us: s.end_us,
            })
            .collect();
        Ok(Window {
            from_us,
            to_us,
            loaded_at_us,
            segments: index.segments,
            frames,
            spans,
        })
    }

    fn frame(&self, i: usize) -> Option<FrameRef<FrameLocation>> {
        let e = self.frames.get(i)?;
        Some(FrameRef {
            frame_id: e.frame_id,
            capture_us: e.capture_us,
            handle: FrameLocation {
                segment: self.segments.get(e.segment as usize)?.clone(),
                offset: e.offset,
                size: e.size,
            },
        })
    }

    /// The number of frames with capture time `<= t_us`.
    fn count_at_or_before(&self, t_us: i64) -> usize {
        self.frames.partition_point(|f| f.capture_us <= t_us)
    }
}

/// One camera's recordings as a `replay_session::Track`.
///
/// Holds a window of the camera's index in memory (32 bytes a frame: 30 fps for 35 minutes
/// is about 2 MB), sorted by capture time; lookups are binary searches with no I/O, as the
/// session's lock requires. Each frame's handle is a [`FrameLocation`]: the open segment,
/// offset and size. [`ArchiveTrack::reload`] swaps in another window (the replay service does
/// it when the position nears a window's edge, on a seek outside it, and while a recording
/// that is still growing is replayed near its end); lookups never wait for it.
#[derive(Debug)]
pub struct ArchiveTrack {
    camera: String,
    window: ArcSwap<Window>,
}

impl ArchiveTrack {
    /// Loads the frames of `camera` captured in `[from_us, to_us)`. Blocking (reads one index
    /// file per segment): call it from `tokio::task::spawn_blocking`.
    pub fn load(
        archive: &Archive,
        camera: &str,
        from_us: i64,
        to_us: i64,
    ) -> mjpeg_record::Result<ArchiveTrack> {
        Ok(ArchiveTrack {
            camera: camera.to_owned(),
            window: ArcSwap::from_pointee(Window::load(archive, camera, from_us, to_us)?),
        })
    }

    /// Replaces the loaded window by `[from_us, to_us)`. Blocking, like [`ArchiveTrack::load`];
    /// on an error the old window stays.
    pub fn reload(&self, archive: &Archive, from_us: i64, to_us: i64) -> mjpeg_record::Result<()> {
        let window = Window::load(archive, &self.camera, from_us, to_us)?;
        self.window.store(Arc::new(window));
        Ok(())
    }

    /// Loads `[from_us, to_us)` without installing it yet (see [`ArchiveTrack::install`]).
    pub(crate) fn prepare(
        &self,
        archive: &Archive,
        from_us: i64,
        to_us: i64,
    ) -> mjpeg_record::Result<PreparedWindow> {
        Window::load(archive, &self.camera, from_us, to_us).map(|w| PreparedWindow(Arc::new(w)))
    }

    /// Installs a window made by [`ArchiveTrack::prepare`].
    pub(crate) fn install(&self, window: PreparedWindow) {
        self.window.store(window.0);
    }

    /// The camera.
    pub fn camera(&self) -> &str {
        &self.camera
    }

    /// The loaded window `[from, to)`, Unix µs.
    pub fn window(&self) -> (i64, i64) {
        let w = self.window.load();
        (w.from_us, w.to_us)
    }

    /// When the window was loaded, Unix µs.
    pub fn loaded_at_us(&self) -> i64 {
        self.window.load().loaded_at_us
    }

    /// Frames in the loaded window.
    pub fn len(&self) -> usize {
        self.window.load().frames.len()
    }

    /// Whether the loaded window holds no frame.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Capture time of the newest loaded frame.
    pub fn last_capture_us(&self) -> Option<i64> {
        self.window.load().frames.last().map(|f| f.capture_us)
    }
}

/// A window loaded by [`ArchiveTrack::prepare`], not yet installed.
pub(crate) struct PreparedWindow(Arc<Window>);

impl PreparedWindow {
    /// Whether `t_us` lies in one of the window's recorded spans.
    pub(crate) fn covers(&self, t_us: i64) -> bool {
        self.0.spans.iter().any(|s| s.contains(t_us))
    }
}

impl Track for ArchiveTrack {
    type Handle = FrameLocation;

    fn at_or_before(&self, t_us: i64) -> Option<FrameRef<FrameLocation>> {
        let w = self.window.load();
        w.count_at_or_before(t_us)
            .checked_sub(1)
            .and_then(|i| w.frame(i))
    }

    fn after(&self, t_us: i64) -> Option<FrameRef<FrameLocation>> {
        let w = self.window.load();
        w.frame(w.count_at_or_before(t_us))
    }

    fn before(&self, t_us: i64) -> Option<FrameRef<FrameLocation>> {
        let w = self.window.load();
        w.frames
            .partition_point(|f| f.capture_us < t_us)
            .checked_sub(1)
            .and_then(|i| w.frame(i))
    }

    fn spans(&self) -> Vec<Span> {
        self.window.load().spans.clone()
    }
}
