//! Brown-out soaks (issue #22): viewers that record what they see while the camera reboots, and
//! the figures drawn from it. Shared by `tests/brownouts.rs` (counts, on loopback) and
//! `examples/brownout_soak.rs` (the benchmark of docs/benchmarks.md).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::watch;

use crate::MjpegViewer;

/// One part as a soak viewer saw it (no JPEG kept: 100 viewers x 3 minutes stay small).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeenPart {
    /// When the part was complete.
    pub at: Instant,
    /// `X-Frame-Id`.
    pub id: u64,
    /// Not an offline card (no `X-Camera-State: offline`). A keepalive re-send of the last
    /// picture is "live" too, with an old id.
    pub live: bool,
}

/// Everything one viewer saw, in order.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    /// The relay answered 200.
    pub connected: bool,
    /// Why the stream ended before `stop` (or could not start), if it did.
    pub lost: Option<String>,
    /// Every part received.
    pub parts: Vec<SeenPart>,
}

/// Watches `path` on `addr` until `stop` turns `true`, recording every part.
pub async fn watch_stream(addr: SocketAddr, path: &str, mut stop: watch::Receiver<bool>) -> Seen {
    let mut seen = Seen::default();
    let mut viewer = match MjpegViewer::connect(addr, path).await {
        Ok(viewer) if viewer.status.is_success() => viewer,
        Ok(viewer) => {
            seen.lost = Some(format!("status {}", viewer.status));
            return seen;
        }
        Err(error) => {
            seen.lost = Some(error.to_string());
            return seen;
        }
    };
    seen.connected = true;
    seen.parts.reserve(8 * 1024);
    loop {
        tokio::select! {
            biased;
            _ = stop.wait_for(|stop| *stop) => return seen,
            part = viewer.next() => match part {
                Some(part) => seen.parts.push(SeenPart {
                    at: part.at,
                    id: part.frame_id,
                    live: part.camera_state.as_deref() != Some("offline"),
                }),
                None => {
                    seen.lost = Some("stream ended".into());
                    return seen;
                }
            },
        }
    }
}

/// When the camera lost and got back its power.
#[derive(Debug, Clone)]
pub struct Timeline {
    /// Power cuts, in order.
    pub offs: Vec<Instant>,
    /// Power-ons (`ons[k]` follows `offs[k]`): the camera accepts connections from here on.
    pub ons: Vec<Instant>,
    /// End of the soak (after the last up period).
    pub end: Instant,
    /// The camera's frame rate.
    pub fps: f64,
}

impl Timeline {
    /// The measured window: the first power cut to the end.
    pub fn window(&self) -> Duration {
        self.offs.first().map_or(Duration::ZERO, |first| {
            self.end.saturating_duration_since(*first)
        })
    }

    /// Time the camera was on inside the window.
    pub fn up_time(&self) -> Duration {
        self.ons
            .iter()
            .enumerate()
            .map(|(k, on)| {
                let off = self.offs.get(k + 1).copied().unwrap_or(self.end);
                off.saturating_duration_since(*on)
            })
            .sum()
    }

    /// The end of up period `k` (the next power cut, or the end).
    fn up_until(&self, k: usize) -> Instant {
        self.offs.get(k + 1).copied().unwrap_or(self.end)
    }
}

/// What a soak came to.
#[derive(Debug, Clone)]
pub struct Soak {
    /// Viewers started.
    pub viewers: usize,
    /// Viewers the relay answered.
    pub connected: usize,
    /// Viewers still connected at the end.
    pub kept: usize,
    /// A few reasons viewers were lost.
    pub lost: Vec<String>,
    /// Parts whose id was lower than an earlier part's, over all viewers.
    pub ids_went_back: u64,
    /// Per reboot: power-on to the first new live frame at the slowest viewer (`None`: some
    /// viewer got none before the next power cut).
    pub all_live: Vec<Option<Duration>>,
    /// Per reboot and viewer: power-on to that viewer's first new live frame.
    pub to_live: Vec<Duration>,
    /// (Reboot, viewer) pairs without a new live frame before the next power cut.
    pub missed: usize,
    /// New live frames each kept viewer got in the window, per second.
    pub fps: Vec<f64>,
    /// What the camera's up-time allows, frames per second over the window.
    pub allowed_fps: f64,
    /// Offline cards per viewer in the window (mean).
    pub cards: f64,
    /// The window and the camera's up-time in it.
    pub window: Duration,
    /// See [`Timeline::up_time`].
    pub up: Duration,
}

/// Nearest-rank quantile of sorted values.
pub fn quantile<T: Copy>(sorted: &[T], q: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

impl Soak {
    /// Draws the figures from what the viewers saw.
    pub fn analyse(viewers: &[Seen], timeline: &Timeline) -> Soak {
        let window_start = timeline.offs.first().copied().unwrap_or(timeline.end);
        let window = timeline.window();
        let up = timeline.up_time();
        let mut ids_went_back = 0;
        let mut to_live = Vec::new();
        let mut missed = 0;
        let mut slowest: Vec<Option<Duration>> = vec![Some(Duration::ZERO); timeline.ons.len()];
        let mut fps = Vec::new();
        let mut cards = 0usize;
        for viewer in viewers.iter().filter(|v| v.connected) {
            // The highest id seen before each part (a new live frame has a higher one).
            let mut max_before = Vec::with_capacity(viewer.parts.len());
            let mut max = 0;
            let mut fresh = 0usize;
            for part in &viewer.parts {
                max_before.push(max);
                if part.id < max {
                    ids_went_back += 1;
                }
                let in_window = part.at >= window_start && part.at < timeline.end;
                if in_window && part.live && part.id > max {
                    fresh += 1;
                }
                if in_window && !part.live {
                    cards += 1;
                }
                max = max.max(part.id);
            }
            for (k, on) in timeline.ons.iter().enumerate() {
                let until = timeline.up_until(k);
                let from = viewer.parts.partition_point(|p| p.at < *on);
                let before = max_before.get(from).copied().unwrap_or(max);
                let first = viewer.parts[from..]
                    .iter()
                    .take_while(|p| p.at < until)
                    .find(|p| p.live && p.id > before);
                match first {
                    Some(part) => {
                        let delay = part.at.saturating_duration_since(*on);
                        to_live.push(delay);
                        if let Some(worst) = &mut slowest[k] {
                            *worst = (*worst).max(delay);
                        }
                    }
                    None => {
                        missed += 1;
                        slowest[k] = None;
                    }
                }
            }
            if viewer.lost.is_none() && !window.is_zero() {
                fps.push(fresh as f64 / window.as_secs_f64());
            }
        }
        to_live.sort_unstable();
        fps.sort_by(f64::total_cmp);
        let connected = viewers.iter().filter(|v| v.connected).count();
        Soak {
            viewers: viewers.len(),
            connected,
            kept: viewers
                .iter()
                .filter(|v| v.connected && v.lost.is_none())
                .count(),
            lost: viewers
                .iter()
                .filter_map(|v| v.lost.clone())
                .take(5)
                .collect(),
            ids_went_back,
            all_live: slowest,
            to_live,
            missed,
            fps,
            allowed_fps: if window.is_zero() {
                0.0
            } else {
                timeline.fps * up.as_secs_f64() / window.as_secs_f64()
            },
            cards: cards as f64 / connected.max(1) as f64,
            window,
            up,
        }
    }

    /// Mean of the kept viewers' frame rates.
    pub fn mean_fps(&self) -> f64 {
        if self.fps.is_empty() {
            return 0.0;
        }
        self.fps.iter().sum::<f64>() / self.fps.len() as f64
    }

    /// Mean frame rate as a share of what up-time allows (1.0 = every frame of the up-time).
    pub fn fps_share(&self) -> f64 {
        if self.allowed_fps > 0.0 {
            self.mean_fps() / self.allowed_fps
        } else {
            0.0
        }
    }

    /// Power-on to live at the slowest viewer, sorted (reboots where a viewer got nothing are
    /// left out: see `missed`).
    pub fn all_live_sorted(&self) -> Vec<Duration> {
        let mut all: Vec<Duration> = self.all_live.iter().flatten().copied().collect();
        all.sort_unstable();
        all
    }

    /// The figures as JSON (milliseconds, rounded).
    pub fn to_json(&self) -> serde_json::Value {
        let ms = |d: Option<Duration>| d.map(|d| (d.as_secs_f64() * 1e5).round() / 100.0);
        let round = |v: f64| (v * 100.0).round() / 100.0;
        let all = self.all_live_sorted();
        json!({
            "viewers": self.viewers,
            "viewers_connected": self.connected,
            "viewers_kept": self.kept,
            "lost": self.lost,
            "ids_went_back": self.ids_went_back,
            "reboots": self.all_live.len(),
            "to_live_all_viewers_ms": {
                "p50": ms(quantile(&all, 0.5)),
                "p99": ms(quantile(&all, 0.99)),
                "max": ms(all.last().copied()),
                "per_reboot": self.all_live.iter().map(|d| ms(*d)).collect::<Vec<_>>(),
            },
            "to_live_per_viewer_ms": {
                "p50": ms(quantile(&self.to_live, 0.5)),
                "p99": ms(quantile(&self.to_live, 0.99)),
                "max": ms(self.to_live.last().copied()),
            },
            "missed_recoveries": self.missed,
            "window_s": round(self.window.as_secs_f64()),
            "up_s": round(self.up.as_secs_f64()),
            "allowed_fps": round(self.allowed_fps),
            "fps_mean": round(self.mean_fps()),
            "fps_min": self.fps.first().map(|v| round(*v)),
            "fps_share_pct": round(self.fps_share() * 100.0),
            "offline_cards_per_viewer": round(self.cards),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(start: Instant, ms: u64, id: u64, live: bool) -> SeenPart {
        SeenPart {
            at: start + Duration::from_millis(ms),
            id,
            live,
        }
    }

    #[test]
    fn live_again_means_a_new_id_without_the_offline_mark() {
        let t0 = Instant::now();
        // Camera off at 1 s, on at 2 s, end at 3 s; 10 fps.
        let timeline = Timeline {
            offs: vec![t0 + Duration::from_secs(1)],
            ons: vec![t0 + Duration::from_secs(2)],
            end: t0 + Duration::from_secs(3),
            fps: 10.0,
        };
        let viewer = Seen {
            connected: true,
            lost: None,
            parts: vec![
                part(t0, 900, 9, true),
                part(t0, 1500, 10, false), // offline card
                part(t0, 2100, 10, true),  // would be a re-send: not new
                part(t0, 2200, 9, true),   // went back
                part(t0, 2300, 11, true),  // live again, 300 ms after power-on
                part(t0, 2400, 12, true),
            ],
        };
        let soak = Soak::analyse(&[viewer], &timeline);
        assert_eq!(soak.ids_went_back, 1);
        assert_eq!(soak.to_live, vec![Duration::from_millis(300)]);
        assert_eq!(soak.all_live, vec![Some(Duration::from_millis(300))]);
        assert_eq!(soak.missed, 0);
        assert_eq!((soak.kept, soak.connected), (1, 1));
        // New live frames in the window: 10 (card? no), 11, 12 -> 2 in 2 s; up 1 s of 2 s at
        // 10 fps allows 5 fps.
        assert_eq!(soak.fps, vec![1.0]);
        assert_eq!(soak.allowed_fps, 5.0);
        assert_eq!(soak.cards, 1.0);
    }

    #[test]
    fn a_viewer_without_live_frames_after_power_on_is_a_miss() {
        let t0 = Instant::now();
        let timeline = Timeline {
            offs: vec![t0 + Duration::from_secs(1)],
            ons: vec![t0 + Duration::from_secs(2)],
            end: t0 + Duration::from_secs(3),
            fps: 10.0,
        };
        let viewer = Seen {
            connected: true,
            lost: Some("stream ended".into()),
            parts: vec![part(t0, 900, 9, true), part(t0, 1500, 10, false)],
        };
        let soak = Soak::analyse(&[viewer], &timeline);
        assert_eq!((soak.missed, soak.kept), (1, 0));
        assert_eq!(soak.all_live, vec![None]);
        assert!(soak.fps.is_empty());
    }
}
