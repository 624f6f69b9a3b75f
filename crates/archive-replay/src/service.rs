//! [`ReplayService`]: the relay's replay sessions over its archive, behind the operations of
//! the HTTP routes (create, control, state, delete, subscribe).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use broadcast_core::Handle;
use mjpeg_record::Archive;
use mjpeg_serve::{Admission, Refused, SharedFrame, Viewer, ViewerCounters};
use replay_session::{
    Rate, RegistryConfig, ReplayHandle, SessionConfig, SessionId, Sessions, Track, ViewerGuard,
};

use crate::error::{CameraSpans, Error, Result};
use crate::request::{Action, CameraState, CreateRequest, Created, StateBody};
use crate::sink::{ArchiveSink, CameraOutput, CameraStats};
use crate::track::{ArchiveTrack, PreparedWindow};

/// Settings of a [`ReplayService`]. The defaults suit a relay with a few viewers per session.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Most sessions at once (default 16) and the idle end (default 60 s without viewers).
    pub registry: RegistryConfig,
    /// Timing of each session (tick, end of recordings, gaps).
    pub session: SessionConfig,
    /// Most cameras in one session (default 16).
    pub max_cameras: usize,
    /// How much recorded time before the position is held in memory (default 5 min).
    pub window_before: Duration,
    /// How much recorded time after the position is held in memory (default 30 min); the
    /// window moves on once the position has used half of it.
    pub window_after: Duration,
    /// How often a session's window is checked (default 1 s). Near the end of a recording
    /// that is still growing, the window is re-read this often so replay can follow it.
    pub window_check: Duration,
    /// Queue settings of each viewer of a session's broadcasts (default: 5 frames,
    /// drop-newest, as live).
    pub broadcast: broadcast_core::Config,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            registry: RegistryConfig::default(),
            session: SessionConfig::default(),
            max_cameras: 16,
            window_before: Duration::from_secs(5 * 60),
            window_after: Duration::from_secs(30 * 60),
            window_check: Duration::from_secs(1),
            broadcast: broadcast_core::Config::default(),
        }
    }
}

/// The outputs of one session, by camera (in the session's camera order).
struct Outputs<M> {
    cameras: Vec<CameraOutput<M>>,
}

impl<M> Outputs<M> {
    fn camera(&self, name: &str) -> Option<&CameraOutput<M>> {
        self.cameras.iter().find(|c| c.name == name)
    }
}

type OutputMap<M> = Mutex<HashMap<SessionId, Arc<Outputs<M>>>>;

/// The replay sessions of a relay over its recording archive. Cheap to clone (shared).
///
/// `M` is the metadata type of the relay's broadcast frames (`mjpeg_serve::Frame<M>`);
/// replayed frames carry `M::default()`.
pub struct ReplayService<M> {
    archive: Arc<Archive>,
    config: ServiceConfig,
    /// The sessions (clock, driver, viewers, idle end).
    sessions: Sessions<ArchiveTrack>,
    /// Each session's broadcasts. An entry outlives its session until the next
    /// [`ReplayService::create`] or lookup prunes it; the broadcasts themselves close when
    /// the session stops.
    outputs: Arc<OutputMap<M>>,
}

impl<M> Clone for ReplayService<M> {
    fn clone(&self) -> Self {
        ReplayService {
            archive: self.archive.clone(),
            config: self.config.clone(),
            sessions: self.sessions.clone(),
            outputs: self.outputs.clone(),
        }
    }
}

/// What a viewer of one camera of a session needs: the broadcast to subscribe to, and a
/// guard that counts it as a viewer of the session (for the idle end) until dropped.
pub struct Subscription<M> {
    /// The camera's broadcast of the session (`mjpeg_serve::Viewer::admit` takes it).
    pub broadcast: Handle<SharedFrame<M>>,
    /// Counts the viewer until dropped; keep it as long as the viewer's stream.
    pub guard: ReplayViewerGuard,
}

impl<M> Subscription<M> {
    /// Admits an `mjpeg-serve` viewer of the camera within `admission`'s limits. The viewer
    /// holds the guard: it counts for the session until it is dropped. Its counts go to the
    /// camera's statistics in the session's state.
    pub fn admit(
        self,
        admission: &Arc<Admission>,
        max_age: Duration,
    ) -> Result<Viewer<M>, Refused> {
        let counters = Arc::new(ReplayCounters { guard: self.guard });
        Viewer::admit(&self.broadcast, admission, counters, max_age)
    }
}

/// One viewer of a session's camera; dropping it counts the viewer out (and arms the
/// session's idle end when it was the last).
pub struct ReplayViewerGuard {
    _session: ViewerGuard<ArchiveTrack>,
    stats: Arc<CameraStats>,
    label: String,
}

impl Drop for ReplayViewerGuard {
    fn drop(&mut self) {
        self.stats.viewers.fetch_sub(1, Ordering::Relaxed);
    }
}

/// `mjpeg-serve`'s counters for a replay viewer; holds its [`ReplayViewerGuard`].
struct ReplayCounters {
    guard: ReplayViewerGuard,
}

impl ViewerCounters for ReplayCounters {
    fn joined(&self) -> usize {
        self.guard.stats.viewers.load(Ordering::Relaxed)
    }
    fn left(&self) -> usize {
        self.guard.stats.viewers.load(Ordering::Relaxed)
    }
    fn dropped_queue(&self, _frames: u64) {}
    fn dropped_age(&self, _frames: u64) {}
    fn dropped_paced(&self, _frames: u64) {}
    fn evicted(&self) {}
    fn label(&self) -> &str {
        &self.guard.label
    }
}

fn lock<M>(map: &OutputMap<M>) -> MutexGuard<'_, HashMap<SessionId, Arc<Outputs<M>>>> {
    // Plain data: usable after a panic elsewhere.
    map.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs blocking archive work off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(Error::Task(e.to_string())))
}

impl<M: Default + Send + Sync + 'static> ReplayService<M> {
    /// A service over `archive` with no sessions.
    ///
    /// # Panics
    /// Outside a Tokio runtime (idle timers and drivers run on it).
    pub fn new(archive: Arc<Archive>, config: ServiceConfig) -> ReplayService<M> {
        ReplayService {
            sessions: Sessions::new(config.registry.clone()),
            archive,
            config,
            outputs: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// `POST /api/replay`: starts a session of `req.cameras` at `req.start`, playing at
    /// `req.rate`. Each camera's frame at or before the start is published at once.
    ///
    /// Errors: [`ErrorKind::BadRequest`](crate::ErrorKind::BadRequest) (no cameras, a camera
    /// twice, too many, a bad rate), [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) (a
    /// camera without recordings), [`ErrorKind::OutsideRecordings`](crate::ErrorKind::OutsideRecordings)
    /// (the start is in no camera's recorded spans; the error lists them),
    /// [`ErrorKind::Full`](crate::ErrorKind::Full). On an error nothing is started.
    pub async fn create(&self, req: CreateRequest) -> Result<Created> {
        let cameras = req.cameras;
        let start = req.start.micros();
        if cameras.is_empty() {
            return Err(Error::InvalidRequest("no cameras".into()));
        }
        if cameras.len() > self.config.max_cameras {
            return Err(Error::InvalidRequest(format!(
                "{} cameras (at most {})",
                cameras.len(),
                self.config.max_cameras
            )));
        }
        let mut seen = HashSet::new();
        if let Some(dup) = cameras.iter().find(|c| !seen.insert(c.as_str())) {
            return Err(Error::InvalidRequest(format!("camera {dup:?} given twice")));
        }
        Rate::new(req.rate).map_err(Error::from_session)?;
        let recorded = self.archive.cameras();
        if let Some(unknown) = cameras.iter().find(|c| !recorded.contains(c)) {
            return Err(Error::UnknownCamera(unknown.clone()));
        }
        self.prune();
        let max = self.config.registry.max_sessions;
        if self.sessions.len() >= max {
            return Err(Error::TooManySessions { max });
        }

        let (from, to) = self.window_around(start);
        let archive = self.archive.clone();
        let names = cameras.clone();
        let tracks = blocking(move || {
            names
                .iter()
                .map(|c| ArchiveTrack::load(&archive, c, from, to).map_err(Error::from))
                .collect::<Result<Vec<_>>>()
        })
        .await?;
        if !tracks
            .iter()
            .any(|t| t.spans().iter().any(|s| s.contains(start)))
        {
            return Err(self.outside(start, cameras).await);
        }

        let (sink, outputs) = ArchiveSink::start::<M>(&cameras, self.config.broadcast);
        let (id, handle) = self
            .sessions
            .create(tracks, start, req.rate, self.config.session.clone(), sink)
            .map_err(Error::from_session)?;
        lock(&self.outputs).insert(id, Arc::new(Outputs { cameras: outputs }));
        tokio::spawn(keep_window(
            handle,
            self.archive.clone(),
            self.config.clone(),
        ));
        tracing::info!(session = %id, ?cameras, start = %mjpeg_record::format_time(start),
            rate = req.rate, "replay session started");
        let streams: BTreeMap<String, String> = cameras
            .iter()
            .map(|c| (c.clone(), format!("/replay/{id}/cams/{c}/stream")))
            .collect();
        Ok(Created {
            id: id.to_string(),
            streams,
        })
    }

    /// `POST /api/replay/ID`: applies `action` and returns the state after it. A seek
    /// outside the recordings, a bad rate or an unknown id change nothing.
    pub async fn control(&self, id: &str, action: Action) -> Result<StateBody> {
        let (sid, handle) = self.handle(id)?;
        match action {
            Action::Pause => handle.pause(),
            Action::Play => handle.play(),
            Action::Rate { rate } => handle.set_rate(rate),
            Action::Step { frames } => handle.step(frames).map(|_| ()),
            Action::Seek { to } => {
                self.seek(&handle, to.micros()).await?;
                Ok(())
            }
        }
        .map_err(|e| match e {
            replay_session::ReplayError::Stopped => Error::UnknownSession(id.to_owned()),
            e => Error::from_session(e),
        })?;
        self.state_of(sid, &handle)
    }

    /// Seeks `handle` to `to`, loading another window first when `to` is outside the loaded
    /// one; nothing changes when `to` is outside the recordings.
    async fn seek(&self, handle: &ReplayHandle<ArchiveTrack>, to: i64) -> Result<()> {
        let cameras: Vec<String> = handle
            .tracks()
            .iter()
            .map(|t| t.camera().to_owned())
            .collect();
        let inside_loaded = handle.tracks().iter().all(|t| {
            let (from, until) = t.window();
            (from..until).contains(&to)
        });
        if inside_loaded {
            return match handle.seek(to) {
                Err(replay_session::ReplayError::OutsideRecordings { .. }) => {
                    Err(self.outside(to, cameras).await)
                }
                other => other.map_err(Error::from_session),
            };
        }
        let (from, until) = self.window_around(to);
        let archive = self.archive.clone();
        let tracks = handle.clone();
        let (handle_back, windows) = blocking(move || {
            let windows = tracks
                .tracks()
                .iter()
                .map(|t| t.prepare(&archive, from, until).map_err(Error::from))
                .collect::<Result<Vec<PreparedWindow>>>()?;
            Ok((tracks, windows))
        })
        .await?;
        if !windows.iter().any(|w| w.covers(to)) {
            return Err(self.outside(to, cameras).await);
        }
        for (track, window) in handle_back.tracks().iter().zip(windows) {
            track.install(window);
        }
        handle.seek(to).map_err(Error::from_session)
    }

    /// `GET /api/replay/ID`.
    pub fn state(&self, id: &str) -> Result<StateBody> {
        let (sid, handle) = self.handle(id)?;
        self.state_of(sid, &handle)
    }

    /// `DELETE /api/replay/ID`: stops the session; its viewers' streams end.
    pub fn delete(&self, id: &str) -> Result<()> {
        let sid = parse_id(id)?;
        lock(&self.outputs).remove(&sid);
        if self.sessions.remove(sid) {
            tracing::info!(session = %sid, "replay session deleted");
            Ok(())
        } else {
            Err(Error::UnknownSession(id.to_owned()))
        }
    }

    /// `GET /replay/ID/cams/NAME/stream` (and each camera of `/replay/ID/ws`): the camera's
    /// broadcast and a viewer guard. When the session is paused, the camera's current frame
    /// is published again so that the new viewer sees it at once (other viewers get it
    /// again, same id).
    pub fn subscribe(&self, id: &str, camera: &str) -> Result<Subscription<M>> {
        let (sid, handle) = self.handle(id)?;
        let outputs = lock(&self.outputs)
            .get(&sid)
            .cloned()
            .ok_or_else(|| Error::UnknownSession(id.to_owned()))?;
        let out = outputs
            .camera(camera)
            .ok_or_else(|| Error::UnknownCamera(camera.to_owned()))?;
        let guard = self
            .sessions
            .viewer_joined(sid)
            .ok_or_else(|| Error::UnknownSession(id.to_owned()))?;
        out.stats.viewers.fetch_add(1, Ordering::Relaxed);
        let subscription = Subscription {
            broadcast: out.broadcast.clone(),
            guard: ReplayViewerGuard {
                _session: guard,
                stats: out.stats.clone(),
                label: format!("replay {sid} {camera}"),
            },
        };
        if handle.state().paused {
            out.mailbox.request_resend();
        }
        Ok(subscription)
    }

    /// The cameras of session `id`, in order (for `/replay/ID/ws`).
    pub fn cameras(&self, id: &str) -> Result<Vec<String>> {
        let (_, handle) = self.handle(id)?;
        Ok(handle
            .tracks()
            .iter()
            .map(|t| t.camera().to_owned())
            .collect())
    }

    /// The ids of the running sessions.
    pub fn ids(&self) -> Vec<String> {
        self.sessions.ids().iter().map(|i| i.to_string()).collect()
    }

    /// The number of running sessions.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether no session runs.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// The archive.
    pub fn archive(&self) -> &Arc<Archive> {
        &self.archive
    }

    fn handle(&self, id: &str) -> Result<(SessionId, ReplayHandle<ArchiveTrack>)> {
        let sid = parse_id(id)?;
        match self.sessions.get(sid) {
            Some(h) if !h.is_stopped() => Ok((sid, h)),
            _ => {
                lock(&self.outputs).remove(&sid);
                Err(Error::UnknownSession(id.to_owned()))
            }
        }
    }

    fn state_of(&self, sid: SessionId, handle: &ReplayHandle<ArchiveTrack>) -> Result<StateBody> {
        let st = handle.state();
        let outputs = lock(&self.outputs).get(&sid).cloned();
        let cameras = handle
            .tracks()
            .iter()
            .map(|t| {
                let out = outputs.as_ref().and_then(|o| o.camera(t.camera()));
                let n = |f: fn(&CameraStats) -> u64| out.map_or(0, |o| f(&o.stats));
                CameraState {
                    name: t.camera().to_owned(),
                    frame_id: out.and_then(|o| o.stats.last_frame_id()),
                    published: n(|s| s.published.load(Ordering::Relaxed)),
                    skipped: n(|s| s.skipped.load(Ordering::Relaxed)),
                    read_errors: n(|s| s.read_errors.load(Ordering::Relaxed)),
                    viewers: out.map_or(0, |o| o.stats.viewers.load(Ordering::Relaxed)),
                }
            })
            .collect();
        Ok(StateBody {
            id: sid.to_string(),
            position: mjpeg_record::format_time(st.position_us),
            position_us: st.position_us,
            rate: st.rate,
            paused: st.paused,
            ended: st.ended,
            viewers: self.sessions.viewers(sid).unwrap_or(0),
            cameras,
        })
    }

    /// The window to load around `t`.
    fn window_around(&self, t: i64) -> (i64, i64) {
        window_around(&self.config, t)
    }

    /// The error for an instant outside the recordings, with every camera's spans.
    async fn outside(&self, requested_us: i64, cameras: Vec<String>) -> Error {
        let archive = self.archive.clone();
        let spans = blocking(move || {
            cameras
                .into_iter()
                .map(|camera| {
                    let spans = archive.spans(&camera, i64::MIN / 4, i64::MAX / 4)?;
                    Ok(CameraSpans { camera, spans })
                })
                .collect::<Result<Vec<_>>>()
        })
        .await;
        match spans {
            Ok(spans) => Error::OutsideRecordings {
                requested_us,
                spans,
            },
            Err(e) => e,
        }
    }

    /// Forgets the outputs of sessions that ended.
    fn prune(&self) {
        let live: HashSet<SessionId> = self.sessions.ids().into_iter().collect();
        lock(&self.outputs).retain(|id, _| live.contains(id));
    }
}

fn parse_id(id: &str) -> Result<SessionId> {
    SessionId::parse(id).ok_or_else(|| Error::UnknownSession(id.to_owned()))
}

fn window_around(config: &ServiceConfig, t: i64) -> (i64, i64) {
    let before = config.window_before.as_micros() as i64;
    let after = config.window_after.as_micros() as i64;
    (t.saturating_sub(before), t.saturating_add(after.max(1)))
}

/// How close (capture time) to the newest loaded frame of a window that reaches into the
/// present the position must be for the window to be re-read: the recording may have grown.
const FOLLOW_MARGIN_US: i64 = 5_000_000;

/// A session's window keeper: every `window_check`, moves each camera's window on when the
/// position has used half of it (or left it), re-reads it near the end of a recording that is
/// still growing, and resumes a session that ended there once new frames are loaded. Ends
/// with the session.
async fn keep_window(
    handle: ReplayHandle<ArchiveTrack>,
    archive: Arc<Archive>,
    config: ServiceConfig,
) {
    let before = config.window_before.as_micros() as i64;
    let after = config.window_after.as_micros() as i64;
    loop {
        tokio::time::sleep(config.window_check).await;
        if handle.is_stopped() {
            return;
        }
        let st = handle.state();
        let pos = st.position_us;
        let stale: Vec<usize> = handle
            .tracks()
            .iter()
            .enumerate()
            .filter(|(_, t)| {
                let (from, until) = t.window();
                let used = pos > until - after / 2 || pos < from + before / 4;
                let growing = until > t.loaded_at_us()
                    && t.last_capture_us()
                        .is_none_or(|last| pos >= last - FOLLOW_MARGIN_US);
                used || growing
            })
            .map(|(i, _)| i)
            .collect();
        if stale.is_empty() {
            continue;
        }
        let (from, until) = window_around(&config, pos);
        let (archive2, tracks) = (archive.clone(), handle.clone());
        let reloaded = tokio::task::spawn_blocking(move || {
            for i in stale {
                if let Some(t) = tracks.tracks().get(i) {
                    if let Err(e) = t.reload(&archive2, from, until) {
                        tracing::warn!(camera = t.camera(), error = %e, "replay cannot read the recordings");
                    }
                }
            }
        })
        .await;
        if reloaded.is_err() {
            continue;
        }
        // A session that ended at the newest frame goes on once more frames are there.
        if st.ended && handle.tracks().iter().any(|t| t.after(pos).is_some()) {
            let _ = handle.play();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send_sync<T: Send + Sync + 'static>(_: &T) {}
    fn send<T: Send>(_: T) {}

    /// The relay keeps the service in its shared state and calls it from hyper handlers,
    /// whose futures must be `Send`.
    #[tokio::test]
    async fn the_service_and_its_futures_are_send() {
        let dir = tempfile::tempdir().expect("tempdir");
        let archive =
            Arc::new(Archive::open(mjpeg_record::RecordConfig::new(dir.path())).expect("open"));
        let replay: ReplayService<()> = ReplayService::new(archive, ServiceConfig::default());
        send_sync(&replay);
        let body = br#"{"cameras": ["door"], "start": 1}"#;
        send(replay.create(CreateRequest::from_json(body).expect("json")));
        send(replay.control("x", Action::Play));
        let err = replay
            .create(CreateRequest::from_json(body).expect("json"))
            .await
            .expect_err("nothing recorded");
        assert_eq!(err.kind(), crate::ErrorKind::NotFound);
    }
}
