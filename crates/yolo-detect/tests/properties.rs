//! Property tests of the entry points that see untrusted bytes (JPEG frames, ONNX metadata)
//! and of NMS's guarantees.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use yolo_detect::{decode_jpeg, nms, parse_names_dict, BBox, Candidate};

const CHELSEA: &[u8] = include_bytes!("../testdata/chelsea.jpg");

fn candidate() -> impl Strategy<Value = Candidate> {
    (
        0usize..3,
        0.0f32..1.0,
        0.0f32..100.0,
        0.0f32..100.0,
        1.0f32..50.0,
        1.0f32..50.0,
    )
        .prop_map(|(class_id, score, x, y, w, h)| Candidate {
            class_id,
            score,
            bbox: BBox {
                x1: x,
                y1: y,
                x2: x + w,
                y2: y + h,
            },
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn names_parser_never_panics(text in ".{0,200}") {
        let _ = parse_names_dict(&text);
        let _ = parse_names_dict(&format!("{{0: '{text}'}}"));
    }

    #[test]
    fn jpeg_decoder_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = decode_jpeg(&bytes);
    }

    #[test]
    fn jpeg_decoder_never_panics_on_a_cut_and_corrupted_real_frame(
        cut in 0usize..CHELSEA.len(),
        flips in proptest::collection::vec((0usize..CHELSEA.len(), any::<u8>()), 0..8),
    ) {
        let mut bytes = CHELSEA[..cut].to_vec();
        for (at, value) in flips {
            if at < bytes.len() {
                bytes[at] = value;
            }
        }
        if let Ok(image) = decode_jpeg(&bytes) {
            prop_assert!(image.width() <= yolo_detect::MAX_DIMENSION as u32);
        }
    }

    #[test]
    fn nms_keeps_best_first_no_same_class_overlap_and_at_most_max(
        candidates in proptest::collection::vec(candidate(), 0..60),
        iou in 0.1f32..0.9,
        max in 1usize..20,
    ) {
        let kept = nms(candidates.clone(), iou, max);
        prop_assert!(kept.len() <= max && kept.len() <= candidates.len());
        prop_assert!(kept.windows(2).all(|w| w[0].score >= w[1].score));
        for (i, a) in kept.iter().enumerate() {
            for b in &kept[i + 1..] {
                prop_assert!(a.class_id != b.class_id || a.bbox.iou(&b.bbox) <= iou);
            }
        }
        if let Some(best) = candidates.iter().map(|c| c.score).reduce(f32::max) {
            prop_assert_eq!(kept[0].score, best);
        }
    }
}
