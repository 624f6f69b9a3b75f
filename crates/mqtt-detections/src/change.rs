//! Which configured labels are present, and when that changes: the pure part of the publisher.

/// A change in the set of present labels, as [`ChangeDetector::observe`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Labels that are present now and were not before.
    pub appeared: Vec<String>,
    /// Labels that were present and are gone now.
    pub left: Vec<String>,
    /// All labels present after this frame, in configuration order.
    pub present: Vec<String>,
}

/// Tracks, for one camera, which configured labels are present.
///
/// A label *appears* on the first frame with a detection of it at or above the minimum score,
/// and *leaves* once it has been missing from `off_after_frames` frames in a row (1 = on the
/// first frame without it). The delay keeps a detector that misses a person in one frame
/// from flapping the binary sensor; appearing is never delayed.
///
/// ```
/// use mqtt_detections::ChangeDetector;
///
/// let labels = ["person".to_string(), "car".to_string()];
/// let mut cam = ChangeDetector::new(&labels, 0.5, 2);
/// assert!(cam.observe([("person", 0.3)]).is_none()); // below min_score
/// let change = cam.observe([("person", 0.9), ("cat", 0.9)]).expect("person appears");
/// assert_eq!(change.appeared, ["person"]); // cat is not configured
/// assert!(cam.observe([("person", 0.8)]).is_none()); // unchanged: nothing to publish
/// assert!(cam.observe([]).is_none()); // missing once: still present
/// let change = cam.observe([]).expect("missing twice: person leaves");
/// assert_eq!((change.left, change.present), (vec!["person".to_string()], vec![]));
/// ```
#[derive(Debug, Clone)]
pub struct ChangeDetector {
    labels: Vec<String>,
    min_score: f32,
    off_after_frames: u32,
    /// Per label: present (debounced).
    present: Vec<bool>,
    /// Per label: frames in a row without it while present.
    missing_for: Vec<u32>,
}

impl ChangeDetector {
    /// A detector for `labels` where nothing is present yet.
    pub fn new(labels: &[String], min_score: f32, off_after_frames: u32) -> Self {
        ChangeDetector {
            labels: labels.to_vec(),
            min_score,
            off_after_frames: off_after_frames.max(1),
            present: vec![false; labels.len()],
            missing_for: vec![0; labels.len()],
        }
    }

    /// Whether `label` with `score` counts as a detection of configured label number `i`.
    fn matches(&self, label: &str, score: f32) -> Option<usize> {
        if score.is_nan() || score < self.min_score {
            return None;
        }
        self.labels.iter().position(|l| l == label)
    }

    /// Whether `label` at `score` is one this detector reports (configured, score high enough).
    pub fn counts(&self, label: &str, score: f32) -> bool {
        self.matches(label, score).is_some()
    }

    /// Feeds one frame's `(label, score)` pairs; returns the change, or `None` when the set of
    /// present labels is what it was.
    pub fn observe<'a>(
        &mut self,
        frame: impl IntoIterator<Item = (&'a str, f32)>,
    ) -> Option<Change> {
        let mut seen = vec![false; self.labels.len()];
        for (label, score) in frame {
            if let Some(i) = self.matches(label, score) {
                seen[i] = true;
            }
        }
        let mut appeared = Vec::new();
        let mut left = Vec::new();
        for (i, seen) in seen.into_iter().enumerate() {
            if seen {
                self.missing_for[i] = 0;
                if !self.present[i] {
                    self.present[i] = true;
                    appeared.push(self.labels[i].clone());
                }
            } else if self.present[i] {
                self.missing_for[i] += 1;
                if self.missing_for[i] >= self.off_after_frames {
                    self.present[i] = false;
                    self.missing_for[i] = 0;
                    left.push(self.labels[i].clone());
                }
            }
        }
        if appeared.is_empty() && left.is_empty() {
            return None;
        }
        Some(Change {
            appeared,
            left,
            present: self.present().map(str::to_owned).collect(),
        })
    }

    /// The labels present now, in configuration order.
    pub fn present(&self) -> impl Iterator<Item = &str> {
        self.labels
            .iter()
            .zip(&self.present)
            .filter(|(_, p)| **p)
            .map(|(l, _)| l.as_str())
    }

    /// Per configured label, in configuration order: whether it is present.
    pub fn states(&self) -> &[bool] {
        &self.present
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> Vec<String> {
        ["person", "car"].map(String::from).to_vec()
    }

    #[test]
    fn off_after_one_frame_leaves_at_once() {
        let mut d = ChangeDetector::new(&labels(), 0.5, 1);
        assert!(d.observe([("car", 0.5)]).is_some());
        let c = d.observe([]).expect("leaves");
        assert_eq!(c.left, ["car"]);
    }

    #[test]
    fn a_detection_resets_the_missing_count() {
        let mut d = ChangeDetector::new(&labels(), 0.5, 3);
        assert!(d.observe([("person", 0.9)]).is_some());
        for _ in 0..5 {
            assert!(d.observe([]).is_none());
            assert!(d.observe([]).is_none());
            assert!(d.observe([("person", 0.9)]).is_none());
        }
        assert!(d.observe([]).is_none());
        assert!(d.observe([]).is_none());
        assert_eq!(d.observe([]).expect("third miss").left, ["person"]);
    }

    #[test]
    fn one_frame_can_bring_and_take_labels() {
        let mut d = ChangeDetector::new(&labels(), 0.5, 1);
        d.observe([("person", 0.9)]);
        let c = d.observe([("car", 0.7)]).expect("change");
        assert_eq!(c.appeared, ["car"]);
        assert_eq!(c.left, ["person"]);
        assert_eq!(c.present, ["car"]);
        assert_eq!(d.states(), [false, true]);
    }

    #[test]
    fn nan_scores_do_not_count() {
        let mut d = ChangeDetector::new(&labels(), 0.0, 1);
        assert!(d.observe([("person", f32::NAN)]).is_none());
    }
}
