//! JPEG decoding (zune-jpeg) and encoding (jpeg-encoder).

use crate::DetectError;
use image::RgbImage;
use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::DecoderOptions;

/// Largest width or height accepted, bounding the memory a hostile JPEG header can claim.
pub const MAX_DIMENSION: usize = 8192;

/// Decodes a JPEG (baseline or progressive, colour or grey) into RGB pixels.
pub fn decode_jpeg(jpeg: &[u8]) -> Result<RgbImage, DetectError> {
    let err = |source: crate::error::BoxError| DetectError::JpegDecode {
        len: jpeg.len(),
        source,
    };
    let options = DecoderOptions::default()
        .jpeg_set_out_colorspace(ColorSpace::RGB)
        .set_max_width(MAX_DIMENSION)
        .set_max_height(MAX_DIMENSION);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(jpeg), options);
    let pixels = decoder.decode().map_err(|e| err(format!("{e:?}").into()))?;
    let (w, h) = decoder
        .dimensions()
        .ok_or_else(|| err("no image dimensions".into()))?;
    let (w, h) = (w as u32, h as u32);
    RgbImage::from_raw(w, h, pixels)
        .ok_or_else(|| err(format!("decoder returned a short buffer for {w}x{h}").into()))
}

/// Encodes RGB pixels as a baseline JPEG of `quality` (1..=100), appending to `out`.
pub fn encode_jpeg(image: &RgbImage, quality: u8, out: &mut Vec<u8>) -> Result<(), DetectError> {
    let (w, h) = image.dimensions();
    let err = |source: crate::error::BoxError| DetectError::JpegEncode {
        width: w,
        height: h,
        source,
    };
    let (w16, h16) = match (u16::try_from(w), u16::try_from(h)) {
        (Ok(a), Ok(b)) if a > 0 && b > 0 => (a, b),
        _ => return Err(err("JPEG sides must be 1..=65535".into())),
    };
    let encoder = jpeg_encoder::Encoder::new(out, quality.clamp(1, 100));
    encoder
        .encode(image.as_raw(), w16, h16, jpeg_encoder::ColorType::Rgb)
        .map_err(|e| err(Box::new(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_size_and_colour() {
        let img = RgbImage::from_pixel(64, 48, image::Rgb([200, 40, 40]));
        let mut jpeg = Vec::new();
        encode_jpeg(&img, 90, &mut jpeg).unwrap();
        assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
        let back = decode_jpeg(&jpeg).unwrap();
        assert_eq!(back.dimensions(), (64, 48));
        let p = back.get_pixel(10, 10).0;
        assert!(p[0].abs_diff(200) < 8 && p[1].abs_diff(40) < 8, "{p:?}");
    }

    #[test]
    fn garbage_and_truncated_jpegs_are_errors_not_panics() {
        let mut jpeg = Vec::new();
        encode_jpeg(
            &RgbImage::from_pixel(32, 32, image::Rgb([1, 2, 3])),
            80,
            &mut jpeg,
        )
        .unwrap();
        for bad in [
            &b""[..],
            b"not a jpeg",
            &jpeg[..20],
            &jpeg[..jpeg.len() / 2],
        ] {
            if let Err(e) = decode_jpeg(bad) {
                assert_eq!(e.kind(), crate::ErrorKind::BadInput);
            }
        }
        assert!(decode_jpeg(b"not a jpeg").is_err());
    }

    #[test]
    fn empty_image_cannot_be_encoded() {
        let e = encode_jpeg(&RgbImage::new(0, 4), 80, &mut Vec::new()).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Encode);
    }
}
