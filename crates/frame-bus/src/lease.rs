//! [`Lease`]: one owner per camera, as a JetStream key-value entry that expires unless renewed.
//!
//! The bucket `camrelay_<cluster>_owners` keeps one revision per key and drops entries older
//! than [`BusConfig::lease_ttl`] (its max age). The key is the camera, the value the owner's
//! node name. A node that wants the camera tries `create` (succeeds only when the key is absent,
//! expired or deleted) every [`BusConfig::claim_every`]; the owner renews with `update` on its
//! last revision every [`BusConfig::renew_every`] (compare-and-set: fails if anyone else wrote).
//! So exactly one node holds the key at a time, and an owner that stops renewing is replaced
//! within `lease_ttl + claim_every` (2.25 s with the defaults).
//!
//! An owner that loses NATS keeps serving (`Owner { connected: false }`): its camera still
//! works for its own viewers. When NATS answers again it renews if its revision still stands,
//! and steps down to follower if another node took the camera meanwhile.
//!
//! The bucket is in memory: a restarted NATS server has no leases, and the nodes claim again.

use async_nats::jetstream;
use async_nats::jetstream::kv::{CreateErrorKind, Store, UpdateErrorKind};
use async_nats::jetstream::stream::{self, DiscardPolicy, StorageType};
use bytes::Bytes;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::{subject, BusConfig};

/// Who reads a camera, as this node sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ownership {
    /// Not known: starting, or NATS does not answer and this node did not own the camera.
    Unknown,
    /// This node owns the camera: it reads the camera and publishes its frames.
    Owner {
        /// `false` while NATS does not answer: the node keeps serving and renews when it can.
        connected: bool,
    },
    /// Another node owns the camera: read its frames from the bus.
    Follower {
        /// The owner's node name.
        owner: String,
    },
}

impl Ownership {
    /// Whether this node owns the camera (connected to NATS or not).
    pub fn is_owner(&self) -> bool {
        matches!(self, Ownership::Owner { .. })
    }

    /// `"unknown"`, `"owner"` or `"follower"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Ownership::Unknown => "unknown",
            Ownership::Owner { .. } => "owner",
            Ownership::Follower { .. } => "follower",
        }
    }
}

/// This node's claim on one camera. Dropping it stops renewing (the lease then expires and
/// another node takes over); [`Lease::release`] hands it over at once.
pub struct Lease {
    camera: String,
    state: watch::Receiver<Ownership>,
    task: JoinHandle<Option<(Store, u64)>>,
    stop: watch::Sender<bool>,
}

impl Lease {
    pub(crate) fn start(jetstream: jetstream::Context, camera: &str, config: &BusConfig) -> Lease {
        let (state_tx, state) = watch::channel(Ownership::Unknown);
        let (stop, stop_rx) = watch::channel(false);
        let task = LeaseTask {
            jetstream,
            bucket: subject::lease_bucket(&config.cluster),
            camera: camera.to_owned(),
            node: config.node.clone(),
            config: config.clone(),
            state: state_tx,
            store: None,
            revision: None,
        };
        Lease {
            camera: camera.to_owned(),
            state,
            task: tokio::spawn(task.run(stop_rx)),
            stop,
        }
    }

    /// The camera.
    pub fn camera(&self) -> &str {
        &self.camera
    }

    /// Who reads the camera now.
    pub fn ownership(&self) -> Ownership {
        self.state.borrow().clone()
    }

    /// Whether this node owns the camera now.
    pub fn is_owner(&self) -> bool {
        self.state.borrow().is_owner()
    }

    /// Waits until the ownership changes and returns the new one.
    pub async fn changed(&mut self) -> Ownership {
        // The sender lives in the task, which runs until the lease is dropped or released.
        let _ = self.state.changed().await;
        self.state.borrow_and_update().clone()
    }

    /// A receiver of ownership changes (for a supervisor's `select!`).
    pub fn watch(&self) -> watch::Receiver<Ownership> {
        self.state.clone()
    }

    /// Stops competing and, if this node owns the camera, deletes the lease so another node
    /// takes over at once instead of after the TTL.
    pub async fn release(mut self) {
        let _ = self.stop.send(true);
        let held = (&mut self.task).await.ok().flatten();
        if let Some((store, revision)) = held {
            // Only if it is still ours: a lost race leaves the new owner's entry alone.
            if let Err(error) = store
                .delete_expect_revision(&self.camera, Some(revision))
                .await
            {
                tracing::debug!(camera = %self.camera, %error, "lease not deleted (it expires)");
            }
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct LeaseTask {
    jetstream: jetstream::Context,
    bucket: String,
    camera: String,
    node: String,
    config: BusConfig,
    state: watch::Sender<Ownership>,
    store: Option<Store>,
    /// Our revision of the key while we believe we own it.
    revision: Option<u64>,
}

/// What one round of the task found out.
enum Round {
    /// We hold the lease (revision): renew after `renew_every`.
    Held(u64),
    /// Someone else holds it.
    Taken(String),
    /// NATS did not answer (or the bucket is gone): try again after `claim_every`.
    NoAnswer,
}

impl LeaseTask {
    async fn run(mut self, mut stop: watch::Receiver<bool>) -> Option<(Store, u64)> {
        loop {
            let round = self.round().await;
            let (ownership, wait) = match round {
                Round::Held(revision) => {
                    self.revision = Some(revision);
                    (
                        Ownership::Owner { connected: true },
                        self.config.renew_every,
                    )
                }
                Round::Taken(owner) => {
                    self.revision = None;
                    (Ownership::Follower { owner }, self.config.claim_every)
                }
                Round::NoAnswer => {
                    self.store = None;
                    let ownership = if self.revision.is_some() {
                        Ownership::Owner { connected: false }
                    } else {
                        Ownership::Unknown
                    };
                    (ownership, self.config.claim_every)
                }
            };
            self.state.send_if_modified(|now| {
                if *now == ownership {
                    return false;
                }
                tracing::info!(camera = %self.camera, node = %self.node, from = ?now, to = ?ownership, "camera ownership");
                *now = ownership;
                true
            });
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.changed() => break,
            }
        }
        let store = self.store.take()?;
        Some((store, self.revision?))
    }

    /// Renews our lease, or tries to take it.
    async fn round(&mut self) -> Round {
        let Some(store) = self.store().await else {
            return Round::NoAnswer;
        };
        let value = Bytes::from(self.node.clone());
        if let Some(revision) = self.revision {
            match store.update(&self.camera, value.clone(), revision).await {
                Ok(revision) => return Round::Held(revision),
                // Expired, or someone else wrote: find out below.
                Err(error) if error.kind() == UpdateErrorKind::WrongLastRevision => {}
                Err(error) => {
                    tracing::debug!(camera = %self.camera, %error, "lease renewal failed");
                    return Round::NoAnswer;
                }
            }
        }
        match store.create(&self.camera, value).await {
            Ok(revision) => Round::Held(revision),
            Err(error) if error.kind() == CreateErrorKind::AlreadyExists => {
                match store.entry(&self.camera).await {
                    // Ours after all (a renewal whose answer was lost): carry on with it.
                    Ok(Some(entry)) if entry.value == self.node.as_bytes() => {
                        Round::Held(entry.revision)
                    }
                    Ok(Some(entry)) => {
                        Round::Taken(String::from_utf8_lossy(&entry.value).into_owned())
                    }
                    // Expired between the two calls: claim again next round, soon.
                    Ok(None) => Round::Taken(String::new()),
                    Err(error) => {
                        tracing::debug!(camera = %self.camera, %error, "lease read failed");
                        Round::NoAnswer
                    }
                }
            }
            Err(error) => {
                tracing::debug!(camera = %self.camera, %error, "lease claim failed");
                Round::NoAnswer
            }
        }
    }

    /// The bucket, created on first use and again after NATS lost it (a restarted server).
    async fn store(&mut self) -> Option<Store> {
        if let Some(store) = &self.store {
            return Some(store.clone());
        }
        // The bucket's stream, made directly: `create_key_value` first asks for the account's
        // info, which it cannot parse from a NATS 2.9 server (Debian 12's). Same settings as a
        // key-value bucket: one revision per key, compare-and-set on the key's last revision.
        let stream = stream::Config {
            name: format!("KV_{}", self.bucket),
            description: Some("camrelay: which node reads each camera".to_owned()),
            subjects: vec![format!("$KV.{}.>", self.bucket)],
            max_messages_per_subject: 1,
            max_age: self.config.lease_ttl,
            storage: StorageType::Memory,
            allow_rollup: true,
            deny_delete: true,
            allow_direct: true,
            discard: DiscardPolicy::New,
            num_replicas: 1,
            ..Default::default()
        };
        if let Err(error) = self.jetstream.get_or_create_stream(stream).await {
            tracing::debug!(bucket = %self.bucket, %error, "lease bucket not created");
        }
        // Created by us or by another node (maybe with another TTL: used as it is).
        let store = match self.jetstream.get_key_value(self.bucket.as_str()).await {
            Ok(store) => store,
            Err(error) => {
                tracing::debug!(bucket = %self.bucket, %error, "lease bucket unavailable");
                return None;
            }
        };
        self.store = Some(store.clone());
        Some(store)
    }
}
