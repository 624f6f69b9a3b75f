//! The automatic choice of a viewer's tier: a pure state machine fed with samples of the
//! viewer's connection (from `TCP_INFO` and the viewer's own drop counters) and a clock.
//!
//! - **Goodput**: the bytes the viewer's application took per second: bytes acknowledged minus
//!   the growth of what waits unread in its receive buffer (the widest window it advertised in
//!   the last 30 to 60 s minus the window now). While the viewer is *behind* (frames dropped
//!   or skipped for it, bytes piling up unsent or unread) a sample is its capacity and pulls
//!   the estimate down at once; while it keeps up a sample only shows a lower bound, so it may
//!   raise the estimate, never lower it. The kernel's delivery rate is a capacity hint on real
//!   links, and is distrusted for a viewer once a move up made on its word failed (a viewer
//!   whose *application* is the limit, as on loopback, shows gigabytes a second).
//! - Two exponentially weighted averages with half-lives of 2 s and 5 s (a fast and a slow
//!   one, as hls.js); the estimate is the smaller.
//! - **Down at once** when the viewer falls behind: to the best tier that fits 90 % of the
//!   goodput, at least one tier down; then 1 s for the old tier's backlog to drain.
//! - **Up only after a clean stretch** (3 s with no sign of falling behind, 3 s since the last
//!   switch) and **with headroom** (the estimate is 1.3 times what the tier above needs). A
//!   viewer with no trusted capacity hint probes one tier up blind instead, at most once per
//!   back-off (10 s, doubled after each failed probe up to 120 s, back to 10 s after a
//!   success); a move up that falls behind within 4 s is undone at once and counts as failed.
//! - **Rate cap for slow applications**: when bytes pile up unread in the viewer's receive
//!   buffer (its window shrinks) its application reads slower than the frames come. The
//!   decision then carries a minimum interval between frames: the current tier's frame size
//!   over the rate the application reads (+10 %), and while more than a frame and a half wait,
//!   the time it needs to read them. It is relaxed by 30 % after 10 s without a backlog and
//!   lifted once it no longer holds the tier back; a capped viewer does not move up.

use std::time::{Duration, Instant};

use crate::Tier;

/// Longest interval the slow-application cap sets between frames.
pub const MAX_CAP: Duration = Duration::from_secs(5);

/// One look at a viewer's connection. Counters are cumulative since the viewer joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkSample {
    /// When it was taken.
    pub at: Instant,
    /// Bytes the peer acknowledged (`tcpi_bytes_acked`).
    pub bytes_acked: u64,
    /// Bytes written but not yet sent (`tcpi_notsent_bytes`).
    pub notsent: u64,
    /// The peer's advertised receive window (`tcpi_snd_wnd`).
    pub peer_window: u64,
    /// The kernel's recent delivery rate, bytes/s (`tcpi_delivery_rate`; 0 if unknown).
    pub delivery_rate: u64,
    /// Frames dropped because the viewer's queue was full.
    pub queue_drops: u64,
    /// Frames skipped because the viewer was paced (its link had not drained).
    pub paced_skips: u64,
}

/// What each tier costs a viewer now: bytes per second at the frame rate it would get, and
/// bytes per frame, indexed by [`Tier::index`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Demand {
    /// Bytes per second of each tier.
    pub bytes_per_second: [f64; 4],
    /// Bytes per frame of each tier.
    pub frame_bytes: [f64; 4],
}

impl Demand {
    /// The demand of a camera sending `fps` frames of `original_bytes`, each tier's bytes per
    /// second being `share(tier)` of the original's (as [`Ladder::nominal_share`]) and its
    /// frame rate divided by `every(tier)`.
    ///
    /// [`Ladder::nominal_share`]: crate::Ladder::nominal_share
    pub fn from_shares(
        original_bytes: f64,
        fps: f64,
        share: impl Fn(Tier) -> f64,
        every: impl Fn(Tier) -> u64,
    ) -> Demand {
        let mut demand = Demand {
            bytes_per_second: [0.0; 4],
            frame_bytes: [0.0; 4],
        };
        for tier in Tier::ALL {
            let per_second = original_bytes * fps * share(tier);
            demand.bytes_per_second[tier.index()] = per_second;
            demand.frame_bytes[tier.index()] = per_second / (fps / every(tier).max(1) as f64);
        }
        demand
    }

    fn per_second(&self, tier: Tier) -> f64 {
        self.bytes_per_second[tier.index()]
    }
}

/// The chooser's settings; [`ChooserConfig::default`] is what the module docs describe.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChooserConfig {
    /// Half-life of the fast average.
    pub fast_half_life: Duration,
    /// Half-life of the slow average.
    pub slow_half_life: Duration,
    /// Going up needs an estimate this many times what the tier above needs.
    pub up_headroom: f64,
    /// Going down picks a tier needing at most this share of the goodput.
    pub down_fit: f64,
    /// Time with no sign of falling behind (and since the last switch) before going up.
    pub clean_stretch: Duration,
    /// First wait before a blind probe up; doubled after each failed probe.
    pub probe_backoff: Duration,
    /// Longest wait between blind probes.
    pub max_probe_backoff: Duration,
    /// A move up that falls behind within this time is undone and counts as failed.
    pub probation: Duration,
    /// Unsent or unread bytes above which the viewer counts as behind (or a frame and a fifth
    /// of its tier, if more).
    pub backlog_bytes: u64,
    /// Samples closer together than this are skipped.
    pub min_sample_gap: Duration,
    /// The slow-application cap is relaxed by 30 % after this long without a backlog.
    pub cap_relax_after: Duration,
    /// How long the widest window the viewer advertised is remembered (between one and two of
    /// these): the yardstick of its unread bytes.
    pub window_memory: Duration,
    /// After a move down, the backlog of the tier before drains for this long before falling
    /// behind can move the viewer down again.
    pub settle: Duration,
}

impl Default for ChooserConfig {
    fn default() -> Self {
        ChooserConfig {
            fast_half_life: Duration::from_secs(2),
            slow_half_life: Duration::from_secs(5),
            up_headroom: 1.3,
            down_fit: 0.9,
            clean_stretch: Duration::from_secs(3),
            probe_backoff: Duration::from_secs(10),
            max_probe_backoff: Duration::from_secs(120),
            probation: Duration::from_secs(4),
            backlog_bytes: 4 * 1024,
            min_sample_gap: Duration::from_millis(50),
            settle: Duration::from_secs(1),
            window_memory: Duration::from_secs(30),
            cap_relax_after: Duration::from_secs(10),
        }
    }
}

/// What the chooser decided after a sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    /// The tier to send from now on.
    pub tier: Tier,
    /// The shortest time between two frames (the slow-application cap), if any.
    pub min_interval: Option<Duration>,
    /// Set when this sample changed the tier: the tier before.
    pub switched_from: Option<Tier>,
}

/// An exponentially weighted moving average with a half-life in time.
#[derive(Debug, Clone, Copy)]
struct Ewma {
    half_life: f64,
    value: Option<f64>,
}

impl Ewma {
    fn new(half_life: Duration) -> Self {
        Ewma {
            half_life: half_life.as_secs_f64().max(1e-3),
            value: None,
        }
    }

    fn add(&mut self, sample: f64, weight: Duration) {
        let alpha = 1.0 - 0.5f64.powf(weight.as_secs_f64() / self.half_life);
        self.value = Some(match self.value {
            None => sample,
            Some(old) => old + alpha * (sample - old),
        });
    }
}

/// The tier chooser of one viewer.
#[derive(Debug, Clone)]
pub struct Chooser {
    config: ChooserConfig,
    tier: Tier,
    previous: Option<LinkSample>,
    /// The widest window the peer advertised (its receive buffer with nothing unread), kept
    /// over the current and the previous [`ChooserConfig::window_memory`].
    widest: u64,
    widest_bucket: (Instant, u64),
    unread: u64,
    fast: Ewma,
    slow: Ewma,
    /// Rate the application reads, fast average (for the cap).
    app_rate: Ewma,
    clean_since: Instant,
    last_switch: Option<Instant>,
    last_down: Option<Instant>,
    last_backlog: Option<Instant>,
    /// A move up on trial: when it was made and whether the delivery rate justified it.
    probation: Option<(Instant, bool)>,
    backoff: Duration,
    next_probe: Instant,
    trust_delivery_rate: bool,
    switches: u64,
    /// The slow-application cap: shortest time between frames, and when it was last set or
    /// relaxed.
    cap: Option<Cap>,
}

/// The slow-application cap of a viewer.
#[derive(Debug, Clone, Copy)]
struct Cap {
    /// Shortest time between frames now.
    interval: Duration,
    /// The interval once the backlog has drained.
    steady: Duration,
    /// When it was last set or relaxed.
    since: Instant,
}

impl Chooser {
    /// A chooser starting on `start` at `now`.
    pub fn new(config: ChooserConfig, start: Tier, now: Instant) -> Chooser {
        Chooser {
            config,
            tier: start,
            previous: None,
            widest: 0,
            widest_bucket: (now, 0),
            unread: 0,
            fast: Ewma::new(config.fast_half_life),
            slow: Ewma::new(config.slow_half_life),
            app_rate: Ewma::new(config.fast_half_life),
            clean_since: now,
            last_switch: None,
            last_down: None,
            last_backlog: None,
            probation: None,
            backoff: config.probe_backoff,
            next_probe: now + config.probe_backoff,
            trust_delivery_rate: true,
            switches: 0,
            cap: None,
        }
    }

    /// The tier now.
    pub fn tier(&self) -> Tier {
        self.tier
    }

    /// Tier switches so far.
    pub fn switches(&self) -> u64 {
        self.switches
    }

    /// The widest receive window the viewer advertised recently: its buffer with nothing
    /// unread (so `widest_window() - peer_window` is what waits unread).
    pub fn widest_window(&self) -> u64 {
        self.widest
    }

    /// The goodput estimate, bytes/s (the smaller of the two averages), once there is one.
    pub fn estimate(&self) -> Option<f64> {
        match (self.fast.value, self.slow.value) {
            (Some(fast), Some(slow)) => Some(fast.min(slow)),
            _ => None,
        }
    }

    /// Feeds one sample; returns the decision now.
    pub fn observe(&mut self, sample: LinkSample, demand: &Demand) -> Decision {
        let Some(previous) = self.previous else {
            self.remember_window(sample.peer_window, sample.at);
            self.previous = Some(sample);
            return self.decision(None, demand);
        };
        let gap = sample.at.saturating_duration_since(previous.at);
        if gap < self.config.min_sample_gap {
            return self.decision(None, demand);
        }
        self.previous = Some(sample);
        self.remember_window(sample.peer_window, sample.at);
        let unread = self.widest.saturating_sub(sample.peer_window);
        let acked = sample.bytes_acked.saturating_sub(previous.bytes_acked) as f64;
        let read = (acked - (unread as f64 - self.unread as f64)).max(0.0) / gap.as_secs_f64();
        self.unread = unread;

        let frame = demand.frame_bytes[self.tier.index()] as u64;
        let backlog_limit = self.config.backlog_bytes.max(frame + frame / 5);
        let unread_backlog = unread > backlog_limit;
        let behind = sample.queue_drops > previous.queue_drops
            || sample.paced_skips > previous.paced_skips
            || sample.notsent > backlog_limit
            || unread_backlog;
        if unread_backlog {
            self.last_backlog = Some(sample.at);
            // The application is the limit: what it read is its rate.
            self.app_rate.add(read, gap);
        }

        let hint = if self.trust_delivery_rate {
            sample.delivery_rate as f64
        } else {
            0.0
        };
        if behind {
            // Behind, what the viewer took is what it can take: the averages come down to it
            // at once (they rise slowly).
            for ewma in [&mut self.fast, &mut self.slow] {
                ewma.add(read, gap);
                ewma.value = ewma.value.map(|v| v.min(read));
            }
        } else {
            let bound = read.max(hint);
            for ewma in [&mut self.fast, &mut self.slow] {
                if ewma.value.is_none_or(|v| bound > v) {
                    ewma.add(bound, gap);
                }
            }
        }

        let now = sample.at;
        let switched = if behind {
            self.clean_since = now;
            self.fell_behind(now, read, demand)
        } else {
            self.kept_up(now, demand)
        };
        self.update_cap(unread_backlog, now, demand);
        self.decision(switched, demand)
    }

    fn fell_behind(&mut self, now: Instant, read: f64, demand: &Demand) -> Option<Tier> {
        if self
            .last_down
            .is_some_and(|at| now.saturating_duration_since(at) < self.config.settle)
        {
            return None;
        }
        if let Some((since, justified)) = self.probation.take() {
            if now.saturating_duration_since(since) <= self.config.probation {
                // The move up failed: back off, and stop believing the hint that made it.
                self.backoff = (self.backoff * 2).min(self.config.max_probe_backoff);
                if justified {
                    // The estimate was built on a hint that proved wrong: start again from
                    // what the viewer really took.
                    self.trust_delivery_rate = false;
                    self.fast.value = Some(read);
                    self.slow.value = Some(read);
                }
            }
        }
        self.next_probe = now + self.backoff;
        let budget = self.config.down_fit * self.estimate().unwrap_or(read).min(read);
        let lower = self.tier.lower()?;
        let fits = Tier::ALL
            .into_iter()
            .filter(|&t| t >= lower)
            .find(|&t| demand.per_second(t) <= budget)
            .unwrap_or(Tier::Low);
        self.switch(fits, now)
    }

    fn kept_up(&mut self, now: Instant, demand: &Demand) -> Option<Tier> {
        if let Some((since, _)) = self.probation {
            if now.saturating_duration_since(since) > self.config.probation {
                self.probation = None;
                self.backoff = self.config.probe_backoff;
            }
        }
        let stretch = self.config.clean_stretch;
        let settled = now.saturating_duration_since(self.clean_since) >= stretch
            && self
                .last_switch
                .is_none_or(|at| now.saturating_duration_since(at) >= stretch);
        let higher = self.tier.higher()?;
        // Capped, the viewer does not take even this tier at its full rate.
        if !settled || self.cap.is_some() {
            return None;
        }
        let estimate = self.estimate().unwrap_or(0.0);
        let best = Tier::ALL
            .into_iter()
            .filter(|&t| t < self.tier)
            .find(|&t| estimate >= self.config.up_headroom * demand.per_second(t));
        if let Some(best) = best {
            self.probation = Some((now, self.trust_delivery_rate));
            return self.switch(best, now);
        }
        // No evidence of headroom. A trusted hint that says no is believed; without one, a
        // blind probe one tier up once the back-off has passed.
        let hinted = self.trust_delivery_rate && self.previous.is_some_and(|s| s.delivery_rate > 0);
        if !hinted && now >= self.next_probe {
            self.probation = Some((now, false));
            self.next_probe = now + self.backoff;
            return self.switch(higher, now);
        }
        None
    }

    fn switch(&mut self, to: Tier, now: Instant) -> Option<Tier> {
        if to == self.tier {
            return None;
        }
        let from = self.tier;
        if to > from {
            self.last_down = Some(now);
        }
        self.tier = to;
        self.last_switch = Some(now);
        self.switches += 1;
        tracing::debug!(%from, %to, estimate = ?self.estimate(), "quality tier switched");
        Some(from)
    }

    /// Sets the cap from the application's read rate while bytes pile up unread (not while
    /// the backlog of a tier just left drains): a frame as often as it takes one, and nothing
    /// while more than a frame and a half wait; relaxes it by 30 % after each
    /// [`ChooserConfig::cap_relax_after`] without a backlog, and lifts it once it no longer
    /// holds the tier's frame rate back.
    fn update_cap(&mut self, backlog: bool, now: Instant, demand: &Demand) {
        let frame = demand.frame_bytes[self.tier.index()];
        let natural = frame / demand.per_second(self.tier).max(1.0);
        let settling = self
            .last_down
            .is_some_and(|at| now.saturating_duration_since(at) < self.config.settle);
        if backlog && !settling {
            if let Some(rate) = self.app_rate.value {
                let rate = rate.max(1.0);
                // The steady cap: a frame as often as the application takes one, with 10 % to
                // spare. While more than a frame and a half wait, hold on until they are read.
                let steady = (1.1 * frame / rate).clamp(natural, MAX_CAP.as_secs_f64());
                let drain = (self.unread as f64 / rate).min(MAX_CAP.as_secs_f64());
                let interval = if self.unread as f64 > 1.5 * frame {
                    drain.max(steady)
                } else {
                    steady
                };
                self.cap = Some(Cap {
                    interval: Duration::from_secs_f64(interval),
                    steady: Duration::from_secs_f64(steady),
                    since: now,
                });
            }
            return;
        }
        if let Some(cap) = self.cap.as_mut() {
            // The backlog is gone: back to the steady cap, relaxed after a long clean stretch.
            cap.interval = cap.steady;
            if now.saturating_duration_since(cap.since) >= self.config.cap_relax_after {
                cap.steady = cap.steady.mul_f64(0.7);
                cap.interval = cap.steady;
                cap.since = now;
                if cap.steady.as_secs_f64() <= natural * 1.1 {
                    self.cap = None;
                }
            }
        }
    }

    fn decision(&self, switched_from: Option<Tier>, _demand: &Demand) -> Decision {
        Decision {
            tier: self.tier,
            min_interval: self.cap.map(|cap| cap.interval),
            switched_from,
        }
    }

    fn remember_window(&mut self, window: u64, now: Instant) {
        let (started, widest) = self.widest_bucket;
        if now.saturating_duration_since(started) >= self.config.window_memory {
            self.widest = widest.max(window);
            self.widest_bucket = (now, window);
        } else {
            self.widest_bucket.1 = widest.max(window);
            self.widest = self.widest.max(window);
        }
    }
}

#[cfg(test)]
mod tests;
