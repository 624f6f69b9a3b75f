//! The atomics of the wake-up handshake, switched to loom's model-checked versions under
//! `--cfg loom` (see `tests/loom.rs`). Only the handshake goes through this shim: the registry
//! (`arc-swap`), the item ring and the sequence queues are not loom-aware, so the loom tests drive
//! [`crate::handoff`] with a queue model of their own.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicBool};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{fence, AtomicBool};

pub(crate) use std::sync::atomic::Ordering;

use std::task::Waker;

/// One registered waker, the same interface over `atomic-waker` and loom's model of it.
#[derive(Default)]
pub(crate) struct WakerSlot {
    #[cfg(not(loom))]
    inner: atomic_waker::AtomicWaker,
    #[cfg(loom)]
    inner: loom::future::AtomicWaker,
}

impl WakerSlot {
    /// Stores `waker` to be woken by the next [`WakerSlot::wake`].
    pub(crate) fn register(&self, waker: &Waker) {
        #[cfg(not(loom))]
        self.inner.register(waker);
        #[cfg(loom)]
        self.inner.register_by_ref(waker);
    }

    /// Wakes (and removes) the registered waker, if any.
    pub(crate) fn wake(&self) {
        self.inner.wake();
    }
}
