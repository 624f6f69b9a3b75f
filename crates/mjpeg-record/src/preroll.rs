//! Events mode's pre-roll: the last `pre` of frames kept in memory, bounded in bytes too, so
//! a clip can start before the detection that triggered it.

use crate::frame::RecordFrame;
use std::collections::VecDeque;

/// A ring of recent frames.
#[derive(Debug)]
pub(crate) struct PreRoll {
    frames: VecDeque<RecordFrame>,
    bytes: usize,
    pre_us: i64,
    max_bytes: usize,
}

impl PreRoll {
    pub fn new(pre_us: i64, max_bytes: usize) -> Self {
        PreRoll {
            frames: VecDeque::new(),
            bytes: 0,
            pre_us,
            max_bytes,
        }
    }

    /// Adds a frame, dropping those older than `pre` before it and the oldest beyond the cap.
    pub fn push(&mut self, f: RecordFrame) {
        let newest = f.capture_us;
        self.bytes += f.jpeg.len();
        self.frames.push_back(f);
        while let Some(old) = self.frames.front() {
            if newest - old.capture_us > self.pre_us || self.bytes > self.max_bytes {
                self.bytes -= old.jpeg.len();
                self.frames.pop_front();
            } else {
                break;
            }
        }
    }

    /// Takes the frames within `pre` of `at`, oldest first, emptying the ring.
    pub fn drain_before(&mut self, at: i64) -> Vec<RecordFrame> {
        self.bytes = 0;
        self.frames
            .drain(..)
            .filter(|f| at - f.capture_us <= self.pre_us && f.capture_us <= at)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn f(t: i64, n: usize) -> RecordFrame {
        RecordFrame::new(Bytes::from(vec![0u8; n]), t as u64, t, t)
    }

    #[test]
    fn bounded_by_time_and_bytes() {
        let mut p = PreRoll::new(100, 1000);
        for t in 0..10 {
            p.push(f(t * 50, 10));
        }
        // Only frames within 100 µs of the newest (450): 350, 400, 450.
        let ids: Vec<u64> = p.drain_before(460).iter().map(|f| f.frame_id).collect();
        assert_eq!(ids, vec![400, 450]);
        let mut p = PreRoll::new(1_000_000, 25);
        for t in 0..5 {
            p.push(f(t, 10));
        }
        assert_eq!(p.drain_before(4).len(), 2);
    }
}
