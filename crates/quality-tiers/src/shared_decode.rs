//! One decode per camera frame for everyone who needs its pixels: the tier producer and, in
//! the relay, the detector. Whoever asks first for a frame decodes it; the others wait for
//! that decode (on their blocking threads) and share the picture.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use crate::codec::{decode, Channels, Picture};
use crate::QualityError;

/// How many recent frames keep their picture: a consumer one or two frames behind still
/// finds it.
const KEEP: usize = 3;

type Cell = Arc<OnceLock<Result<Arc<Picture>, String>>>;

/// The RGB pictures of a camera's most recent frames, each decoded once.
///
/// ```
/// use quality_tiers::SharedDecode;
/// let share = SharedDecode::default();
/// let jpeg = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/vga-640x480.jpg")).unwrap();
/// let first = share.picture(7, &jpeg).unwrap(); // decodes
/// let again = share.picture(7, &jpeg).unwrap(); // the same picture, no decode
/// assert!(std::sync::Arc::ptr_eq(&first, &again));
/// assert_eq!((share.decodes(), share.reused()), (1, 1));
/// ```
#[derive(Debug, Default)]
pub struct SharedDecode {
    recent: Mutex<VecDeque<(u64, Cell)>>,
    decodes: AtomicU64,
    reused: AtomicU64,
}

impl SharedDecode {
    /// The RGB picture of frame `id` (unique among the camera's frames: its frame id), decoding
    /// `jpeg` unless someone already did or is doing it.
    pub fn picture(&self, id: u64, jpeg: &[u8]) -> Result<Arc<Picture>, QualityError> {
        let cell = self.cell(id);
        let mut decoded_here = false;
        let result = cell.get_or_init(|| {
            decoded_here = true;
            decode(jpeg, Channels::Rgb)
                .map(Arc::new)
                .map_err(|error| match error {
                    QualityError::Decode { reason, .. } => reason,
                    other => other.to_string(),
                })
        });
        let counter = if decoded_here {
            &self.decodes
        } else {
            &self.reused
        };
        counter.fetch_add(1, Ordering::Relaxed);
        result.clone().map_err(|reason| QualityError::Decode {
            len: jpeg.len(),
            reason,
        })
    }

    /// Frames decoded so far.
    pub fn decodes(&self) -> u64 {
        self.decodes.load(Ordering::Relaxed)
    }

    /// Requests answered with a picture someone else decoded.
    pub fn reused(&self) -> u64 {
        self.reused.load(Ordering::Relaxed)
    }

    /// Lets go of the pictures kept for sharing (a decode under way still completes for
    /// those waiting on it). The tier producer calls it when its last viewer leaves.
    pub fn clear(&self) {
        self.recent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Pictures kept for sharing now.
    pub fn kept(&self) -> usize {
        self.recent.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    fn cell(&self, id: u64) -> Cell {
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, cell)) = recent.iter().find(|(known, _)| *known == id) {
            return cell.clone();
        }
        let cell = Cell::default();
        recent.push_back((id, cell.clone()));
        if recent.len() > KEEP {
            recent.pop_front();
        }
        cell
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VGA: &[u8] = include_bytes!("../testdata/vga-640x480.jpg");

    #[test]
    fn each_frame_is_decoded_once_and_only_recent_frames_are_kept() {
        let share = SharedDecode::default();
        let first = share.picture(1, VGA).expect("decodes");
        assert_eq!((first.width, first.height), (640, 480));
        for seq in 2..=4 {
            share.picture(seq, VGA).expect("decodes");
        }
        assert_eq!((share.decodes(), share.reused()), (4, 0));
        share.picture(4, VGA).expect("kept");
        assert_eq!(share.reused(), 1);
        // Frame 1 fell out of the last three: decoded again.
        share.picture(1, VGA).expect("decodes");
        assert_eq!(share.decodes(), 5);
        assert_eq!(share.kept(), 3);
        share.clear();
        assert_eq!(share.kept(), 0);
        share.picture(1, VGA).expect("decodes");
        assert_eq!(share.decodes(), 6, "decoded again after a clear");
    }

    #[test]
    fn a_bad_frame_fails_for_every_caller_without_a_second_try() {
        let share = SharedDecode::default();
        let garbage = b"not a jpeg";
        let first = share.picture(9, garbage).expect_err("garbage");
        let second = share.picture(9, garbage).expect_err("garbage again");
        assert_eq!(first.to_string(), second.to_string());
        assert_eq!((share.decodes(), share.reused()), (1, 1));
    }

    #[test]
    fn concurrent_callers_share_one_decode() {
        let share = Arc::new(SharedDecode::default());
        let pictures: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| s.spawn(|| share.picture(3, VGA).expect("decodes")))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("no panic"))
                .collect()
        });
        assert!(pictures.windows(2).all(|w| Arc::ptr_eq(&w[0], &w[1])));
        assert_eq!((share.decodes(), share.reused()), (1, 3));
    }
}
