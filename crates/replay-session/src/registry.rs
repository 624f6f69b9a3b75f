//! The relay's replay sessions by id: limits, viewer counts and idle end.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use crate::session::{ReplayHandle, ReplaySession, SessionConfig, Sink};
use crate::track::Track;
use crate::ReplayError;

/// A session id: 128 random bits from the operating system, shown as 32 lowercase hex digits.
/// Unguessable, so the id itself is the capability to watch and control a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionId([u8; 16]);

impl SessionId {
    /// A fresh random id.
    ///
    /// # Panics
    /// When the operating system has no random source (`getrandom` fails), which leaves no
    /// safe fallback for unguessable ids.
    pub fn random() -> SessionId {
        let mut bytes = [0u8; 16];
        #[allow(clippy::expect_used)]
        getrandom::fill(&mut bytes).expect("the operating system's random source failed");
        SessionId(bytes)
    }

    /// Parses 32 hex digits (either case); anything else is `None` (an HTTP 404).
    pub fn parse(s: &str) -> Option<SessionId> {
        // `from_str_radix` alone would take a leading `+`.
        if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut bytes = [0u8; 16];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(SessionId(bytes))
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// Limits of a [`Sessions`] registry.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// Most sessions at once (default 16); one more is [`ReplayError::TooManySessions`].
    pub max_sessions: usize,
    /// A session with no viewers for this long ends (default 60 s). A new session counts as
    /// unwatched from its creation, so one nobody connects to ends too.
    pub idle_after: Duration,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            max_sessions: 16,
            idle_after: Duration::from_secs(60),
        }
    }
}

/// One registered session.
struct Entry<T: Track> {
    handle: ReplayHandle<T>,
    viewers: usize,
    /// Bumped whenever the viewer count changes; an idle timer only ends the session if the
    /// epoch it was armed with is still current (nobody came and went meanwhile).
    idle_epoch: u64,
}

type Map<T> = Mutex<HashMap<SessionId, Entry<T>>>;

fn lock<T: Track>(map: &Map<T>) -> MutexGuard<'_, HashMap<SessionId, Entry<T>>> {
    // Plain data: usable after a panic elsewhere.
    map.lock().unwrap_or_else(|e| e.into_inner())
}

/// The replay sessions of a relay, by id. Cheap to clone (shared).
pub struct Sessions<T: Track> {
    map: Arc<Map<T>>,
    config: RegistryConfig,
    runtime: tokio::runtime::Handle,
}

impl<T: Track> Clone for Sessions<T> {
    fn clone(&self) -> Self {
        Sessions {
            map: self.map.clone(),
            config: self.config.clone(),
            runtime: self.runtime.clone(),
        }
    }
}

impl<T: Track> Sessions<T> {
    /// An empty registry. Idle timers run on the current Tokio runtime.
    ///
    /// # Panics
    /// Outside a Tokio runtime.
    pub fn new(config: RegistryConfig) -> Sessions<T> {
        Sessions {
            map: Arc::new(Mutex::new(HashMap::new())),
            config,
            runtime: tokio::runtime::Handle::current(),
        }
    }

    /// Starts a session (see [`ReplaySession::start`]) and registers it under a new id. Its
    /// idle timer starts now.
    pub fn create<S: Sink<T::Handle>>(
        &self,
        tracks: Vec<T>,
        start_us: i64,
        rate: f64,
        config: SessionConfig,
        sink: S,
    ) -> Result<(SessionId, ReplayHandle<T>), ReplayError> {
        let mut map = lock(&self.map);
        if map.len() >= self.config.max_sessions {
            return Err(ReplayError::TooManySessions {
                max: self.config.max_sessions,
            });
        }
        let handle = ReplaySession::start(tracks, start_us, rate, config, sink)?;
        let id = SessionId::random();
        map.insert(
            id,
            Entry {
                handle: handle.clone(),
                viewers: 0,
                idle_epoch: 0,
            },
        );
        drop(map);
        arm_idle(
            &self.runtime,
            Arc::downgrade(&self.map),
            id,
            0,
            self.config.idle_after,
        );
        Ok((id, handle))
    }

    /// The session `id`, if it exists.
    pub fn get(&self, id: SessionId) -> Option<ReplayHandle<T>> {
        lock(&self.map).get(&id).map(|e| e.handle.clone())
    }

    /// Ends and forgets session `id`; `false` if there was none.
    pub fn remove(&self, id: SessionId) -> bool {
        let entry = lock(&self.map).remove(&id);
        entry.map(|e| e.handle.stop()).is_some()
    }

    /// Counts a viewer of session `id` until the returned guard is dropped; `None` for an
    /// unknown id. Call it when a stream or WebSocket of the session opens.
    pub fn viewer_joined(&self, id: SessionId) -> Option<ViewerGuard<T>> {
        let mut map = lock(&self.map);
        let entry = map.get_mut(&id)?;
        entry.viewers += 1;
        entry.idle_epoch += 1;
        Some(ViewerGuard {
            map: Arc::downgrade(&self.map),
            id,
            idle_after: self.config.idle_after,
            runtime: self.runtime.clone(),
        })
    }

    /// The number of viewers of session `id`.
    pub fn viewers(&self, id: SessionId) -> Option<usize> {
        lock(&self.map).get(&id).map(|e| e.viewers)
    }

    /// The ids of all sessions.
    pub fn ids(&self) -> Vec<SessionId> {
        lock(&self.map).keys().copied().collect()
    }

    /// The number of sessions.
    pub fn len(&self) -> usize {
        lock(&self.map).len()
    }

    /// Whether there are no sessions.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Ends session `id` after `idle_after` unless its viewer epoch moved on or viewers came.
fn arm_idle<T: Track>(
    runtime: &tokio::runtime::Handle,
    map: Weak<Map<T>>,
    id: SessionId,
    epoch: u64,
    idle_after: Duration,
) {
    runtime.spawn(async move {
        tokio::time::sleep(idle_after).await;
        let Some(map) = map.upgrade() else { return };
        let mut map = lock(&map);
        let idle = map
            .get(&id)
            .is_some_and(|e| e.viewers == 0 && e.idle_epoch == epoch);
        if idle {
            if let Some(entry) = map.remove(&id) {
                tracing::info!(session = %id, "replay session ended: no viewers");
                entry.handle.stop();
            }
        }
    });
}

/// One viewer of a session; dropping it counts the viewer out (and arms the idle timer when
/// it was the last).
pub struct ViewerGuard<T: Track> {
    map: Weak<Map<T>>,
    id: SessionId,
    idle_after: Duration,
    runtime: tokio::runtime::Handle,
}

impl<T: Track> Drop for ViewerGuard<T> {
    fn drop(&mut self) {
        let Some(map) = self.map.upgrade() else {
            return;
        };
        let epoch = {
            let mut map = lock(&map);
            let Some(entry) = map.get_mut(&self.id) else {
                return;
            };
            entry.viewers = entry.viewers.saturating_sub(1);
            entry.idle_epoch += 1;
            (entry.viewers == 0).then_some(entry.idle_epoch)
        };
        if let Some(epoch) = epoch {
            arm_idle(
                &self.runtime,
                Arc::downgrade(&map),
                self.id,
                epoch,
                self.idle_after,
            );
        }
    }
}
