//! A cloneable handle to subscribe to a channel and watch it.

use std::fmt;
use std::sync::Arc;

use crate::shared::Shared;
use crate::{Config, Subscriber, SubscriberStats};

/// Cloneable, `Send + Sync` access to a channel: subscribe, count and watch subscribers while
/// the [`Publisher`](crate::Publisher) lives in the producer task. Does not keep the channel
/// open.
pub struct Handle<T> {
    /// The channel; outlives the publisher while handles or subscribers remain.
    shared: Arc<Shared<T>>,
}

impl<T> Clone for Handle<T> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Handle<T> {
    pub(crate) fn from_shared(shared: Arc<Shared<T>>) -> Self {
        Self { shared }
    }

    pub(crate) fn shared(&self) -> &Shared<T> {
        &self.shared
    }

    /// A subscriber with the channel's default queue config. Made after the publisher is gone,
    /// it gets `None` at once.
    pub fn subscribe(&self) -> Subscriber<T> {
        self.subscribe_with(self.shared.default_config)
    }

    /// A subscriber with its own queue capacity and policy.
    pub fn subscribe_with(&self, config: Config) -> Subscriber<T> {
        let (slot, registered) = self.shared.register(config);
        Subscriber::new(self.shared.clone(), slot, registered)
    }

    /// Live subscribers right now.
    pub fn subscriber_count(&self) -> usize {
        self.shared.subscriber_count()
    }

    /// Whether the publisher has been dropped.
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }

    /// Resolves once `subscriber_count() > 0` (at once if it already is). Runtime-agnostic.
    pub async fn subscribed(&self) {
        self.wait_until(|count| count > 0).await;
    }

    /// Resolves once `subscriber_count() == 0` (at once if it already is). Runtime-agnostic.
    pub async fn unsubscribed(&self) {
        self.wait_until(|count| count == 0).await;
    }

    async fn wait_until(&self, done: impl Fn(usize) -> bool) {
        loop {
            if done(self.subscriber_count()) {
                return;
            }
            // Listen first, then re-check: a change between the check above and `listen` is
            // caught by the re-check, one after it by the listener (event-listener's contract).
            let listener = self.shared.membership.listen();
            if done(self.subscriber_count()) {
                return;
            }
            listener.await;
        }
    }

    /// A snapshot of every live subscriber's counters.
    pub fn subscriber_stats(&self) -> Vec<SubscriberStats> {
        let published = self.shared.published();
        self.shared
            .registry
            .load()
            .iter()
            .filter(|slot| slot.is_active())
            .map(|slot| slot.stats(published))
            .collect()
    }

    /// Items published so far.
    pub fn published(&self) -> u64 {
        self.shared.published()
    }
}

impl<T> fmt::Debug for Handle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("subscribers", &self.subscriber_count())
            .field("published", &self.published())
            .field("closed", &self.is_closed())
            .finish()
    }
}
