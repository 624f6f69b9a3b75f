//! Per-subscriber queue settings.

/// What a full subscriber queue does with a new item.
///
/// See the crate docs for a worked example of both policies.
///
/// In configuration it is named `drop-newest` or `drop-oldest` ([`FromStr`](std::str::FromStr),
/// [`Display`](std::fmt::Display), and serde with the `serde` feature).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Deserialize, serde::Serialize),
    serde(rename_all = "kebab-case")
)]
pub enum Policy {
    /// Keep the queued items, drop the new one (the subscriber sees a gap, then fresh items once
    /// it catches up). The default.
    #[default]
    DropNewest,
    /// Evict the oldest queued item to make room for the new one (the queue always holds the
    /// newest `capacity` items).
    DropOldest,
}

impl Policy {
    /// Its name in configuration: `drop-newest` or `drop-oldest`.
    pub fn name(self) -> &'static str {
        match self {
            Policy::DropNewest => "drop-newest",
            Policy::DropOldest => "drop-oldest",
        }
    }
}

impl std::fmt::Display for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Policy {
    type Err = UnknownPolicy;

    fn from_str(name: &str) -> Result<Policy, UnknownPolicy> {
        [Policy::DropNewest, Policy::DropOldest]
            .into_iter()
            .find(|policy| policy.name() == name)
            .ok_or_else(|| UnknownPolicy(name.to_owned()))
    }
}

/// A policy name that is neither `drop-newest` nor `drop-oldest`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown queue policy {0:?} (expected drop-newest or drop-oldest)")]
pub struct UnknownPolicy(pub String);

/// Queue settings of a subscriber: capacity and what to do when full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Items a subscriber may have queued, at least 1 (0 is treated as 1). Default 5.
    pub capacity: usize,
    /// What a full queue does with a new item. Default [`Policy::DropNewest`].
    pub policy: Policy,
}

impl Config {
    /// The default capacity: 5 items (≈ 170 ms of video at 30 fps).
    pub const DEFAULT_CAPACITY: usize = 5;

    /// A config with the given capacity and policy.
    pub fn new(capacity: usize, policy: Policy) -> Self {
        Self { capacity, policy }
    }

    /// The capacity the queue is really built with (`capacity`, at least 1).
    pub fn effective_capacity(&self) -> usize {
        self.capacity.max(1)
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::new(Self::DEFAULT_CAPACITY, Policy::DropNewest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_parse_from_and_print_as_their_names() {
        for policy in [Policy::DropNewest, Policy::DropOldest] {
            assert_eq!(policy.to_string().parse::<Policy>(), Ok(policy));
        }
        assert_eq!("drop-oldest".parse::<Policy>(), Ok(Policy::DropOldest));
        let unknown = "drop-all".parse::<Policy>().expect_err("not a policy");
        assert!(unknown.to_string().contains("drop-newest or drop-oldest"));
    }
}
