//! The per-camera tier producer: subscribes the camera's original broadcast and publishes each
//! encoded tier into a broadcast of its own, working only for tiers that have viewers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use broadcast_core::{Config, Handle, Policy, Publisher};
use bytes::Bytes;

use crate::codec::{encode, shrink, Channels, Picture};
use crate::{Ladder, SharedDecode, Tier};

/// A frame the producer can make tiers of (say `mjpeg_serve::Frame<M>`; broadcasts carry
/// `Arc`s of it, which are `TierFrame`s too).
pub trait TierFrame: Send + Sync + 'static {
    /// The JPEG.
    fn jpeg(&self) -> &[u8];
    /// Whether the frame is a camera picture to re-encode; other frames (a "camera offline"
    /// card) go to every tier as they are.
    fn is_picture(&self) -> bool {
        true
    }
    /// The frame's id, unique in its broadcast, when it has one: with it the producer shares
    /// its decode of the frame through a [`SharedDecode`] (see [`Tiers::spawn_sharing`]).
    fn frame_id(&self) -> Option<u64> {
        None
    }
    /// The copy of this frame for `tier`, with `jpeg` as its picture: **the same frame id and
    /// timestamp**, so that viewers on different tiers see the same moment.
    fn for_tier(&self, tier: Tier, jpeg: Bytes) -> Self
    where
        Self: Sized;
}

impl<T: TierFrame> TierFrame for Arc<T> {
    fn jpeg(&self) -> &[u8] {
        self.as_ref().jpeg()
    }

    fn is_picture(&self) -> bool {
        self.as_ref().is_picture()
    }

    fn frame_id(&self) -> Option<u64> {
        self.as_ref().frame_id()
    }

    fn for_tier(&self, tier: Tier, jpeg: Bytes) -> Self {
        Arc::new(self.as_ref().for_tier(tier, jpeg))
    }
}

/// The counters of one tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TierStats {
    /// The tier.
    pub tier: Tier,
    /// Viewers subscribed to it now.
    pub viewers: usize,
    /// Frames made for it (0 for the original: it makes none).
    pub frames: u64,
    /// Bytes of those frames.
    pub bytes: u64,
    /// Time spent shrinking and encoding them (the shared decode not included).
    pub encode_time: Duration,
}

impl TierStats {
    /// Mean size of the frames made, bytes (`None` before the first).
    pub fn mean_frame_bytes(&self) -> Option<f64> {
        (self.frames > 0).then(|| self.bytes as f64 / self.frames as f64)
    }

    /// Mean shrink + encode time per frame (`None` before the first).
    pub fn mean_encode_time(&self) -> Option<Duration> {
        u32::try_from(self.frames)
            .ok()
            .filter(|&n| n > 0)
            .map(|n| self.encode_time / n)
    }
}

#[derive(Debug, Default)]
struct Counters {
    frames: AtomicU64,
    bytes: AtomicU64,
    encode_ns: AtomicU64,
}

#[derive(Debug, Default)]
struct Shared {
    tiers: [Counters; 3],
    decodes: AtomicU64,
    decode_ns: AtomicU64,
    /// Camera frames skipped because the previous one was still being encoded.
    skipped: AtomicU64,
    /// Frames that failed to decode or encode.
    failed: AtomicU64,
    /// The id of the producer's own subscription to the original broadcast, plus one (0:
    /// none now), so a viewer list can leave it out.
    reader: AtomicU64,
}

/// The tiers of one camera. Made by [`Tiers::spawn`] on a tokio runtime; the work stops when
/// the camera's broadcast ends or this is dropped (tier viewers then see their broadcast end).
pub struct Tiers<F> {
    original: Handle<F>,
    encoded: [Handle<F>; 3],
    shared: Arc<Shared>,
    ladder: Ladder,
    task: tokio::task::JoinHandle<()>,
}

impl<F: TierFrame + Clone> Tiers<F> {
    /// Starts the producer of `original`'s tiers, made by `ladder`; tier viewers subscribed
    /// with `subscribe()` get queues of `config`. Needs a tokio runtime (the encoding runs on
    /// its blocking threads).
    pub fn spawn(original: Handle<F>, ladder: Ladder, config: Config) -> Tiers<F> {
        Self::spawn_sharing(original, ladder, config, Arc::default())
    }

    /// As [`Tiers::spawn`], taking each frame's picture from `decode` (keyed by
    /// [`TierFrame::frame_id`]), which other consumers of the same frames (a detector) share:
    /// a frame is decoded once for all of them.
    pub fn spawn_sharing(
        original: Handle<F>,
        ladder: Ladder,
        config: Config,
        decode: Arc<SharedDecode>,
    ) -> Tiers<F> {
        let publishers: [Publisher<F>; 3] = std::array::from_fn(|_| Publisher::new(config));
        let encoded = std::array::from_fn(|i| publishers[i].handle());
        let shared = Arc::new(Shared::default());
        let task = tokio::spawn(produce(
            original.clone(),
            publishers,
            ladder,
            shared.clone(),
            decode,
        ));
        Tiers {
            original,
            encoded,
            shared,
            ladder,
            task,
        }
    }

    /// The broadcast of `tier` (the camera's own for [`Tier::Original`]).
    pub fn handle(&self, tier: Tier) -> &Handle<F> {
        match tier {
            Tier::Original => &self.original,
            other => &self.encoded[other.index() - 1],
        }
    }

    /// The ladder the tiers are made by.
    pub fn ladder(&self) -> &Ladder {
        &self.ladder
    }

    /// The id of the subscription through which the tiers read the original broadcast now
    /// (`None` while no tier is watched): not a viewer.
    pub fn reader_id(&self) -> Option<u64> {
        self.shared.reader.load(Ordering::Relaxed).checked_sub(1)
    }

    /// The counters of every tier, best first. The original's viewers leave the producer's
    /// own subscription out.
    pub fn stats(&self) -> [TierStats; 4] {
        let producing = usize::from(self.encoded.iter().any(|h| h.subscriber_count() > 0));
        std::array::from_fn(|i| {
            let tier = Tier::ALL[i];
            let Some(counters) = i.checked_sub(1).map(|i| &self.shared.tiers[i]) else {
                return TierStats {
                    tier,
                    viewers: self.original.subscriber_count().saturating_sub(producing),
                    frames: 0,
                    bytes: 0,
                    encode_time: Duration::ZERO,
                };
            };
            TierStats {
                tier,
                viewers: self.handle(tier).subscriber_count(),
                frames: counters.frames.load(Ordering::Relaxed),
                bytes: counters.bytes.load(Ordering::Relaxed),
                encode_time: Duration::from_nanos(counters.encode_ns.load(Ordering::Relaxed)),
            }
        })
    }

    /// Camera frames decoded so far (once per frame for all active tiers).
    pub fn decodes(&self) -> u64 {
        self.shared.decodes.load(Ordering::Relaxed)
    }

    /// Time spent decoding so far.
    pub fn decode_time(&self) -> Duration {
        Duration::from_nanos(self.shared.decode_ns.load(Ordering::Relaxed))
    }

    /// Camera frames skipped because the encoder was still busy with an earlier one.
    pub fn skipped(&self) -> u64 {
        self.shared.skipped.load(Ordering::Relaxed)
    }

    /// Frames that could not be decoded or encoded.
    pub fn failed(&self) -> u64 {
        self.shared.failed.load(Ordering::Relaxed)
    }
}

impl<F> Drop for Tiers<F> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl<F> std::fmt::Debug for Tiers<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tiers")
            .field("ladder", &self.ladder)
            .finish_non_exhaustive()
    }
}

/// How often an idle producer checks whether the camera's broadcast ended.
const IDLE_CHECK: Duration = Duration::from_secs(1);

async fn produce<F: TierFrame + Clone>(
    original: Handle<F>,
    publishers: [Publisher<F>; 3],
    ladder: Ladder,
    shared: Arc<Shared>,
    decode: Arc<SharedDecode>,
) {
    let watched =
        |publishers: &[Publisher<F>; 3]| publishers.iter().any(|p| p.subscriber_count() > 0);
    loop {
        if original.is_closed() {
            return;
        }
        if !watched(&publishers) {
            let [a, b, c] = &publishers;
            let (a, b, c) = (a.handle(), b.handle(), c.handle());
            tokio::select! {
                _ = a.subscribed() => {}
                _ = b.subscribed() => {}
                _ = c.subscribed() => {}
                _ = tokio::time::sleep(IDLE_CHECK) => continue,
            }
        }
        // Newest frame only: a frame that arrives while the previous one is encoded replaces
        // any older one waiting (dropped, never queued).
        let mut camera = original.subscribe_with(Config::new(1, Policy::DropOldest));
        shared.reader.store(camera.id() + 1, Ordering::Relaxed);
        tracing::debug!("quality tiers: producing");
        while watched(&publishers) {
            // Looks up now and then, to let go of the camera once nobody watches a tier.
            let delivery = tokio::select! {
                delivery = camera.recv() => delivery,
                _ = tokio::time::sleep(IDLE_CHECK) => continue,
            };
            let Some(delivery) = delivery else {
                return;
            };
            let active: Vec<(usize, Tier)> = Tier::ENCODED
                .into_iter()
                .enumerate()
                .filter(|&(i, tier)| {
                    publishers[i].subscriber_count() > 0 && delivery.seq % ladder.every(tier) == 0
                })
                .collect();
            if active.is_empty() {
                continue;
            }
            let frame = delivery.item;
            if !frame.is_picture() {
                let jpeg = Bytes::copy_from_slice(frame.jpeg());
                for &(i, tier) in &active {
                    publishers[i].publish(frame.for_tier(tier, jpeg.clone()));
                }
                continue;
            }
            let work = {
                let (frame, shared, ladder) = (frame.clone(), shared.clone(), ladder);
                let (active, decode) = (active.clone(), decode.clone());
                tokio::task::spawn_blocking(move || {
                    let started = Instant::now();
                    let picture = match frame.frame_id() {
                        Some(id) => decode.picture(id, frame.jpeg()),
                        None => crate::codec::decode(frame.jpeg(), Channels::Rgb).map(Arc::new),
                    };
                    encode_tiers(picture, started, &active, &ladder, &shared)
                })
            };
            let Ok(made) = work.await else {
                shared.failed.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            for (i, tier, jpeg) in made {
                publishers[i].publish(frame.for_tier(tier, jpeg));
            }
        }
        shared
            .skipped
            .fetch_add(camera.stats().dropped, Ordering::Relaxed);
        shared.reader.store(0, Ordering::Relaxed);
        // The pictures kept for sharing (about 0.9 MB each at VGA) are not needed while idle.
        decode.clear();
        tracing::debug!("quality tiers: idle (no viewers)");
    }
}

/// Makes each active tier's JPEG from a frame's picture (decoded once for all of them).
fn encode_tiers(
    picture: Result<Arc<Picture>, crate::QualityError>,
    started: Instant,
    active: &[(usize, Tier)],
    ladder: &Ladder,
    shared: &Shared,
) -> Vec<(usize, Tier, Bytes)> {
    let picture = match picture {
        Ok(picture) => picture,
        Err(error) => {
            shared.failed.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%error, "quality tiers: frame not decoded");
            return Vec::new();
        }
    };
    shared.decodes.fetch_add(1, Ordering::Relaxed);
    add_time(&shared.decode_ns, started.elapsed());
    let mut made = Vec::with_capacity(active.len());
    for &(i, tier) in active {
        let Some(rung) = ladder.rung(tier) else {
            continue;
        };
        let started = Instant::now();
        let small;
        let source = if rung.shrink > 1 {
            small = shrink(&picture, rung.shrink);
            &small
        } else {
            &picture
        };
        match encode(source, Channels::Rgb, rung.quality) {
            Ok(jpeg) => {
                let counters = &shared.tiers[i];
                add_time(&counters.encode_ns, started.elapsed());
                counters.frames.fetch_add(1, Ordering::Relaxed);
                counters
                    .bytes
                    .fetch_add(jpeg.len() as u64, Ordering::Relaxed);
                made.push((i, tier, Bytes::from(jpeg)));
            }
            Err(error) => {
                shared.failed.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%error, %tier, "quality tiers: frame not encoded");
            }
        }
    }
    made
}

fn add_time(counter: &AtomicU64, time: Duration) {
    let nanos = u64::try_from(time.as_nanos()).unwrap_or(u64::MAX);
    counter.fetch_add(nanos, Ordering::Relaxed);
}

#[cfg(test)]
mod tests;
