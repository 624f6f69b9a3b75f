//! Quality tiers of a camera's JPEG broadcast, each made once per frame and only while watched,
//! and the automatic choice of a tier per viewer.
//!
//! - [`Tier`]: `original` (the camera's bytes, no work), `high` (full size, JPEG quality 50),
//!   `medium` (half size, q50), `low` (quarter size, q70, every second frame): the
//!   [`Ladder`], chosen by measurement (see the README).
//! - [`Tiers`]: per camera, subscribes the original broadcast (`broadcast-core`) and publishes
//!   each encoded tier into its own broadcast, **only while that tier has a subscriber**; one
//!   decode per frame for all watched tiers, the work on tokio's blocking threads, the newest
//!   frame only when it falls behind. A tier frame keeps the original's id and timestamp
//!   ([`TierFrame::for_tier`]).
//! - [`Chooser`]: a pure state machine per viewer, fed with [`LinkSample`]s (`TCP_INFO`, drop
//!   counters) and a clock: a fast and a slow goodput average, down at once, up after a clean
//!   stretch with headroom, and a drain gate for slow applications ([`Chooser::may_send`]).
//! - [`Pins`]: `quality=original|high|medium|low|auto` and `maxfps=N` from a query string, with
//!   errors whose messages say what is accepted.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use quality_tiers::{Chooser, ChooserConfig, Demand, Ladder, LinkSample, Pins, Tier};
//!
//! let pins = Pins::from_query("quality=auto&maxfps=10").expect("valid pins");
//! assert_eq!(pins.min_interval(), Some(Duration::from_millis(100)));
//! assert!(Pins::from_query("quality=ultra").is_err());
//!
//! // A camera of 48 KB frames at 25 fps, and a viewer whose link carries 400 KB/s.
//! let ladder = Ladder::default();
//! let demand = Demand::from_shares(48_000.0, 25.0, |t| ladder.nominal_share(t), |t| ladder.every(t));
//! let start = Instant::now();
//! let mut chooser = Chooser::new(ChooserConfig::default(), Tier::Original, start);
//! let mut sample = LinkSample {
//!     at: start, bytes_acked: 0, notsent: 0, peer_window: 256 << 10,
//!     delivery_rate: 400_000, queue_drops: 0, paced_skips: 0,
//! };
//! chooser.observe(sample, &demand);
//! // 200 ms later: 80 KB acknowledged, and 3 frames dropped for the viewer.
//! sample.at += Duration::from_millis(200);
//! sample.bytes_acked = 80_000;
//! sample.queue_drops = 3;
//! let decision = chooser.observe(sample, &demand);
//! assert_eq!(decision.switched_from, Some(Tier::Original));
//! assert!(demand.bytes_per_second[decision.tier.index()] <= 400_000.0);
//! ```

mod chooser;
mod codec;
mod error;
mod pins;
mod producer;
mod shared_decode;
mod tier;

pub use chooser::{Chooser, ChooserConfig, Decision, Demand, LinkSample};
pub use codec::{decode, encode, shrink, Channels, Picture, MAX_SIDE};
pub use error::{ErrorKind, QualityError};
pub use pins::{Pins, QualityChoice, MAX_FPS};
pub use producer::{TierFrame, TierStats, Tiers};
pub use shared_decode::SharedDecode;
pub use tier::{Ladder, Rung, Tier};
