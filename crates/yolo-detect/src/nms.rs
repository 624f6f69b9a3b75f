//! Class-aware non-maximum suppression.

use crate::decode::Candidate;

/// Upper bound on candidates considered by [`nms`] (the best ones are kept), so a model that
/// scores every box highly cannot make NMS quadratic in a huge count.
pub const MAX_NMS_CANDIDATES: usize = 10_000;

/// Keeps the best-scored boxes, dropping any box whose IoU with an already kept box of the
/// same class exceeds `iou_threshold`. Returns at most `max_detections`, best first.
pub fn nms(
    mut candidates: Vec<Candidate>,
    iou_threshold: f32,
    max_detections: usize,
) -> Vec<Candidate> {
    candidates.sort_unstable_by(|a, b| b.score.total_cmp(&a.score));
    candidates.truncate(MAX_NMS_CANDIDATES);
    let mut kept: Vec<Candidate> = Vec::new();
    for c in candidates {
        if kept.len() >= max_detections {
            break;
        }
        let suppressed = kept
            .iter()
            .any(|k| k.class_id == c.class_id && k.bbox.iou(&c.bbox) > iou_threshold);
        if !suppressed {
            kept.push(c);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BBox;

    fn cand(class_id: usize, score: f32, x1: f32, y1: f32, x2: f32, y2: f32) -> Candidate {
        Candidate {
            class_id,
            score,
            bbox: BBox { x1, y1, x2, y2 },
        }
    }

    #[test]
    fn overlapping_boxes_of_one_class_collapse_to_the_best() {
        let kept = nms(
            vec![
                cand(0, 0.6, 1.0, 1.0, 11.0, 11.0),
                cand(0, 0.9, 0.0, 0.0, 10.0, 10.0),
                cand(0, 0.8, 50.0, 50.0, 60.0, 60.0),
            ],
            0.45,
            100,
        );
        let scores: Vec<f32> = kept.iter().map(|c| c.score).collect();
        assert_eq!(scores, [0.9, 0.8]);
    }

    #[test]
    fn different_classes_do_not_suppress_each_other() {
        let kept = nms(
            vec![
                cand(0, 0.9, 0.0, 0.0, 10.0, 10.0),
                cand(1, 0.8, 0.0, 0.0, 10.0, 10.0),
            ],
            0.45,
            100,
        );
        assert_eq!(kept.len(), 2);
    }

    #[test]
    fn iou_at_threshold_is_kept_and_max_detections_caps() {
        // IoU exactly 1/3 (half overlap): kept at threshold 1/3+, suppressed below.
        let pair = vec![
            cand(0, 0.9, 0.0, 0.0, 10.0, 10.0),
            cand(0, 0.8, 5.0, 0.0, 15.0, 10.0),
        ];
        assert_eq!(nms(pair.clone(), 0.34, 100).len(), 2);
        assert_eq!(nms(pair.clone(), 0.3, 100).len(), 1);
        assert_eq!(nms(pair, 0.34, 1).len(), 1);
        assert!(nms(Vec::new(), 0.5, 10).is_empty());
    }
}
