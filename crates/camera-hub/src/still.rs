//! One frame for a still picture (`/cams/NAME/snapshot.jpg`): the latest broadcast frame at
//! once, or the next live one, without an upstream request of its own.

use std::time::Duration;

use crate::frame::{FrameState, SharedFrame};
use crate::Camera;

impl Camera {
    /// The latest frame (`fresh`: the next live frame after it, waiting at most `wait`).
    /// Waiting subscribes briefly, so a camera whose upstream is closed is opened (and closed
    /// again after the idle timeout). `None`: no frame came in time.
    pub async fn still(&self, fresh: bool, wait: Duration) -> Option<SharedFrame> {
        let latest = self.latest.load_full();
        let after = match latest {
            Some(frame) if !fresh => return Some(frame),
            latest => latest.map(|f| f.id),
        };
        let mut subscriber = self.raw.subscribe();
        let next = async {
            while let Some(delivery) = subscriber.recv().await {
                let newer = after.is_none_or(|id| delivery.item.id > id);
                if delivery.item.state == FrameState::Live && newer {
                    return Some(delivery.item);
                }
            }
            None
        };
        tokio::time::timeout(wait, next).await.ok().flatten()
    }
}
