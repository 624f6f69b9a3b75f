//! A viewer with its pacer.

use std::task::{Context, Poll};

use super::Pacer;
use crate::frame::SharedFrame;
use crate::viewer::Viewer;

/// A viewer with its pacer: yields the frames to send, holding back a paced viewer's next
/// frame until its link has drained, and keeping only the newest frame while it waits.
pub struct PacedViewer<M = ()> {
    viewer: Viewer<M>,
    pacer: Option<Pacer>,
    /// The newest frame that arrived while the viewer was held back.
    held: Option<SharedFrame<M>>,
    ended: bool,
    /// The viewer's drop count when last looked at: when it grows, the viewer fell behind.
    seen_dropped: u64,
    /// Frames skipped while paced (replaced by a newer one before the link drained).
    paced_skips: u64,
}

impl<M> PacedViewer<M> {
    /// Wraps `viewer`; without a pacer frames pass straight through.
    pub fn new(viewer: Viewer<M>, pacer: Option<Pacer>) -> Self {
        let seen_dropped = viewer.dropped();
        PacedViewer {
            viewer,
            pacer,
            held: None,
            ended: false,
            seen_dropped,
            paced_skips: 0,
        }
    }

    /// Polls for the next frame to send (`None` once the broadcast ended).
    pub fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<SharedFrame<M>>> {
        let Some(pacer) = self.pacer.as_mut() else {
            return self.viewer.poll_frame(cx);
        };
        if !pacer.is_pacing() && self.held.is_none() {
            let polled = self.viewer.poll_frame(cx);
            self.note_drops();
            return polled;
        }
        // Paced: take in every frame that arrived, keeping the newest, so that the frame sent
        // once the link has drained is the camera's latest, not the oldest in the queue.
        let mut replaced = 0;
        while !self.ended {
            match self.viewer.poll_frame(cx) {
                Poll::Ready(Some(frame)) => {
                    if self.held.replace(frame).is_some() {
                        replaced += 1;
                    }
                }
                Poll::Ready(None) => self.ended = true,
                Poll::Pending => break,
            }
        }
        self.viewer.count_paced(replaced);
        self.paced_skips += replaced;
        self.note_drops();
        let Some(pacer) = self.pacer.as_mut() else {
            return Poll::Pending;
        };
        if replaced > 0 {
            // Still slower than the camera: stay paced while the link is the reason.
            pacer.fell_behind();
        }
        if self.held.is_none() {
            // Nothing to send: no look at the socket (each is a `getsockopt`) until a frame
            // comes, whose arrival wakes us.
            return if self.ended {
                Poll::Ready(None)
            } else {
                Poll::Pending
            };
        }
        if pacer.poll_ready(cx).is_pending() {
            return Poll::Pending;
        }
        match self.held.take() {
            Some(frame) if self.viewer.is_fresh(&frame) => Poll::Ready(Some(frame)),
            Some(_) => {
                self.viewer.count_stale(1);
                // Nothing fresh: wait for the next frame (its arrival wakes us).
                if self.ended {
                    Poll::Ready(None)
                } else {
                    self.poll_frame(cx)
                }
            }
            None if self.ended => Poll::Ready(None),
            None => Poll::Pending,
        }
    }

    /// Waits for the next frame to send (`None` once the broadcast ended).
    pub async fn next_frame(&mut self) -> Option<SharedFrame<M>> {
        std::future::poll_fn(|cx| self.poll_frame(cx)).await
    }

    /// The viewer paced.
    pub fn viewer(&self) -> &Viewer<M> {
        &self.viewer
    }

    /// Frames skipped so far because the viewer was paced.
    pub fn paced_skips(&self) -> u64 {
        self.paced_skips
    }

    /// Moves the viewer to another broadcast between two frames (see [`Viewer::switch_to`]);
    /// a frame held back for the link is let go.
    pub fn switch_to(&mut self, broadcast: &broadcast_core::Handle<SharedFrame<M>>) {
        self.held = None;
        self.viewer.switch_to(broadcast);
        self.seen_dropped = self.viewer.dropped();
    }

    fn note_drops(&mut self) {
        let dropped = self.viewer.dropped();
        if dropped != self.seen_dropped {
            self.seen_dropped = dropped;
            if let Some(pacer) = self.pacer.as_mut() {
                pacer.fell_behind();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pacing::tests::{open_socket, WINDOW};
    use crate::viewer::tests::{admit, frame, publisher, Tally};
    use std::sync::atomic::Ordering;
    use std::sync::Arc;
    use std::time::Duration;

    fn poll(viewer: &mut PacedViewer) -> Poll<Option<u64>> {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        viewer.poll_frame(&mut cx).map(|f| f.map(|f| f.id))
    }

    #[tokio::test(start_paused = true)]
    async fn frames_pass_straight_through_while_the_link_keeps_up() {
        let publisher = publisher(4);
        let tally = Arc::new(Tally::default());
        let socket = open_socket();
        let mut viewer = PacedViewer::new(admit(&publisher, &tally), Some(socket.pacer()));
        for id in 1..=3 {
            publisher.publish(frame(id, Duration::ZERO));
            assert_eq!(poll(&mut viewer), Poll::Ready(Some(id)));
        }
        assert_eq!(poll(&mut viewer), Poll::Pending);
        assert_eq!(
            socket.looks.load(Ordering::Relaxed),
            1,
            "no system call per frame"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_paced_viewer_holds_the_newest_frame_until_its_link_drains() {
        let publisher = publisher(2);
        let tally = Arc::new(Tally::default());
        let socket = open_socket();
        let mut viewer = PacedViewer::new(admit(&publisher, &tally), Some(socket.pacer()));
        publisher.publish(frame(1, Duration::ZERO));
        assert_eq!(poll(&mut viewer), Poll::Ready(Some(1)));
        // The link is narrow: bytes wait unread, and the queue overflows (2, 3 queued; 4 lost).
        socket.set(|q| q.peer_window = WINDOW / 4);
        for id in 2..=4 {
            publisher.publish(frame(id, Duration::ZERO));
        }
        assert_eq!(
            poll(&mut viewer),
            Poll::Ready(Some(3)),
            "skips to the newest queued"
        );
        assert!(viewer.pacer.as_ref().is_some_and(Pacer::is_pacing));
        // Paced: 5 and 6 arrive while the link has not drained; only 6 is kept.
        publisher.publish(frame(5, Duration::ZERO));
        assert_eq!(poll(&mut viewer), Poll::Pending);
        publisher.publish(frame(6, Duration::ZERO));
        assert_eq!(poll(&mut viewer), Poll::Pending);
        assert_eq!(tally.paced.load(Ordering::Relaxed), 1, "5 replaced by 6");
        socket.set(|q| q.peer_window = WINDOW);
        tokio::time::advance(Duration::from_millis(50)).await;
        assert_eq!(
            poll(&mut viewer),
            Poll::Ready(Some(6)),
            "sent once the link drained"
        );
        // Paced with nothing to send: polls look at no socket.
        let looks = socket.looks.load(Ordering::Relaxed);
        for _ in 0..10 {
            assert_eq!(poll(&mut viewer), Poll::Pending);
            tokio::time::advance(Duration::from_millis(50)).await;
        }
        assert_eq!(socket.looks.load(Ordering::Relaxed), looks);
        // Pacing ends a while after the viewer last fell behind; frames flow straight again.
        tokio::time::advance(crate::pacing::PACED_FOR).await;
        publisher.publish(frame(7, Duration::ZERO));
        assert_eq!(poll(&mut viewer), Poll::Ready(Some(7)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_held_frame_that_grew_too_old_is_dropped_not_sent() {
        let publisher = publisher(2);
        let tally = Arc::new(Tally::default());
        let socket = open_socket();
        let mut viewer = PacedViewer::new(admit(&publisher, &tally), Some(socket.pacer()));
        socket.set(|q| q.notsent = 1 << 20);
        publisher.publish(frame(1, Duration::ZERO));
        assert_eq!(poll(&mut viewer), Poll::Ready(Some(1)));
        for id in 2..=4 {
            publisher.publish(frame(id, Duration::ZERO));
        }
        assert_eq!(
            poll(&mut viewer),
            Poll::Ready(Some(3)),
            "fell behind: 4 lost"
        );
        // 0.9 s old on arrival: older than the 1 s bound by the time the link drains.
        let aged = frame(5, Duration::from_millis(900));
        publisher.publish(aged);
        assert_eq!(poll(&mut viewer), Poll::Pending);
        std::thread::sleep(Duration::from_millis(150)); // the frame age is wall-clock time
        socket.set(|q| q.notsent = 0);
        tokio::time::advance(Duration::from_millis(50)).await;
        assert_eq!(poll(&mut viewer), Poll::Pending, "nothing fresh to send");
        assert!(tally.age.load(Ordering::Relaxed) >= 1);
        drop(publisher);
        assert_eq!(poll(&mut viewer), Poll::Ready(None));
    }
}
