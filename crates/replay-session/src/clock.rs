//! The session clock: a capture-time position that advances at a rate while playing.

use tokio::time::Instant;

use crate::ReplayError;

/// A playback rate, validated to lie in [`Rate::MIN`]..=[`Rate::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Rate(f64);

impl Rate {
    /// The slowest rate, 1/16x.
    pub const MIN: f64 = 1.0 / 16.0;
    /// The fastest rate, 16x.
    pub const MAX: f64 = 16.0;
    /// Real time.
    pub const ONE: Rate = Rate(1.0);

    /// Checks `rate`: NaN, infinities, zero, negatives and anything outside 1/16..=16 are
    /// [`ReplayError::InvalidRate`].
    pub fn new(rate: f64) -> Result<Rate, ReplayError> {
        if rate.is_finite() && (Self::MIN..=Self::MAX).contains(&rate) {
            Ok(Rate(rate))
        } else {
            Err(ReplayError::InvalidRate { rate })
        }
    }

    /// The rate as a number.
    pub fn get(self) -> f64 {
        self.0
    }
}

/// Position (capture time, µs since the Unix epoch), rate and paused flag of a session.
///
/// The clock keeps an anchor (a position at an [`Instant`]) and computes the position at any
/// later instant as `anchor + elapsed × rate`, so it never accumulates rounding from ticks:
/// over 10 s at 4x it advances exactly 40 s. Every change re-anchors at the instant given.
/// [`Instant`] is Tokio's, so tests run it with paused time.
#[derive(Debug, Clone)]
pub struct SessionClock {
    /// Position at `anchor_at`.
    anchor_us: i64,
    /// When the position was `anchor_us`.
    anchor_at: Instant,
    rate: Rate,
    paused: bool,
}

impl SessionClock {
    /// A clock at `position_us`, playing at `rate` from `now`.
    pub fn new(position_us: i64, rate: Rate, now: Instant) -> SessionClock {
        SessionClock {
            anchor_us: position_us,
            anchor_at: now,
            rate,
            paused: false,
        }
    }

    /// The position at `now` (µs since the Unix epoch). `now` before the anchor counts as
    /// the anchor.
    pub fn position_at(&self, now: Instant) -> i64 {
        if self.paused {
            return self.anchor_us;
        }
        let elapsed = now.saturating_duration_since(self.anchor_at).as_micros() as f64;
        self.anchor_us
            .saturating_add((elapsed * self.rate.get()).round() as i64)
    }

    /// The rate.
    pub fn rate(&self) -> Rate {
        self.rate
    }

    /// Whether the clock stands still.
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// Starts advancing from the current position (no-op when playing).
    pub fn play(&mut self, now: Instant) {
        if self.paused {
            self.anchor_at = now;
            self.paused = false;
        }
    }

    /// Freezes the position at its value at `now`.
    pub fn pause(&mut self, now: Instant) {
        if !self.paused {
            self.anchor_us = self.position_at(now);
            self.anchor_at = now;
            self.paused = true;
        }
    }

    /// Moves to `to_us`; playing or paused stays as it was.
    pub fn seek(&mut self, to_us: i64, now: Instant) {
        self.anchor_us = to_us;
        self.anchor_at = now;
    }

    /// Changes the rate from `now` on; the position so far is kept.
    pub fn set_rate(&mut self, rate: Rate, now: Instant) {
        self.anchor_us = self.position_at(now);
        self.anchor_at = now;
        self.rate = rate;
    }

    /// How long (wall time, rounded up to whole µs) until the position reaches `target_us`;
    /// `None` when paused, zero when already there.
    pub fn until(&self, target_us: i64, now: Instant) -> Option<std::time::Duration> {
        if self.paused {
            return None;
        }
        let ahead = target_us.saturating_sub(self.position_at(now));
        if ahead <= 0 {
            return Some(std::time::Duration::ZERO);
        }
        let wall_us = (ahead as f64 / self.rate.get()).ceil() as u64;
        Some(std::time::Duration::from_micros(wall_us))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const T0: i64 = 1_700_000_000_000_000;

    #[test]
    fn rate_bounds() {
        for bad in [
            0.0,
            -1.0,
            1000.0,
            f64::NAN,
            f64::INFINITY,
            1.0 / 17.0,
            16.001,
        ] {
            let err = Rate::new(bad).expect_err("out of range");
            assert_eq!(err.kind(), crate::ErrorKind::InvalidRate);
        }
        for good in [Rate::MIN, 0.5, 1.0, 4.0, Rate::MAX] {
            assert_eq!(Rate::new(good).expect("in range").get(), good);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn four_x_over_ten_seconds_is_forty_seconds_exactly() {
        let start = Instant::now();
        let clock = SessionClock::new(T0, Rate::new(4.0).expect("rate"), start);
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(clock.position_at(Instant::now()), T0 + 40_000_000);
    }

    #[tokio::test(start_paused = true)]
    async fn pause_seek_rate_reanchor() {
        let t = Instant::now();
        let mut clock = SessionClock::new(T0, Rate::ONE, t);
        let t1 = t + Duration::from_secs(1);
        clock.pause(t1);
        assert_eq!(
            clock.position_at(t1 + Duration::from_secs(5)),
            T0 + 1_000_000
        );
        assert_eq!(clock.until(T0 + 2_000_000, t1), None);
        let t2 = t1 + Duration::from_secs(5);
        clock.play(t2);
        clock.set_rate(Rate::new(2.0).expect("rate"), t2);
        assert_eq!(
            clock.position_at(t2 + Duration::from_secs(1)),
            T0 + 3_000_000
        );
        assert_eq!(
            clock.until(T0 + 2_000_001, t2),
            Some(Duration::from_micros(500_001))
        );
        clock.seek(T0, t2);
        assert_eq!(clock.position_at(t2), T0);
        assert!(!clock.is_paused());
    }
}
