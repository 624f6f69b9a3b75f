use super::*;
use crate::codec::decode;

const VGA: &[u8] = include_bytes!("../../testdata/vga-640x480.jpg");

#[derive(Debug, Clone)]
struct TestFrame {
    id: u64,
    jpeg: Bytes,
    tier: Tier,
}

impl TierFrame for TestFrame {
    fn jpeg(&self) -> &[u8] {
        &self.jpeg
    }
    fn frame_id(&self) -> Option<u64> {
        Some(self.id)
    }
    fn for_tier(&self, tier: Tier, jpeg: Bytes) -> Self {
        TestFrame {
            id: self.id,
            jpeg,
            tier,
        }
    }
}

fn camera_frame(id: u64) -> TestFrame {
    TestFrame {
        id,
        jpeg: Bytes::from_static(VGA),
        tier: Tier::Original,
    }
}

async fn until(what: &str, done: impl Fn() -> bool) {
    for _ in 0..500 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tier_without_viewers_costs_nothing_and_a_watched_one_keeps_ids() {
    let camera = Publisher::new(Config::default());
    let decode_share = Arc::new(SharedDecode::default());
    let tiers = Tiers::spawn_sharing(
        camera.handle(),
        Ladder::default(),
        Config::default(),
        decode_share.clone(),
    );
    for id in 0..10 {
        camera.publish(camera_frame(id));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(tiers.decodes(), 0, "nobody watches a tier: no decode");
    assert!(tiers.stats().iter().all(|s| s.frames == 0));
    assert_eq!(camera.subscriber_count(), 0, "not even subscribed");

    let mut medium = tiers.handle(Tier::Medium).subscribe();
    until("the producer to subscribe", || {
        camera.subscriber_count() == 1
    })
    .await;
    let mut ids = Vec::new();
    for id in 10..16 {
        camera.publish(camera_frame(id));
        let frame = tokio::time::timeout(Duration::from_secs(5), medium.recv())
            .await
            .expect("in time")
            .expect("open")
            .item;
        assert_eq!(frame.tier, Tier::Medium);
        let picture = decode(&frame.jpeg, Channels::Rgb).expect("a JPEG");
        assert_eq!((picture.width, picture.height), (320, 240));
        ids.push(frame.id);
    }
    assert_eq!(ids, [10, 11, 12, 13, 14, 15], "the camera's ids, in order");
    let stats = tiers.stats();
    assert_eq!(stats[Tier::Medium.index()].frames, 6);
    assert_eq!(stats[Tier::Medium.index()].viewers, 1);
    assert_eq!(
        stats[Tier::Original.index()].viewers,
        0,
        "the producer is not a viewer"
    );
    for tier in [Tier::High, Tier::Low] {
        assert_eq!(stats[tier.index()].frames, 0, "{tier} has no viewer");
    }
    assert_eq!(tiers.decodes(), 6, "one decode per frame");

    drop(medium);
    until("the producer to let go", || camera.subscriber_count() == 0).await;
    let before = tiers.decodes();
    for id in 16..20 {
        camera.publish(camera_frame(id));
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(tiers.decodes(), before, "idle again");
    assert_eq!(decode_share.kept(), 0, "idle: no picture kept for sharing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_watched_tier_shares_one_decode_and_low_takes_every_other_frame() {
    let camera = Publisher::new(Config::default());
    let tiers = Tiers::spawn(
        camera.handle(),
        Ladder::default(),
        Config::new(64, Policy::DropNewest),
    );
    let mut watchers: Vec<_> = Tier::ENCODED
        .iter()
        .map(|&t| tiers.handle(t).subscribe())
        .collect();
    until("the producer to subscribe", || {
        camera.subscriber_count() == 1
    })
    .await;
    for id in 0..8 {
        camera.publish(camera_frame(id));
        // One frame at a time, so none is skipped for being behind.
        until("the frame's tiers", || {
            watchers[0].stats().queued as u64 == id + 1
        })
        .await;
    }
    let mut got = Vec::new();
    for watcher in &mut watchers {
        let mut frames = Vec::new();
        while let Ok(delivery) = watcher.try_recv() {
            frames.push(delivery.item);
        }
        got.push(frames);
    }
    let sides: Vec<(usize, usize)> = got
        .iter()
        .map(|f| {
            let p = decode(&f[0].jpeg, Channels::Rgb).expect("a JPEG");
            (p.width, p.height)
        })
        .collect();
    assert_eq!(sides, [(640, 480), (320, 240), (160, 120)]);
    let ids = |frames: &Vec<TestFrame>| frames.iter().map(|f| f.id).collect::<Vec<_>>();
    assert_eq!(ids(&got[0]), [0, 1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(ids(&got[2]), [0, 2, 4, 6], "low: every other frame");
    assert_eq!(tiers.decodes(), 8);
    let stats = tiers.stats();
    assert!(stats[1].bytes > stats[2].bytes && stats[2].bytes > stats[3].bytes);
    assert!(stats[1].mean_encode_time().is_some());
}
