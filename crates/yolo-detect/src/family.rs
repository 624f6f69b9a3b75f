//! Recognising a model's family from its output shape and ONNX metadata.

use crate::decode::yolox_cells;
use crate::ModelFamily;

/// What the ONNX metadata says about a model (Ultralytics exports fill these).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelMetadata {
    /// `author` (Ultralytics writes `"Ultralytics"`).
    pub author: Option<String>,
    /// `names`, the Python-dict literal of class names.
    pub names: Option<String>,
    /// `imgsz`, e.g. `"[640, 640]"` (height, width).
    pub imgsz: Option<String>,
    /// `end2end` (`"True"` for NMS-free heads such as YOLOv10 / YOLO26).
    pub end2end: Option<String>,
    /// `description`.
    pub description: Option<String>,
}

impl ModelMetadata {
    /// Whether this is an Ultralytics export.
    pub fn is_ultralytics(&self) -> bool {
        self.author
            .as_deref()
            .is_some_and(|a| a.eq_ignore_ascii_case("ultralytics"))
    }

    /// `imgsz` as (width, height), if present and sane.
    pub fn input_size(&self) -> Option<(u32, u32)> {
        let text = self
            .imgsz
            .as_deref()?
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let dims: Vec<u32> = text
            .split(',')
            .map(|s| s.trim().parse().ok())
            .collect::<Option<_>>()?;
        match dims[..] {
            [s] if s > 0 => Some((s, s)),
            [h, w] if h > 0 && w > 0 => Some((w, h)),
            _ => None,
        }
    }
}

/// Guesses the family from the output shape (`[1, A, B]`), the input size and metadata.
///
/// * `A < B` (attributes first, e.g. `[1, 84, 8400]`): Ultralytics YOLOv8 / YOLO11.
/// * `A > B` (boxes first, e.g. `[1, 3549, 85]`): YOLOX if `A` equals the number of grid cells
///   over strides 8/16/32 (one prediction per cell), otherwise YOLOv5/v7 (three anchors per
///   cell).
pub fn recognise_family(
    output_shape: &[usize],
    input_w: u32,
    input_h: u32,
    meta: &ModelMetadata,
) -> Option<ModelFamily> {
    let (a, b) = match output_shape {
        [1, a, b] | [a, b] => (*a, *b),
        _ => return None,
    };
    if a < b {
        return (a > 4).then_some(ModelFamily::Ultralytics);
    }
    if b <= 5 {
        return None;
    }
    if a == yolox_cells(input_w, input_h) && !meta.is_ultralytics() {
        Some(ModelFamily::Yolox)
    } else {
        Some(ModelFamily::YoloV5)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_from_typical_shapes() {
        let none = ModelMetadata::default();
        assert_eq!(
            recognise_family(&[1, 84, 8400], 640, 640, &none),
            Some(ModelFamily::Ultralytics)
        );
        assert_eq!(
            recognise_family(&[1, 3549, 85], 416, 416, &none),
            Some(ModelFamily::Yolox)
        );
        assert_eq!(
            recognise_family(&[1, 25200, 85], 640, 640, &none),
            Some(ModelFamily::YoloV5)
        );
        assert_eq!(
            recognise_family(&[1, 8400, 85], 640, 640, &none),
            Some(ModelFamily::Yolox)
        );
        assert_eq!(recognise_family(&[1, 3, 2, 2], 640, 640, &none), None);
        assert_eq!(recognise_family(&[1, 300, 5], 640, 640, &none), None);
    }

    #[test]
    fn metadata_input_size() {
        let m = ModelMetadata {
            imgsz: Some("[320, 480]".into()),
            ..Default::default()
        };
        assert_eq!(m.input_size(), Some((480, 320)));
        let m = ModelMetadata {
            imgsz: Some("640".into()),
            ..Default::default()
        };
        assert_eq!(m.input_size(), Some((640, 640)));
        let m = ModelMetadata {
            imgsz: Some("[0, x]".into()),
            ..Default::default()
        };
        assert_eq!(m.input_size(), None);
    }
}
