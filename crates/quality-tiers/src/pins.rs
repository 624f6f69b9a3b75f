//! The viewer's pins: `quality=original|high|medium|low|auto` and `maxfps=N`.

use crate::{QualityError, Tier};

/// What a viewer asked for with `quality=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QualityChoice {
    /// Chosen per viewer from its link (the default).
    #[default]
    Auto,
    /// Always this tier.
    Fixed(Tier),
}

impl std::str::FromStr for QualityChoice {
    type Err = QualityError;

    fn from_str(value: &str) -> Result<Self, QualityError> {
        if value.eq_ignore_ascii_case("auto") {
            return Ok(QualityChoice::Auto);
        }
        Tier::ALL
            .into_iter()
            .find(|tier| value.eq_ignore_ascii_case(tier.as_str()))
            .map(QualityChoice::Fixed)
            .ok_or_else(|| QualityError::BadQuality(value.to_owned()))
    }
}

/// Largest `maxfps=` accepted.
pub const MAX_FPS: u32 = 1000;

/// A viewer's pins, from its query string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pins {
    /// `quality=`; [`QualityChoice::Auto`] when absent.
    pub quality: QualityChoice,
    /// `maxfps=`: at most this many frames a second (1..=1000); `None` when absent.
    pub max_fps: Option<u32>,
}

impl Pins {
    /// Reads `quality` and `maxfps` from a URL query string (`a=1&quality=low`), ignoring
    /// other keys; a bad value of either is an error whose message names it. Values are
    /// taken as they are (the pins' values need no %-decoding); the last one of a key wins.
    pub fn from_query(query: &str) -> Result<Pins, QualityError> {
        let mut pins = Pins::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "quality" => pins.quality = value.parse()?,
                "maxfps" => pins.max_fps = Some(parse_max_fps(value)?),
                _ => {}
            }
        }
        Ok(pins)
    }

    /// [`Pins::from_query`], with `quality` taken as `default` when the query has none (a
    /// relay whose streams stay on the camera's bytes unless asked: `Fixed(Original)`).
    pub fn from_query_or(query: &str, default: QualityChoice) -> Result<Pins, QualityError> {
        let mut pins = Pins::from_query(query)?;
        let given = query
            .split('&')
            .any(|pair| pair.split('=').next() == Some("quality"));
        if !given {
            pins.quality = default;
        }
        Ok(pins)
    }

    /// The pins of a stream request for a relay that serves the camera's own bytes unless
    /// asked (`quality` defaults to `original`): `None` when they ask for nothing beyond the
    /// plain stream, so the server can take its plain path.
    pub fn of_stream(query: &str) -> Result<Option<Pins>, QualityError> {
        let pins = Pins::from_query_or(query, QualityChoice::Fixed(Tier::Original))?;
        Ok((!pins.is_plain()).then_some(pins))
    }

    /// Whether these pins ask for nothing beyond the camera's own stream: the original tier at
    /// the camera's rate (a server can then serve the viewer the plain way).
    pub fn is_plain(&self) -> bool {
        self.quality == QualityChoice::Fixed(Tier::Original) && self.max_fps.is_none()
    }

    /// The shortest time between two frames `maxfps` allows.
    pub fn min_interval(&self) -> Option<std::time::Duration> {
        self.max_fps
            .map(|fps| std::time::Duration::from_secs_f64(1.0 / f64::from(fps)))
    }
}

fn parse_max_fps(value: &str) -> Result<u32, QualityError> {
    let bad = || QualityError::BadMaxFps(value.to_owned());
    let fps: u32 = value.parse().map_err(|_| bad())?;
    if (1..=MAX_FPS).contains(&fps) {
        Ok(fps)
    } else {
        Err(bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn a_default_quality_applies_only_when_none_is_given() {
        let original = QualityChoice::Fixed(Tier::Original);
        assert!(Pins::from_query_or("token=x", original)
            .expect("ok")
            .is_plain());
        let auto = Pins::from_query_or("quality=auto", original).expect("ok");
        assert_eq!(auto.quality, QualityChoice::Auto);
        assert!(!Pins::from_query_or("maxfps=5", original)
            .expect("ok")
            .is_plain());
        assert!(Pins::from_query_or("quality=ultra", original).is_err());
        assert_eq!(Pins::of_stream("token=x").expect("ok"), None);
        assert!(Pins::of_stream("quality=low").expect("ok").is_some());
    }

    #[test]
    fn pins_are_read_from_the_query() {
        assert_eq!(Pins::from_query("").expect("empty"), Pins::default());
        let pins = Pins::from_query("token=x&quality=medium&maxfps=5").expect("valid");
        assert_eq!(pins.quality, QualityChoice::Fixed(Tier::Medium));
        assert_eq!(pins.max_fps, Some(5));
        assert_eq!(
            pins.min_interval(),
            Some(std::time::Duration::from_millis(200))
        );
        for tier in Tier::ALL {
            let query = format!("quality={tier}");
            assert_eq!(
                Pins::from_query(&query).expect("a tier").quality,
                QualityChoice::Fixed(tier)
            );
        }
        assert_eq!(
            Pins::from_query("quality=AUTO").expect("auto").quality,
            QualityChoice::Auto
        );
    }

    #[test]
    fn bad_pins_are_refused_with_clear_messages() {
        let ultra = Pins::from_query("quality=ultra").expect_err("no such tier");
        assert_eq!(ultra.kind(), ErrorKind::BadRequest);
        assert_eq!(
            ultra.to_string(),
            "quality=\"ultra\" is not one of original, high, medium, low, auto"
        );
        for bad in [
            "maxfps=0",
            "maxfps=-1",
            "maxfps=abc",
            "maxfps=",
            "maxfps=1001",
        ] {
            let error = Pins::from_query(bad).expect_err(bad);
            assert_eq!(error.kind(), ErrorKind::BadRequest);
            assert!(
                error.to_string().contains("from 1 to 1000"),
                "{bad}: {error}"
            );
        }
    }
}
