//! [`ArchiveSink`]: the session's frames, read from disk and published per camera into a
//! `broadcast-core` broadcast of `mjpeg-serve` frames, exactly as live frames are.
//!
//! The session's driver hands each due frame to [`ArchiveSink::emit`], which only puts it in
//! the camera's one-frame mailbox and returns: the driver never waits for the disk. One loader
//! task per camera takes the mailbox's frame, reads its JPEG in `spawn_blocking` and
//! publishes it. A frame that arrives while the previous one is still being read replaces the
//! one waiting in the mailbox, which is counted as skipped: at high rates or on a slow disk
//! frames are skipped, never queued, and each camera's frames are published in the order the
//! session emitted them.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use broadcast_core::{Handle, Publisher};
use mjpeg_codec::Timestamp;
use mjpeg_serve::{Frame, FrameState, SharedFrame};
use replay_session::{FrameRef, Sink};
use tokio::sync::Notify;

use crate::track::FrameLocation;

/// Counters of one camera of a session. Every field is a statistic read on its own, so
/// `Relaxed` suffices throughout.
#[derive(Debug, Default)]
pub struct CameraStats {
    /// Frames published to the camera's broadcast.
    pub published: AtomicU64,
    /// Frames replaced in the mailbox before they were read (the disk was behind).
    pub skipped: AtomicU64,
    /// Frames whose JPEG could not be read.
    pub read_errors: AtomicU64,
    /// The id of the last frame published, plus one (0: none yet).
    last_frame: AtomicU64,
    /// Viewers of the camera's stream now.
    pub viewers: AtomicUsize,
}

impl CameraStats {
    /// The id of the last frame published.
    pub fn last_frame_id(&self) -> Option<u64> {
        self.last_frame.load(Ordering::Relaxed).checked_sub(1)
    }
}

/// What waits for a camera's loader.
#[derive(Default)]
struct Slot {
    /// The newest frame emitted and not yet taken.
    pending: Option<FrameRef<FrameLocation>>,
    /// Publish the last frame again (a viewer joined a paused session).
    resend: bool,
    /// The session ended: the loader finishes and closes the broadcast.
    closed: bool,
}

/// One camera's one-frame mailbox between the session's driver and its loader task.
#[derive(Default)]
pub(crate) struct Mailbox {
    slot: Mutex<Slot>,
    wake: Notify,
}

impl Mailbox {
    fn lock(&self) -> MutexGuard<'_, Slot> {
        // Plain data, each field whole: usable after a panic elsewhere.
        self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Asks the loader to publish the last frame again.
    pub(crate) fn request_resend(&self) {
        self.lock().resend = true;
        self.wake.notify_one();
    }

    fn close(&self) {
        self.lock().closed = true;
        self.wake.notify_one();
    }
}

/// One camera's output: what the replay service keeps to let viewers in.
pub(crate) struct CameraOutput<M> {
    /// The camera.
    pub name: String,
    /// Viewers subscribe here.
    pub broadcast: Handle<SharedFrame<M>>,
    pub mailbox: Arc<Mailbox>,
    pub stats: Arc<CameraStats>,
}

/// The [`replay_session::Sink`] of an archive replay: see the module docs. Dropping it (the
/// session ended) ends the loader tasks, which closes the cameras' broadcasts.
pub struct ArchiveSink {
    mailboxes: Vec<Arc<Mailbox>>,
    stats: Vec<Arc<CameraStats>>,
}

impl ArchiveSink {
    /// A sink for `cameras` (in the session's camera order), each publishing into a new
    /// broadcast whose subscribers get `config`, with one loader task each.
    ///
    /// # Panics
    /// Outside a Tokio runtime.
    pub(crate) fn start<M: Default + Send + Sync + 'static>(
        cameras: &[String],
        config: broadcast_core::Config,
    ) -> (ArchiveSink, Vec<CameraOutput<M>>) {
        let mut sink = ArchiveSink {
            mailboxes: Vec::new(),
            stats: Vec::new(),
        };
        let mut outputs = Vec::new();
        for name in cameras {
            let publisher = Publisher::<SharedFrame<M>>::new(config);
            let mailbox = Arc::new(Mailbox::default());
            let stats = Arc::new(CameraStats::default());
            outputs.push(CameraOutput {
                name: name.clone(),
                broadcast: publisher.handle(),
                mailbox: mailbox.clone(),
                stats: stats.clone(),
            });
            sink.mailboxes.push(mailbox.clone());
            sink.stats.push(stats.clone());
            tokio::spawn(load_and_publish(name.clone(), mailbox, publisher, stats));
        }
        (sink, outputs)
    }
}

impl Sink<FrameLocation> for ArchiveSink {
    fn emit(
        &self,
        camera: usize,
        frame: FrameRef<FrameLocation>,
    ) -> impl std::future::Future<Output = ()> + Send {
        if let (Some(mailbox), Some(stats)) = (self.mailboxes.get(camera), self.stats.get(camera)) {
            let replaced = mailbox.lock().pending.replace(frame).is_some();
            if replaced {
                stats.skipped.fetch_add(1, Ordering::Relaxed);
            }
            mailbox.wake.notify_one();
        }
        std::future::ready(())
    }
}

impl Drop for ArchiveSink {
    fn drop(&mut self) {
        for mailbox in &self.mailboxes {
            mailbox.close();
        }
    }
}

/// `X-Timestamp` of a capture time (times before 1970 show as 0).
fn timestamp(capture_us: i64) -> Timestamp {
    if capture_us < 0 {
        return Timestamp::default();
    }
    Timestamp {
        secs: u64::try_from(capture_us.div_euclid(1_000_000)).unwrap_or(0),
        micros: u32::try_from(capture_us.rem_euclid(1_000_000)).unwrap_or(0),
    }
}

/// One camera's loader: reads each frame the mailbox gets and publishes it, until closed.
async fn load_and_publish<M: Default + Send + Sync + 'static>(
    camera: String,
    mailbox: Arc<Mailbox>,
    publisher: Publisher<SharedFrame<M>>,
    stats: Arc<CameraStats>,
) {
    let mut latest: Option<SharedFrame<M>> = None;
    let mut errors_logged = false;
    loop {
        let (pending, resend, closed) = {
            let mut slot = mailbox.lock();
            (
                slot.pending.take(),
                std::mem::take(&mut slot.resend),
                slot.closed,
            )
        };
        if closed {
            return; // drops the publisher: the broadcast closes, viewers' streams end
        }
        if let Some(frame) = pending {
            let location = frame.handle.clone();
            match tokio::task::spawn_blocking(move || location.read()).await {
                Ok(Ok(jpeg)) => {
                    let out = Arc::new(Frame::new(
                        frame.frame_id,
                        jpeg,
                        timestamp(frame.capture_us),
                        FrameState::Live,
                        M::default(),
                    ));
                    publisher.publish(out.clone());
                    latest = Some(out);
                    stats.published.fetch_add(1, Ordering::Relaxed);
                    stats
                        .last_frame
                        .store(frame.frame_id.saturating_add(1), Ordering::Relaxed);
                    errors_logged = false;
                }
                Ok(Err(e)) => {
                    stats.read_errors.fetch_add(1, Ordering::Relaxed);
                    if !std::mem::replace(&mut errors_logged, true) {
                        tracing::warn!(camera, error = %e, "replay cannot read a recorded frame");
                    }
                }
                Err(e) => {
                    stats.read_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(camera, error = %e, "replay frame read task failed");
                }
            }
        } else if resend {
            if let Some(f) = &latest {
                publisher.publish(Arc::new(again(f)));
            }
        } else {
            mailbox.wake.notified().await;
        }
    }
}

/// The same picture published again now (same id, head and time; fresh age).
fn again<M: Default>(f: &Frame<M>) -> Frame<M> {
    Frame {
        id: f.id,
        jpeg: f.jpeg.clone(),
        head: f.head.clone(),
        camera_time: f.camera_time,
        published_at: std::time::Instant::now(),
        width: f.width,
        height: f.height,
        state: f.state,
        meta: M::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mjpeg_record::{Archive, RecordConfig, RecordFrame, RecordMode};

    /// Five recorded frames of `door` as the session would emit them.
    fn recorded(dir: &std::path::Path) -> Vec<FrameRef<FrameLocation>> {
        let archive = Archive::open(RecordConfig::new(dir)).expect("archive");
        let rec = archive
            .recorder("door", RecordMode::CONTINUOUS)
            .expect("recorder");
        let t0 = 1_764_448_210_000_000;
        for i in 0..5u64 {
            let mut jpeg = vec![0xFF, 0xD8];
            jpeg.extend(format!("frame {i}").bytes());
            let jpeg = bytes::Bytes::from(jpeg);
            let t = t0 + i as i64 * 33_333;
            assert!(rec.try_record(RecordFrame::new(jpeg, i, t, t)));
        }
        rec.flush();
        let index = archive
            .frame_index("door", t0, t0 + 1_000_000)
            .expect("index");
        index
            .frames
            .iter()
            .map(|f| FrameRef {
                frame_id: f.record.frame_id,
                capture_us: f.record.capture_us,
                handle: FrameLocation {
                    segment: index.segments[f.segment as usize].clone(),
                    offset: f.record.offset,
                    size: f.record.size,
                },
            })
            .collect()
    }

    #[tokio::test]
    async fn frames_arriving_while_the_disk_reads_replace_the_waiting_one_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let frames = recorded(dir.path());
        let (sink, outputs) =
            ArchiveSink::start::<()>(&["door".to_owned()], broadcast_core::Config::default());
        let out = &outputs[0];
        let mut rx = out.broadcast.subscribe();
        // All five before the loader runs: only the newest is read, four are skipped.
        for f in &frames {
            sink.emit(0, f.clone()).await;
        }
        let got = rx.recv().await.expect("frame").item;
        assert_eq!(got.id, 4);
        assert_eq!(&got.jpeg[2..], b"frame 4");
        assert_eq!(out.stats.skipped.load(Ordering::Relaxed), 4);
        assert_eq!(out.stats.published.load(Ordering::Relaxed), 1);
        assert_eq!(out.stats.last_frame_id(), Some(4));
        // One at a time, each published in order; whatever is skipped is counted.
        for f in &frames {
            sink.emit(0, f.clone()).await;
            tokio::task::yield_now().await;
        }
        drop(sink); // the session ended: the broadcast closes after the last frame
        let mut ids = Vec::new();
        while let Some(d) = rx.recv().await {
            ids.push(d.item.id);
        }
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
        let skipped = out.stats.skipped.load(Ordering::Relaxed) - 4;
        assert!(ids.len() as u64 + skipped <= 5, "{ids:?} + {skipped}");
        assert!(out.broadcast.is_closed());
    }

    #[test]
    fn timestamps() {
        assert_eq!(
            timestamp(1_764_448_200_250_000).to_string(),
            "1764448200.250000"
        );
        assert_eq!(timestamp(-5).to_string(), "0.000000");
    }
}
