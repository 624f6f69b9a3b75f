//! Just enough JPEG parsing to find the frame size in the SOF header.

/// Width and height from the first SOFn marker, or `None` when the bytes are not a JPEG.
pub fn dimensions(jpeg: &[u8]) -> Option<(u16, u16)> {
    if jpeg.get(0..2)? != [0xFF, 0xD8] {
        return None;
    }
    let mut i = 2;
    while i + 4 <= jpeg.len() {
        if jpeg[i] != 0xFF {
            return None;
        }
        let marker = jpeg[i + 1];
        if marker == 0xFF {
            i += 1; // fill byte
            continue;
        }
        let len = usize::from(u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]));
        // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
        if (0xC0..=0xCF).contains(&marker) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
            let h = u16::from_be_bytes([*jpeg.get(i + 5)?, *jpeg.get(i + 6)?]);
            let w = u16::from_be_bytes([*jpeg.get(i + 7)?, *jpeg.get(i + 8)?]);
            return Some((w, h));
        }
        if marker == 0xDA || len < 2 {
            return None;
        }
        i += 2 + len;
    }
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn vga_frame() {
        let jpeg = include_bytes!("../../yolo-detect/testdata/vlc-frame-640x480.jpg");
        assert_eq!(super::dimensions(jpeg), Some((640, 480)));
        assert_eq!(super::dimensions(b"not a jpeg"), None);
        assert_eq!(super::dimensions(&jpeg[..10]), None);
    }
}
