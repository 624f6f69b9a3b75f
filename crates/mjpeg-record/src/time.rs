//! Parsing of times ("2026-11-29T20:30:00Z", "1764448200.5"), durations ("7d", "5s") and sizes
//! ("50GB"), and the UTC path parts of a segment.

use crate::error::{Error, Result};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Microseconds since the Unix epoch, the one time unit of this crate.
pub type Micros = i64;

/// Now, in Unix microseconds.
pub fn now_micros() -> Micros {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_micros() as i64,
        Err(e) => -(e.duration().as_micros() as i64),
    }
}

/// Parses a point in time: RFC 3339 (`2026-11-29T20:30:00Z`, `...00.250+01:00`) or Unix seconds
/// with an optional fraction (`1764448200`, `1764448200.25`). Returns Unix microseconds.
pub fn parse_time(text: &str) -> Result<Micros> {
    let t = text.trim();
    if !t.is_empty()
        && t.bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return parse_unix_seconds(t);
    }
    // humantime reads UTC ("Z") only; fold a numeric offset in by hand.
    let (base, offset_s) =
        split_offset(t).ok_or_else(|| Error::parse("time", text, "bad offset"))?;
    let st = humantime::parse_rfc3339_weak(&base).map_err(|e| Error::parse("time", text, e))?;
    let us = match st.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_micros() as i64,
        Err(e) => -(e.duration().as_micros() as i64),
    };
    Ok(us - offset_s * 1_000_000)
}

fn parse_unix_seconds(t: &str) -> Result<Micros> {
    let (neg, t2) = t.strip_prefix('-').map_or((false, t), |r| (true, r));
    let (whole, frac) = t2.split_once('.').unwrap_or((t2, ""));
    if whole.is_empty() || frac.contains(['.', '-']) || whole.contains('-') {
        return Err(Error::parse(
            "time",
            t,
            "expected Unix seconds like 1764448200.25",
        ));
    }
    let secs: i64 = whole.parse().map_err(|e| Error::parse("time", t, e))?;
    let mut micros = 0i64;
    for (i, c) in frac.bytes().take(6).enumerate() {
        micros += i64::from(c - b'0') * 10i64.pow(5 - i as u32);
    }
    let v = secs
        .checked_mul(1_000_000)
        .and_then(|s| s.checked_add(micros))
        .ok_or_else(|| Error::parse("time", t, "out of range"))?;
    Ok(if neg { -v } else { v })
}

/// Splits `...+HH:MM` / `...-HH:MM` / `...Z` into a UTC-less base and the offset in seconds.
fn split_offset(t: &str) -> Option<(String, i64)> {
    if let Some(b) = t.strip_suffix(['Z', 'z']) {
        return Some((b.to_owned(), 0));
    }
    let n = t.len();
    if n > 6 && t.is_char_boundary(n - 6) {
        let (b, off) = t.split_at(n - 6);
        let ob = off.as_bytes();
        if (ob[0] == b'+' || ob[0] == b'-') && ob[3] == b':' {
            let h: i64 = off.get(1..3)?.parse().ok()?;
            let m: i64 = off.get(4..6)?.parse().ok()?;
            let s = (h * 3600 + m * 60) * if ob[0] == b'-' { -1 } else { 1 };
            return Some((b.to_owned(), s));
        }
    }
    Some((t.to_owned(), 0))
}

/// Parses a duration like `7d`, `5s`, `1h 30m`, `250ms`.
pub fn parse_duration(text: &str) -> Result<Duration> {
    humantime::parse_duration(text.trim()).map_err(|e| Error::parse("duration", text, e))
}

/// Parses a size like `50GB`, `512MiB`, `1000000` (bytes). Decimal units are powers of 1000,
/// `KiB`/`MiB`/`GiB`/`TiB` powers of 1024.
pub fn parse_size(text: &str) -> Result<u64> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|e| Error::parse("size", text, e))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "t" | "tb" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        other => {
            return Err(Error::parse(
                "size",
                text,
                format!("unknown unit {other:?}"),
            ))
        }
    };
    Ok((n * mult) as u64)
}

/// Formats Unix microseconds as RFC 3339 UTC with microseconds (`2026-11-29T20:30:00.000000Z`).
pub fn format_time(us: Micros) -> String {
    let st = if us >= 0 {
        UNIX_EPOCH + Duration::from_micros(us as u64)
    } else {
        UNIX_EPOCH - Duration::from_micros(us.unsigned_abs())
    };
    humantime::format_rfc3339_micros(st).to_string()
}

/// The UTC `(YYYY-MM-DD, HH, MM)` of a time, the directory parts of its segment.
pub(crate) fn path_parts(us: Micros) -> (String, String, String) {
    let s = format_time(us); // 2026-11-29T20:30:00.000000Z
    (
        s[0..10].to_owned(),
        s[11..13].to_owned(),
        s[14..16].to_owned(),
    )
}

/// Parses the UTC parts of a segment path back to Unix microseconds at the start of its minute.
pub(crate) fn parse_path_parts(day: &str, hour: &str, minute: &str) -> Option<Micros> {
    if day.len() != 10 || hour.len() != 2 || minute.len() != 2 {
        return None;
    }
    let st = humantime::parse_rfc3339(&format!("{day}T{hour}:{minute}:00Z")).ok()?;
    Some(st.duration_since(UNIX_EPOCH).ok()?.as_micros() as i64)
}

/// serde helpers: a duration as `"5s"`, a size as `"50GB"` or a number of bytes.
pub(crate) mod serde_helpers {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumOrText {
        Num(u64),
        Text(String),
    }

    pub fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        match NumOrText::deserialize(d)? {
            NumOrText::Num(n) => Ok(Duration::from_secs(n)),
            NumOrText::Text(t) => super::parse_duration(&t).map_err(serde::de::Error::custom),
        }
    }

    pub fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        duration(d).map(Some)
    }

    pub fn opt_size<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        match NumOrText::deserialize(d)? {
            NumOrText::Num(n) => Ok(Some(n)),
            NumOrText::Text(t) => super::parse_size(&t)
                .map(Some)
                .map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_time("1764448200").expect("t"), 1_764_448_200_000_000);
        assert_eq!(
            parse_time("1764448200.25").expect("t"),
            1_764_448_200_250_000
        );
        assert_eq!(parse_time("1970-01-01T00:00:01Z").expect("t"), 1_000_000);
        assert_eq!(parse_time("1970-01-01T00:00:01.5Z").expect("t"), 1_500_000);
        assert_eq!(
            parse_time("1970-01-01T01:00:01+01:00").expect("t"),
            1_000_000
        );
        assert_eq!(
            parse_time("1970-01-01T00:00:01-00:30").expect("t"),
            1_801_000_000
        );
        assert!(parse_time("yesterday").is_err());
        assert!(parse_time("1.2.3").is_err());
        assert_eq!(format_time(1_500_000), "1970-01-01T00:00:01.500000Z");
        let (d, h, m) = path_parts(1_764_448_263_000_000);
        assert_eq!(
            (d.as_str(), h.as_str(), m.as_str()),
            ("2025-11-29", "20", "31")
        );
        assert_eq!(parse_path_parts(&d, &h, &m), Some(1_764_448_260_000_000));
    }

    #[test]
    fn durations_and_sizes() {
        assert_eq!(
            parse_duration("7d").expect("d"),
            Duration::from_secs(7 * 86400)
        );
        assert_eq!(parse_duration("5s").expect("d"), Duration::from_secs(5));
        assert_eq!(parse_size("50GB").expect("s"), 50_000_000_000);
        assert_eq!(parse_size("1.5 MiB").expect("s"), 1_572_864);
        assert_eq!(parse_size("123").expect("s"), 123);
        assert!(parse_size("12 parsecs").is_err());
    }
}
