//! Drawing boxes and labels with the embedded 8×8 bitmap font.

use crate::Detection;
use font8x8::{UnicodeFonts, BASIC_FONTS};
use image::{Rgb, RgbImage};

/// Distinct colours, picked per class id.
const PALETTE: [[u8; 3]; 10] = [
    [255, 56, 56],
    [255, 157, 151],
    [255, 112, 31],
    [255, 178, 29],
    [207, 210, 49],
    [72, 249, 10],
    [26, 147, 52],
    [0, 212, 187],
    [52, 69, 147],
    [203, 56, 255],
];

/// Colour used for a class.
pub fn class_color(class_id: usize) -> Rgb<u8> {
    Rgb(PALETTE[class_id % PALETTE.len()])
}

/// Draws each detection's box and a `name 0.93` label onto `image`. Boxes outside the image
/// are clipped; nothing is drawn for boxes entirely outside.
pub fn draw_detections(image: &mut RgbImage, detections: &[Detection]) {
    let (w, h) = image.dimensions();
    if w == 0 || h == 0 {
        return;
    }
    // Labels stay readable on a phone: a 2x font from VGA up, 3x on HD frames.
    let thickness = if w.max(h) >= 960 { 3 } else { 2 };
    let scale = match w.max(h) {
        0..=479 => 1,
        480..=1279 => 2,
        _ => 3,
    };
    for d in detections {
        let color = class_color(d.class_id);
        let b = d.bbox.clipped(w as f32, h as f32);
        if b.width() < 1.0 || b.height() < 1.0 {
            continue;
        }
        let (x1, y1) = (b.x1 as u32, b.y1 as u32);
        let (x2, y2) = ((b.x2 as u32).min(w - 1), (b.y2 as u32).min(h - 1));
        for t in 0..thickness {
            fill_rect(image, x1, y1 + t, x2, y1 + t, color);
            fill_rect(
                image,
                x1,
                y2.saturating_sub(t),
                x2,
                y2.saturating_sub(t),
                color,
            );
            fill_rect(image, x1 + t, y1, x1 + t, y2, color);
            fill_rect(
                image,
                x2.saturating_sub(t),
                y1,
                x2.saturating_sub(t),
                y2,
                color,
            );
        }
        let label = format!("{} {:.2}", d.class_name, d.score);
        let text_h = 8 * scale + 2;
        let text_w = label.chars().count() as u32 * 8 * scale + 2;
        // Above the box if there is room, else inside its top edge.
        let ty = if y1 >= text_h { y1 - text_h } else { y1 };
        fill_rect(image, x1, ty, x1 + text_w - 1, ty + text_h - 1, color);
        draw_text(image, x1 + 1, ty + 1, &label, scale, Rgb([255, 255, 255]));
    }
}

/// Fills the inclusive rectangle, clipped to the image.
fn fill_rect(image: &mut RgbImage, x1: u32, y1: u32, x2: u32, y2: u32, color: Rgb<u8>) {
    let (w, h) = image.dimensions();
    if x1 >= w || y1 >= h {
        return;
    }
    let (x2, y2) = (x2.min(w - 1), y2.min(h - 1));
    let stride = w as usize * 3;
    let buf: &mut [u8] = image;
    for y in y1..=y2 {
        let row = &mut buf[y as usize * stride..(y as usize + 1) * stride];
        for px in row[x1 as usize * 3..(x2 as usize + 1) * 3].chunks_exact_mut(3) {
            px.copy_from_slice(&color.0);
        }
    }
}

/// Draws `text` with its top-left corner at (x, y), each font pixel `scale`×`scale`.
fn draw_text(image: &mut RgbImage, x: u32, y: u32, text: &str, scale: u32, color: Rgb<u8>) {
    for (i, ch) in text.chars().enumerate() {
        let glyph = BASIC_FONTS
            .get(ch)
            .or_else(|| BASIC_FONTS.get('?'))
            .unwrap_or([0; 8]);
        let gx = x + i as u32 * 8 * scale;
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..8 {
                if bits & (1 << col) != 0 {
                    let px = gx + col * scale;
                    let py = y + row as u32 * scale;
                    fill_rect(image, px, py, px + scale - 1, py + scale - 1, color);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BBox;

    fn det(bbox: BBox) -> Detection {
        Detection {
            class_id: 0,
            class_name: "person".into(),
            score: 0.93,
            bbox,
        }
    }

    #[test]
    fn draws_box_edges_and_label_inside_the_image() {
        let mut img = RgbImage::new(100, 100);
        draw_detections(
            &mut img,
            &[det(BBox {
                x1: 20.0,
                y1: 30.0,
                x2: 80.0,
                y2: 90.0,
            })],
        );
        let red = class_color(0);
        assert_eq!(*img.get_pixel(50, 30), red, "top edge");
        assert_eq!(*img.get_pixel(20, 60), red, "left edge");
        assert_eq!(*img.get_pixel(50, 60), Rgb([0, 0, 0]), "inside untouched");
        // The label background sits above the box.
        assert_eq!(*img.get_pixel(21, 20), red);
        let white = (20..30)
            .flat_map(|y| (20..100).map(move |x| (x, y)))
            .any(|(x, y)| *img.get_pixel(x, y) == Rgb([255, 255, 255]));
        assert!(white, "label text drawn");
    }

    #[test]
    fn boxes_outside_or_degenerate_are_harmless() {
        let mut img = RgbImage::new(10, 10);
        draw_detections(
            &mut img,
            &[
                det(BBox {
                    x1: -50.0,
                    y1: -50.0,
                    x2: 500.0,
                    y2: 500.0,
                }),
                det(BBox {
                    x1: 200.0,
                    y1: 200.0,
                    x2: 300.0,
                    y2: 300.0,
                }),
                det(BBox {
                    x1: f32::NAN,
                    y1: 0.0,
                    x2: 5.0,
                    y2: 5.0,
                }),
            ],
        );
        let mut empty = RgbImage::new(0, 0);
        draw_detections(&mut empty, &[det(BBox::default())]);
    }
}
