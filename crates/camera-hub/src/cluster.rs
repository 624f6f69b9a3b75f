//! A camera shared by several relays: this node either reads the camera (and hands each frame
//! to the cluster) or reads the owner's frames from the cluster, switching when ownership moves.
//!
//! camera-hub knows nothing of NATS: the binary gives a camera a [`ClusterLink`] (the
//! `frame-bus` crate behind it) with [`CameraTasks::clustered`](crate::CameraTasks::clustered).
//! The supervisor then, when the first viewer arrives, [`ClusterLink::join`]s (competes for
//! the camera's lease) and follows the [`Role`] it gets:
//!
//! - [`Role::Camera`]: opens the camera as usual; every live frame it broadcasts also goes to
//!   [`ClusterLink::publish`] (with the id viewers see);
//! - [`Role::Bus`]: opens [`ClusterLink::bus_frames`], the owner's frames, whose `upstream_id`
//!   is the owner's frame id, so viewers on every node see the same ids (see `frame_ids`);
//! - [`Role::Unknown`]: reads nothing; viewers get the offline card until the role is known.
//!
//! After the idle timeout the supervisor drops the stream, which drops the [`Membership`] (the
//! lease), so a node without viewers never owns a camera.
//!
//! Detections are shared the same way (see [`crate::detect`]): a follower with detection
//! viewers holds [`ClusterLink::bus_detections`] (which asks the owner for them), the owner
//! follows that demand through [`ClusterLink::detection_demand`] and hands each model run's
//! results to [`ClusterLink::publish_detections`]. So YOLO runs once per frame per cluster.

use std::sync::Arc;
use std::time::Duration;

use esp32_source::CameraFrame;
use futures_util::future::BoxFuture;
use futures_util::stream::{self, BoxStream, StreamExt};
use tokio::sync::watch;

use crate::detect_share::SharedDetections;
use crate::frame::SharedFrame;

/// How long to wait before reopening a source whose stream ended (the bus subscription closed).
const REOPEN_AFTER: Duration = Duration::from_millis(250);

/// Who reads a clustered camera, as this node sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// Not known yet (NATS silent, and this node did not own the camera): read nothing.
    Unknown,
    /// This node owns the camera: read it, publish each frame to the cluster.
    Camera,
    /// Another node reads the camera: read its frames from the cluster.
    Bus {
        /// The owner's node name.
        owner: String,
    },
}

impl Role {
    /// `"unknown"`, `"camera"` or `"bus"`: what this node reads (for stats).
    pub fn reads(&self) -> &'static str {
        match self {
            Role::Unknown => "unknown",
            Role::Camera => "camera",
            Role::Bus { .. } => "bus",
        }
    }
}

/// This node's seat in the competition for one camera. Dropping it leaves the competition.
pub struct Membership {
    /// Follows who reads the camera.
    pub role: watch::Receiver<Role>,
    /// Whatever holds the seat (a `frame_bus::Lease`, say), dropped with the membership.
    pub guard: Box<dyn Send + Sync>,
}

/// Other nodes' demand for a camera's detections, as the owner follows it. Dropping it stops
/// listening.
pub struct DetectionDemand {
    /// `true` while another node wants the detections.
    pub wanted: watch::Receiver<bool>,
    /// Whatever listens (a subscription), dropped with the demand.
    pub guard: Box<dyn Send + Sync>,
}

impl DetectionDemand {
    /// Nobody asks, ever (a link that does not share detections).
    pub fn none() -> DetectionDemand {
        let (tx, wanted) = watch::channel(false);
        DetectionDemand {
            wanted,
            guard: Box::new(tx),
        }
    }
}

/// The cluster side of one camera, given by the binary. The detection methods have defaults for
/// a link that does not share detections (every node then runs its own detector).
pub trait ClusterLink: Send + Sync + 'static {
    /// Starts competing for the camera (called when its upstream opens: someone watches).
    fn join(&self) -> Membership;
    /// The owner's frames, each with the owner's frame id as `upstream_id` and its capture
    /// time as `camera_time`. Called each time this node becomes a follower; dropping the
    /// stream unsubscribes.
    fn bus_frames(&self) -> BoxFuture<'static, BoxStream<'static, CameraFrame>>;
    /// A live frame this node broadcast from its camera (never called for bus frames). Must
    /// not wait: drop the frame rather than slow the camera's own viewers.
    fn publish(&self, frame: &SharedFrame);

    /// Owner side: follows other nodes' demand for this camera's detections while the result
    /// is held (the detection task holds it while this node owns the camera).
    fn detection_demand(&self) -> BoxFuture<'static, DetectionDemand> {
        Box::pin(async { DetectionDemand::none() })
    }

    /// Owner side: one model run's detections, for the nodes that asked. Must not wait.
    fn publish_detections(&self, detections: &SharedDetections) {
        let _ = detections;
    }

    /// Follower side: the owner's detections, each with its frame id. While the stream is held
    /// this node asks the owner for them; dropping it stops asking and unsubscribes.
    fn bus_detections(&self) -> BoxFuture<'static, BoxStream<'static, SharedDetections>> {
        Box::pin(async { stream::pending().boxed() })
    }
}

/// A frame and where it came from.
pub(crate) struct Sourced {
    pub(crate) frame: CameraFrame,
    /// `true`: read from the camera by this node (publish it to the cluster).
    pub(crate) from_camera: bool,
}

/// Opens one source's frames.
pub(crate) type Opener =
    Arc<dyn Fn() -> BoxFuture<'static, BoxStream<'static, CameraFrame>> + Send + Sync>;

/// The frames of a clustered camera: from `open_camera` while the role is [`Role::Camera`],
/// from `open_bus` while it is [`Role::Bus`], none while unknown; `on_role` sees each role.
pub(crate) fn switched(
    membership: Membership,
    open_camera: Opener,
    open_bus: Opener,
    on_role: Box<dyn Fn(&Role) + Send + Sync>,
) -> BoxStream<'static, Sourced> {
    let switch = Switch {
        membership,
        open_camera,
        open_bus,
        on_role,
        current: None,
        role_gone: false,
        started: false,
    };
    stream::unfold(switch, |mut switch| async move {
        let next = switch.next().await;
        next.map(|sourced| (sourced, switch))
    })
    .boxed()
}

/// What woke the switch up.
enum Event {
    /// The role changed (`false`: the membership stopped reporting).
    Role(bool),
    /// The current source's next frame (`None`: it ended).
    Frame(Option<CameraFrame>),
}

struct Switch {
    membership: Membership,
    open_camera: Opener,
    open_bus: Opener,
    on_role: Box<dyn Fn(&Role) + Send + Sync>,
    /// The open source: whether it is the camera, and its frames. `None` while unknown.
    current: Option<(bool, BoxStream<'static, CameraFrame>)>,
    /// The membership stopped reporting (its task ended): keep the last source.
    role_gone: bool,
    /// Whether the first role was looked at (and its source opened).
    started: bool,
}

impl Switch {
    async fn next(&mut self) -> Option<Sourced> {
        loop {
            if !self.started {
                self.started = true;
                let role = self.membership.role.borrow_and_update().clone();
                self.open(&role).await;
            }
            let event = {
                let role = &mut self.membership.role;
                let current = &mut self.current;
                let frame = async {
                    match current {
                        Some((_, frames)) => frames.next().await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    changed = role.changed(), if !self.role_gone => Event::Role(changed.is_ok()),
                    frame = frame => Event::Frame(frame),
                }
            };
            match event {
                Event::Role(false) => self.role_gone = true,
                Event::Role(true) => {
                    let role = self.membership.role.borrow_and_update().clone();
                    let same_source = match (&self.current, &role) {
                        (Some((camera, _)), Role::Camera) => *camera,
                        (Some((camera, _)), Role::Bus { .. }) => !*camera,
                        (None, Role::Unknown) => true,
                        _ => false,
                    };
                    if same_source {
                        (self.on_role)(&role);
                    } else {
                        self.open(&role).await;
                    }
                }
                Event::Frame(Some(frame)) => {
                    let from_camera = self.current.as_ref().is_some_and(|(camera, _)| *camera);
                    return Some(Sourced { frame, from_camera });
                }
                Event::Frame(None) => {
                    // The source ended (it normally does not): open it again shortly.
                    tokio::time::sleep(REOPEN_AFTER).await;
                    let role = self.membership.role.borrow().clone();
                    self.open(&role).await;
                }
            }
        }
    }

    /// Drops the current source and opens the one `role` reads.
    async fn open(&mut self, role: &Role) {
        // Close first: a one-client camera must be free before the bus, or the camera, opens.
        self.current = None;
        (self.on_role)(role);
        self.current = match role {
            Role::Camera => Some((true, (self.open_camera)().await)),
            Role::Bus { .. } => Some((false, (self.open_bus)().await)),
            Role::Unknown => None,
        };
        tracing::info!(reads = role.reads(), ?role, "clustered camera source");
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use bytes::Bytes;
    use futures_util::FutureExt;
    use mjpeg_codec::Timestamp;
    use tokio::sync::mpsc;
    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::frame::FrameState;
    use crate::{Camera, CameraSpec, HubSettings, SourceSpec};

    fn frame(upstream_id: Option<u64>) -> CameraFrame {
        CameraFrame {
            jpeg: Bytes::from_static(b"\xFF\xD8\xFF\xD9"),
            camera_time: Some(Timestamp::now()),
            upstream_id,
            upstream_offline: false,
            received_at: std::time::Instant::now(),
            received_wall: Timestamp::now(),
        }
    }

    /// An opener whose streams are fed through the returned list of senders (one per open).
    fn source() -> (Opener, Arc<Mutex<Vec<mpsc::Sender<CameraFrame>>>>) {
        let senders = Arc::new(Mutex::new(Vec::new()));
        let opened = senders.clone();
        let opener: Opener = Arc::new(move || {
            let (tx, rx) = mpsc::channel(16);
            opened.lock().expect("lock").push(tx);
            async move {
                stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|f| (f, rx)) }).boxed()
            }
            .boxed()
        });
        (opener, senders)
    }

    async fn feed(senders: &Mutex<Vec<mpsc::Sender<CameraFrame>>>, frame: CameraFrame) {
        let tx = senders
            .lock()
            .expect("lock")
            .last()
            .cloned()
            .expect("opened");
        tx.send(frame).await.expect("source open");
    }

    #[tokio::test(start_paused = true)]
    async fn follows_the_role_and_closes_the_source_it_leaves() {
        let (role_tx, role) = watch::channel(Role::Unknown);
        let (camera, camera_opens) = source();
        let (bus, bus_opens) = source();
        let roles = Arc::new(Mutex::new(Vec::new()));
        let seen = roles.clone();
        let membership = Membership {
            role,
            guard: Box::new(()),
        };
        let mut frames = switched(
            membership,
            camera,
            bus,
            Box::new(move |role| seen.lock().expect("lock").push(role.reads())),
        );

        // Unknown: nothing is opened, nothing comes.
        let waited = tokio::time::timeout(Duration::from_secs(5), frames.next()).await;
        assert!(waited.is_err());
        assert!(camera_opens.lock().expect("lock").is_empty());

        // A follower: the bus's frames, not for publishing.
        role_tx.send_replace(Role::Bus { owner: "a".into() });
        let next = tokio::spawn(async move {
            let sourced = frames.next().await.expect("a frame");
            (sourced.frame.upstream_id, sourced.from_camera, frames)
        });
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(10)).await;
        feed(&bus_opens, frame(Some(900))).await;
        let (id, from_camera, mut frames) = next.await.expect("task");
        assert_eq!((id, from_camera), (Some(900), false));

        // Another owner: still the bus, same subscription.
        role_tx.send_replace(Role::Bus { owner: "b".into() });
        // This node takes over: the bus subscription closes, the camera opens.
        role_tx.send_replace(Role::Camera);
        let next = tokio::spawn(async move {
            let sourced = frames.next().await.expect("a frame");
            (sourced.frame.upstream_id, sourced.from_camera, frames)
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        feed(&camera_opens, frame(None)).await;
        let (id, from_camera, frames) = next.await.expect("task");
        assert_eq!((id, from_camera), (None, true));
        assert_eq!(bus_opens.lock().expect("lock").len(), 1);
        assert!(bus_opens.lock().expect("lock")[0].is_closed());
        assert_eq!(camera_opens.lock().expect("lock").len(), 1);

        // Dropping the stream closes the camera (and drops the membership).
        drop(frames);
        assert!(camera_opens.lock().expect("lock")[0].is_closed());
        assert!(role_tx.is_closed());
        let roles = roles.lock().expect("lock").clone();
        assert_eq!(roles.first(), Some(&"unknown"));
        assert_eq!(roles.last(), Some(&"camera"));
    }

    /// A cluster of one fake owner: the test sets the role and feeds the owner's frames.
    struct FakeLink {
        role: watch::Sender<Role>,
        bus: Opener,
        published: Mutex<Vec<u64>>,
    }

    impl ClusterLink for FakeLink {
        fn join(&self) -> Membership {
            Membership {
                role: self.role.subscribe(),
                guard: Box::new(()),
            }
        }

        fn bus_frames(&self) -> BoxFuture<'static, BoxStream<'static, CameraFrame>> {
            (self.bus)()
        }

        fn publish(&self, frame: &SharedFrame) {
            self.published.lock().expect("lock").push(frame.id);
        }
    }

    /// The next live frame's id (offline cards skipped).
    async fn next_live(viewer: &mut broadcast_core::Subscriber<SharedFrame>) -> u64 {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(10), viewer.recv())
                .await
                .expect("a frame within 10 s")
                .expect("the camera runs")
                .item;
            if frame.state == FrameState::Live {
                return frame.id;
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_follower_shows_the_owners_ids_and_continues_them_when_it_takes_over() {
        let settings = HubSettings {
            detect: false,
            ..HubSettings::default()
        };
        let (camera, tasks) =
            Camera::new(CameraSpec::new("porch", SourceSpec::Demo), &settings).expect("camera");
        let (bus, bus_opens) = source();
        let link = Arc::new(FakeLink {
            role: watch::channel(Role::Bus { owner: "a".into() }).0,
            bus,
            published: Mutex::new(Vec::new()),
        });
        let shutdown = CancellationToken::new();
        let handles =
            tasks
                .clustered(link.clone())
                .spawn(&camera, &settings, Box::new(|_| {}), &shutdown);
        let mut viewer = camera.raw.subscribe();

        // A follower: the owner's frames with the owner's ids; nothing published from here.
        while bus_opens.lock().expect("lock").is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        for id in 9000..9005 {
            feed(&bus_opens, frame(Some(id))).await;
            assert_eq!(next_live(&mut viewer).await, id);
        }
        assert_eq!(
            camera.cluster_role.load_full().as_deref(),
            Some(&Role::Bus { owner: "a".into() })
        );

        // The owner is gone and this node takes over: its camera's frames continue the ids,
        // and each goes to the cluster with the id viewers see.
        link.role.send_replace(Role::Camera);
        // (Keepalive may re-send the last frame, same id, while the demo scene renders.)
        let mut seen = vec![9004];
        while seen.len() < 3 {
            let id = next_live(&mut viewer).await;
            assert!(
                id >= *seen.last().expect("one"),
                "ids went back: {seen:?} {id}"
            );
            if id != *seen.last().expect("one") {
                seen.push(id);
            }
        }
        let (first, second) = (seen[1], seen[2]);
        assert_eq!(second, first + 1);
        assert!(bus_opens.lock().expect("lock")[0].is_closed());
        let published = link.published.lock().expect("lock").clone();
        assert!(published.starts_with(&[first, second]), "{published:?}");
        assert_eq!(
            camera.cluster_role.load_full().as_deref(),
            Some(&Role::Camera)
        );

        shutdown.cancel();
        for handle in handles {
            handle.await.expect("task ended");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn offline_cards_of_a_follower_keep_the_last_id() {
        // The camera itself is unreachable, and this node never opens it: it follows the bus.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/stream", listener.local_addr().expect("addr"));
        drop(listener);
        let settings = HubSettings {
            detect: false,
            keepalive: Duration::from_millis(200),
            ..HubSettings::default()
        };
        let spec = CameraSpec::new("porch", SourceSpec::Stream { url });
        let (camera, tasks) = Camera::new(spec, &settings).expect("camera");
        let (bus, bus_opens) = source();
        let link = Arc::new(FakeLink {
            role: watch::channel(Role::Bus { owner: "a".into() }).0,
            bus,
            published: Mutex::new(Vec::new()),
        });
        let shutdown = CancellationToken::new();
        let handles =
            tasks
                .clustered(link.clone())
                .spawn(&camera, &settings, Box::new(|_| {}), &shutdown);
        let mut viewer = camera.raw.subscribe();
        while bus_opens.lock().expect("lock").is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        feed(&bus_opens, frame(Some(500))).await;
        assert_eq!(next_live(&mut viewer).await, 500);

        // The owner goes quiet (failing over): offline cards, all with the last id.
        let mut cards = 0;
        while cards < 2 {
            let frame = tokio::time::timeout(Duration::from_secs(5), viewer.recv())
                .await
                .expect("a card within 5 s")
                .expect("the camera runs")
                .item;
            assert_eq!(frame.id, 500, "{:?}", frame.state);
            cards += usize::from(frame.state == FrameState::Offline);
        }
        // The next owner's frame keeps its id on this node too.
        feed(&bus_opens, frame(Some(501))).await;
        assert_eq!(next_live(&mut viewer).await, 501);
        assert!(link.published.lock().expect("lock").is_empty());

        shutdown.cancel();
        for handle in handles {
            handle.await.expect("task ended");
        }
    }
}
