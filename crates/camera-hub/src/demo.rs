//! The built-in demo camera: the mock camera's moving scene, rendered in-process at 30 fps
//! with the broadcast frame id drawn into every picture, so a newcomer sees camrelay work
//! without any hardware.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use esp32_source::CameraFrame;
use futures_util::stream::{self, BoxStream, StreamExt};
use mjpeg_codec::Timestamp;
use mock_camera::Scene;
use tokio::sync::OnceCell;
use tokio::time::{Instant, MissedTickBehavior};

use super::Camera;

/// Frame rate of the demo camera.
pub const DEMO_FPS: u32 = 30;
const WIDTH: u32 = 640;
const HEIGHT: u32 = 480;
const QUALITY: u8 = 80;

/// The synthetic camera; its scene is rendered once, on first use.
#[derive(Default)]
pub struct DemoCamera {
    scene: OnceCell<Arc<Scene>>,
}

impl DemoCamera {
    /// A demo camera that has not rendered anything yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Opens the "upstream": frames at 30 fps, each labelled with the id it will be broadcast with.
    pub async fn frames(&self, camera: Arc<Camera>) -> BoxStream<'static, CameraFrame> {
        let scene = self
            .scene
            .get_or_try_init(|| async {
                tokio::task::spawn_blocking(|| Scene::new(WIDTH, HEIGHT, QUALITY).map(Arc::new))
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| e.to_string())
            })
            .await;
        let scene = match scene {
            Ok(scene) => scene.clone(),
            Err(error) => {
                tracing::error!(camera = %camera.name(), %error, "demo scene could not be rendered");
                return stream::pending().boxed();
            }
        };
        let mut ticker = tokio::time::interval(Duration::from_secs(1) / DEMO_FPS);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
        stream::unfold(
            (ticker, scene, camera, 0u64),
            |(mut ticker, scene, camera, n)| async move {
                ticker.tick().await;
                // The supervisor gives the next published frame this id.
                let id = camera.next_frame_id.load(Ordering::Relaxed);
                let render = scene.clone();
                let jpeg = tokio::task::spawn_blocking(move || {
                    render.frame_with_label(n, &format!("Frame: {id}"))
                })
                .await
                .unwrap_or_else(|_| scene.frame(n));
                let now = Timestamp::now();
                let frame = CameraFrame {
                    jpeg,
                    camera_time: Some(now),
                    upstream_id: None,
                    upstream_offline: false,
                    received_at: Instant::now().into_std(),
                    received_wall: now,
                };
                Some((frame, (ticker, scene, camera, n + 1)))
            },
        )
        .boxed()
    }
}
