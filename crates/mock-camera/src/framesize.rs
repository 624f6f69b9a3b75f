//! The ESP32 camera driver's `framesize_t` values (esp32-camera `sensor.h`).

/// `(framesize value, width, height, name)` for the sizes an OV2640 produces, in the order of
/// esp32-camera's `framesize_t` enum (values 0..=13).
pub const FRAME_SIZES: [(i32, u32, u32, &str); 14] = [
    (0, 96, 96, "96X96"),
    (1, 160, 120, "QQVGA"),
    (2, 176, 144, "QCIF"),
    (3, 240, 176, "HQVGA"),
    (4, 240, 240, "240X240"),
    (5, 320, 240, "QVGA"),
    (6, 400, 296, "CIF"),
    (7, 480, 320, "HVGA"),
    (8, 640, 480, "VGA"),
    (9, 800, 600, "SVGA"),
    (10, 1024, 768, "XGA"),
    (11, 1280, 720, "HD"),
    (12, 1280, 1024, "SXGA"),
    (13, 1600, 1200, "UXGA"),
];

/// Width and height of framesize value `framesize`, if it is one of [`FRAME_SIZES`].
pub fn framesize_dimensions(framesize: i32) -> Option<(u32, u32)> {
    FRAME_SIZES
        .iter()
        .find(|f| f.0 == framesize)
        .map(|f| (f.1, f.2))
}

/// The framesize value for `width`x`height`, if the sensor has that size.
pub fn framesize_of(width: u32, height: u32) -> Option<i32> {
    FRAME_SIZES
        .iter()
        .find(|f| f.1 == width && f.2 == height)
        .map(|f| f.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_the_issue_and_round_trips() {
        assert_eq!(framesize_dimensions(5), Some((320, 240)));
        assert_eq!(framesize_dimensions(6), Some((400, 296)));
        assert_eq!(framesize_dimensions(8), Some((640, 480)));
        assert_eq!(framesize_dimensions(9), Some((800, 600)));
        assert_eq!(framesize_dimensions(14), None);
        for (value, w, h, _) in FRAME_SIZES {
            assert_eq!(framesize_of(w, h), Some(value));
        }
    }
}
