//! Query strings: `?camera=`, `?start=` / `?end=` (RFC 3339 or Unix seconds), `?format=`.

use mjpeg_record::Micros;

/// The value of query parameter `name`, percent-decoded.
pub fn param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == name).then(|| percent_decode(v))
    })
}

/// `%XX` escapes decoded (`+` stays a plus: times carry offsets like `+01:00`); invalid
/// escapes are kept as they are.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `start` and `end` of the query, or a message saying what is wrong (a 400).
pub fn time_range(query: &str) -> Result<(Micros, Micros), String> {
    let get = |name: &str| -> Result<Micros, String> {
        let value = param(query, name).ok_or_else(|| {
            format!("missing ?{name}= (RFC 3339 like 2026-11-29T21:00:00Z, or Unix seconds)")
        })?;
        mjpeg_record::parse_time(&value).map_err(|e| format!("bad {name}: {e}"))
    };
    let (start, end) = (get("start")?, get("end")?);
    if end <= start {
        return Err("end must be after start".into());
    }
    Ok((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params_are_percent_decoded() {
        let q = "camera=door&start=2026-11-29T21%3A00%3A00%2B01%3A00&end=17";
        assert_eq!(
            param(q, "start").as_deref(),
            Some("2026-11-29T21:00:00+01:00")
        );
        assert_eq!(param(q, "end").as_deref(), Some("17"));
        assert_eq!(param(q, "format"), None);
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }

    #[test]
    fn time_ranges_must_be_ordered() {
        assert!(time_range("start=10&end=20").is_ok());
        assert!(time_range("start=20&end=10").is_err());
        assert!(time_range("start=10").is_err());
        assert!(time_range("start=x&end=20").is_err());
    }
}
