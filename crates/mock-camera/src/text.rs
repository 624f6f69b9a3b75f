//! Text drawing with the public-domain 8x8 bitmap font, and the "camera offline" card.

use bytes::Bytes;
use font8x8::{UnicodeFonts, BASIC_FONTS};
use image::{Rgb, RgbImage};

use crate::encode::encode_jpeg;

/// Width and height in pixels of one glyph at scale 1.
pub const GLYPH_SIZE: u32 = 8;

/// Largest scale [`draw_text`] honours (larger values are clamped): one glyph 8192 px wide.
const MAX_SCALE: u32 = 1024;

/// Draws `text` with its top-left corner at (`x`, `y`), each font pixel a `scale`x`scale`
/// square of `color`.
///
/// Uses the 8x8 font of `font8x8` (ASCII; other characters are drawn as `?`). Newlines are
/// not interpreted. Pixels outside the image are clipped, so any position is safe.
///
/// ```
/// use image::{Rgb, RgbImage};
/// let mut img = RgbImage::new(100, 20);
/// mock_camera::draw_text(&mut img, 2, 2, 2, "Hi", Rgb([255, 255, 255]));
/// assert_eq!(img.get_pixel(2, 2), &Rgb([255, 255, 255])); // top-left of the 'H' stem
/// ```
pub fn draw_text(image: &mut RgbImage, x: i32, y: i32, scale: u32, text: &str, color: Rgb<u8>) {
    let scale = scale.clamp(1, MAX_SCALE);
    let step = i64::from(GLYPH_SIZE * scale);
    for (index, ch) in text.chars().enumerate() {
        let glyph = BASIC_FONTS
            .get(ch)
            .or_else(|| BASIC_FONTS.get('?'))
            .unwrap_or([0; 8]);
        let left = i64::from(x) + step * index as i64;
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..GLYPH_SIZE {
                // font8x8 stores the leftmost pixel in the least significant bit.
                if bits & (1 << col) != 0 {
                    let px = left + i64::from(col * scale);
                    let py = i64::from(y) + row as i64 * i64::from(scale);
                    fill_rect(image, px, py, scale, scale, color);
                }
            }
        }
    }
}

/// Width in pixels of `text` drawn at `scale` by [`draw_text`].
pub fn text_width(text: &str, scale: u32) -> u32 {
    let chars = u32::try_from(text.chars().count()).unwrap_or(u32::MAX);
    chars.saturating_mul(GLYPH_SIZE * scale.clamp(1, MAX_SCALE))
}

/// Fills a rectangle, clipped to the image.
pub(crate) fn fill_rect(image: &mut RgbImage, x: i64, y: i64, w: u32, h: u32, color: Rgb<u8>) {
    let (iw, ih) = (i64::from(image.width()), i64::from(image.height()));
    let (x0, y0) = (x.clamp(0, iw), y.clamp(0, ih));
    let (x1, y1) = (
        (x + i64::from(w)).clamp(0, iw),
        (y + i64::from(h)).clamp(0, ih),
    );
    for py in y0..y1 {
        for px in x0..x1 {
            // In range by the clamps above, and image sides fit in u32.
            image.put_pixel(px as u32, py as u32, color);
        }
    }
}

/// Draws `lines` centred on the image in white on a translucent dark box, scaled to fit.
pub(crate) fn draw_centred_lines(image: &mut RgbImage, lines: &[&str], max_scale: u32) {
    if lines.is_empty() {
        return;
    }
    let (w, h) = image.dimensions();
    let longest = lines
        .iter()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0)
        .max(1);
    let longest = u32::try_from(longest).unwrap_or(u32::MAX);
    let rows = u32::try_from(lines.len()).unwrap_or(u32::MAX);
    // Fit 90% of the width and 80% of the height; line pitch is 1.5 glyphs.
    let by_width = (w * 9 / 10) / longest.saturating_mul(GLYPH_SIZE).max(1);
    let by_height = (h * 8 / 10) / rows.saturating_mul(GLYPH_SIZE * 3 / 2).max(1);
    let scale = by_width.min(by_height).clamp(1, max_scale.max(1));
    let pitch = GLYPH_SIZE * scale * 3 / 2;
    let block = pitch * rows;
    let top = i64::from(h.saturating_sub(block) / 2) + i64::from(GLYPH_SIZE * scale / 4);
    for (i, line) in lines.iter().enumerate() {
        let lw = text_width(line, scale);
        let x = i64::from(w.saturating_sub(lw) / 2);
        let y = top + i as i64 * i64::from(pitch);
        let (x, y) = (clamp_i32(x), clamp_i32(y));
        draw_text(image, x, y, scale, line, Rgb([235, 235, 235]));
    }
}

fn clamp_i32(v: i64) -> i32 {
    i32::try_from(v).unwrap_or(if v < 0 { i32::MIN } else { i32::MAX })
}

/// A dark grey `width`x`height` JPEG card with `lines` centred on it in large white text.
///
/// This is the frame a relay shows while its camera is offline (e.g.
/// `["camera offline", "retrying in 5 s"]`). Sides are clamped to 1..=4096. Never fails:
/// should encoding fail anyway, a 1x1 grey JPEG is returned.
///
/// ```
/// let jpeg = mock_camera::placeholder_jpeg(320, 240, &["camera offline"]);
/// assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
/// ```
pub fn placeholder_jpeg(width: u32, height: u32, lines: &[&str]) -> Bytes {
    let (w, h) = (
        width.clamp(1, crate::MAX_DIMENSION),
        height.clamp(1, crate::MAX_DIMENSION),
    );
    let mut image = RgbImage::from_pixel(w, h, Rgb([48, 48, 48]));
    draw_centred_lines(&mut image, lines, 8);
    match encode_jpeg(&image, 80, 0) {
        Ok(jpeg) => jpeg,
        Err(err) => {
            tracing::warn!(%err, "placeholder frame failed to encode; sending 1x1");
            let tiny = RgbImage::from_pixel(1, 1, Rgb([48, 48, 48]));
            encode_jpeg(&tiny, 80, 0).unwrap_or_default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_glyph_pixels_at_scale() {
        let mut img = RgbImage::new(40, 20);
        draw_text(&mut img, 0, 0, 2, "I", Rgb([255, 0, 0]));
        let lit = img.pixels().filter(|p| p.0 == [255, 0, 0]).count();
        // Every lit font pixel becomes a 2x2 square.
        let glyph = BASIC_FONTS.get('I').unwrap();
        let bits: u32 = glyph.iter().map(|b| b.count_ones()).sum();
        assert_eq!(lit as u32, bits * 4);
    }

    #[test]
    fn clips_anywhere_without_panicking() {
        let mut img = RgbImage::new(10, 10);
        draw_text(&mut img, -50, -3, 3, "clipped ü text", Rgb([1, 2, 3]));
        draw_text(
            &mut img,
            i32::MAX,
            i32::MIN,
            u32::MAX / 64,
            "x",
            Rgb([1, 2, 3]),
        );
        draw_text(&mut img, 5, 5, 0, "x", Rgb([1, 2, 3]));
    }

    #[test]
    fn placeholder_is_a_jpeg_of_the_requested_size() {
        let jpeg = placeholder_jpeg(320, 240, &["camera offline", "retrying"]);
        let img = image::load_from_memory(&jpeg).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (320, 240));
        // Text is there: some bright pixels on the dark card.
        assert!(img.pixels().any(|p| p.0[0] > 200));
        let odd = placeholder_jpeg(0, 100_000, &[]);
        assert_eq!(&odd[..2], &[0xFF, 0xD8]);
    }
}
