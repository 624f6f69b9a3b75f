//! The chooser against a simulated viewer: a camera at 25 fps of 48 KB, a link of some rate,
//! a receive buffer, and an application that reads bytes at a rate or one frame a second.

use std::collections::VecDeque;

use super::*;
use crate::Ladder;

const FPS: f64 = 25.0;
const ORIGINAL: f64 = 48_000.0;
const STEP: Duration = Duration::from_millis(10);
const SAMPLE_EVERY: u32 = 20; // 200 ms
const LOWAT: f64 = 16_384.0;
/// Keepalive probes on a gated viewer's connection, after this long without an ACK.
const KEEPALIVE: Duration = Duration::from_secs(1);

enum Reader {
    /// Reads up to this many bytes a second.
    Bytes(f64),
    /// Reads one whole frame every this long.
    Frames(Duration),
    /// Reads all it has every this long.
    Bursts(Duration),
}

struct Sim {
    link_rate: f64,
    /// The most window the receiver offers however empty its buffer (Linux's window cap):
    /// what the application read of the rest does not show.
    window_cap: f64,
    /// The delivery rate the kernel reports; `None`: the link rate.
    reported_rate: Option<f64>,
    rcvbuf: f64,
    reader: Reader,
    chooser: Chooser,
    decision: Decision,
    demand: Demand,
    now: Instant,
    steps: u64,
    notsent: f64,
    unread: f64,
    acked: f64,
    read: f64,
    drops: u64,
    last_sent: Option<Instant>,
    last_read: Instant,
    /// Frames sent: where each ends in the byte stream, and when it was sent.
    in_flight: VecDeque<(f64, Instant)>,
    sent_bytes: f64,
    /// Ages of the frames the application finished reading, with when.
    ages: Vec<(Instant, Duration)>,
    switch_times: Vec<Instant>,
    /// Whether the receiver announces its window as Linux does: one that grew after a read
    /// only when it doubles from at most half its cap, else with the next ACK (when data
    /// arrives, or a keepalive probe once the server turned them on for a gated viewer).
    /// Otherwise every look sees the window as it is.
    linux_window: bool,
    announced: f64,
    last_ack: Instant,
    keepalive: bool,
}

impl Sim {
    fn new(link_rate: f64, rcvbuf: f64, reader: Reader) -> Sim {
        Sim::capped(link_rate, rcvbuf, f64::INFINITY, reader)
    }

    /// A receiver offering at most `window_cap` however empty its buffer.
    fn capped(link_rate: f64, rcvbuf: f64, window_cap: f64, reader: Reader) -> Sim {
        let now = Instant::now();
        let demand = ladder_demand(FPS);
        let mut chooser = Chooser::new(ChooserConfig::default(), Tier::Original, now);
        // The first look, as the viewer connects: its whole window open.
        chooser.observe(
            LinkSample {
                at: now,
                bytes_acked: 0,
                notsent: 0,
                peer_window: rcvbuf.min(window_cap) as u64,
                delivery_rate: 0,
                queue_drops: 0,
                paced_skips: 0,
            },
            &demand,
        );
        Sim {
            link_rate,
            reported_rate: None,
            rcvbuf,
            reader,
            window_cap,
            decision: Decision {
                tier: Tier::Original,
                look_first: false,
                switched_from: None,
            },
            chooser,
            demand,
            now,
            steps: 0,
            notsent: 0.0,
            unread: 0.0,
            acked: 0.0,
            read: 0.0,
            drops: 0,
            last_sent: None,
            last_read: now,
            in_flight: VecDeque::new(),
            sent_bytes: 0.0,
            ages: Vec::new(),
            switch_times: Vec::new(),
            linux_window: false,
            announced: rcvbuf.min(window_cap),
            last_ack: now,
            keepalive: false,
        }
    }

    fn step(&mut self) {
        self.steps += 1;
        self.now += STEP;
        let dt = STEP.as_secs_f64();
        // The camera: a frame every 40 ms (every other one on the low tier).
        if self.steps.is_multiple_of(4) {
            let frame_no = self.steps / 4;
            let tier = self.decision.tier;
            let every = if tier == Tier::Low { 2 } else { 1 };
            let held = frame_no.is_multiple_of(every)
                && self.decision.look_first
                && !self.chooser.may_send(
                    self.window() as u64,
                    self.acked as u64,
                    self.now,
                    &self.demand,
                );
            if frame_no.is_multiple_of(every) && !held {
                if self.notsent > LOWAT {
                    self.drops += 1;
                } else {
                    let bytes = self.demand.frame_bytes[tier.index()];
                    self.notsent += bytes;
                    self.sent_bytes += bytes;
                    self.in_flight.push_back((self.sent_bytes, self.now));
                    self.last_sent = Some(self.now);
                }
            }
        }
        // The link.
        let room = (self.rcvbuf - self.unread).max(0.0);
        let moved = self.notsent.min(self.link_rate * dt).min(room);
        self.notsent -= moved;
        self.unread += moved;
        self.acked += moved;
        if moved > 0.0 {
            // The ACK of what arrived, sent before the application reads it.
            self.announced = self.fresh_window();
            self.last_ack = self.now;
        }
        // The application.
        let took = match self.reader {
            Reader::Bytes(rate) => self.unread.min(rate * dt),
            Reader::Bursts(every) => {
                if self.now.duration_since(self.last_read) >= every {
                    self.last_read = self.now;
                    self.unread
                } else {
                    0.0
                }
            }
            Reader::Frames(every) => {
                if self.now.duration_since(self.last_read) >= every {
                    match self.in_flight.front() {
                        Some(&(end, _)) if end <= self.acked => {
                            self.last_read = self.now;
                            end - self.read
                        }
                        _ => 0.0,
                    }
                } else {
                    0.0
                }
            }
        };
        self.unread -= took;
        self.read += took;
        let fresh = self.fresh_window();
        let cap = self.rcvbuf.min(self.window_cap);
        let grew = took > 0.0 && self.announced <= cap / 2.0 && fresh >= 2.0 * self.announced;
        let probed = self.keepalive && self.now.duration_since(self.last_ack) >= KEEPALIVE;
        if !self.linux_window || grew || probed {
            self.announced = fresh;
            self.last_ack = self.now;
        }
        while let Some(&(end, sent)) = self.in_flight.front() {
            if end > self.read + 0.5 {
                break;
            }
            self.ages.push((self.now, self.now.duration_since(sent)));
            self.in_flight.pop_front();
        }
        if self.steps.is_multiple_of(u64::from(SAMPLE_EVERY)) {
            let sample = LinkSample {
                at: self.now,
                bytes_acked: self.acked as u64,
                notsent: self.notsent as u64,
                peer_window: self.window() as u64,
                delivery_rate: self.reported_rate.unwrap_or(self.link_rate) as u64,
                queue_drops: self.drops,
                paced_skips: 0,
            };
            self.decision = self.chooser.observe(sample, &self.demand);
            self.keepalive |= self.decision.look_first;
            if self.decision.switched_from.is_some() {
                self.switch_times.push(self.now);
            }
        }
    }

    fn run(&mut self, time: Duration) {
        for _ in 0..(time.as_millis() / STEP.as_millis()) {
            self.step();
        }
    }

    /// Runs until `done` holds (checked at samples), at most `limit`; returns the time taken.
    fn run_until(&mut self, limit: Duration, done: impl Fn(&Sim) -> bool) -> Option<Duration> {
        let start = self.now;
        while self.now.duration_since(start) < limit {
            self.step();
            if done(self) {
                return Some(self.now.duration_since(start));
            }
        }
        None
    }

    /// The window as the receiver last announced it.
    fn window(&self) -> f64 {
        self.announced
    }

    /// The window the receiver would announce now.
    fn fresh_window(&self) -> f64 {
        (self.rcvbuf - self.unread).min(self.window_cap)
    }

    /// Ages of the frames read in the last `span`.
    fn recent_ages(&self, span: Duration) -> Vec<Duration> {
        let since = self.now - span;
        self.ages
            .iter()
            .filter(|(at, _)| *at >= since)
            .map(|(_, age)| *age)
            .collect()
    }

    fn fits(&self, rate: f64) -> bool {
        self.demand.bytes_per_second[self.decision.tier.index()] <= rate
    }

    fn switches_between(&self, from: Duration, to: Duration, start: Instant) -> usize {
        self.switch_times
            .iter()
            .filter(|&&t| t >= start + from && t < start + to)
            .count()
    }
}

const MB: f64 = 1_000_000.0;
const KB: f64 = 1_000.0;

/// What each tier of the default ladder costs for a camera sending `fps` frames of
/// [`ORIGINAL`] bytes.
fn ladder_demand(fps: f64) -> Demand {
    let ladder = Ladder::default();
    Demand::from_shares(
        ORIGINAL,
        fps,
        |t| ladder.nominal_share(t),
        |t| ladder.every(t),
    )
}

#[test]
fn a_link_drop_goes_down_within_2_s_and_recovery_returns_to_original_within_15_s() {
    let mut sim = Sim::new(2.0 * MB, 256.0 * 1024.0, Reader::Bytes(1e12));
    sim.run(Duration::from_secs(20));
    assert_eq!(
        (sim.decision.tier, sim.chooser.switches()),
        (Tier::Original, 0)
    );
    sim.link_rate = 400.0 * KB;
    let down = sim.run_until(Duration::from_secs(10), |s| s.fits(400.0 * KB));
    let down = down.expect("on a fitting tier");
    assert!(down <= Duration::from_secs(2), "took {down:?}");
    assert_ne!(sim.decision.tier, Tier::Original);
    sim.run(Duration::from_secs(30));
    assert!(sim.fits(400.0 * KB), "still fits: {:?}", sim.decision);
    sim.link_rate = 2.0 * MB;
    let up = sim.run_until(Duration::from_secs(30), |s| {
        s.decision.tier == Tier::Original
    });
    let up = up.expect("back on original");
    assert!(up <= Duration::from_secs(15), "took {up:?}");
}

#[test]
fn a_steady_link_switches_at_most_once_a_minute() {
    // A real 400 KB/s link (the kernel's delivery rate says so): one switch, then none.
    let mut sim = Sim::new(400.0 * KB, 256.0 * 1024.0, Reader::Bytes(1e12));
    let start = sim.now;
    sim.run(Duration::from_secs(600));
    assert_eq!(sim.chooser.switches(), 1, "{:?}", sim.switch_times);
    assert!(sim.fits(400.0 * KB));
    // A reader limited to 400 KB/s on loopback (the delivery rate says 1 GB/s): blind probes
    // back off to one every two minutes, one up and one down each.
    let mut sim = Sim::new(1e9, 256.0 * 1024.0, Reader::Bytes(400.0 * KB));
    sim.reported_rate = Some(1e9);
    let start2 = sim.now;
    sim.run(Duration::from_secs(600));
    let late = sim.switches_between(Duration::from_secs(120), Duration::from_secs(600), start2);
    assert!(
        late <= 8,
        "{late} switches in 8 minutes: {:?}",
        sim.switch_times
    );
    assert!(sim.fits(400.0 * KB), "{:?}", sim.decision);
    let _ = start;
}

#[test]
fn a_viewer_that_never_kept_up_waits_a_minute_before_moving_up() {
    // A 400 KB/s reader on loopback from the start (the delivery rate says 1 GB/s): the
    // first descent leaves a tier it never kept up on, so neither the delivery rate nor a
    // blind probe moves it up for a minute; then probes every two minutes at most, one up and
    // one back each.
    let mut sim = Sim::new(1e9, 256.0 * 1024.0, Reader::Bytes(400.0 * KB));
    sim.reported_rate = Some(1e9);
    let start = sim.now;
    sim.run(Duration::from_secs(59));
    assert_eq!(sim.chooser.switches(), 1, "{:?}", sim.switch_times);
    assert!(sim.fits(400.0 * KB), "{:?}", sim.decision);
    sim.run(Duration::from_secs(540));
    for minute in 1..9 {
        let from = Duration::from_secs(minute * 60);
        let switches = sim.switches_between(from, from + Duration::from_secs(60), start);
        assert!(
            switches <= 2,
            "{switches} in minute {minute}: {:?}",
            sim.switch_times
        );
    }
    assert!(sim.fits(400.0 * KB), "{:?}", sim.decision);
}

#[test]
fn a_thin_reader_gets_more_frames_on_auto() {
    let mut sim = Sim::new(1e9, 256.0 * 1024.0, Reader::Bytes(400.0 * KB));
    sim.reported_rate = Some(1e9);
    sim.run(Duration::from_secs(30));
    let since = sim.now - Duration::from_secs(10);
    let recent: Vec<Duration> = sim
        .ages
        .iter()
        .filter(|(at, _)| *at >= since)
        .map(|(_, age)| *age)
        .collect();
    assert!(recent.len() >= 200, "{} frames in 10 s", recent.len());
    let worst = recent.iter().max().copied().unwrap_or_default();
    assert!(worst <= Duration::from_millis(500), "worst age {worst:?}");
}

/// Ages of the last 30 s of a one-frame-a-second reader: fresh, but for the one frame the
/// trial lifting the gate (once in those 30 s) lets pile up.
fn assert_fresh_one_at_a_time(sim: &Sim) {
    assert!(sim.decision.look_first, "gated: {:?}", sim.decision);
    let recent = sim.recent_ages(Duration::from_secs(30));
    assert!(recent.len() >= 20, "{} frames in 30 s", recent.len());
    let stale = recent
        .iter()
        .filter(|&&age| age > Duration::from_millis(1500))
        .count();
    let worst = recent.iter().max().copied().unwrap_or_default();
    assert!(stale <= 1, "{stale} frames older than 1.5 s: {recent:?}");
    assert!(worst <= Duration::from_secs(2), "worst age {worst:?}");
}

#[test]
fn an_application_reading_one_frame_a_second_gets_fresh_frames_one_at_a_time() {
    let mut sim = Sim::new(1e9, 4.0 * MB, Reader::Frames(Duration::from_secs(1)));
    sim.reported_rate = Some(1e9);
    sim.run(Duration::from_secs(60));
    assert_fresh_one_at_a_time(&sim);
}

#[test]
fn frames_hidden_by_the_window_cap_are_counted_and_sent_after_the_fallback() {
    // Linux offers a window no wider than its cap however empty the buffer (measured: 120 of
    // 128 KiB once grown), so a frame smaller than what the cap hides, read or not, does not
    // show: the gate counts the bytes acknowledged since the window last came back to the
    // widest, and lets the next frame go after the fallback. (A cap hiding more than a frame
    // of the tier keeps that much unread unseen: see the module docs.)
    let mut sim = one_frame_a_second_behind_a_cap();
    sim.run(Duration::from_secs(60));
    assert_fresh_one_at_a_time(&sim);
}

/// An application reading one frame a second on loopback, its 128 KiB buffer offering at most
/// 126 KiB of window.
fn one_frame_a_second_behind_a_cap() -> Sim {
    let mut sim = Sim::capped(
        1e9,
        128.0 * 1024.0,
        126.0 * 1024.0,
        Reader::Frames(Duration::from_secs(1)),
    );
    sim.reported_rate = Some(1e9);
    sim
}

#[test]
fn a_slow_cameras_gaps_between_frames_do_not_shut_the_gate() {
    // A camera sending a frame a second: the server looks at the viewer's connection as it
    // writes, so samples come a second or more apart. That is no stall of a viewer that reads
    // every frame at once.
    let demand = ladder_demand(1.0);
    let start = Instant::now();
    let mut chooser = Chooser::new(ChooserConfig::default(), Tier::Original, start);
    for second in 0..30u64 {
        let decision = chooser.observe(
            LinkSample {
                at: start + Duration::from_millis(1_050 * second),
                bytes_acked: second * ORIGINAL as u64,
                notsent: 0,
                peer_window: 256 * 1024,
                delivery_rate: 0,
                queue_drops: 0,
                paced_skips: 0,
            },
            &demand,
        );
        assert!(!decision.look_first, "gated at {second} s: {decision:?}");
        assert_eq!(decision.tier, Tier::Original);
    }
}

#[test]
fn a_gate_that_stays_is_tried_again_and_lifted_once_the_application_keeps_up() {
    let mut sim = Sim::new(1e9, 4.0 * MB, Reader::Frames(Duration::from_secs(1)));
    sim.reported_rate = Some(1e9);
    sim.run(Duration::from_secs(20));
    assert!(sim.decision.look_first);
    // The application speeds up: within the first trial (30 s) the gate lifts.
    sim.reader = Reader::Bytes(1e12);
    let lifted = sim.run_until(Duration::from_secs(40), |s| !s.decision.look_first);
    assert!(lifted.is_some(), "still gated: {:?}", sim.decision);
}

#[test]
fn a_failed_move_up_returns_to_the_tier_it_left() {
    // A 400 KB/s reader on loopback: the kernel's delivery rate (1 GB/s) says original fits;
    // the move up fails and the viewer goes back to medium, not lower, and is not gated.
    let mut sim = Sim::new(1e9, 256.0 * 1024.0, Reader::Bytes(400.0 * KB));
    sim.reported_rate = Some(1e9);
    sim.run(Duration::from_secs(30));
    let tiers: Vec<Tier> = (0..300)
        .map(|_| {
            sim.run(Duration::from_millis(100));
            sim.decision.tier
        })
        .collect();
    assert!(
        tiers.iter().all(|&t| t <= Tier::Medium),
        "never below medium: {tiers:?}"
    );
    assert!(sim.fits(400.0 * KB), "{:?}", sim.decision);
}

#[test]
fn a_window_cap_that_comes_down_does_not_starve_a_reader_that_sped_up() {
    for linux_window in [false, true] {
        a_window_cap_comes_down(linux_window);
    }
}

fn a_window_cap_comes_down(linux_window: bool) {
    // Linux lowers a receiver's window cap (under memory pressure, or for small segments) and
    // grows it back only as data arrives: a gated viewer that then reads everything shows a
    // window far below the widest it advertised. The gate must not take that for unread
    // bytes, also when the window between a frame's arrival and the next keepalive is stale.
    let mut sim = one_frame_a_second_behind_a_cap();
    sim.linux_window = linux_window;
    sim.run(Duration::from_secs(20));
    assert!(sim.decision.look_first, "gated: {:?}", sim.decision);
    sim.window_cap = 64.0 * 1024.0;
    sim.reader = Reader::Bytes(1e12);
    let lifted = sim.run_until(Duration::from_secs(40), |s| !s.decision.look_first);
    assert!(
        lifted.is_some(),
        "still gated ({linux_window}): {:?}",
        sim.decision
    );
    // And frames flow: every frame of its tier, not one per MAX_HOLD.
    let before = sim.ages.len();
    sim.run(Duration::from_secs(5));
    let frames = sim.ages.len() - before;
    assert!(
        frames >= 50,
        "{frames} frames in 5 s on {:?} ({linux_window})",
        sim.decision
    );
}

#[test]
fn a_busy_application_reading_all_it_has_now_and_then_keeps_its_full_rate() {
    // Reads everything every 0.3 s (a loaded client, a script's loop): once its reading rate
    // is known, what waits between its reads is read within the target age, so it keeps the
    // original at the full rate. Its receiver offers 64 KiB at first and its whole 4 MB
    // buffer from the second second on (Linux starts a window small and grows it as data
    // arrives). Without the rate, the unread bytes between its reads put it behind.
    let mut sim = Sim::capped(
        1e9,
        4.0 * MB,
        64.0 * 1024.0,
        Reader::Bursts(Duration::from_millis(300)),
    );
    sim.reported_rate = Some(1e9);
    sim.run(Duration::from_secs(1));
    sim.window_cap = f64::INFINITY;
    sim.run(Duration::from_secs(29));
    let recent = sim.recent_ages(Duration::from_secs(10));
    assert!(recent.len() >= 240, "{} frames in 10 s", recent.len());
    let worst = recent.iter().max().copied().unwrap_or_default();
    assert!(worst <= Duration::from_millis(400), "worst age {worst:?}");
    assert_eq!(sim.decision.tier, Tier::Original, "{:?}", sim.decision);
    assert!(!sim.decision.look_first);
}

#[test]
fn a_window_raised_by_the_last_frame_shows_no_read_of_it() {
    // Over a real link (small segments) Linux raises a receiver's window as frames arrive, read
    // or not. An application reading one frame a second, its first seconds unsampled (the
    // socket full): after the drain, each frame the gate lets go raises the window, which then
    // stays at its new widest. That shows no read: no second frame goes before the first is
    // seen read (the gate's fallback), not merely once `WIDENED_FOR` has passed.
    let demand = ladder_demand(FPS);
    let low = demand.frame_bytes[Tier::Low.index()] as u64;
    let start = Instant::now();
    let at = |ms: u64| start + Duration::from_millis(ms);
    let mut chooser = Chooser::new(ChooserConfig::default(), Tier::Original, start);
    // Frames dropped from the viewer's queue meanwhile: 95 by the second sample.
    let sample = |ms: u64, acked: u64, window: u64| LinkSample {
        at: at(ms),
        bytes_acked: acked,
        notsent: 0,
        peer_window: window,
        delivery_rate: 0,
        queue_drops: if ms == 0 { 0 } else { 95 },
        paced_skips: 0,
    };
    chooser.observe(sample(0, 0, 64 * 1024), &demand);
    // Four seconds without a sample: five original frames went, the window grew with them.
    let (mut acked, mut window) = (240_253, 166_912);
    let decision = chooser.observe(sample(4_000, acked, window), &demand);
    assert_eq!(decision.tier, Tier::Low, "{decision:?}");
    assert!(decision.look_first, "a stall shuts the gate: {decision:?}");
    let mut sent = Vec::new();
    for ms in (4_080..6_000).step_by(80) {
        if ms % 240 == 0 {
            chooser.observe(sample(ms, acked, window), &demand);
        }
        if chooser.may_send(window, acked, at(ms), &demand) {
            sent.push(ms);
            // The frame arrives, unread, and raises the window.
            acked += low;
            window += 9_216;
        }
    }
    let before_fallback: Vec<_> = sent.iter().filter(|&&ms| ms < sent[0] + 1_500).collect();
    assert_eq!(
        before_fallback.len(),
        1,
        "one frame until the fallback: {sent:?}"
    );
}
