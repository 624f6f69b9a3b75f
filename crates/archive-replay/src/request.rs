//! The JSON bodies of the replay routes, as issue #17 gives them.
//!
//! - `POST /api/replay`: [`CreateRequest`] `{"cameras": ["door", "yard"], "start": T,
//!   "rate": 1.0}` → `201` [`Created`] `{"id": ID, "streams": {"door":
//!   "/replay/ID/cams/door/stream", ...}}`.
//! - `POST /api/replay/ID`: [`Action`] `{"action": "pause"}`, `{"action": "play"}`,
//!   `{"action": "seek", "to": T}`, `{"action": "rate", "rate": 4.0}`,
//!   `{"action": "step", "frames": 1}` (negative steps back).
//! - `GET /api/replay/ID`: [`StateBody`].
//!
//! `T` is RFC 3339 (`"2026-11-29T20:30:00.250Z"`) or Unix seconds with a fraction, as a
//! number (`1764448200.25`) or a string (`"1764448200.25"`).

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{Error, Result};

/// A point in time as the routes take it: parsed to Unix µs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Time(pub i64);

impl Time {
    /// Unix microseconds.
    pub fn micros(self) -> i64 {
        self.0
    }

    /// Parses RFC 3339 or Unix seconds with a fraction (see [`mjpeg_record::parse_time`]).
    pub fn parse(text: &str) -> Result<Time> {
        mjpeg_record::parse_time(text)
            .map(Time)
            .map_err(|e| Error::BadTime {
                value: text.to_owned(),
                reason: e.to_string(),
            })
    }
}

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Time, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum NumOrText {
            Num(serde_json::Number),
            Text(String),
        }
        let text = match NumOrText::deserialize(d)? {
            // The number's shortest decimal form: `1764448200.25` stays exact to the µs.
            NumOrText::Num(n) => n.to_string(),
            NumOrText::Text(t) => t,
        };
        Time::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// `POST /api/replay`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CreateRequest {
    /// The cameras to replay, aligned by capture time (at least one, each once).
    pub cameras: Vec<String>,
    /// Where to start.
    pub start: Time,
    /// The rate, 1/16..=16 (default 1).
    #[serde(default = "one")]
    pub rate: f64,
}

fn one() -> f64 {
    1.0
}

fn one_frame() -> i64 {
    1
}

impl CreateRequest {
    /// Parses the body of `POST /api/replay`.
    pub fn from_json(body: &[u8]) -> Result<CreateRequest> {
        serde_json::from_slice(body).map_err(|e| Error::BadJson(e.to_string()))
    }
}

/// `POST /api/replay/ID`: one control action.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum Action {
    /// `{"action": "pause"}`: freeze the position.
    Pause,
    /// `{"action": "play"}`: go on from the position.
    Play,
    /// `{"action": "seek", "to": T}`: jump to the frame at or before `to` (paused or not).
    Seek {
        /// Where to.
        to: Time,
    },
    /// `{"action": "rate", "rate": 4.0}`: change the rate (1/16..=16).
    Rate {
        /// The new rate.
        rate: f64,
    },
    /// `{"action": "step", "frames": 1}`: step frames forward (negative: back) and pause.
    Step {
        /// Frames to step (default 1).
        #[serde(default = "one_frame")]
        frames: i64,
    },
}

impl Action {
    /// Parses the body of `POST /api/replay/ID`.
    pub fn from_json(body: &[u8]) -> Result<Action> {
        serde_json::from_slice(body).map_err(|e| Error::BadJson(e.to_string()))
    }
}

/// The answer to `POST /api/replay` (status 201).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Created {
    /// The session id: 32 hex digits, unguessable.
    pub id: String,
    /// Per camera, the path of its MJPEG stream: `/replay/ID/cams/NAME/stream`.
    pub streams: BTreeMap<String, String>,
}

/// One camera of a session, in [`StateBody`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CameraState {
    /// The camera.
    pub name: String,
    /// The id of the last frame handed to the session's broadcast (`None`: none yet).
    pub frame_id: Option<u64>,
    /// Frames published to the camera's viewers so far.
    pub published: u64,
    /// Frames skipped because the disk was slower than the replay (never queued).
    pub skipped: u64,
    /// Frames that could not be read (a segment removed meanwhile, an I/O error).
    pub read_errors: u64,
    /// Viewers of this camera's stream now.
    pub viewers: usize,
}

/// The answer to `GET /api/replay/ID` (and to a control action).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StateBody {
    /// The session id.
    pub id: String,
    /// The clock's position, RFC 3339 UTC with µs.
    pub position: String,
    /// The same, Unix µs.
    pub position_us: i64,
    /// The rate.
    pub rate: f64,
    /// Whether the clock stands still (paused, stepped or ended).
    pub paused: bool,
    /// Whether the session paused itself at the end of the recordings.
    pub ended: bool,
    /// Viewers of the session, all cameras together.
    pub viewers: usize,
    /// The cameras, in the order they were asked for.
    pub cameras: Vec<CameraState>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_764_448_200_250_000;

    #[test]
    fn times_as_numbers_or_strings() {
        for body in [
            r#"{"cameras": ["door"], "start": 1764448200.25}"#,
            r#"{"cameras": ["door"], "start": "1764448200.25"}"#,
            r#"{"cameras": ["door"], "start": "2025-11-29T20:30:00.25Z"}"#,
            r#"{"cameras": ["door"], "start": "2025-11-29T21:30:00.250+01:00", "rate": 1}"#,
        ] {
            let req = CreateRequest::from_json(body.as_bytes()).expect(body);
            assert_eq!(req.start, Time(T), "{body}");
            assert_eq!(req.rate, 1.0);
            assert_eq!(req.cameras, ["door"]);
        }
        let req = CreateRequest::from_json(br#"{"cameras":[],"start":1764448200,"rate":4.0}"#)
            .expect("parses (the service refuses no cameras)");
        assert_eq!((req.start, req.rate), (Time(1_764_448_200_000_000), 4.0));
    }

    #[test]
    fn bad_bodies_are_bad_requests() {
        for body in [
            "",
            "{",
            "[]",
            r#"{"cameras": "door", "start": 1}"#,
            r#"{"cameras": ["door"]}"#,
            r#"{"cameras": ["door"], "start": "yesterday"}"#,
            r#"{"cameras": ["door"], "start": true}"#,
            r#"{"cameras": ["door"], "start": 1, "rate": "fast"}"#,
        ] {
            let err = CreateRequest::from_json(body.as_bytes()).expect_err(body);
            assert_eq!(err.kind(), crate::ErrorKind::BadRequest, "{body}: {err}");
        }
        for body in [
            r#"{}"#,
            r#"{"action": "rewind"}"#,
            r#"{"action": "seek"}"#,
            r#"{"action": "seek", "to": "noon"}"#,
            r#"{"action": "rate"}"#,
            r#"{"action": "step", "frames": 1.5}"#,
        ] {
            let err = Action::from_json(body.as_bytes()).expect_err(body);
            assert_eq!(err.kind(), crate::ErrorKind::BadRequest, "{body}: {err}");
        }
    }

    #[test]
    fn actions() {
        let cases = [
            (r#"{"action": "pause"}"#, Action::Pause),
            (r#"{"action": "play"}"#, Action::Play),
            (
                r#"{"action": "seek", "to": "1764448200.25"}"#,
                Action::Seek { to: Time(T) },
            ),
            (
                r#"{"action": "rate", "rate": 4.0}"#,
                Action::Rate { rate: 4.0 },
            ),
            (
                r#"{"action": "step", "frames": -3}"#,
                Action::Step { frames: -3 },
            ),
            (r#"{"action": "step"}"#, Action::Step { frames: 1 }),
        ];
        for (body, want) in cases {
            assert_eq!(Action::from_json(body.as_bytes()).expect(body), want);
        }
    }

    #[test]
    fn created_json() {
        let created = Created {
            id: "ab".into(),
            streams: [("door".to_owned(), "/replay/ab/cams/door/stream".to_owned())].into(),
        };
        assert_eq!(
            serde_json::to_string(&created).expect("json"),
            r#"{"id":"ab","streams":{"door":"/replay/ab/cams/door/stream"}}"#
        );
    }
}
