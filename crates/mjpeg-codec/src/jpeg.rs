//! Cheap checks on JPEG bytes, without decoding them.

/// Width and height from the first start-of-frame marker (SOF0..SOF15, not DHT `C4`, JPG `C8`
/// or DAC `CC`), walking the marker segments without decoding. `None` when the bytes are not
/// a JPEG or end before a SOF segment. Never panics.
///
/// ```
/// // SOI, then a SOF0 for 320x240.
/// let jpeg = [0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x00, 0xF0, 0x01, 0x40, 0x01, 0x01, 0x11, 0x00];
/// assert_eq!(mjpeg_codec::jpeg::dimensions(&jpeg), Some((320, 240)));
/// ```
pub fn dimensions(jpeg: &[u8]) -> Option<(u16, u16)> {
    if !jpeg.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut pos = 2;
    loop {
        // Each segment starts with one or more 0xFF fill bytes, then the marker.
        if *jpeg.get(pos)? != 0xFF {
            return None;
        }
        while *jpeg.get(pos)? == 0xFF {
            pos += 1;
        }
        let marker = *jpeg.get(pos)?;
        pos += 1;
        match marker {
            // Standalone markers: TEM, RSTn, (a stray) SOI.
            0x01 | 0xD0..=0xD8 => continue,
            // EOI or SOS before any SOF: no dimensions to find.
            0xD9 | 0xDA => return None,
            _ => {}
        }
        let len = usize::from(u16::from_be_bytes([*jpeg.get(pos)?, *jpeg.get(pos + 1)?]));
        if len < 2 {
            return None;
        }
        if matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
            // length(2) precision(1) height(2) width(2)
            let height = u16::from_be_bytes([*jpeg.get(pos + 3)?, *jpeg.get(pos + 4)?]);
            let width = u16::from_be_bytes([*jpeg.get(pos + 5)?, *jpeg.get(pos + 6)?]);
            return Some((width, height));
        }
        pos += len;
    }
}

/// `true` when the bytes start with SOI (`FF D8`) and end with EOI (`FF D9`), allowing the
/// trailing `0x00`, CR and LF padding some cameras add after the EOI.
pub fn is_complete(jpeg: &[u8]) -> bool {
    jpeg.len() >= 4
        && jpeg.starts_with(&[0xFF, 0xD8])
        && trim_padding(jpeg).ends_with(&[0xFF, 0xD9])
}

/// Length of `jpeg` without trailing `0x00`/CR/LF padding.
pub(crate) fn trimmed_len(jpeg: &[u8]) -> usize {
    jpeg.iter()
        .rposition(|b| !matches!(b, 0x00 | b'\r' | b'\n'))
        .map_or(0, |i| i + 1)
}

fn trim_padding(jpeg: &[u8]) -> &[u8] {
    &jpeg[..trimmed_len(jpeg)]
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOF0_320X240: &[u8] = &[
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x4A, 0x46, // SOI, APP0 (len 4)
        0xFF, 0xC4, 0x00, 0x03, 0x00, // DHT: must not be taken for a SOF
        0xFF, 0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x00, 0xF0, 0x01, 0x40, 0x01, 0x01, 0x11, 0x00, 0xFF,
        0xD9,
    ];

    #[test]
    fn finds_sof_after_app_and_dht() {
        assert_eq!(dimensions(SOF0_320X240), Some((320, 240)));
    }

    #[test]
    fn progressive_sof2() {
        let mut j = SOF0_320X240.to_vec();
        j[15] = 0xC2;
        assert_eq!(dimensions(&j), Some((320, 240)));
    }

    #[test]
    fn every_truncation_is_none_not_panic() {
        for n in 0..SOF0_320X240.len() - 8 {
            assert_eq!(dimensions(&SOF0_320X240[..n]), None, "len {n}");
        }
    }

    #[test]
    fn garbage_is_none() {
        assert_eq!(dimensions(b"not a jpeg"), None);
        assert_eq!(dimensions(&[0xFF, 0xD8, 0x00]), None);
        assert_eq!(dimensions(&[0xFF, 0xD8, 0xFF, 0xDA, 0, 2]), None);
        assert_eq!(dimensions(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0]), None);
    }

    #[test]
    fn completeness_with_padding() {
        assert!(is_complete(SOF0_320X240));
        let mut padded = SOF0_320X240.to_vec();
        padded.extend_from_slice(b"\0\0\r\n");
        assert!(is_complete(&padded));
        assert!(!is_complete(&SOF0_320X240[..SOF0_320X240.len() - 1]));
        assert!(!is_complete(&SOF0_320X240[2..]));
        assert!(!is_complete(&[0xFF, 0xD8, 0xD9]));
        assert!(!is_complete(b""));
    }
}
