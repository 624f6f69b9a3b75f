//! Single byte ranges (`Range: bytes=a-b`, RFC 9110).

use std::ops::Range;

/// The single byte range a `Range` header asks for, in a body of `len` bytes: `Ok(None)` for
/// the whole body (no range, or several ranges, which a server may answer with the whole
/// body), `Err(())` for an invalid or unsatisfiable range (a 416).
#[allow(clippy::result_unit_err)]
pub fn parse_range(value: &str, len: u64) -> Result<Option<Range<u64>>, ()> {
    let spec = value.trim().strip_prefix("bytes=").ok_or(())?.trim();
    if spec.contains(',') {
        return Ok(None);
    }
    let (a, b) = spec.split_once('-').ok_or(())?;
    let num = |s: &str| s.trim().parse::<u64>().map_err(|_| ());
    let range = if a.trim().is_empty() {
        let n = num(b)?;
        if n == 0 || len == 0 {
            return Err(());
        }
        len - n.min(len)..len
    } else {
        let start = num(a)?;
        let end = if b.trim().is_empty() {
            len
        } else {
            let last = num(b)?;
            if last < start {
                return Err(());
            }
            last.saturating_add(1).min(len)
        };
        if start >= len {
            return Err(());
        }
        start..end
    };
    Ok(Some(range))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_rfc_9110() {
        assert_eq!(parse_range("bytes=0-9", 100), Ok(Some(0..10)));
        assert_eq!(parse_range("bytes=90-200", 100), Ok(Some(90..100)));
        assert_eq!(parse_range("bytes=10-", 100), Ok(Some(10..100)));
        assert_eq!(parse_range("bytes=-10", 100), Ok(Some(90..100)));
        assert_eq!(parse_range("bytes=-1000", 100), Ok(Some(0..100)));
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Ok(None));
        assert_eq!(parse_range("bytes=100-", 100), Err(()));
        assert_eq!(parse_range("bytes=-0", 100), Err(()));
        assert_eq!(parse_range("bytes=5-2", 100), Err(()));
        assert_eq!(parse_range("items=0-1", 100), Err(()));
        assert_eq!(parse_range("bytes=x-1", 100), Err(()));
    }
}
