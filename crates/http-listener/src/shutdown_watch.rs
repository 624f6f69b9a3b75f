//! Watching the server's shutdown from every connection without a shared lock on each poll.
//!
//! Awaiting [`CancellationToken::cancelled`] beside a connection (`select!`) polls it every
//! time the connection's task wakes: a streaming viewer's task wakes for every frame, and
//! each of those polls locks the token's mutex and its `Notify`'s waiter list, which every
//! connection of the server shares (two global locks per viewer and frame, bounced between the
//! runtime's worker threads). [`ShutdownWatch`] polls the token only when the token itself woke
//! it; every other poll costs two uncontended atomic operations on the connection's own state.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use atomic_waker::AtomicWaker;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

/// One connection's view of the server's shutdown token.
pub(crate) struct ShutdownWatch {
    cancelled: Pin<Box<WaitForCancellationFutureOwned>>,
    relay: Arc<Relay>,
    /// The token was seen cancelled.
    done: bool,
}

/// The waker the token sees: it notes that the token woke and wakes the connection's task.
struct Relay {
    woken: AtomicBool,
    task: AtomicWaker,
}

impl Wake for Relay {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.task.wake();
    }
}

impl ShutdownWatch {
    /// Watches `token`.
    pub(crate) fn new(token: CancellationToken) -> ShutdownWatch {
        ShutdownWatch {
            cancelled: Box::pin(token.cancelled_owned()),
            // Woken at first: the first poll registers with the token.
            relay: Arc::new(Relay {
                woken: AtomicBool::new(true),
                task: AtomicWaker::new(),
            }),
            done: false,
        }
    }

    /// Ready once the token is cancelled; wakes `cx`'s task then.
    pub(crate) fn poll_cancelled(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.done {
            return Poll::Ready(());
        }
        // Registered before the flag is read, so a wake in between is not lost.
        self.relay.task.register(cx.waker());
        if !self.relay.woken.swap(false, Ordering::Acquire) {
            return Poll::Pending;
        }
        let waker = Waker::from(self.relay.clone());
        let polled = self
            .cancelled
            .as_mut()
            .poll(&mut Context::from_waker(&waker));
        self.done = polled.is_ready();
        polled
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// Counts wakes of the task.
    #[derive(Default)]
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn pending_until_cancelled_then_ready_and_the_task_is_woken() {
        let token = CancellationToken::new();
        let mut watch = ShutdownWatch::new(token.clone());
        let count = Arc::new(Count::default());
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        for _ in 0..3 {
            assert!(watch.poll_cancelled(&mut cx).is_pending());
        }
        assert_eq!(count.0.load(Ordering::Relaxed), 0);
        token.cancel();
        assert_eq!(
            count.0.load(Ordering::Relaxed),
            1,
            "cancelling wakes the task"
        );
        assert!(watch.poll_cancelled(&mut cx).is_ready());
        assert!(watch.poll_cancelled(&mut cx).is_ready(), "and stays ready");
    }

    #[test]
    fn a_token_cancelled_before_the_first_poll_is_seen_at_once() {
        let token = CancellationToken::new();
        let mut watch = ShutdownWatch::new(token.clone());
        token.cancel();
        let waker = Waker::noop();
        assert!(watch
            .poll_cancelled(&mut Context::from_waker(waker))
            .is_ready());
    }

    #[tokio::test]
    async fn a_waiting_task_ends_when_the_token_is_cancelled() {
        let token = CancellationToken::new();
        let mut watch = ShutdownWatch::new(token.clone());
        let waiting = tokio::spawn(async move {
            std::future::poll_fn(|cx| watch.poll_cancelled(cx)).await;
        });
        tokio::task::yield_now().await;
        token.cancel();
        waiting.await.expect("the task ends without panicking");
    }
}
