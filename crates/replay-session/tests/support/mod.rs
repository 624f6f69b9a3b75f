//! Shared by the integration tests: a sink that logs what it gets, with the instant.

#![allow(dead_code, missing_docs)]

use std::sync::{Arc, Mutex};

use replay_session::{FrameRef, Sink};
use tokio::time::Instant;

/// A fixed epoch time for the tests' recordings (µs since the Unix epoch).
pub const T0: i64 = 1_700_000_000_000_000;
/// 30 fps.
pub const PERIOD_30FPS: i64 = 33_333;

/// One emission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Emission {
    pub camera: usize,
    pub frame_id: u64,
    pub capture_us: i64,
    pub at: Instant,
}

/// A sink that logs every emission; clones share the log.
#[derive(Clone, Default)]
pub struct LogSink(pub Arc<Mutex<Vec<Emission>>>);

impl LogSink {
    pub fn take(&self) -> Vec<Emission> {
        std::mem::take(&mut *self.0.lock().expect("log lock"))
    }
    pub fn len(&self) -> usize {
        self.0.lock().expect("log lock").len()
    }
}

impl<H: Send + 'static> Sink<H> for LogSink {
    async fn emit(&self, camera: usize, frame: FrameRef<H>) {
        self.0.lock().expect("log lock").push(Emission {
            camera,
            frame_id: frame.frame_id,
            capture_us: frame.capture_us,
            at: Instant::now(),
        });
    }
}

/// Checks that at every emission, once all cameras have shown a frame, the shown frames'
/// capture times lie within `within_us` of each other. Returns the number of checks made.
pub fn assert_aligned(log: &[Emission], cameras: usize, within_us: i64) -> usize {
    let mut shown: Vec<Option<i64>> = vec![None; cameras];
    let mut checks = 0;
    for (i, e) in log.iter().enumerate() {
        shown[e.camera] = Some(e.capture_us);
        // Check once all emissions of one instant are in (the driver emits a tick's frames
        // back to back).
        let next_same_instant = log.get(i + 1).is_some_and(|n| n.at == e.at);
        if next_same_instant || shown.iter().any(Option::is_none) {
            continue;
        }
        let times: Vec<i64> = shown.iter().flatten().copied().collect();
        let spread = times.iter().max().expect("times") - times.iter().min().expect("times");
        assert!(
            spread < within_us,
            "tiles {spread} µs apart at {e:?} (shown {shown:?})"
        );
        checks += 1;
    }
    checks
}
