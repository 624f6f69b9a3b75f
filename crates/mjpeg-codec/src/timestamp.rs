//! The `X-Timestamp` header value: `SEC.USEC` since the Unix epoch.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// 9999-12-31T23:59:59Z in seconds since the epoch, where [`Timestamp::to_system_time`] saturates.
const END_OF_9999: u64 = 253_402_300_799;

/// A wall-clock instant as MJPEG servers put it in `X-Timestamp` (`SEC.USEC`, Unix epoch),
/// e.g. the ESP32-CAM firmware's `%d.%06d` or ustreamer's `%.06Lf`.
///
/// Displays as `SEC.USEC` with six digits after the dot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp {
    /// Whole seconds since the Unix epoch.
    pub secs: u64,
    /// Microseconds within the second (`0..1_000_000`).
    pub micros: u32,
}

impl Timestamp {
    /// Parses `SEC`, `SEC.` or `SEC.FRACTION` (surrounding spaces ignored). The fraction is a
    /// decimal fraction of a second: `1.5` is 1 s 500000 µs; digits past the sixth are
    /// truncated. Returns `None` for anything else (signs, exponents, empty parts, overflow).
    pub fn parse(s: &str) -> Option<Timestamp> {
        let s = s.trim();
        let (secs, frac) = match s.split_once('.') {
            Some((secs, frac)) => (secs, frac),
            None => (s, ""),
        };
        if secs.is_empty() || !secs.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let secs: u64 = secs.parse().ok()?;
        let mut micros = 0u32;
        for i in 0..6 {
            let digit = frac.as_bytes().get(i).map_or(0, |b| u32::from(b - b'0'));
            micros = micros * 10 + digit;
        }
        Some(Timestamp { secs, micros })
    }

    /// The current wall-clock time.
    pub fn now() -> Timestamp {
        Self::from_system_time(SystemTime::now())
    }

    /// The same instant as a [`SystemTime`]; a timestamp past what `SystemTime` holds (a
    /// hostile `X-Timestamp: 18446744073709551615`) saturates at the end of year 9999 instead
    /// of panicking.
    pub fn to_system_time(self) -> SystemTime {
        let since_epoch = Duration::new(self.secs, self.micros.min(999_999) * 1000);
        UNIX_EPOCH
            .checked_add(since_epoch)
            .or_else(|| UNIX_EPOCH.checked_add(Duration::from_secs(END_OF_9999)))
            .unwrap_or(UNIX_EPOCH)
    }

    /// Converts a [`SystemTime`], truncating to microseconds; times before the epoch give
    /// `0.000000`.
    pub fn from_system_time(t: SystemTime) -> Timestamp {
        let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
        Timestamp {
            secs: since.as_secs(),
            micros: since.subsec_micros(),
        }
    }

    /// Writes `SEC.USEC` into `out` without going through `fmt` (hot path of the writer).
    pub(crate) fn write_to(self, out: &mut Vec<u8>) {
        let mut buf = itoa::Buffer::new();
        out.extend_from_slice(buf.format(self.secs).as_bytes());
        out.push(b'.');
        let micros = buf.format(self.micros.min(999_999));
        out.extend(std::iter::repeat_n(b'0', 6 - micros.len()));
        out.extend_from_slice(micros.as_bytes());
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:06}", self.secs, self.micros.min(999_999))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_firmware_format() {
        assert_eq!(
            Timestamp::parse("1732505813.004200"),
            Some(Timestamp {
                secs: 1_732_505_813,
                micros: 4200
            })
        );
    }

    #[test]
    fn parses_short_and_long_fractions() {
        assert_eq!(Timestamp::parse(" 12.5 ").map(|t| t.micros), Some(500_000));
        assert_eq!(
            Timestamp::parse("12.1234567").map(|t| t.micros),
            Some(123_456)
        );
        assert_eq!(
            Timestamp::parse("12"),
            Some(Timestamp {
                secs: 12,
                micros: 0
            })
        );
        assert_eq!(
            Timestamp::parse("12."),
            Some(Timestamp {
                secs: 12,
                micros: 0
            })
        );
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            ".5",
            "-1.0",
            "1.-5",
            "1e3",
            "abc",
            "1.2.3",
            "99999999999999999999999.0",
        ] {
            assert_eq!(Timestamp::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn display_and_write_agree() {
        let t = Timestamp {
            secs: 7,
            micros: 42,
        };
        let mut out = Vec::new();
        t.write_to(&mut out);
        assert_eq!(t.to_string(), "7.000042");
        assert_eq!(out, b"7.000042");
    }

    #[test]
    fn system_time_round_trip() {
        let t = Timestamp {
            secs: 1_700_000_000,
            micros: 123_456,
        };
        assert_eq!(Timestamp::from_system_time(t.to_system_time()), t);
        assert!(Timestamp::now().secs > 1_700_000_000);
    }

    #[test]
    fn huge_timestamps_saturate() {
        let t = Timestamp::parse("18446744073709551615.999999").unwrap();
        let end = Timestamp::from_system_time(t.to_system_time());
        assert_eq!(end.secs, END_OF_9999);
        let odd = Timestamp {
            secs: 1,
            micros: 5_000_000,
        };
        assert_eq!(odd.to_string(), "1.999999");
    }
}
