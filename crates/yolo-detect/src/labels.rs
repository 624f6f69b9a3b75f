//! Class names: COCO-80, Ultralytics' `names` metadata and plain labels files.

use crate::DetectError;
use std::collections::BTreeMap;
use std::path::Path;

/// The 80 COCO class names, in the order COCO-trained YOLO models use.
pub const COCO_80: [&str; 80] = [
    "person",
    "bicycle",
    "car",
    "motorcycle",
    "airplane",
    "bus",
    "train",
    "truck",
    "boat",
    "traffic light",
    "fire hydrant",
    "stop sign",
    "parking meter",
    "bench",
    "bird",
    "cat",
    "dog",
    "horse",
    "sheep",
    "cow",
    "elephant",
    "bear",
    "zebra",
    "giraffe",
    "backpack",
    "umbrella",
    "handbag",
    "tie",
    "suitcase",
    "frisbee",
    "skis",
    "snowboard",
    "sports ball",
    "kite",
    "baseball bat",
    "baseball glove",
    "skateboard",
    "surfboard",
    "tennis racket",
    "bottle",
    "wine glass",
    "cup",
    "fork",
    "knife",
    "spoon",
    "bowl",
    "banana",
    "apple",
    "sandwich",
    "orange",
    "broccoli",
    "carrot",
    "hot dog",
    "pizza",
    "donut",
    "cake",
    "chair",
    "couch",
    "potted plant",
    "bed",
    "dining table",
    "toilet",
    "tv",
    "laptop",
    "mouse",
    "remote",
    "keyboard",
    "cell phone",
    "microwave",
    "oven",
    "toaster",
    "sink",
    "refrigerator",
    "book",
    "clock",
    "vase",
    "scissors",
    "teddy bear",
    "hair drier",
    "toothbrush",
];

/// Parses the Python-dict literal Ultralytics writes into the ONNX metadata `names`,
/// e.g. `{0: 'person', 1: "o'clock"}`, into a list indexed by class id.
///
/// Missing ids in between are filled with `class<id>`. Returns `None` if the text is not such
/// a dict (so the caller can fall back to other names).
pub fn parse_names_dict(text: &str) -> Option<Vec<String>> {
    let body = text.trim().strip_prefix('{')?.strip_suffix('}')?;
    let mut map = BTreeMap::new();
    let mut chars = body.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace() || *c == ',').is_some() {}
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| c.is_ascii_digit()) {
            key.push(c);
        }
        let id: usize = key.parse().ok()?;
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next()? != ':' {
            return None;
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let quote = chars.next().filter(|q| *q == '\'' || *q == '"')?;
        let mut name = String::new();
        loop {
            match chars.next()? {
                '\\' => name.push(chars.next()?),
                c if c == quote => break,
                c => name.push(c),
            }
        }
        // Refuse absurd ids rather than allocating for them.
        if id > 100_000 {
            return None;
        }
        map.insert(id, name);
    }
    let len = map.keys().next_back().map_or(0, |k| k + 1);
    Some(
        (0..len)
            .map(|i| map.remove(&i).unwrap_or_else(|| format!("class{i}")))
            .collect(),
    )
}

/// Reads a labels file: one class name per line, blank lines and `#` comments skipped.
pub fn read_labels_file(path: impl AsRef<Path>) -> Result<Vec<String>, DetectError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|source| DetectError::Io {
        what: "labels",
        path: path.to_path_buf(),
        source,
    })?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect())
}

/// `names` extended to `classes` entries with `class<id>` (or cut to `classes`).
pub(crate) fn fit_names(mut names: Vec<String>, classes: usize) -> Vec<String> {
    names.truncate(classes);
    for i in names.len()..classes {
        names.push(format!("class{i}"));
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ultralytics_names_with_both_quote_styles_and_gaps() {
        let names = parse_names_dict("{0: 'person', 1: \"o'clock\", 3: 'a \\'b\\''}").unwrap();
        assert_eq!(names, ["person", "o'clock", "class2", "a 'b'"]);
        assert_eq!(parse_names_dict("{}").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn rejects_text_that_is_not_a_names_dict() {
        for bad in [
            "",
            "[1, 2]",
            "{a: 'x'}",
            "{0: person}",
            "{0: 'unterminated}",
            "{999999999: 'x'}",
        ] {
            assert_eq!(parse_names_dict(bad), None, "{bad}");
        }
    }

    #[test]
    fn fit_names_pads_and_truncates() {
        assert_eq!(fit_names(vec!["a".into()], 3), ["a", "class1", "class2"]);
        assert_eq!(fit_names(vec!["a".into(), "b".into()], 1), ["a"]);
    }

    #[test]
    fn labels_file_skips_blank_and_comment_lines() {
        let path =
            std::env::temp_dir().join(format!("yolo-detect-labels-{}.txt", std::process::id()));
        std::fs::write(&path, "# mine\ncat\n\n dog \n").unwrap();
        assert_eq!(read_labels_file(&path).unwrap(), ["cat", "dog"]);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            read_labels_file(&path).unwrap_err().kind(),
            crate::ErrorKind::Io
        );
    }
}
