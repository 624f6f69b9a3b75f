//! Subject and key names: `camrelay.<cluster>.cam.<camera>.frames` and friends.

use crate::BusError;

/// Checks that `name` can be one NATS subject token and one key-value key: 1 to 64 ASCII
/// letters, digits, `-` or `_` (no `.`, `*`, `>`, spaces or anything the server splits on).
pub fn check_name(what: &'static str, name: &str) -> Result<(), BusError> {
    let why = if name.is_empty() {
        Some("empty")
    } else if name.len() > 64 {
        Some("longer than 64 bytes")
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        Some("only ASCII letters, digits, '-' and '_' may be used")
    } else {
        None
    };
    match why {
        None => Ok(()),
        Some(why) => Err(BusError::InvalidName {
            what,
            name: name.to_owned(),
            why,
        }),
    }
}

/// The subject a camera's frames travel on: `camrelay.<cluster>.cam.<camera>.frames`.
pub fn frames(cluster: &str, camera: &str) -> String {
    format!("camrelay.{cluster}.cam.{camera}.frames")
}

/// The subject a camera's detections travel on: `camrelay.<cluster>.cam.<camera>.detections`.
pub fn detections(cluster: &str, camera: &str) -> String {
    format!("camrelay.{cluster}.cam.{camera}.detections")
}

/// The subject on which followers ask the owner for a camera's detections (one heartbeat a
/// second, the asking node's name as payload): `camrelay.<cluster>.cam.<camera>.detect_demand`.
pub fn detect_demand(cluster: &str, camera: &str) -> String {
    format!("camrelay.{cluster}.cam.{camera}.detect_demand")
}

/// The JetStream key-value bucket holding a cluster's leases: `camrelay_<cluster>_owners`.
pub fn lease_bucket(cluster: &str) -> String {
    format!("camrelay_{cluster}_owners")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn subjects_are_one_token_per_name() {
        assert_eq!(frames("site1", "porch"), "camrelay.site1.cam.porch.frames");
        assert_eq!(
            detections("site1", "porch"),
            "camrelay.site1.cam.porch.detections"
        );
        assert_eq!(
            detect_demand("site1", "porch"),
            "camrelay.site1.cam.porch.detect_demand"
        );
        assert_eq!(lease_bucket("site1"), "camrelay_site1_owners");
    }

    #[test]
    fn names_that_would_split_or_match_subjects_are_refused() {
        for good in ["porch", "cam-2", "Garage_door", "0"] {
            assert!(check_name("camera", good).is_ok(), "{good}");
        }
        let long = "x".repeat(65);
        for bad in ["", "a.b", "*", ">", "a b", "é", "a\tb", long.as_str()] {
            let err = check_name("camera", bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidName, "{bad:?}");
            assert!(err.to_string().contains("camera"), "{err}");
        }
    }
}
