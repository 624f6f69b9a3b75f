//! Per-subscriber queue settings.

/// What a full subscriber queue does with a new item.
///
/// See the crate docs for a worked example of both policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
    /// Keep the queued items, drop the new one (the subscriber sees a gap, then fresh items once
    /// it catches up). The default.
    #[default]
    DropNewest,
    /// Evict the oldest queued item to make room for the new one (the queue always holds the
    /// newest `capacity` items).
    DropOldest,
}

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
