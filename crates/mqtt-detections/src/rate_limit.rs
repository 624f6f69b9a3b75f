//! "At most once per interval", for the fps values and snapshots.

use std::time::Duration;

use tokio::time::Instant;

/// Lets one thing through per `interval`; the first is always let through.
#[derive(Debug, Clone)]
pub(crate) struct RateLimit {
    interval: Duration,
    last: Option<Instant>,
}

impl RateLimit {
    pub fn new(interval: Duration) -> Self {
        RateLimit {
            interval,
            last: None,
        }
    }

    /// Whether something may go now, without taking the slot.
    pub fn ready(&self, now: Instant) -> bool {
        self.last
            .is_none_or(|last| now.duration_since(last) >= self.interval)
    }

    /// Takes the slot if it is free; true if the caller may go.
    pub fn take(&mut self, now: Instant) -> bool {
        let ready = self.ready(now);
        if ready {
            self.last = Some(now);
        }
        ready
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn once_per_interval() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let mut limit = RateLimit::new(Duration::from_secs(5));
        assert!(limit.take(at(0)));
        assert!(!limit.take(at(0)));
        assert!(!limit.ready(at(4_999)));
        assert!(limit.take(at(5_000)));
        assert!(!limit.take(at(9_999)));
        assert!(limit.take(at(10_000)));
    }

    #[test]
    fn zero_interval_lets_everything_through() {
        let now = Instant::now();
        let mut limit = RateLimit::new(Duration::ZERO);
        assert!(limit.take(now));
        assert!(limit.take(now));
    }
}
