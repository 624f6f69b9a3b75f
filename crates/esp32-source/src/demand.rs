//! [`Demand`]: whether anyone waits for a source's frames, which decides how fast a camera that
//! is down is retried.

use std::fmt;
use std::sync::Arc;

/// Says whether someone (viewers, a recording) waits for a source's frames right now.
///
/// A frame stream retries a camera that is down, busy or silent at the short steady
/// [`Backoff::waiting_interval`](crate::Backoff::waiting_interval) only while its demand
/// says someone waits; otherwise it backs off exponentially up to
/// [`Backoff::max`](crate::Backoff::max), as it does for answers that would repeat (404, not
/// MJPEG). A stream kept open for nobody (a relay's "always on") thus dials a dead camera a
/// few times a minute instead of three times a second, and speeds up again within
/// a fraction of a second of someone arriving.
///
/// The probe is called once per failed attempt and a few times a second while a long delay
/// runs, so it must be cheap (an atomic load, a subscriber count) and must not block.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use esp32_source::Demand;
///
/// let viewers = Arc::new(AtomicUsize::new(0));
/// let demand = {
///     let viewers = viewers.clone();
///     Demand::from_fn(move || viewers.load(Ordering::Relaxed) > 0)
/// };
/// assert!(!demand.is_waiting());
/// viewers.store(3, Ordering::Relaxed);
/// assert!(demand.is_waiting());
/// assert!(Demand::always().is_waiting());
/// ```
#[derive(Clone, Default)]
pub struct Demand {
    /// `None`: someone always waits (whoever polls the stream).
    probe: Option<Arc<dyn Fn() -> bool + Send + Sync>>,
}

impl Demand {
    /// Someone always waits: whoever polls the frame stream. What
    /// [`Source::frames`](crate::Source::frames) uses.
    pub fn always() -> Demand {
        Demand { probe: None }
    }

    /// Someone waits while `probe` returns `true` (e.g. while a broadcast has subscribers).
    pub fn from_fn(probe: impl Fn() -> bool + Send + Sync + 'static) -> Demand {
        Demand {
            probe: Some(Arc::new(probe)),
        }
    }

    /// Whether someone waits for frames right now.
    pub fn is_waiting(&self) -> bool {
        self.probe.as_ref().is_none_or(|probe| probe())
    }
}

impl fmt::Debug for Demand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.probe {
            None => f.write_str("Demand::always"),
            Some(_) => f
                .debug_struct("Demand")
                .field("waiting", &self.is_waiting())
                .finish(),
        }
    }
}
