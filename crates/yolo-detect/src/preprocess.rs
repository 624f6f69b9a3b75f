//! Letterboxing an RGB image into a planar f32 input tensor, in one pass.
//!
//! Resize (bilinear, half-pixel centres like OpenCV's `INTER_LINEAR`), channel order,
//! scaling and the HWC → CHW transpose are fused: each output value is computed once from
//! precomputed column tables, with no intermediate image.

use crate::ModelFamily;
use image::RgbImage;

/// Where the resized image goes inside the square (or rectangular) model input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Centred, padding split between both sides (Ultralytics, YOLOv5).
    Center,
    /// At the top-left corner, padding right and below (YOLOX).
    TopLeft,
}

/// How a model family wants its input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PreprocessSpec {
    /// `true` for BGR channel order, `false` for RGB.
    pub bgr: bool,
    /// Factor applied to the 0..255 pixel values (1/255 for 0..1 inputs).
    pub scale: f32,
    /// Value (0..255, before `scale`) of the padding.
    pub pad_value: u8,
    /// Placement of the resized image.
    pub placement: Placement,
}

impl PreprocessSpec {
    /// The pre-processing each family was trained with.
    pub fn for_family(family: ModelFamily) -> PreprocessSpec {
        match family {
            ModelFamily::Ultralytics | ModelFamily::YoloV5 => PreprocessSpec {
                bgr: false,
                scale: 1.0 / 255.0,
                pad_value: 114,
                placement: Placement::Center,
            },
            ModelFamily::Yolox => PreprocessSpec {
                bgr: true,
                scale: 1.0,
                pad_value: 114,
                placement: Placement::TopLeft,
            },
        }
    }
}

/// The geometry of one letterbox: maps model-input pixels back to image pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Letterbox {
    /// Resize ratio (input pixels per image pixel).
    pub ratio: f32,
    /// Left padding in input pixels.
    pub pad_x: u32,
    /// Top padding in input pixels.
    pub pad_y: u32,
    /// Width of the resized image inside the input.
    pub width: u32,
    /// Height of the resized image inside the input.
    pub height: u32,
}

impl Letterbox {
    /// Geometry for an `image_w`×`image_h` image into an `input_w`×`input_h` input.
    /// Both image sides must be non-zero.
    pub fn new(
        image_w: u32,
        image_h: u32,
        input_w: u32,
        input_h: u32,
        placement: Placement,
    ) -> Letterbox {
        let ratio = (input_w as f32 / image_w as f32).min(input_h as f32 / image_h as f32);
        let (width, height) = match placement {
            // YOLOX's reference pre-processing truncates (`int(w * r)`).
            Placement::TopLeft => (
                (image_w as f32 * ratio) as u32,
                (image_h as f32 * ratio) as u32,
            ),
            Placement::Center => (
                (image_w as f32 * ratio).round() as u32,
                (image_h as f32 * ratio).round() as u32,
            ),
        };
        let (width, height) = (width.clamp(1, input_w), height.clamp(1, input_h));
        let (pad_x, pad_y) = match placement {
            Placement::TopLeft => (0, 0),
            Placement::Center => ((input_w - width) / 2, (input_h - height) / 2),
        };
        Letterbox {
            ratio,
            pad_x,
            pad_y,
            width,
            height,
        }
    }

    /// Maps an input-space x back to image space.
    pub fn x_to_image(&self, x: f32) -> f32 {
        (x - self.pad_x as f32) / self.ratio
    }

    /// Maps an input-space y back to image space.
    pub fn y_to_image(&self, y: f32) -> f32 {
        (y - self.pad_y as f32) / self.ratio
    }
}

/// Source taps of one output coordinate for bilinear sampling.
#[derive(Debug, Clone, Copy)]
struct Tap {
    lo: usize,
    hi: usize,
    w_hi: f32,
}

fn taps(src_len: u32, dst_len: u32) -> impl Iterator<Item = Tap> {
    let scale = src_len as f32 / dst_len as f32;
    let last = src_len.saturating_sub(1) as usize;
    (0..dst_len).map(move |d| {
        let s = ((d as f32 + 0.5) * scale - 0.5).max(0.0);
        let lo = (s as usize).min(last);
        let hi = (lo + 1).min(last);
        Tap {
            lo,
            hi,
            w_hi: s - lo as f32,
        }
    })
}

/// Reusable column tables and the fused letterbox routine.
#[derive(Debug, Default)]
pub struct Preprocessor {
    columns: Vec<Tap>,
    key: (u32, u32, u32),
}

impl Preprocessor {
    /// Writes `image` letterboxed into `out`, a `3 × input_h × input_w` planar buffer, and
    /// returns the geometry. `image` must not be empty and `out` must have that length.
    pub fn run(
        &mut self,
        image: &RgbImage,
        spec: &PreprocessSpec,
        input_w: u32,
        input_h: u32,
        out: &mut [f32],
    ) -> Letterbox {
        let (iw, ih) = image.dimensions();
        let lb = Letterbox::new(iw, ih, input_w, input_h, spec.placement);
        let key = (iw, lb.width, 0);
        if self.key != key || self.columns.len() != lb.width as usize {
            self.columns = taps(iw, lb.width)
                .map(|t| Tap {
                    lo: t.lo * 3,
                    hi: t.hi * 3,
                    ..t
                })
                .collect();
            self.key = key;
        }
        let plane = (input_w * input_h) as usize;
        let pad = spec.pad_value as f32 * spec.scale;
        out.fill(pad);
        let (p0, rest) = out.split_at_mut(plane);
        let (p1, p2) = rest.split_at_mut(plane);
        // Channel order: plane 0 receives R (RGB) or B (BGR).
        let (first, third) = if spec.bgr { (2, 0) } else { (0, 2) };
        let src = image.as_raw();
        let stride = iw as usize * 3;
        for (dy, ty) in taps(ih, lb.height).enumerate() {
            let row_lo = &src[ty.lo * stride..(ty.lo + 1) * stride];
            let row_hi = &src[ty.hi * stride..(ty.hi + 1) * stride];
            let wy = ty.w_hi;
            let start = (dy + lb.pad_y as usize) * input_w as usize + lb.pad_x as usize;
            let end = start + lb.width as usize;
            let (o0, o1, o2) = (
                &mut p0[start..end],
                &mut p1[start..end],
                &mut p2[start..end],
            );
            for (x, t) in self.columns.iter().enumerate() {
                let sample = |c: usize| {
                    let a = row_lo[t.lo + c] as f32;
                    let b = row_lo[t.hi + c] as f32;
                    let c2 = row_hi[t.lo + c] as f32;
                    let d = row_hi[t.hi + c] as f32;
                    let top = a + (b - a) * t.w_hi;
                    let bottom = c2 + (d - c2) * t.w_hi;
                    (top + (bottom - top) * wy) * spec.scale
                };
                o0[x] = sample(first);
                o1[x] = sample(1);
                o2[x] = sample(third);
            }
        }
        lb
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letterbox_geometry_per_placement() {
        let c = Letterbox::new(640, 480, 320, 320, Placement::Center);
        assert_eq!((c.width, c.height, c.pad_x, c.pad_y), (320, 240, 0, 40));
        assert_eq!(c.y_to_image(40.0), 0.0);
        assert_eq!(c.x_to_image(320.0), 640.0);
        let t = Letterbox::new(451, 300, 416, 416, Placement::TopLeft);
        assert_eq!((t.width, t.height, t.pad_x, t.pad_y), (416, 276, 0, 0));
    }

    #[test]
    fn uniform_image_fills_resized_area_and_pads_the_rest() {
        let img = RgbImage::from_pixel(8, 4, image::Rgb([10, 20, 30]));
        let spec = PreprocessSpec::for_family(ModelFamily::Yolox);
        let mut out = vec![0.0; 3 * 8 * 8];
        let lb = Preprocessor::default().run(&img, &spec, 8, 8, &mut out);
        assert_eq!((lb.width, lb.height), (8, 4));
        // BGR: plane 0 is blue.
        assert_eq!(out[0], 30.0);
        assert_eq!(out[64 + 3 * 8 + 7], 20.0);
        assert_eq!(out[128], 10.0);
        assert_eq!(out[4 * 8], 114.0);
        assert_eq!(out[191], 114.0);
    }

    #[test]
    fn centered_rgb_scaled_and_downscaled_by_two_averages_pixels() {
        // 4x2 image: columns alternate 0 and 100 in red; halved to 2x1, centred in 2x2.
        let img = RgbImage::from_fn(4, 2, |x, _| {
            image::Rgb([if x % 2 == 0 { 0 } else { 100 }, 0, 255])
        });
        let spec = PreprocessSpec::for_family(ModelFamily::Ultralytics);
        let mut out = vec![0.0; 3 * 2 * 2];
        let lb = Preprocessor::default().run(&img, &spec, 2, 2, &mut out);
        assert_eq!((lb.width, lb.height, lb.pad_y), (2, 1, 0));
        assert!((out[0] - 50.0 / 255.0).abs() < 1e-6, "{}", out[0]);
        assert!((out[2] - 114.0 / 255.0).abs() < 1e-6);
        assert!((out[8] - 1.0).abs() < 1e-6);
    }
}
