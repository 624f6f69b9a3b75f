//! JPEG encoding of RGB images (jpeg-encoder: fast, pure Rust).

use bytes::Bytes;
use image::RgbImage;

use crate::MockError;

/// Encodes `image` as a baseline JPEG at `quality` (1..=100).
///
/// `frame` only labels an error. Sizes were validated by the caller, but a size over 65535
/// is still reported as [`MockError::InvalidSize`] rather than truncated.
pub(crate) fn encode_jpeg(image: &RgbImage, quality: u8, frame: u64) -> Result<Bytes, MockError> {
    let (width, height) = image.dimensions();
    let invalid = || MockError::InvalidSize {
        width,
        height,
        max: u32::from(u16::MAX),
    };
    let w = u16::try_from(width).map_err(|_| invalid())?;
    let h = u16::try_from(height).map_err(|_| invalid())?;
    // Headroom for a typical VGA frame; the vector grows if a frame is bigger.
    let mut out = Vec::with_capacity(image.as_raw().len() / 8);
    let encoder = jpeg_encoder::Encoder::new(&mut out, quality);
    encoder
        .encode(image.as_raw(), w, h, jpeg_encoder::ColorType::Rgb)
        .map_err(|source| MockError::Encode {
            frame,
            width,
            height,
            source,
        })?;
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_a_decodable_jpeg() {
        let img = RgbImage::from_pixel(32, 16, image::Rgb([200, 10, 10]));
        let jpeg = encode_jpeg(&img, 80, 0).unwrap();
        assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
        assert_eq!(&jpeg[jpeg.len() - 2..], &[0xFF, 0xD9]);
        let decoded = image::load_from_memory(&jpeg).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (32, 16));
    }
}
