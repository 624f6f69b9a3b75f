//! Topic names, one place for all of them.

/// Makes a name safe as one topic level and as a Home Assistant object id: ASCII letters and
/// digits are kept (lowercased), `-` and `_` too, anything else becomes `_`.
///
/// ```
/// assert_eq!(mqtt_detections::topics::segment("Front Door"), "front_door");
/// assert_eq!(mqtt_detections::topics::segment("traffic light"), "traffic_light");
/// ```
pub fn segment(name: &str) -> String {
    name.trim()
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '-' | '_' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '_',
        })
        .collect()
}

/// The topics of the relay (`<prefix>/status`).
pub fn relay_status(prefix: &str) -> String {
    format!("{prefix}/status")
}

/// The topics of one camera, built once at start.
#[derive(Debug, Clone)]
pub struct CameraTopics {
    /// `<prefix>/<camera>/state`: retained `online` / `offline`.
    pub state: String,
    /// `<prefix>/<camera>/detections`: one JSON message per change.
    pub detections: String,
    /// `<prefix>/<camera>/fps`: the detector's frame rate.
    pub fps: String,
    /// `<prefix>/<camera>/snapshot`: JPEG bytes, retained.
    pub snapshot: String,
    /// `<prefix>/<camera>/<label>`: retained `ON` / `OFF`, in the order of the labels.
    pub labels: Vec<String>,
}

impl CameraTopics {
    /// Topics of the camera with topic segment `camera`.
    pub fn new(prefix: &str, camera: &str, labels: &[String]) -> Self {
        let base = format!("{prefix}/{camera}");
        CameraTopics {
            state: format!("{base}/state"),
            detections: format!("{base}/detections"),
            fps: format!("{base}/fps"),
            snapshot: format!("{base}/snapshot"),
            labels: labels
                .iter()
                .map(|l| format!("{base}/{}", segment(l)))
                .collect(),
        }
    }
}
