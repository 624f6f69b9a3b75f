//! What a source reads ([`SourceKind`]), how it retries ([`Backoff`]) and its limits
//! ([`SourceConfig`]).

use std::time::Duration;

use mjpeg_codec::DecoderConfig;

/// How frames are read from the camera.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceKind {
    /// One long-lived HTTP response carrying `multipart/x-mixed-replace` (MJPEG), e.g. the
    /// ESP32-CAM firmware's `http://HOST:81/stream`.
    Stream,
    /// One JPEG per request, e.g. the ESP32-CAM firmware's `http://HOST/capture`, polled every
    /// `interval` over a kept-alive connection (reopened when the camera closes it).
    Snapshot {
        /// Time between two captures.
        interval: Duration,
    },
}

/// When to retry after a failure: a short steady interval while someone waits for frames,
/// exponential backoff with jitter and a cap where retrying fast is pointless.
///
/// A source only connects while its frame stream is polled. While someone (viewers, a
/// recording) waits for the camera (see [`Demand`](crate::Demand)), after a failure that a
/// rebooting, busy or briefly unreachable camera produces (refused or timed-out connection,
/// stall, lost stream, HTTP 5xx; see
/// [`SourceError::is_persistent`](crate::SourceError::is_persistent)), the source retries
/// every [`waiting_interval`](Backoff::waiting_interval) (default 350 ms ±25 %), so a camera
/// that browns out streams again within about that long of accepting connections.
///
/// After an answer that would repeat (HTTP 404 or another 4xx, authentication refused, not an
/// MJPEG stream, a redirect), while nobody waits (a stream kept open for no one), or with
/// `waiting_interval: None`, it backs off exponentially:
/// the delay before retry number `r` (0-based: `r = 0` is the first retry after a failure) is
/// `initial * factor^r`, capped at `max`. Both delays are spread by `±jitter` (a fraction), so
/// that many relays restarting together do not dial a camera in lockstep. The exponential
/// delay never exceeds `max`.
#[derive(Debug, Clone, PartialEq)]
pub struct Backoff {
    /// Delay between attempts after a failure that is not persistent (default 350 ms, spread
    /// by `jitter`: 262..=438 ms, under 4 attempts a second). Values below 100 ms count as
    /// 100 ms. `None`: always back off exponentially.
    pub waiting_interval: Option<Duration>,
    /// Delay before the first retry (default 500 ms).
    pub initial: Duration,
    /// Upper bound of any delay (default 30 s).
    pub max: Duration,
    /// Growth per consecutive failure (default 2; values below 1 count as 1).
    pub factor: f64,
    /// Random spread as a fraction of the delay, 0..=1 (default 0.25 = ±25 %).
    pub jitter: f64,
}

/// Default of [`Backoff::waiting_interval`].
const DEFAULT_WAITING_INTERVAL: Duration = Duration::from_millis(350);

/// Floor of [`Backoff::waiting_interval`]: never more than 10 attempts a second.
const MIN_WAITING_INTERVAL: Duration = Duration::from_millis(100);

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            waiting_interval: Some(DEFAULT_WAITING_INTERVAL),
            initial: Duration::from_millis(500),
            max: Duration::from_secs(30),
            factor: 2.0,
            jitter: 0.25,
        }
    }
}

impl Backoff {
    /// The delay before retry number `attempt` (0-based). Never panics, whatever the fields.
    ///
    /// ```
    /// use std::time::Duration;
    /// let backoff = esp32_source::Backoff { jitter: 0.0, ..Default::default() };
    /// assert_eq!(backoff.delay(0), Duration::from_millis(500));
    /// assert_eq!(backoff.delay(3), Duration::from_secs(4));
    /// assert_eq!(backoff.delay(100), Duration::from_secs(30));
    /// ```
    pub fn delay(&self, attempt: u32) -> Duration {
        let max = self.max.as_secs_f64();
        let factor = if self.factor.is_finite() && self.factor > 1.0 {
            self.factor
        } else {
            1.0
        };
        // Capping the exponent keeps powi finite; `max` caps the result anyway.
        let exponent = i32::try_from(attempt.min(1000)).unwrap_or(1000);
        let base = (self.initial.as_secs_f64() * factor.powi(exponent)).min(max);
        let secs = (base * self.spread()).clamp(0.0, max);
        Duration::try_from_secs_f64(secs).unwrap_or(self.max)
    }

    /// The delay before retry number `retry` (0-based) after a failure: the jittered
    /// [`waiting_interval`](Backoff::waiting_interval) unless the failure is `persistent` (or
    /// the interval is `None`), else [`delay`](Backoff::delay)`(retry)`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let backoff = esp32_source::Backoff { jitter: 0.0, ..Default::default() };
    /// // Refused, timed out, stalled: steady.
    /// assert_eq!(backoff.retry_delay(9, false), Duration::from_millis(350));
    /// // 404, not MJPEG, authentication refused: exponential.
    /// assert_eq!(backoff.retry_delay(3, true), Duration::from_secs(4));
    /// ```
    pub fn retry_delay(&self, retry: u32, persistent: bool) -> Duration {
        match self.waiting_interval {
            Some(interval) if !persistent => {
                let secs = interval.max(MIN_WAITING_INTERVAL).as_secs_f64() * self.spread();
                Duration::try_from_secs_f64(secs)
                    .unwrap_or(interval)
                    .max(MIN_WAITING_INTERVAL)
            }
            _ => self.delay(retry),
        }
    }

    /// A random factor in `1 ± jitter` (1 without jitter or with a nonsense one).
    fn spread(&self) -> f64 {
        let jitter = if self.jitter.is_finite() {
            self.jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        if jitter > 0.0 {
            1.0 + jitter * (2.0 * fastrand::f64() - 1.0)
        } else {
            1.0
        }
    }
}

/// Everything a [`crate::Source`] needs to know about one camera.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceConfig {
    /// Name used in logs, errors and status (e.g. `"porch"`).
    pub name: String,
    /// `http://HOST[:PORT]/PATH`: the stream URL or, for snapshots, the capture URL.
    pub url: String,
    /// Stream or snapshot polling.
    pub kind: SourceKind,
    /// Limit for opening the TCP connection AND receiving the response head (default 5 s).
    /// A busy ESP32-CAM accepts a second connection but never answers: this catches that.
    pub connect_timeout: Duration,
    /// No complete frame for this long -> drop the connection and reconnect (default 5 s).
    /// Catches silent Wi-Fi drops, where TCP alone would wait for minutes. For snapshots it
    /// bounds each capture request.
    pub stall_timeout: Duration,
    /// Delays between reconnection attempts.
    pub backoff: Backoff,
    /// Limits of the MJPEG parser (part size also bounds a snapshot body).
    pub decoder: DecoderConfig,
    /// Largest HTTP read buffer (default 256 KiB, at least 8 KiB). It also bounds the response
    /// head: endless headers fail once this much is buffered. Smaller values cost CPU on large
    /// frames (more, smaller reads; see docs/benchmarks.md).
    pub max_read_buffer: usize,
}

impl SourceConfig {
    /// An MJPEG stream source with default timeouts and backoff.
    pub fn stream(name: impl Into<String>, url: impl Into<String>) -> Self {
        SourceConfig {
            name: name.into(),
            url: url.into(),
            kind: SourceKind::Stream,
            connect_timeout: Duration::from_secs(5),
            stall_timeout: Duration::from_secs(5),
            backoff: Backoff::default(),
            decoder: DecoderConfig::default(),
            max_read_buffer: crate::http::DEFAULT_READ_BUFFER,
        }
    }

    /// A snapshot-polling source that fetches `url` every `interval`.
    pub fn snapshot(name: impl Into<String>, url: impl Into<String>, interval: Duration) -> Self {
        SourceConfig {
            kind: SourceKind::Snapshot { interval },
            ..SourceConfig::stream(name, url)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_grows_and_is_capped() {
        let backoff = Backoff {
            jitter: 0.0,
            ..Backoff::default()
        };
        let delays: Vec<_> = (0..8).map(|a| backoff.delay(a).as_millis()).collect();
        assert_eq!(delays, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
        assert_eq!(backoff.delay(u32::MAX), Duration::from_secs(30));
    }

    #[test]
    fn jitter_stays_within_its_fraction_and_below_max() {
        let backoff = Backoff::default();
        for _ in 0..1000 {
            let d = backoff.delay(1).as_secs_f64();
            assert!((0.75..=1.25).contains(&d), "{d}");
            assert!(backoff.delay(20) <= backoff.max);
        }
    }

    #[test]
    fn nonsense_fields_do_not_panic() {
        let backoff = Backoff {
            waiting_interval: Some(Duration::MAX),
            initial: Duration::MAX,
            max: Duration::MAX,
            factor: f64::NAN,
            jitter: f64::INFINITY,
        };
        let _ = backoff.delay(7);
        let _ = backoff.retry_delay(7, false);
        let backoff = Backoff {
            waiting_interval: Some(Duration::ZERO),
            initial: Duration::from_secs(10),
            max: Duration::from_secs(1),
            factor: -3.0,
            jitter: 5.0,
        };
        assert!(backoff.delay(3) <= Duration::from_secs(1));
        // A zero interval would spin: the floor keeps it at 10 attempts a second at most.
        assert!(backoff.retry_delay(3, false) >= MIN_WAITING_INTERVAL);
    }

    #[test]
    fn waiting_retries_are_steady_persistent_failures_back_off() {
        let backoff = Backoff::default();
        for retry in [0, 1, 5, 50, u32::MAX] {
            for _ in 0..200 {
                let d = backoff.retry_delay(retry, false).as_millis();
                // 350 ms ± 25 %: a few attempts a second, never more than 4.
                assert!((262..=438).contains(&d), "{retry}: {d}");
            }
        }
        let exponential = Backoff {
            jitter: 0.0,
            ..Backoff::default()
        };
        let delays: Vec<_> = (0..8)
            .map(|r| exponential.retry_delay(r, true).as_millis())
            .collect();
        assert_eq!(delays, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
        let never_fast = Backoff {
            waiting_interval: None,
            ..exponential
        };
        assert_eq!(never_fast.retry_delay(4, false), Duration::from_secs(8));
    }
}
