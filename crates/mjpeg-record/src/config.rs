//! Configuration: the `[record]` table and the per-camera `record` setting, both
//! `serde::Deserialize` so the relay's TOML file can embed them.

use crate::time::serde_helpers;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// The `[record]` table: where and how long recordings are kept.
///
/// ```toml
/// [record]
/// dir = "/var/lib/camrelay/rec"
/// segment = "60s"
/// keep = "7d"
/// max_size = "50GB"
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordConfig {
    /// The root directory; each camera records under `dir/<camera>/`.
    pub dir: PathBuf,
    /// Segment length (default 60 s); segments start at multiples of it (UTC wall clock).
    /// Must divide an hour into whole minutes or be under a minute dividing 60 s.
    #[serde(
        default = "default_segment",
        deserialize_with = "serde_helpers::duration"
    )]
    pub segment: Duration,
    /// Delete segments older than this (none: keep by age forever).
    #[serde(default, deserialize_with = "serde_helpers::opt_duration")]
    pub keep: Option<Duration>,
    /// Delete the oldest segments while all cameras together use more than this many bytes.
    #[serde(default, deserialize_with = "serde_helpers::opt_size")]
    pub max_size: Option<u64>,
    /// Frames queued per camera between the live path and the writer thread (default 64).
    #[serde(default = "default_queue")]
    pub queue: usize,
    /// How often data and index are flushed with `fdatasync` (default and maximum 1 s).
    #[serde(default = "default_sync", deserialize_with = "serde_helpers::duration")]
    pub sync_interval: Duration,
    /// How often retention runs (default 30 s).
    #[serde(
        default = "default_retention",
        deserialize_with = "serde_helpers::duration"
    )]
    pub retention_interval: Duration,
    /// Bytes of pre-roll a camera in events mode may hold in memory (default 64 MB).
    #[serde(default = "default_preroll_bytes")]
    pub preroll_max_bytes: usize,
}

fn default_segment() -> Duration {
    Duration::from_secs(60)
}
fn default_queue() -> usize {
    64
}
fn default_sync() -> Duration {
    Duration::from_secs(1)
}
fn default_retention() -> Duration {
    Duration::from_secs(30)
}
fn default_preroll_bytes() -> usize {
    64 << 20
}

impl RecordConfig {
    /// Defaults for `dir` (what `--record DIR` means): 60 s segments, no retention limits.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        RecordConfig {
            dir: dir.into(),
            segment: default_segment(),
            keep: None,
            max_size: None,
            queue: default_queue(),
            sync_interval: default_sync(),
            retention_interval: default_retention(),
            preroll_max_bytes: default_preroll_bytes(),
        }
    }

    /// The segment length in microseconds, at least 1 s.
    pub(crate) fn segment_us(&self) -> i64 {
        (self.segment.as_micros() as i64).max(1_000_000)
    }
}

/// A camera's `record` setting: `"off"`, `"continuous"`, or
/// `{ mode = "events", labels = ["person"], pre = "5s", post = "10s" }`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum RecordMode {
    /// `"off"` or `"continuous"`.
    Simple(SimpleMode),
    /// Events only.
    Events(EventsMode),
}

/// The two modes written as a bare string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SimpleMode {
    /// Not recorded.
    Off,
    /// Every frame is recorded.
    Continuous,
}

/// Keep only the time around detections of chosen labels.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EventsMode {
    /// Must be `"events"`.
    pub mode: EventsTag,
    /// A frame matches when any of its labels is in this list.
    pub labels: Vec<String>,
    /// Pre-roll kept in memory: a clip starts this long before the first match (default 5 s).
    #[serde(
        default = "default_pre",
        deserialize_with = "serde_helpers::duration",
        serialize_with = "ser_duration"
    )]
    pub pre: Duration,
    /// Recording goes on this long after the last match (default 10 s).
    #[serde(
        default = "default_post",
        deserialize_with = "serde_helpers::duration",
        serialize_with = "ser_duration"
    )]
    pub post: Duration,
}

/// The tag of [`EventsMode`] (`mode = "events"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EventsTag {
    /// The only value.
    Events,
}

fn default_pre() -> Duration {
    Duration::from_secs(5)
}
fn default_post() -> Duration {
    Duration::from_secs(10)
}
fn ser_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&humantime::format_duration(*d).to_string())
}

impl RecordMode {
    /// Continuous recording.
    pub const CONTINUOUS: RecordMode = RecordMode::Simple(SimpleMode::Continuous);
    /// No recording.
    pub const OFF: RecordMode = RecordMode::Simple(SimpleMode::Off);

    /// Events mode with these labels and pre/post roll.
    pub fn events(labels: &[&str], pre: Duration, post: Duration) -> Self {
        RecordMode::Events(EventsMode {
            mode: EventsTag::Events,
            labels: labels.iter().map(|s| (*s).to_owned()).collect(),
            pre,
            post,
        })
    }

    /// Whether anything is recorded.
    pub fn is_on(&self) -> bool {
        *self != Self::OFF
    }

    /// Whether this mode needs the detector to run on the camera even without viewers.
    pub fn needs_detector(&self) -> bool {
        matches!(self, RecordMode::Events(_))
    }
}

impl Default for RecordMode {
    fn default() -> Self {
        Self::CONTINUOUS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Doc {
        record: RecordConfig,
        cams: Vec<Cam>,
    }
    #[derive(Deserialize)]
    struct Cam {
        record: RecordMode,
    }

    #[test]
    fn toml_forms() {
        let doc: Doc = toml::from_str(
            r#"
            [record]
            dir = "/tmp/rec"
            keep = "7d"
            max_size = "50GB"
            [[cams]]
            record = "off"
            [[cams]]
            record = "continuous"
            [[cams]]
            record = { mode = "events", labels = ["person", "car"], pre = "5s", post = "10s" }
            "#,
        )
        .expect("parses");
        assert_eq!(doc.record.segment, Duration::from_secs(60));
        assert_eq!(doc.record.keep, Some(Duration::from_secs(7 * 86400)));
        assert_eq!(doc.record.max_size, Some(50_000_000_000));
        assert_eq!(doc.cams[0].record, RecordMode::OFF);
        assert_eq!(doc.cams[1].record, RecordMode::CONTINUOUS);
        assert_eq!(
            doc.cams[2].record,
            RecordMode::events(
                &["person", "car"],
                Duration::from_secs(5),
                Duration::from_secs(10)
            )
        );
        assert!(toml::from_str::<Cam>(r#"record = "sometimes""#).is_err());
    }
}
