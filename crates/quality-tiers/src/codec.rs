//! The JPEG work of the tiers: decode once (zune-jpeg, straight to YCbCr), shrink by 2 or 4
//! with a box filter, encode (jpeg-encoder with its AVX2 path) — the fastest pure-Rust path
//! measured by `examples/jpeg_candidates.rs` (see the README).

use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::DecoderOptions;

use crate::QualityError;

/// Largest width or height decoded, bounding the memory a hostile JPEG header can claim.
pub const MAX_SIDE: usize = 8192;

/// A decoded picture: three interleaved 8-bit channels (YCbCr as decoded here, or RGB).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picture {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `width * height * 3` bytes, row after row.
    pub pixels: Vec<u8>,
}

/// The colour model of a [`Picture`]'s channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channels {
    /// Y, Cb, Cr: what a JPEG stores, so neither decode nor encode converts colours.
    YCbCr,
    /// Red, green, blue.
    Rgb,
}

/// Decodes `jpeg` into a picture of `channels`.
pub fn decode(jpeg: &[u8], channels: Channels) -> Result<Picture, QualityError> {
    let failed = |reason: String| QualityError::Decode {
        len: jpeg.len(),
        reason,
    };
    let colorspace = match channels {
        Channels::YCbCr => ColorSpace::YCbCr,
        Channels::Rgb => ColorSpace::RGB,
    };
    let options = DecoderOptions::default()
        .jpeg_set_out_colorspace(colorspace)
        .set_max_width(MAX_SIDE)
        .set_max_height(MAX_SIDE);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(jpeg), options);
    let pixels = decoder.decode().map_err(|e| failed(format!("{e:?}")))?;
    let (width, height) = decoder
        .dimensions()
        .ok_or_else(|| failed("no dimensions".into()))?;
    if pixels.len() != width * height * 3 {
        return Err(failed(format!(
            "{} bytes for {width}x{height} (a grey JPEG?)",
            pixels.len()
        )));
    }
    Ok(Picture {
        width,
        height,
        pixels,
    })
}

/// `picture` shrunk by `factor` (1, 2 or 4 are what the tiers use) with a box filter: each
/// output pixel is the mean of a `factor x factor` block. Sides are rounded down (a ragged
/// edge is dropped); at least 1x1.
pub fn shrink(picture: &Picture, factor: usize) -> Picture {
    let factor = factor.max(1);
    if factor == 1 {
        return picture.clone();
    }
    let width = (picture.width / factor).max(1);
    let height = (picture.height / factor).max(1);
    let mut pixels = vec![0u8; width * height * 3];
    let row_bytes = picture.width * 3;
    let mut sums = vec![0u32; width * 3];
    let (fw, fh) = (factor.min(picture.width), factor.min(picture.height));
    let area = (fw * fh) as u32;
    for (y, out_row) in pixels.chunks_exact_mut(width * 3).enumerate() {
        sums.iter_mut().for_each(|s| *s = 0);
        for dy in 0..fh {
            let start = (y * factor + dy) * row_bytes;
            let row = &picture.pixels[start..start + row_bytes];
            for (x, sum) in sums.chunks_exact_mut(3).enumerate() {
                let block = &row[x * factor * 3..(x * factor + fw) * 3];
                for px in block.chunks_exact(3) {
                    sum[0] += u32::from(px[0]);
                    sum[1] += u32::from(px[1]);
                    sum[2] += u32::from(px[2]);
                }
            }
        }
        for (out, sum) in out_row.iter_mut().zip(&sums) {
            // Rounded mean of at most 255: fits a u8.
            *out = ((sum + area / 2) / area) as u8;
        }
    }
    Picture {
        width,
        height,
        pixels,
    }
}

/// Encodes `picture` (of `channels`) as a baseline JPEG at `quality` (1..=100), 4:2:0.
pub fn encode(picture: &Picture, channels: Channels, quality: u8) -> Result<Vec<u8>, QualityError> {
    let failed = |reason: String| QualityError::Encode {
        width: picture.width,
        height: picture.height,
        reason,
    };
    let (Ok(w), Ok(h)) = (u16::try_from(picture.width), u16::try_from(picture.height)) else {
        return Err(failed("sides over 65535".into()));
    };
    let color = match channels {
        Channels::YCbCr => jpeg_encoder::ColorType::Ycbcr,
        Channels::Rgb => jpeg_encoder::ColorType::Rgb,
    };
    let mut out = Vec::with_capacity(picture.pixels.len() / 10);
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, quality.clamp(1, 100));
    encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_2_0);
    encoder
        .encode(&picture.pixels, w, h, color)
        .map_err(|e| failed(e.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VGA: &[u8] = include_bytes!("../testdata/vga-640x480.jpg");

    #[test]
    fn decode_shrink_encode_round_trips_at_the_stated_sizes() {
        for channels in [Channels::YCbCr, Channels::Rgb] {
            let full = decode(VGA, channels).expect("decodes");
            assert_eq!((full.width, full.height), (640, 480));
            for (factor, side) in [(1, (640, 480)), (2, (320, 240)), (4, (160, 120))] {
                let small = shrink(&full, factor);
                assert_eq!((small.width, small.height), side);
                let jpeg = encode(&small, channels, 70).expect("encodes");
                let back = decode(&jpeg, Channels::Rgb).expect("decodes again");
                assert_eq!((back.width, back.height), side);
            }
        }
    }

    #[test]
    fn the_box_filter_averages_blocks_and_keeps_flat_colour() {
        let flat = Picture {
            width: 4,
            height: 4,
            pixels: [10u8, 20, 30].repeat(16),
        };
        assert_eq!(shrink(&flat, 2).pixels, [10u8, 20, 30].repeat(4));
        let mut ramp = flat.clone();
        ramp.pixels[0] = 50; // one corner pixel of the first 2x2 block: mean 20
        assert_eq!(shrink(&ramp, 2).pixels[0], 20);
        assert_eq!(shrink(&ramp, 4).pixels[0], 13); // (50 + 15 * 10) / 16 = 12.5, rounded
    }

    #[test]
    fn garbage_is_a_codec_error() {
        let error = decode(b"\xFF\xD8 not a jpeg", Channels::YCbCr).expect_err("refused");
        assert_eq!(error.kind(), crate::ErrorKind::Codec);
    }
}
