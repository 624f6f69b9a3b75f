//! The tiers and the ladder: what each tier is made of.

use std::fmt;

/// A quality tier of a camera's broadcast, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tier {
    /// The camera's own bytes, untouched: no work at all.
    Original,
    /// Full size at a lower JPEG quality.
    High,
    /// Half size.
    Medium,
    /// Quarter size, every second frame.
    Low,
}

impl Tier {
    /// Every tier, best first.
    pub const ALL: [Tier; 4] = [Tier::Original, Tier::High, Tier::Medium, Tier::Low];
    /// The tiers that are encoded (all but [`Tier::Original`]), best first.
    pub const ENCODED: [Tier; 3] = [Tier::High, Tier::Medium, Tier::Low];

    /// `"original"`, `"high"`, `"medium"` or `"low"`: the `quality=` value and the
    /// `X-Quality` header.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Original => "original",
            Tier::High => "high",
            Tier::Medium => "medium",
            Tier::Low => "low",
        }
    }

    /// Position in [`Tier::ALL`] (0 = original).
    pub fn index(self) -> usize {
        self as usize
    }

    /// The next tier down, if any.
    pub fn lower(self) -> Option<Tier> {
        Tier::ALL.get(self.index() + 1).copied()
    }

    /// The next tier up, if any.
    pub fn higher(self) -> Option<Tier> {
        self.index().checked_sub(1).map(|i| Tier::ALL[i])
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How one encoded tier is made from the camera's frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rung {
    /// Sides divided by this (1, 2 or 4).
    pub shrink: usize,
    /// JPEG quality, 1..=100.
    pub quality: u8,
    /// Only every `every`-th camera frame is encoded and published (1 = all).
    pub every: u64,
    /// Expected size of a frame as a share of the camera's (measured on the VGA test frame),
    /// used by the chooser until the tier has published frames of its own.
    pub size_share: f64,
}

/// The encoded tiers' recipes. [`Ladder::default`] is the measured choice (see the README).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ladder {
    /// [`Tier::High`].
    pub high: Rung,
    /// [`Tier::Medium`].
    pub medium: Rung,
    /// [`Tier::Low`].
    pub low: Rung,
}

impl Default for Ladder {
    fn default() -> Self {
        Ladder {
            // Sizes of the VGA test frame (a q80 camera frame of 47.9 KB), README's table.
            high: Rung {
                shrink: 1,
                quality: 50,
                every: 1,
                size_share: 0.60, // 28.5 KB
            },
            medium: Rung {
                shrink: 2,
                quality: 50,
                every: 1,
                size_share: 0.21, // 10.1 KB
            },
            low: Rung {
                shrink: 4,
                quality: 70,
                every: 2,
                size_share: 0.10, // 4.7 KB
            },
        }
    }
}

impl Ladder {
    /// The recipe of an encoded tier; `None` for [`Tier::Original`].
    pub fn rung(&self, tier: Tier) -> Option<Rung> {
        match tier {
            Tier::Original => None,
            Tier::High => Some(self.high),
            Tier::Medium => Some(self.medium),
            Tier::Low => Some(self.low),
        }
    }

    /// The expected share of the original's bytes per second of each tier: its frames'
    /// [`Rung::size_share`] divided by its frame-rate divisor (1 for the original).
    pub fn nominal_share(&self, tier: Tier) -> f64 {
        self.rung(tier)
            .map_or(1.0, |rung| rung.size_share / rung.every.max(1) as f64)
    }

    /// The frame-rate divisor of `tier` (1 for the original).
    pub fn every(&self, tier: Tier) -> u64 {
        self.rung(tier).map_or(1, |rung| rung.every.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_go_down_and_up_in_order() {
        assert_eq!(Tier::Original.lower(), Some(Tier::High));
        assert_eq!(Tier::Low.lower(), None);
        assert_eq!(Tier::Low.higher(), Some(Tier::Medium));
        assert_eq!(Tier::Original.higher(), None);
        assert!(Tier::Original < Tier::Low, "better sorts first");
        let ladder = Ladder::default();
        let shares: Vec<f64> = Tier::ALL.iter().map(|&t| ladder.nominal_share(t)).collect();
        assert!(shares.windows(2).all(|w| w[0] > w[1]), "{shares:?}");
    }
}
