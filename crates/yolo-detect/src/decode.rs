//! Decoding the raw output tensor of each family into scored boxes (in model-input pixels).

use crate::{BBox, ModelFamily};

/// A box before non-maximum suppression, in model-input pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    /// Class index.
    pub class_id: usize,
    /// Score in 0..=1.
    pub score: f32,
    /// Corners.
    pub bbox: BBox,
}

/// The shape of a model's single output, interpreted for its family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputLayout {
    /// How values are arranged and decoded.
    pub family: ModelFamily,
    /// Number of candidate boxes (anchors / grid cells).
    pub boxes: usize,
    /// Number of classes.
    pub classes: usize,
}

impl OutputLayout {
    /// Interprets an output shape for `family`. Ultralytics is `[1, 4+nc, N]`, the others
    /// `[1, N, 5+nc]`; a leading batch of 1 may be missing.
    pub fn from_shape(family: ModelFamily, shape: &[usize]) -> Option<OutputLayout> {
        let dims = match shape {
            [1, a, b] | [a, b] => (*a, *b),
            _ => return None,
        };
        let (boxes, classes) = match family {
            ModelFamily::Ultralytics => (dims.1, dims.0.checked_sub(4)?),
            ModelFamily::YoloV5 | ModelFamily::Yolox => (dims.0, dims.1.checked_sub(5)?),
        };
        (classes > 0 && boxes > 0).then_some(OutputLayout {
            family,
            boxes,
            classes,
        })
    }

    /// Number of values the output holds.
    pub fn len(&self) -> usize {
        let attrs = self.classes
            + if self.family == ModelFamily::Ultralytics {
                4
            } else {
                5
            };
        self.boxes * attrs
    }

    /// Always false for a valid layout.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Number of grid cells YOLOX has for an `input_w`×`input_h` input over strides 8, 16, 32.
pub fn yolox_cells(input_w: u32, input_h: u32) -> usize {
    [8, 16, 32]
        .iter()
        .map(|s| ((input_w / s) * (input_h / s)) as usize)
        .sum()
}

/// Decodes `output` (laid out as `layout`) into candidates scoring at least `confidence`,
/// appended to `out`. `input_w`/`input_h` are needed for YOLOX's grids. Returns `false` if
/// `output` is shorter than the layout says (nothing is decoded then).
pub fn decode_output(
    output: &[f32],
    layout: &OutputLayout,
    input_w: u32,
    input_h: u32,
    confidence: f32,
    out: &mut Vec<Candidate>,
) -> bool {
    if output.len() < layout.len() {
        return false;
    }
    match layout.family {
        ModelFamily::Ultralytics => decode_channels_first(output, layout, confidence, out),
        ModelFamily::YoloV5 => decode_rows(output, layout, confidence, out, |_, cx, cy, w, h| {
            Some(BBox::from_center(cx, cy, w, h))
        }),
        ModelFamily::Yolox => {
            let grids = yolox_grid(input_w, input_h);
            decode_rows(output, layout, confidence, out, |i, px, py, pw, ph| {
                let (gx, gy, stride) = grids.cell(i)?;
                let cx = (px + gx) * stride;
                let cy = (py + gy) * stride;
                let (w, h) = (pw.exp() * stride, ph.exp() * stride);
                Some(BBox::from_center(cx, cy, w, h))
            })
        }
    }
    true
}

/// `[4+nc, N]`: each attribute is a row of N values, so the best class per box is found
/// row by row (contiguous, vectorisable) instead of striding down columns.
fn decode_channels_first(
    output: &[f32],
    layout: &OutputLayout,
    confidence: f32,
    out: &mut Vec<Candidate>,
) {
    let n = layout.boxes;
    let mut best = vec![f32::NEG_INFINITY; n];
    let mut best_class = vec![0usize; n];
    for c in 0..layout.classes {
        let row = &output[(4 + c) * n..(5 + c) * n];
        for ((b, bc), &v) in best.iter_mut().zip(best_class.iter_mut()).zip(row) {
            if v > *b {
                *b = v;
                *bc = c;
            }
        }
    }
    for i in 0..n {
        let score = best[i];
        if score >= confidence && score.is_finite() {
            let v = |a: usize| output[a * n + i];
            let bbox = BBox::from_center(v(0), v(1), v(2), v(3));
            if bbox.is_finite() {
                out.push(Candidate {
                    class_id: best_class[i],
                    score,
                    bbox,
                });
            }
        }
    }
}

/// `[N, 5+nc]`: one row per box, `box(4), objectness, classes`; score = obj × class.
fn decode_rows(
    output: &[f32],
    layout: &OutputLayout,
    confidence: f32,
    out: &mut Vec<Candidate>,
    to_box: impl Fn(usize, f32, f32, f32, f32) -> Option<BBox>,
) {
    let attrs = 5 + layout.classes;
    for (i, row) in output.chunks_exact(attrs).take(layout.boxes).enumerate() {
        let obj = row[4];
        if obj.is_nan() || obj < confidence {
            continue; // obj × class ≤ obj, so no class can pass (also skips NaN)
        }
        let (class_id, cls) =
            row[5..]
                .iter()
                .enumerate()
                .fold(
                    (0, f32::NEG_INFINITY),
                    |acc, (c, &v)| {
                        if v > acc.1 {
                            (c, v)
                        } else {
                            acc
                        }
                    },
                );
        let score = obj * cls;
        if score >= confidence && score.is_finite() {
            if let Some(bbox) = to_box(i, row[0], row[1], row[2], row[3]).filter(BBox::is_finite) {
                out.push(Candidate {
                    class_id,
                    score,
                    bbox,
                });
            }
        }
    }
}

/// Maps a YOLOX cell index to its grid position and stride (levels 8, 16, 32, row-major).
struct YoloxGrid {
    levels: [(usize, usize, f32); 3],
}

fn yolox_grid(input_w: u32, input_h: u32) -> YoloxGrid {
    let level = |s: u32| {
        (
            ((input_w / s) * (input_h / s)) as usize,
            (input_w / s) as usize,
            s as f32,
        )
    };
    YoloxGrid {
        levels: [level(8), level(16), level(32)],
    }
}

impl YoloxGrid {
    fn cell(&self, mut i: usize) -> Option<(f32, f32, f32)> {
        for &(cells, width, stride) in &self.levels {
            if i < cells {
                return Some(((i % width) as f32, (i / width) as f32, stride));
            }
            i -= cells;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_from_shapes() {
        let u = OutputLayout::from_shape(ModelFamily::Ultralytics, &[1, 84, 8400]).unwrap();
        assert_eq!((u.boxes, u.classes, u.len()), (8400, 80, 84 * 8400));
        let x = OutputLayout::from_shape(ModelFamily::Yolox, &[1, 3549, 85]).unwrap();
        assert_eq!((x.boxes, x.classes), (3549, 80));
        assert!(OutputLayout::from_shape(ModelFamily::YoloV5, &[1, 3, 4]).is_none());
        assert!(OutputLayout::from_shape(ModelFamily::YoloV5, &[2, 3, 85]).is_none());
        assert_eq!(yolox_cells(416, 416), 3549);
    }

    #[test]
    fn ultralytics_channels_first_picks_best_class_per_box() {
        // 3 boxes, 2 classes: rows cx, cy, w, h, class0, class1.
        let out = [
            10.0, 50.0, 0.0, // cx
            20.0, 60.0, 0.0, // cy
            4.0, 10.0, 1.0, // w
            8.0, 10.0, 1.0, // h
            0.9, 0.1, 0.2, // class 0
            0.2, 0.7, 0.1, // class 1
        ];
        let layout = OutputLayout::from_shape(ModelFamily::Ultralytics, &[1, 6, 3]).unwrap();
        let mut c = Vec::new();
        assert!(decode_output(&out, &layout, 64, 64, 0.3, &mut c));
        assert_eq!(c.len(), 2);
        assert_eq!((c[0].class_id, c[0].score), (0, 0.9));
        assert_eq!(
            c[0].bbox,
            BBox {
                x1: 8.0,
                y1: 16.0,
                x2: 12.0,
                y2: 24.0
            }
        );
        assert_eq!((c[1].class_id, c[1].score), (1, 0.7));
        assert_eq!(
            c[1].bbox,
            BBox {
                x1: 45.0,
                y1: 55.0,
                x2: 55.0,
                y2: 65.0
            }
        );
    }

    #[test]
    fn yolov5_rows_multiply_objectness_and_class() {
        let out = [
            10.0, 10.0, 4.0, 4.0, 0.8, 0.5, 0.9, // 0.72 class 1
            30.0, 30.0, 2.0, 2.0, 0.2, 1.0, 1.0, // objectness too low
            5.0, 5.0, 2.0, 2.0, 0.9, 0.3, 0.1, // 0.27 < 0.3
        ];
        let layout = OutputLayout::from_shape(ModelFamily::YoloV5, &[1, 3, 7]).unwrap();
        let mut c = Vec::new();
        assert!(decode_output(&out, &layout, 64, 64, 0.3, &mut c));
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].class_id, 1);
        assert!((c[0].score - 0.72).abs() < 1e-6);
        assert_eq!(
            c[0].bbox,
            BBox {
                x1: 8.0,
                y1: 8.0,
                x2: 12.0,
                y2: 12.0
            }
        );
    }

    #[test]
    fn yolox_grid_decoding_over_three_strides() {
        // 32x32 input: grids 4x4 (stride 8), 2x2 (16), 1x1 (32) = 21 cells, 1 class.
        let cells = yolox_cells(32, 32);
        assert_eq!(cells, 21);
        let mut out = vec![0.0f32; cells * 6];
        let mut set = |i: usize, v: [f32; 6]| out[i * 6..i * 6 + 6].copy_from_slice(&v);
        // Cell 5 of stride 8 is (x=1, y=1): centre (0.5+1)*8 = 12, size e^0*8 = 8.
        set(5, [0.5, 0.5, 0.0, 0.0, 1.0, 0.9]);
        // Cell 16+3 is stride 16 (x=1, y=1): centre (0+1)*16 = 16, w = e^ln2*16 = 32.
        set(19, [0.0, 0.0, 2f32.ln(), 0.0, 0.5, 0.8]);
        // Last cell, stride 32, (0, 0).
        set(20, [0.5, 0.5, 0.0, 0.0, 0.9, 0.9]);
        let layout = OutputLayout::from_shape(ModelFamily::Yolox, &[1, cells, 6]).unwrap();
        let mut c = Vec::new();
        assert!(decode_output(&out, &layout, 32, 32, 0.3, &mut c));
        assert_eq!(c.len(), 3);
        assert_eq!(
            c[0].bbox,
            BBox {
                x1: 8.0,
                y1: 8.0,
                x2: 16.0,
                y2: 16.0
            }
        );
        assert!((c[1].score - 0.4).abs() < 1e-6);
        let b = c[1].bbox;
        assert!(
            (b.x1 - 0.0).abs() < 1e-4 && (b.x2 - 32.0).abs() < 1e-4 && b.y1 == 8.0 && b.y2 == 24.0
        );
        assert_eq!(
            c[2].bbox,
            BBox {
                x1: 0.0,
                y1: 0.0,
                x2: 32.0,
                y2: 32.0
            }
        );
    }

    #[test]
    fn short_or_nan_output_is_refused_or_skipped() {
        let layout = OutputLayout::from_shape(ModelFamily::YoloV5, &[1, 2, 6]).unwrap();
        let mut c = Vec::new();
        assert!(!decode_output(&[0.0; 5], &layout, 8, 8, 0.3, &mut c));
        let nan = [f32::NAN; 12];
        assert!(decode_output(&nan, &layout, 8, 8, 0.3, &mut c));
        assert!(c.is_empty());
        // Good scores but a NaN / infinite box: dropped.
        let bad_box = [
            f32::NAN,
            1.0,
            1.0,
            1.0,
            0.9,
            0.9,
            f32::INFINITY,
            1.0,
            1.0,
            1.0,
            0.9,
            0.9,
        ];
        assert!(decode_output(&bad_box, &layout, 8, 8, 0.3, &mut c));
        assert!(c.is_empty());
    }
}
