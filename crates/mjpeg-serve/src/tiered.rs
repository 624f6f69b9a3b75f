//! A viewer served from its camera's quality tiers: pinned to one (`quality=`), or chosen per
//! viewer from its link (`auto`), switching between frames; `maxfps=` skips frames to keep a
//! minimum interval, and an `auto` viewer whose receive buffer filled gets its next frame only
//! once the buffer has drained (the chooser's drain gate).

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use quality_tiers::{Chooser, ChooserConfig, Demand, LinkSample, Pins, QualityChoice, Tier, Tiers};
use tokio::time::Instant;

use crate::frame::SharedFrame;
use crate::pacing::{PacedViewer, QueueProbe};
use crate::source::FrameSource;
use crate::viewer::{Viewer, ViewerCounters};

/// How often an `auto` viewer's connection is looked at (one `getsockopt(TCP_INFO)`).
pub const SAMPLE_EVERY: Duration = Duration::from_millis(200);
/// How often while a move up is on trial (`Chooser::on_probation`): one that fails is undone
/// after a frame or two of the tier the link cannot carry, not five.
pub const SAMPLE_EVERY_ON_TRIAL: Duration = Duration::from_millis(50);
/// Frame rate assumed until the viewer has measured its camera's.
const DEFAULT_FPS: f64 = 25.0;

/// The current tier of a [`TieredViewer`], readable from elsewhere (a viewer list) while the
/// viewer's body owns it.
#[derive(Debug, Clone, Default)]
pub struct TierWatch(Arc<AtomicU8>);

impl TierWatch {
    /// The tier the viewer is on now.
    pub fn get(&self) -> Tier {
        Tier::ALL[usize::from(self.0.load(Ordering::Relaxed)).min(Tier::ALL.len() - 1)]
    }
}

/// A camera's tiers, as a relay keeps them: one per camera, shared by its viewers.
pub type CameraTiers<M> = Tiers<SharedFrame<M>>;

/// A viewer on its camera's quality tiers. Frame ids never go back across switches (the new
/// tier's copy of the frame last sent is skipped); each frame's part head says its
/// `X-Quality`. Built by [`TieredViewer::new`] around an admitted [`PacedViewer`] of the
/// camera's original broadcast.
pub struct TieredViewer<M = ()> {
    tiers: Arc<CameraTiers<M>>,
    viewer: PacedViewer<M>,
    tier: Tier,
    watch: TierWatch,
    pins: Pins,
    chooser: Option<Chooser>,
    probe: Option<Box<dyn QueueProbe>>,
    next_sample: Instant,
    /// The chooser's drain gate: look at the window before each frame.
    look_first: bool,
    /// Whether the connection's window is kept fresh (keepalive probes), set once.
    window_kept_fresh: bool,
    last_id: Option<u64>,
    /// Switched tiers since the last frame sent: the new tier's copy of that frame is skipped
    /// (a camera's keepalive re-send of its last frame, same id, is not).
    just_switched: bool,
    last_sent: Option<Instant>,
    /// Drops on broadcasts left behind (the paced viewer counts its skips over all of them).
    drops_before: u64,
    /// Frames skipped for `maxfps` or by the drain gate.
    rate_skips: u64,
    switches: u64,
    /// Estimated size of the camera's frames (EWMA) and its frame rate.
    original_bytes: Option<f64>,
    fps: f64,
    fps_mark: Option<(u64, Instant)>,
}

impl<M: Clone + Send + Sync + 'static> TieredViewer<M> {
    /// Serves `viewer` (admitted on `tiers`' original broadcast) by `pins`: a fixed tier at
    /// once, or `auto`, starting on the original and reading the connection through `probe`
    /// (`TcpInfo` of the viewer's socket; without one, `auto` stays on the original).
    pub fn new(
        tiers: Arc<CameraTiers<M>>,
        viewer: PacedViewer<M>,
        pins: Pins,
        probe: Option<Box<dyn QueueProbe>>,
        config: ChooserConfig,
    ) -> Self {
        let now = Instant::now();
        let mut this = TieredViewer {
            tiers,
            viewer,
            tier: Tier::Original,
            watch: TierWatch::default(),
            pins,
            chooser: None,
            probe,
            next_sample: now,
            look_first: false,
            window_kept_fresh: false,
            last_id: None,
            just_switched: false,
            last_sent: None,
            drops_before: 0,
            rate_skips: 0,
            switches: 0,
            original_bytes: None,
            fps: DEFAULT_FPS,
            fps_mark: None,
        };
        match pins.quality {
            QualityChoice::Fixed(tier) => this.switch(tier),
            QualityChoice::Auto if this.probe.is_some() => {
                this.chooser = Some(Chooser::new(config, Tier::Original, now.into_std()));
                this.sample(now); // the first look: the viewer's window wide open
            }
            QualityChoice::Auto => {}
        }
        this
    }

    /// Admits a viewer of `tiers`' original broadcast, with a pacer, and serves it by `pins`
    /// (see [`TieredViewer::new`]).
    pub fn admit(
        tiers: Arc<CameraTiers<M>>,
        viewer: Viewer<M>,
        pacer: Option<crate::Pacer>,
        pins: Pins,
        probe: Option<Box<dyn QueueProbe>>,
    ) -> Self {
        Self::new(
            tiers,
            PacedViewer::new(viewer, pacer),
            pins,
            probe,
            ChooserConfig::default(),
        )
    }

    /// The tier the viewer is on now.
    pub fn tier(&self) -> Tier {
        self.tier
    }

    /// A handle that reads this viewer's current tier from elsewhere.
    pub fn watch(&self) -> TierWatch {
        self.watch.clone()
    }

    /// Tier switches so far (the pin's first move included).
    pub fn switches(&self) -> u64 {
        self.switches
    }

    /// Frames skipped for `maxfps` or while the viewer's receive buffer drained.
    pub fn rate_skips(&self) -> u64 {
        self.rate_skips
    }

    /// The shortest time between frames now (`maxfps`).
    pub fn min_interval(&self) -> Option<Duration> {
        self.pins.min_interval()
    }

    /// Whether the viewer's frames wait on its receive buffer now (the chooser's drain gate).
    pub fn drain_gated(&self) -> bool {
        self.look_first
    }

    /// Polls for the next frame to send (`None` once the broadcast ended).
    pub fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<SharedFrame<M>>> {
        loop {
            if self.chooser.is_some() {
                let now = Instant::now();
                if now >= self.next_sample {
                    self.sample(now);
                }
            }
            let frame = match self.viewer.poll_frame(cx) {
                Poll::Ready(Some(frame)) => frame,
                other => return other,
            };
            if self
                .last_id
                .is_some_and(|last| frame.id < last || (frame.id == last && self.just_switched))
            {
                continue; // the new tier's copy of a moment already sent
            }
            if self.look_first && !self.may_send() {
                self.rate_skips += 1;
                continue; // a newer frame comes once the viewer has read what it has
            }
            let min_interval = self.min_interval();
            if min_interval.is_some() || self.chooser.is_some() {
                let now = Instant::now();
                if let (Some(min), Some(last)) = (min_interval, self.last_sent) {
                    if now.duration_since(last) < min {
                        self.rate_skips += 1;
                        continue;
                    }
                }
                self.last_sent = Some(now);
                self.measure(&frame, now);
            }
            self.last_id = Some(frame.id);
            self.just_switched = false;
            return Poll::Ready(Some(frame));
        }
    }

    /// Waits for the next frame to send.
    pub async fn next_frame(&mut self) -> Option<SharedFrame<M>> {
        std::future::poll_fn(|cx| self.poll_frame(cx)).await
    }

    /// The paced viewer underneath.
    pub fn viewer(&self) -> &PacedViewer<M> {
        &self.viewer
    }

    fn switch(&mut self, to: Tier) {
        if to == self.tier {
            return;
        }
        tracing::debug!(
            group = self.viewer.viewer().counters().label(),
            from = %self.tier,
            %to,
            "viewer quality tier switched"
        );
        self.drops_before += self.viewer.viewer().dropped();
        let handle = self.tiers.handle(to).clone();
        self.viewer.switch_to(&handle);
        self.tier = to;
        self.just_switched = true;
        self.watch.0.store(to.index() as u8, Ordering::Relaxed);
        self.switches += 1;
    }

    /// The camera's frame size and rate, from the frames sent.
    fn measure(&mut self, frame: &SharedFrame<M>, now: Instant) {
        let share = self.tiers.ladder().nominal_share(self.tier) * self.every(self.tier) as f64;
        let original = frame.jpeg.len() as f64 / share.max(1e-3);
        self.original_bytes = Some(match self.original_bytes {
            None => original,
            Some(old) => old + 0.1 * (original - old),
        });
        match self.fps_mark {
            Some((id, at)) if now.duration_since(at) >= Duration::from_secs(2) => {
                let seconds = now.duration_since(at).as_secs_f64();
                let fps = frame.id.saturating_sub(id) as f64 / seconds;
                if fps > 0.0 {
                    self.fps = fps;
                }
                self.fps_mark = Some((frame.id, now));
            }
            Some(_) => {}
            None => self.fps_mark = Some((frame.id, now)),
        }
    }

    fn every(&self, tier: Tier) -> u64 {
        self.tiers.ladder().every(tier)
    }

    fn demand(&self) -> Demand {
        let ladder = *self.tiers.ladder();
        let original = self.original_bytes.unwrap_or(50_000.0);
        let mut demand = Demand::from_shares(
            original,
            self.fps,
            |t| ladder.nominal_share(t),
            |t| ladder.every(t),
        );
        if let Some(max_fps) = self.pins.max_fps {
            for tier in Tier::ALL {
                let tier_fps = self.fps / ladder.every(tier) as f64;
                let scale = (f64::from(max_fps) / tier_fps).min(1.0);
                demand.bytes_per_second[tier.index()] *= scale;
            }
        }
        demand
    }

    /// A fresh look at the viewer's window: whether the chooser lets a frame go now.
    fn may_send(&mut self) -> bool {
        let demand = self.demand();
        let (Some(probe), Some(chooser)) = (self.probe.as_mut(), self.chooser.as_mut()) else {
            return true;
        };
        let now = Instant::now().into_std();
        let Some(queues) = probe.socket_queues() else {
            return true;
        };
        let may = chooser.may_send(queues.peer_window, queues.bytes_acked, now, &demand);
        tracing::trace!(
            window = queues.peer_window,
            acked = queues.bytes_acked,
            widest = chooser.widest_window(),
            may,
            "drain gate"
        );
        may
    }

    fn sample(&mut self, now: Instant) {
        self.next_sample = now + SAMPLE_EVERY;
        let Some(queues) = self.probe.as_mut().and_then(|p| p.socket_queues()) else {
            return;
        };
        let sample = LinkSample {
            at: now.into_std(),
            bytes_acked: queues.bytes_acked,
            notsent: queues.notsent,
            peer_window: queues.peer_window,
            delivery_rate: queues.delivery_rate,
            queue_drops: self.drops_before + self.viewer.viewer().dropped(),
            paced_skips: self.viewer.paced_skips(),
        };
        let demand = self.demand();
        let Some(chooser) = self.chooser.as_mut() else {
            return;
        };
        let decision = chooser.observe(sample, &demand);
        if chooser.on_probation() {
            self.next_sample = now + SAMPLE_EVERY_ON_TRIAL;
        }
        tracing::trace!(?queues, ?decision, widest = chooser.widest_window(), skips = self.rate_skips, estimate = ?chooser.estimate(), "quality sample");
        self.look_first = decision.look_first;
        if self.look_first && !self.window_kept_fresh {
            self.window_kept_fresh = true;
            if let Some(probe) = self.probe.as_mut() {
                probe.keep_window_fresh();
            }
        }
        self.switch(decision.tier);
    }
}

impl<M: Clone + Send + Sync + 'static> FrameSource<M> for TieredViewer<M> {
    fn poll_next_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<SharedFrame<M>>> {
        self.poll_frame(cx)
    }

    fn tier(&self) -> Tier {
        self.tier
    }

    fn counters(&self) -> &Arc<dyn ViewerCounters> {
        self.viewer.viewer().counters()
    }
}
