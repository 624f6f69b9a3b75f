//! The moving picture: three sample photos sliding over a room, pre-encoded as a JPEG loop.

use std::f32::consts::TAU;
use std::num::NonZeroUsize;

use bytes::Bytes;
use image::{imageops::FilterType, DynamicImage, Rgb, RgbImage};

use crate::encode::encode_jpeg;
use crate::text::{fill_rect, text_width, GLYPH_SIZE};
use crate::{draw_text, MockError};

/// Frames in the pre-encoded loop of [`Scene::new`]: 3 s at 30 fps.
pub const DEFAULT_LOOP_FRAMES: usize = 90;
/// Longest loop [`Scene::with_loop_frames`] accepts (memory: ~60 KB per VGA frame).
pub const MAX_LOOP_FRAMES: usize = 3600;
/// Largest side of a scene in pixels (an OV2640 tops out at 1600x1200).
pub const MAX_DIMENSION: u32 = 4096;

/// The bundled photos: bytes, and the COCO object each one shows.
const ASTRONAUT: (&str, &[u8]) = ("astronaut.jpg", include_bytes!("../assets/astronaut.jpg"));
const CHELSEA: (&str, &[u8]) = ("chelsea.jpg", include_bytes!("../assets/chelsea.jpg"));
const COFFEE: (&str, &[u8]) = ("coffee.jpg", include_bytes!("../assets/coffee.jpg"));

/// Where one photo sits and how it moves, laid out for 640x480 and scaled to the scene.
struct Placement {
    asset: (&'static str, &'static [u8]),
    /// Size at VGA in pixels (scaled by `min(w/640, h/480)`).
    vga_size: (u32, u32),
    /// Centre of the motion, as fractions of the frame's width and height (top-left corner).
    origin: (f32, f32),
    /// Amplitude of the sinusoidal motion, as fractions of width and height.
    swing: (f32, f32),
    /// Phase offset of the motion, in turns.
    phase: f32,
}

/// Person on the left swaying sideways, cat top right bobbing, coffee bottom right drifting.
/// The objects stay large (about 270 px at VGA) so that a 416-input detector still finds them.
const PLACEMENTS: [Placement; 3] = [
    Placement {
        asset: ASTRONAUT,
        vga_size: (270, 270),
        origin: (0.07, 0.05),
        swing: (0.05, 0.02),
        phase: 0.0,
    },
    Placement {
        asset: CHELSEA,
        vga_size: (270, 180),
        origin: (0.56, 0.08),
        swing: (0.0, 0.05),
        phase: 0.25,
    },
    Placement {
        asset: COFFEE,
        vga_size: (270, 180),
        origin: (0.555, 0.57),
        swing: (0.02, 0.015),
        phase: 0.5,
    },
];

/// One photo scaled for this scene, with its motion in pixels.
struct Sprite {
    image: RgbImage,
    origin: (f32, f32),
    swing: (f32, f32),
    phase: f32,
}

/// The moving picture a [`MockCamera`](crate::MockCamera) serves.
///
/// A room (wall and floor) with the three bundled photos (a person, a cat, a cup of coffee)
/// sliding smoothly; the motion loops seamlessly every [`frame_count`](Scene::frame_count)
/// frames. All frames of the loop are JPEG-encoded once, in [`Scene::new`], so serving one
/// costs a reference-count increment. `Send + Sync`: share it in an `Arc`.
///
/// ```
/// let scene = mock_camera::Scene::with_loop_frames(320, 240, 80, 2)?;
/// let jpeg = scene.frame(7); // frame 7 % 2 of the loop
/// assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
/// assert_eq!(scene.size(), (320, 240));
/// # Ok::<(), mock_camera::MockError>(())
/// ```
pub struct Scene {
    width: u32,
    height: u32,
    quality: u8,
    background: RgbImage,
    sprites: Vec<Sprite>,
    /// The pre-encoded loop; never empty.
    frames: Vec<Bytes>,
}

impl std::fmt::Debug for Scene {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scene")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("quality", &self.quality)
            .field("frames", &self.frames.len())
            .finish_non_exhaustive()
    }
}

impl Scene {
    /// Builds a `width`x`height` scene at JPEG `quality` (1..=100) with a loop of
    /// [`DEFAULT_LOOP_FRAMES`] frames (3 s at 30 fps; about 0.2 s of CPU in a release build).
    pub fn new(width: u32, height: u32, quality: u8) -> Result<Scene, MockError> {
        Scene::with_loop_frames(width, height, quality, DEFAULT_LOOP_FRAMES)
    }

    /// Like [`Scene::new`] with a loop of `loop_frames` frames (tests use a few to start fast).
    pub fn with_loop_frames(
        width: u32,
        height: u32,
        quality: u8,
        loop_frames: usize,
    ) -> Result<Scene, MockError> {
        if width == 0 || height == 0 || width > MAX_DIMENSION || height > MAX_DIMENSION {
            return Err(MockError::InvalidSize {
                width,
                height,
                max: MAX_DIMENSION,
            });
        }
        if !(1..=100).contains(&quality) {
            return Err(MockError::InvalidQuality { quality });
        }
        if !(1..=MAX_LOOP_FRAMES).contains(&loop_frames) {
            return Err(MockError::InvalidLoop {
                frames: loop_frames,
                max: MAX_LOOP_FRAMES,
            });
        }
        let mut scene = Scene {
            width,
            height,
            quality,
            background: room_background(width, height),
            sprites: load_sprites(width, height)?,
            frames: Vec::new(),
        };
        scene.frames = scene.encode_loop(loop_frames)?;
        Ok(scene)
    }

    /// Number of frames in the pre-encoded loop.
    pub fn frame_count(&self) -> usize {
        self.frames.len()
    }

    /// Frame `n` (taken modulo [`frame_count`](Scene::frame_count)) as a JPEG. O(1): a cheap
    /// clone of pre-encoded bytes.
    pub fn frame(&self, n: u64) -> Bytes {
        self.frames[self.loop_index(n)].clone()
    }

    /// Frame `n` with `label` (e.g. `"Frame: 123"`) drawn large in white on a black box in
    /// the top-left corner, freshly encoded (a few ms at VGA in a release build).
    ///
    /// Falls back to the unlabelled [`frame`](Scene::frame) if encoding fails (it cannot for
    /// sizes [`Scene::new`] accepted).
    pub fn frame_with_label(&self, n: u64, label: &str) -> Bytes {
        let mut image = self.compose(self.loop_index(n));
        let scale = (self.height / 120).max(2).min(self.width / 96).max(1);
        let pad = i64::from(scale * 2);
        let box_w = text_width(label, scale) + 2 * scale * 2;
        let box_h = GLYPH_SIZE * scale + 2 * scale * 2;
        fill_rect(&mut image, pad, pad, box_w, box_h, Rgb([0, 0, 0]));
        let text_xy = i32::try_from(pad * 2).unwrap_or(0);
        draw_text(
            &mut image,
            text_xy,
            text_xy,
            scale,
            label,
            Rgb([255, 255, 255]),
        );
        match encode_jpeg(&image, self.quality, n) {
            Ok(jpeg) => jpeg,
            Err(err) => {
                tracing::warn!(%err, "labelled frame failed to encode; sending it unlabelled");
                self.frame(n)
            }
        }
    }

    /// Width and height in pixels.
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// JPEG quality (1..=100) the frames are encoded at.
    pub fn quality(&self) -> u8 {
        self.quality
    }

    fn loop_index(&self, n: u64) -> usize {
        // `frames` is never empty and its length fits in u64, so the remainder fits in usize.
        (n % self.frames.len() as u64) as usize
    }

    /// Draws loop frame `index` of `loop_frames` into a fresh RGB image.
    fn compose(&self, index: usize) -> RgbImage {
        let mut image = self.background.clone();
        let t = index as f32 / self.frames.len().max(1) as f32;
        for sprite in &self.sprites {
            let angle = TAU * (t + sprite.phase);
            let x = sprite.origin.0 + sprite.swing.0 * angle.sin();
            let y = sprite.origin.1 + sprite.swing.1 * angle.cos();
            blit(
                &mut image,
                &sprite.image,
                x.round() as i64,
                y.round() as i64,
            );
        }
        image
    }

    /// Composes and encodes every frame of the loop, on all cores.
    fn encode_loop(&mut self, loop_frames: usize) -> Result<Vec<Bytes>, MockError> {
        // `compose` reads `frames.len()` for the phase; fill with placeholders first.
        self.frames = vec![Bytes::new(); loop_frames];
        let threads = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        let per_thread = loop_frames.div_ceil(threads.clamp(1, loop_frames));
        let this = &*self;
        let chunks: Vec<Result<Vec<Bytes>, MockError>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..loop_frames)
                .step_by(per_thread)
                .map(|start| {
                    let end = (start + per_thread).min(loop_frames);
                    s.spawn(move || {
                        (start..end)
                            .map(|i| encode_jpeg(&this.compose(i), this.quality, i as u64))
                            .collect::<Result<Vec<_>, _>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        });
        let mut frames = Vec::with_capacity(loop_frames);
        for chunk in chunks {
            frames.extend(chunk?);
        }
        Ok(frames)
    }
}

/// Copies `sprite` onto `image` with its top-left corner at (`x`, `y`), clipped, row by row.
fn blit(image: &mut RgbImage, sprite: &RgbImage, x: i64, y: i64) {
    let (iw, ih) = (i64::from(image.width()), i64::from(image.height()));
    let (sw, sh) = (i64::from(sprite.width()), i64::from(sprite.height()));
    let (x0, x1) = (x.max(0), (x + sw).min(iw));
    if x0 >= x1 {
        return;
    }
    let (src_x, len) = ((x0 - x) as usize * 3, (x1 - x0) as usize * 3);
    let (dst_stride, src_stride) = (iw as usize * 3, sw as usize * 3);
    let dst = &mut **image;
    let src = sprite.as_raw();
    for row in y.max(0)..(y + sh).min(ih) {
        let d = row as usize * dst_stride + x0 as usize * 3;
        let s = (row - y) as usize * src_stride + src_x;
        dst[d..d + len].copy_from_slice(&src[s..s + len]);
    }
}

/// A plain room: a bluish-grey wall fading down to a wooden floor with plank lines.
fn room_background(width: u32, height: u32) -> RgbImage {
    let horizon = height * 62 / 100;
    let plank = (height / 24).max(2);
    RgbImage::from_fn(width, height, |x, y| {
        if y < horizon {
            let shade = (y * 40 / horizon.max(1)) as u8;
            Rgb([150 - shade, 165 - shade, 180 - shade])
        } else if (y - horizon).is_multiple_of(plank)
            || (x + (y - horizon) / plank * 97).is_multiple_of((width / 3).max(1))
        {
            Rgb([92, 62, 38])
        } else {
            Rgb([150, 110, 72])
        }
    })
}

/// Decodes the bundled photos and scales them for a `width`x`height` frame.
fn load_sprites(width: u32, height: u32) -> Result<Vec<Sprite>, MockError> {
    let scale = (width as f32 / 640.0).min(height as f32 / 480.0);
    PLACEMENTS
        .iter()
        .map(|p| {
            let (name, bytes) = p.asset;
            let photo = image::load_from_memory(bytes)
                .map_err(|source| MockError::Asset { name, source })?;
            let w = ((p.vga_size.0 as f32 * scale).round() as u32).max(1);
            let h = ((p.vga_size.1 as f32 * scale).round() as u32).max(1);
            let image = DynamicImage::resize_exact(&photo, w, h, FilterType::Triangle).to_rgb8();
            Ok(Sprite {
                image,
                origin: (p.origin.0 * width as f32, p.origin.1 * height as f32),
                swing: (p.swing.0 * width as f32, p.swing.1 * height as f32),
                phase: p.phase,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dims(jpeg: &[u8]) -> (u32, u32) {
        let img = image::load_from_memory(jpeg).unwrap();
        (img.width(), img.height())
    }

    #[test]
    fn loop_frames_are_valid_jpegs_of_the_scene_size() {
        let scene = Scene::with_loop_frames(320, 240, 80, 3).unwrap();
        assert_eq!(scene.frame_count(), 3);
        for n in 0..3 {
            assert_eq!(dims(&scene.frame(n)), (320, 240));
        }
        assert_eq!(scene.frame(4), scene.frame(1), "frames loop");
        assert_ne!(scene.frame(0), scene.frame(1), "the picture moves");
    }

    #[test]
    fn labelled_frame_differs_and_keeps_size() {
        let scene = Scene::with_loop_frames(400, 296, 80, 2).unwrap();
        let labelled = scene.frame_with_label(1, "Frame: 1");
        assert_ne!(labelled, scene.frame(1));
        assert_eq!(dims(&labelled), (400, 296));
        let img = image::load_from_memory(&labelled).unwrap().to_rgb8();
        // The label box is black with white text in the top-left corner.
        assert!(img.get_pixel(6, 6).0.iter().all(|&c| c < 40));
    }

    #[test]
    fn rejects_bad_parameters_with_context() {
        use crate::MockErrorKind;
        let err = Scene::with_loop_frames(0, 10, 80, 1).unwrap_err();
        assert_eq!(err.kind(), MockErrorKind::InvalidSize);
        let err = Scene::with_loop_frames(10, 10, 101, 1).unwrap_err();
        assert_eq!(err.kind(), MockErrorKind::InvalidQuality);
        let err = Scene::with_loop_frames(10, 10, 80, 0).unwrap_err();
        assert_eq!(err.kind(), MockErrorKind::InvalidLoop);
    }

    #[test]
    fn scene_and_camera_are_shareable_across_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Scene>();
        send_sync::<crate::MockCamera>();
    }

    #[test]
    fn tiny_and_odd_sizes_work() {
        for (w, h) in [(1, 1), (96, 96), (240, 240), (1280, 720)] {
            let scene = Scene::with_loop_frames(w, h, 50, 1).unwrap();
            assert_eq!(dims(&scene.frame(0)), (w, h));
        }
    }
}
