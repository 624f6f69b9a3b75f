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
//!   back-off (5 s, doubled after each failed probe up to 120 s); a move up that falls behind
//!   within 4 s is undone at once, back to the tier it left (not lower, and without the
//!   drain gate below: that tier kept up), and counts as failed. One that holds for 4 s lets
//!   the next probe follow as soon as the stretch is clean, so a link that came back climbs a
//!   tier every 4 s or so. A move down from a tier the viewer had not kept up on for 6 s
//!   ([`ChooserConfig::kept_up_before`]: its first descent, a link that never carried that
//!   tier) says the link did not change: no move up, blind or on the delivery rate's word,
//!   for a minute ([`ChooserConfig::unproven_backoff`]), then the back-off doubles as above.
//!   A steady link so switches once, then at most one probe up and back every two minutes;
//!   a link that drops after carrying a tier is probed again 5 s on.
//! - **Drain gate for slow applications**: bytes that wait unread in the viewer's receive
//!   buffer (the widest window it advertised minus the window now) are frames going stale.
//!   When they pile up the viewer moves down as above and its frames are held back until the
//!   buffer has drained ([`Decision::look_first`]: a frame is sent only when
//!   [`Chooser::may_send`] says so, so the first one sent is the newest); for
//!   [`ChooserConfig::probation`] after, at most one frame may wait unread. If they pile up
//!   again then on the lowest tier, the application reads slower than even that tier comes
//!   (an OpenCV script taking one frame a second, a background tab): the gate stays, one
//!   frame at a time, each sent once the one before was read, and the viewer does not move
//!   up. A trial lifts it after [`ChooserConfig::gate_trial`] (30 s, doubled after each
//!   failed trial up to [`ChooserConfig::max_probe_backoff`]); the trial fails when bytes pile
//!   up unread again within [`ChooserConfig::probation`].
//! - **Busy applications are not slow ones**: an application that reads all it has now and
//!   then (a loaded client, a script's loop) leaves a few frames unread between its reads.
//!   While the gate is open, unread bytes that the application takes within
//!   [`ChooserConfig::target_age`] (0.5 s) at the rate it was seen reading over the last
//!   [`ChooserConfig::rate_span`] (3 s; [`Chooser::read_rate`]: bytes acknowledged minus the
//!   growth of what waits unread) are no backlog. Before that rate is known (the first
//!   400 ms, and again after a tier switch) the backlog counts as before, so an application
//!   taken for a slow one in its first samples stays gated as below.
//! - **What the window hides**: a Linux receiver announces a window that grew only when it
//!   doubles, so a small frame read does not show until the next segment: the server keeps a
//!   gated connection's window fresh with TCP keepalive probes every second (see
//!   `mjpeg-serve`). And it offers no more than its window's cap however empty its buffer is
//!   (measured on loopback: 64 KiB of a 128 KiB buffer at first, about 120 KiB once grown), so
//!   bytes within the difference never show: while the gate stays, the bytes acknowledged
//!   since the window last came back to the widest count as unread, and the next frame goes
//!   after [`ChooserConfig::gate_fallback`] (1.5 s) without a sign of reading. A cap hiding
//!   more than a frame of the tier keeps that much unread unseen (a frame that old). The cap
//!   also comes down (under memory pressure, or for small segments) and grows back only as
//!   data arrives, which a gate holding frames back does not let happen: while the gate holds,
//!   a window narrower than the widest that is back where it was when the last frame went (or
//!   stays the same while a frame arrives) shows the viewer reading all it gets, and becomes
//!   the widest. And a few KB under the widest (min(widest/32, 4 KiB)) count as what the
//!   window may hide, not as unread, but on a trial lifting a gate that stayed.
//! - **A window that grows is no read**: Linux raises a receiver's window as data arrives,
//!   read or not (with small segments, over a real link, from 64 KiB up to its buffer), and
//!   grows the buffer as the application reads. For [`WIDENED_FOR`] after a look finds the
//!   window wider than ever, it shows room, not what waits: the buffer does not count as
//!   drained nor as emptied, and on the lowest tier a viewer just out of a drain (not a trial)
//!   whose window grew since its last frame went (that frame's arrival raised it) gets at
//!   most one frame more than it was seen to have read (bytes acknowledged minus what the window showed
//!   unread, at looks whose window moved with what arrived). A second without a sample
//!   (and five of the camera's frame periods: a slow camera's own gaps are no stall) is a
//!   backlog whatever the window says: the server samples as it writes, so it had no room for
//!   that long. Frames held back count as news for the backlog streak (a window at
//!   its cap shows neither what arrives nor what is read), and the frames a trial lets go are
//!   gated sends (a failed trial's fallback counts from the last of them).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::Tier;

/// Longest time the drain gate holds every frame back, whatever the window says.
pub const MAX_HOLD: Duration = Duration::from_secs(5);

/// Samples this far apart (and five of the camera's frame periods) mean the server had no
/// room to write for that long.
const STALLED: Duration = Duration::from_secs(1);

/// After a look finds the receiver's window wider than before, this long until the window says
/// again what waits unread (a sample's time: the frames sent meanwhile have arrived).
const WIDENED_FOR: Duration = Duration::from_millis(200);

/// The application's reading rate is known once looks span this long.
const FIRST_RATE_SPAN: Duration = Duration::from_millis(400);

/// Most samples kept to measure the application's reading (5 a second, 20 while a move up is
/// on trial: a 3 s span needs at most 60).
const MAX_CONSUMED_LOOKS: usize = 256;

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
    /// Longest wait between blind probes (and between trials lifting the drain gate).
    pub max_probe_backoff: Duration,
    /// A viewer that kept up on its tier at least this long before falling behind saw its
    /// link change: the next probe up follows after [`ChooserConfig::probe_backoff`].
    pub kept_up_before: Duration,
    /// First wait before any move up after a viewer fell behind without having kept up for
    /// [`ChooserConfig::kept_up_before`] (its first descent, on a link that never carried
    /// the tier it left); at most [`ChooserConfig::max_probe_backoff`].
    pub unproven_backoff: Duration,
    /// A move up that falls behind within this time is undone and counts as failed.
    pub probation: Duration,
    /// Unsent or unread bytes above which the viewer counts as behind (or a frame and a fifth
    /// of its tier, if more).
    pub backlog_bytes: u64,
    /// Samples closer together than this are skipped.
    pub min_sample_gap: Duration,
    /// How long the widest window the viewer advertised is remembered (between one and two of
    /// these): the yardstick of its unread bytes.
    pub window_memory: Duration,
    /// After a move down, the backlog of the tier before drains for this long before falling
    /// behind can move the viewer down again.
    pub settle: Duration,
    /// An open gate's viewer whose unread bytes its application takes within this long, at
    /// the rate it was seen reading, is not behind (a busy application that reads all it has
    /// now and then).
    pub target_age: Duration,
    /// The application's reading rate is measured over this long (known after 400 ms).
    pub rate_span: Duration,
    /// First wait before a trial lifts a drain gate that stayed; doubled after each failed
    /// trial.
    pub gate_trial: Duration,
    /// A gated viewer whose window shows no read gets its next frame after this long anyway
    /// (a frame smaller than what its window hides).
    pub gate_fallback: Duration,
}

impl Default for ChooserConfig {
    fn default() -> Self {
        ChooserConfig {
            fast_half_life: Duration::from_secs(2),
            slow_half_life: Duration::from_secs(5),
            up_headroom: 1.3,
            down_fit: 0.9,
            clean_stretch: Duration::from_secs(3),
            probe_backoff: Duration::from_secs(5),
            max_probe_backoff: Duration::from_secs(120),
            kept_up_before: Duration::from_secs(6),
            unproven_backoff: Duration::from_secs(60),
            probation: Duration::from_secs(4),
            backlog_bytes: 4 * 1024,
            min_sample_gap: Duration::from_millis(50),
            settle: Duration::from_secs(1),
            window_memory: Duration::from_secs(30),
            target_age: Duration::from_millis(500),
            rate_span: Duration::from_secs(3),
            gate_trial: Duration::from_secs(30),
            gate_fallback: Duration::from_millis(1500),
        }
    }
}

/// What the chooser decided after a sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    /// The tier to send from now on.
    pub tier: Tier,
    /// Look at the viewer's window before each frame and send it only if
    /// [`Chooser::may_send`] says so (its buffer drains, or just drained); frames arriving
    /// before are skipped.
    pub look_first: bool,
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

/// The drain gate of a viewer whose receive buffer filled (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Gate {
    /// Frames flow; `drained_at` is when the last drain ended (a backlog soon after makes the
    /// gate stay), `trial` whether that was a trial lifting a gate that stayed.
    Open {
        drained_at: Option<Instant>,
        trial: bool,
    },
    /// Held until the buffer drains once, then open.
    Draining,
    /// One frame at a time, each once the one before was read, until a trial at `until`.
    Stays { until: Instant },
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
    clean_since: Instant,
    last_switch: Option<Instant>,
    last_down: Option<Instant>,
    /// A move up on trial: when it was made, whether the delivery rate justified it, and the
    /// tier it left.
    probation: Option<(Instant, bool, Tier)>,
    backoff: Duration,
    next_probe: Instant,
    /// The last move down left a tier the viewer had not kept up on: no move up, on the
    /// delivery rate's word either, before `next_probe`.
    unproven: bool,
    trust_delivery_rate: bool,
    switches: u64,
    gate: Gate,
    /// Wait before the next trial lifting a gate that stayed.
    gate_backoff: Duration,
    /// The last look [`Chooser::may_send`] took: bytes acknowledged and window.
    last_look: Option<(u64, u64)>,
    /// Bytes acknowledged when the window last grew (the application was seen reading).
    read_mark: u64,
    /// When the gate last let a frame go.
    last_gated_send: Option<Instant>,
    /// The window last looked at, since when it has been the same, and the bytes acknowledged
    /// then.
    window_since: (u64, Instant, u64),
    /// When a move up last failed (its backlog drains without a gate).
    probe_failed_at: Option<Instant>,
    /// Samples in a row that saw a backlog in the receive buffer.
    backlog_streak: u32,
    /// Frames held back since the last drain because the one before was not read yet.
    refusals: u32,
    /// Since when the gate has held every frame back.
    held_since: Option<Instant>,
    /// What the application consumed (bytes acknowledged minus unread) at recent samples.
    consumed: VecDeque<(Instant, u64)>,
    /// The window and bytes acknowledged when the gate last let a frame go.
    gated_send: Option<(u64, u64)>,
    /// When a look last found the window wider than any before: the receiver's buffer grew
    /// (Linux grows it as the application reads), so for [`WIDENED_FOR`] the window says how
    /// much room there is, not that nothing waits unread.
    widened_at: Option<Instant>,
    /// A look within [`WIDENED_FOR`] of one that found the window wider than any before.
    widened: bool,
    /// The gate let a frame go since it last shut.
    sent_since_shut: bool,
    /// A look found the window wider than any before since the gate last let a frame go: that
    /// frame's arrival raised the receiver's window.
    grew_since_send: bool,
    /// Bytes acknowledged and window at the last look.
    looked: Option<(u64, u64)>,
    /// What the application was seen to have read: bytes acknowledged minus what the window
    /// showed unread, at looks whose window showed the bytes that arrived since the look
    /// before (a window that stays the same while a frame arrives is its cap hiding them).
    seen_read: u64,
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
            clean_since: now,
            last_switch: None,
            last_down: None,
            probation: None,
            backoff: config.probe_backoff,
            next_probe: now + config.probe_backoff,
            unproven: false,
            trust_delivery_rate: true,
            switches: 0,
            gate: Gate::Open {
                drained_at: None,
                trial: false,
            },
            gate_backoff: config.gate_trial,
            last_look: None,
            read_mark: 0,
            last_gated_send: None,
            window_since: (u64::MAX, now, 0),
            probe_failed_at: None,
            backlog_streak: 0,
            refusals: 0,
            held_since: None,
            consumed: VecDeque::new(),
            gated_send: None,
            widened_at: None,
            widened: false,
            sent_since_shut: false,
            grew_since_send: false,
            looked: None,
            seen_read: 0,
        }
    }

    /// The tier now.
    pub fn tier(&self) -> Tier {
        self.tier
    }

    /// Whether a move up is on trial now ([`ChooserConfig::probation`]): a viewer that falls
    /// behind on the new tier goes back at its next sample, so the sooner that sample, the
    /// fewer frames of a tier its link cannot carry.
    pub fn on_probation(&self) -> bool {
        self.probation.is_some()
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

    /// How fast the viewer's application took its bytes over the last
    /// [`ChooserConfig::rate_span`] of samples, bytes/s; `None` until they span 400 ms (after
    /// joining or switching tiers).
    pub fn read_rate(&self) -> Option<f64> {
        let (&(first_at, first), &(last_at, last)) =
            (self.consumed.front()?, self.consumed.back()?);
        let span = last_at.saturating_duration_since(first_at);
        if span < FIRST_RATE_SPAN.min(self.config.rate_span) {
            return None;
        }
        Some(last.saturating_sub(first) as f64 / span.as_secs_f64())
    }

    /// Records what the application has consumed so far, for [`Chooser::read_rate`].
    fn note_consumed(&mut self, now: Instant, bytes_acked: u64, unread: u64) {
        let mut consumed = bytes_acked.saturating_sub(unread);
        if let Some(&(_, last)) = self.consumed.back() {
            consumed = consumed.max(last);
        }
        self.consumed.push_back((now, consumed));
        while self.consumed.len() > MAX_CONSUMED_LOOKS
            || self
                .consumed
                .get(1)
                .is_some_and(|&(at, _)| now.saturating_duration_since(at) >= self.config.rate_span)
        {
            self.consumed.pop_front();
        }
    }

    /// Unread bytes an open gate's application takes within [`ChooserConfig::target_age`] at
    /// the rate it was seen reading (a busy application reads all it has now and then); none
    /// before that rate is known or while the gate holds frames.
    fn read_within_target(&self) -> u64 {
        if !matches!(self.gate, Gate::Open { .. }) {
            return 0;
        }
        let rate = self.read_rate().unwrap_or(0.0);
        (rate * self.config.target_age.as_secs_f64()) as u64
    }

    /// Whether a frame may be sent to a viewer whose peer advertises `peer_window` now, having
    /// acknowledged `bytes_acked` (a fresh look, taken when [`Decision::look_first`] says
    /// so). While its buffer drains or the gate stays: only once what it was sent has been
    /// read (less than a quarter of a frame of the current tier, at least 2 KiB, waits
    /// unread); in the first [`ChooserConfig::probation`] after a drain: while at most one
    /// frame waits. A receiver offers no more than its window's cap however empty its buffer
    /// is, so a small frame may not show in the window at all: while the gate stays, the bytes
    /// acknowledged since the window last grew back to the widest count as unread too, until
    /// [`ChooserConfig::gate_fallback`] after the last frame let go.
    pub fn may_send(
        &mut self,
        peer_window: u64,
        bytes_acked: u64,
        now: Instant,
        demand: &Demand,
    ) -> bool {
        let frame = demand.frame_bytes[self.tier.index()] as u64;
        self.look_at_window(peer_window, bytes_acked, frame, now);
        let slack = Self::slack(frame);
        let emptied = peer_window >= self.widest && !self.widened;
        match self.last_look {
            // The window grew back to the widest: the application read all it had.
            Some((_, window)) if peer_window > window && emptied => self.read_mark = bytes_acked,
            Some(_) => {}
            None => self.read_mark = bytes_acked,
        }
        self.last_look = Some((bytes_acked, peer_window));
        let unread = self.widest.saturating_sub(peer_window);
        let allowed: u64 = match self.gate {
            Gate::Open {
                drained_at: Some(at),
                trial,
            } if now.saturating_duration_since(at) <= self.config.probation => {
                // Just drained: what the window shows (a reader that keeps up would wait for
                // the fallback after each frame it reads unseen). Frames held back here mean
                // the application reads slower than the tier comes.
                let mut may = unread <= frame + slack + self.hidden();
                if (self.widened || (self.grew_since_send && !trial)) && self.tier == Tier::Low {
                    // On the lowest tier (smaller frames cannot help), a window growing as
                    // frames arrive is the receiver's buffer growing, not frames read: one
                    // frame more than it was seen to have read. After a drain, not only for
                    // `WIDENED_FOR` after the growth: a window that grew when the last frame
                    // arrived and then stays at its new widest shows no read of that frame.
                    // Not on a trial lifting a gate that stayed: an application that sped up
                    // behind a window still growing (on loopback a read smaller than a segment
                    // does not show) would fail every trial. (On a higher tier a thin link's
                    // window grows so too as it reads, and its fall-back is a tier.)
                    may &= bytes_acked.saturating_sub(self.seen_read) <= frame + slack;
                }
                if trial && may {
                    // The frames a trial lifting a gate that stayed lets go are gated sends:
                    // if it fails, the fallback counts from the last of them, not from the
                    // last frame before the trial (which would send one more at once, behind
                    // those the slow application has yet to read).
                    self.last_gated_send = Some(now);
                }
                if may {
                    self.gated_frame_went();
                } else {
                    self.refusals = self.refusals.saturating_add(1);
                }
                self.held_since = None;
                return may;
            }
            Gate::Open { .. } => {
                self.held_since = None;
                return true;
            }
            Gate::Draining => {
                let may = self.drained(peer_window, now, demand);
                return self.let_go(may, false, bytes_acked, peer_window, now);
            }
            Gate::Stays { .. } if !self.drained(peer_window, now, demand) => {
                return self.let_go(false, false, bytes_acked, peer_window, now);
            }
            Gate::Stays { .. } => slack,
        };
        let since_last = self
            .last_gated_send
            .map_or(Duration::MAX, |at| now.saturating_duration_since(at));
        let unseen = bytes_acked.saturating_sub(self.read_mark);
        let waited = since_last >= self.config.gate_fallback;
        let may = unseen <= allowed || waited;
        self.let_go(may, waited, bytes_acked, peer_window, now)
    }

    /// Records the gate's answer while the buffer drains or the gate stays; after
    /// [`MAX_HOLD`] without a frame, one goes whatever the window says (a receiver whose
    /// window's cap came down for good would hold the viewer forever).
    fn let_go(
        &mut self,
        may: bool,
        waited: bool,
        bytes_acked: u64,
        peer_window: u64,
        now: Instant,
    ) -> bool {
        let forced = self
            .held_since
            .is_some_and(|at| now.saturating_duration_since(at) >= MAX_HOLD);
        if may || forced {
            self.gated_frame_went();
            self.held_since = None;
            self.last_gated_send = Some(now);
            self.gated_send = Some((peer_window, bytes_acked));
            if waited || forced {
                self.read_mark = bytes_acked;
            }
            true
        } else {
            self.held_since.get_or_insert(now);
            false
        }
    }

    /// What a receiver's window may show as unread with nothing unread: the window it offers
    /// with an empty buffer is a few KB under the widest it offered (its cap grows back with
    /// the data that arrives; measured on loopback: 242,688 then 246,096 B for a 128 KiB
    /// `SO_RCVBUF`). None on a trial lifting a gate that stayed: the slow reader it is for
    /// shows there first.
    fn hidden(&self) -> u64 {
        match self.gate {
            Gate::Open { trial: true, .. } => 0,
            _ => (self.widest / 32).min(4 * 1024),
        }
    }

    /// Unread bytes that still count as drained.
    fn slack(frame: u64) -> u64 {
        (frame / 4).max(2048)
    }

    /// Whether the viewer's buffer has drained as far as its window shows: less than the
    /// slack unread, or the window unchanged for twice [`ChooserConfig::gate_fallback`] with
    /// less than an eighth of the widest unread (a receiver whose window's cap came down a
    /// little would otherwise never count as drained).
    fn drained(&self, peer_window: u64, now: Instant, demand: &Demand) -> bool {
        if self.widened {
            return false; // the room grew: whether what was sent is read shows at the next look
        }
        let frame = demand.frame_bytes[self.tier.index()] as u64;
        let unread = self.widest.saturating_sub(peer_window);
        let (window, since, _) = self.window_since;
        let still = window == peer_window
            && now.saturating_duration_since(since) >= 2 * self.config.gate_fallback;
        unread <= Self::slack(frame) || (still && unread <= self.widest / 8)
    }

    /// While the gate holds frames back, a window narrower than the widest that is the same
    /// as when the gate let the last frame go, that frame since acknowledged, or that stayed
    /// the same while at least a frame of the current tier arrived, is the viewer's buffer
    /// with nothing piling up: a window narrower than its cap shows every byte unread, so
    /// those bytes were read (with frames flowing, a steady window is a backlog the sender
    /// refills; a gated sender does not refill). Linux lowers a receiver's window cap (under
    /// memory pressure, or for small segments) and raises it again only as data arrives, so a
    /// gated viewer that reads everything would otherwise count the difference as unread
    /// until the widest is forgotten (30 to 60 s), getting a frame per [`MAX_HOLD`] (or one
    /// each time its window stayed still for twice [`ChooserConfig::gate_fallback`]). The
    /// widest comes down to that window; a wider window later raises it again. (The window
    /// between is stale: a receiver announces a window that grew only when it doubles, so the
    /// frame's arrival shows, its read only at the next keepalive probe.)
    fn note_window(&mut self, window: u64, bytes_acked: u64, frame: u64) {
        let (steady, _, acked_then) = self.window_since;
        let held = !matches!(self.gate, Gate::Open { .. });
        let frame = frame.max(1);
        let returned = self.gated_send.is_some_and(|(sent_at, acked_at_send)| {
            sent_at == window && bytes_acked >= acked_at_send.saturating_add(frame / 2)
        });
        let stayed = steady == window && bytes_acked >= acked_then.saturating_add(frame);
        if held && window < self.widest && (returned || stayed) {
            self.gated_send = None;
            tracing::debug!(
                from = self.widest,
                to = window,
                "the window's cap came down: the widest window rebased"
            );
            self.widest = window;
            self.widest_bucket.1 = window;
        }
    }

    /// Takes in a look at the window (a sample's or a gated frame's): the widest, a cap that
    /// came down, and since when the window has been the same.
    fn look_at_window(&mut self, window: u64, bytes_acked: u64, frame: u64, now: Instant) {
        if window > self.widest {
            self.widened_at = Some(now);
            self.grew_since_send |= self.sent_since_shut;
        }
        self.widened = self
            .widened_at
            .is_some_and(|at| now.saturating_duration_since(at) < WIDENED_FOR);
        // A window that moved since the last look, or one under its cap with nothing arrived,
        // shows what waits unread; one held at its cap while bytes arrive hides them.
        let shows = self.looked.is_none_or(|(acked, before)| {
            window != before || (bytes_acked == acked && window < self.widest)
        });
        if shows && !self.widened {
            let unread = self.widest.max(window) - window;
            self.seen_read = self.seen_read.max(bytes_acked.saturating_sub(unread));
        }
        self.looked = Some((bytes_acked, window));
        self.remember_window(window, now);
        self.note_window(window, bytes_acked, frame);
        if self.window_since.0 != window {
            self.window_since = (window, now, bytes_acked);
        }
    }

    /// Feeds one sample; returns the decision now.
    pub fn observe(&mut self, sample: LinkSample, demand: &Demand) -> Decision {
        let Some(previous) = self.previous else {
            self.remember_window(sample.peer_window, sample.at);
            self.previous = Some(sample);
            return self.decision(None);
        };
        let gap = sample.at.saturating_duration_since(previous.at);
        if gap < self.config.min_sample_gap {
            return self.decision(None);
        }
        self.previous = Some(sample);
        let frame = demand.frame_bytes[self.tier.index()] as u64;
        self.look_at_window(sample.peer_window, sample.bytes_acked, frame, sample.at);
        let unread = self.widest.saturating_sub(sample.peer_window);
        self.note_consumed(sample.at, sample.bytes_acked, unread);
        let acked = sample.bytes_acked.saturating_sub(previous.bytes_acked) as f64;
        let read = (acked - (unread as f64 - self.unread as f64)).max(0.0) / gap.as_secs_f64();
        self.unread = unread;

        // What the window may hide is no backlog.
        let backlog_limit = self.config.backlog_bytes.max(frame + frame / 5) + self.hidden();
        // Nor what the application reads within the target age, while frames flow. Frames held
        // back right after a drain count as a backlog too: the window showed it.
        let unread_backlog =
            unread > backlog_limit.max(self.read_within_target()) || self.refusals >= 3;
        // A sample with no byte acknowledged and the same window as the one before shows
        // nothing new (a gated viewer's window is refreshed by keepalive probes once a
        // second): it neither extends nor ends a streak, unless frames were held back since
        // (a window held at its cap shows no frame arriving, nor any read).
        let news = sample.bytes_acked != previous.bytes_acked
            || sample.peer_window != previous.peer_window
            || self.refusals >= 3;
        self.backlog_streak = match (unread_backlog, news) {
            (true, true) => self.backlog_streak.saturating_add(1),
            (true, false) => self.backlog_streak,
            (false, _) => 0,
        };
        let dropped =
            sample.queue_drops > previous.queue_drops || sample.paced_skips > previous.paced_skips;
        // A gated viewer skips frames on purpose: skips alone do not put it behind.
        let gated = !matches!(self.gate, Gate::Open { .. });
        let behind = (dropped && !gated) || sample.notsent > backlog_limit || unread_backlog;

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
            let kept_up = now.saturating_duration_since(self.clean_since);
            self.clean_since = now;
            if gated {
                None // held back already: what waits is the old backlog draining
            } else {
                let switched = self.fell_behind(now, read, kept_up, demand);
                if switched.is_some() {
                    tracing::debug!(
                        dropped,
                        notsent = sample.notsent,
                        unread,
                        read = read as u64,
                        "the viewer fell behind"
                    );
                }
                switched
            }
        } else {
            self.kept_up(now, demand)
        };
        // The backlog of a move up that failed drains without a gate: the tier it left kept
        // up.
        let probe_backlog = self
            .probe_failed_at
            .is_some_and(|at| now.saturating_duration_since(at) <= self.config.settle);
        // No look for a second: the server had no room to write a frame for that long (it
        // looks when it has a frame to send), so what waits unread is at least a buffer's worth
        // whatever the window says (a receiver's window grows as its application reads). A
        // slow camera's own gaps are no stall: the gap must span five of its frames too.
        let original = Tier::Original.index();
        let frame_period = demand.frame_bytes[original] / demand.bytes_per_second[original];
        let stalled = frame_period.is_finite()
            && gap.as_secs_f64() >= STALLED.as_secs_f64().max(5.0 * frame_period);
        self.update_gate(
            (unread_backlog || stalled) && !probe_backlog,
            sample.peer_window,
            now,
            demand,
        );
        self.decision(switched)
    }

    fn fell_behind(
        &mut self,
        now: Instant,
        read: f64,
        kept_up: Duration,
        demand: &Demand,
    ) -> Option<Tier> {
        if self
            .last_down
            .is_some_and(|at| now.saturating_duration_since(at) < self.config.settle)
        {
            return None;
        }
        if let Some((since, justified, from)) = self.probation.take() {
            if now.saturating_duration_since(since) <= self.config.probation {
                // The move up failed: back off, and stop believing the hint that made it.
                self.backoff = (self.backoff * 2).min(self.config.max_probe_backoff);
                self.next_probe = now + self.backoff;
                if justified {
                    // The estimate was built on a hint that proved wrong: start again from
                    // what the viewer really took.
                    self.trust_delivery_rate = false;
                    self.fast.value = Some(read);
                    self.slow.value = Some(read);
                }
                // Back to the tier it kept up on, not lower: that tier's record is better
                // evidence than a second of a tier too big.
                self.probe_failed_at = Some(now);
                return self.switch(from, now);
            }
        }
        if kept_up < self.config.kept_up_before {
            // Never kept up on this tier: the link did not change, it never carried it. Probing
            // soon would only go up and back again.
            let unproven = self
                .config
                .unproven_backoff
                .min(self.config.max_probe_backoff);
            self.backoff = self.backoff.max(unproven);
            self.unproven = true;
        } else {
            self.unproven = false;
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
        if let Some((since, ..)) = self.probation {
            if now.saturating_duration_since(since) > self.config.probation {
                // The move up held: the next one may follow as soon as the stretch is clean.
                self.probation = None;
                self.backoff = self.config.probe_backoff;
                self.next_probe = now;
                self.unproven = false;
            }
        }
        let stretch = self.config.clean_stretch;
        let settled = now.saturating_duration_since(self.clean_since) >= stretch
            && self
                .last_switch
                .is_none_or(|at| now.saturating_duration_since(at) >= stretch);
        let higher = self.tier.higher()?;
        // Gated or just drained, the viewer does not take even this tier at its full rate.
        if !settled || self.decision(None).look_first || self.probation.is_some() {
            return None;
        }
        if self.unproven && now < self.next_probe {
            return None;
        }
        let estimate = self.estimate().unwrap_or(0.0);
        let best = Tier::ALL
            .into_iter()
            .filter(|&t| t < self.tier)
            .find(|&t| estimate >= self.config.up_headroom * demand.per_second(t));
        if let Some(best) = best {
            self.probation = Some((now, self.trust_delivery_rate, self.tier));
            return self.switch(best, now);
        }
        // No evidence of headroom. A trusted hint that says no is believed; without one, a
        // blind probe one tier up once the back-off has passed.
        let hinted = self.trust_delivery_rate && self.previous.is_some_and(|s| s.delivery_rate > 0);
        if !hinted && now >= self.next_probe {
            self.probation = Some((now, false, self.tier));
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
        // The application's rate in bytes was of the other tier's frames: measured anew.
        self.consumed.clear();
        self.switches += 1;
        tracing::debug!(%from, %to, estimate = ?self.estimate(), "quality tier switched");
        Some(from)
    }

    /// Moves the drain gate (see the module docs): shut on a backlog in the receive buffer,
    /// open once drained, staying shut if the backlog comes back soon after a drain.
    fn update_gate(&mut self, backlog: bool, window: u64, now: Instant, demand: &Demand) {
        if !matches!(self.gate, Gate::Open { .. }) {
            self.refusals = 0;
        }
        let soon = |at: Instant| now.saturating_duration_since(at) <= self.config.probation;
        match self.gate {
            Gate::Open { drained_at, trial } if backlog => {
                // Soon after a drain, on the lowest tier, in two samples running (one may be a
                // frame in flight to a reader that keeps up): smaller frames cannot help.
                if drained_at.is_some_and(soon)
                    && self.tier == Tier::Low
                    && self.backlog_streak >= 2
                {
                    if trial {
                        self.gate_backoff =
                            (self.gate_backoff * 2).min(self.config.max_probe_backoff);
                    }
                    tracing::debug!(
                        trial_in = ?self.gate_backoff,
                        unread = self.unread,
                        refusals = self.refusals,
                        read_rate = self.read_rate().map(|r| r as u64),
                        "the application reads slower than the frames come: one at a time"
                    );
                    self.gate = Gate::Stays {
                        until: now + self.gate_backoff,
                    };
                    self.gate_shut();
                } else if !drained_at.is_some_and(soon) || self.tier != Tier::Low {
                    self.gate = Gate::Draining;
                    self.gate_shut();
                }
            }
            Gate::Open {
                drained_at: Some(at),
                trial: true,
            } if !soon(at) => {
                // The trial held: the application keeps up again.
                self.gate_backoff = self.config.gate_trial;
                self.gate = Gate::Open {
                    drained_at: Some(at),
                    trial: false,
                };
            }
            Gate::Draining if self.drained(window, now, demand) => {
                self.gate = Gate::Open {
                    drained_at: Some(now),
                    trial: false,
                };
            }
            Gate::Stays { until } if now >= until && self.drained(window, now, demand) => {
                self.gate = Gate::Open {
                    drained_at: Some(now),
                    trial: true,
                };
            }
            _ => {}
        }
    }

    /// The gate shut: a window that grows before it lets a frame go is the reads of what it
    /// holds back, or the buffer growing, not a frame it sent arriving.
    fn gate_shut(&mut self) {
        self.sent_since_shut = false;
        self.grew_since_send = false;
    }

    /// The gate let a frame go: a window wider than ever from now on is that frame arriving.
    fn gated_frame_went(&mut self) {
        self.sent_since_shut = true;
        self.grew_since_send = false;
    }

    fn decision(&self, switched_from: Option<Tier>) -> Decision {
        let look_first = match (self.gate, self.previous) {
            (
                Gate::Open {
                    drained_at: Some(at),
                    ..
                },
                Some(sample),
            ) => sample.at.saturating_duration_since(at) <= self.config.probation,
            (Gate::Open { .. }, _) => false,
            _ => true,
        };
        Decision {
            tier: self.tier,
            look_first,
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
