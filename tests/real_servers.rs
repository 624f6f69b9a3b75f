//! The relay against real servers that feed cameras in the wild (issue #15, section 6).
//!
//! `ffmpeg -f mpjpeg -listen 1` serves exactly one client and then exits: the relay must
//! spend that one connection on the viewers, not on a start-up probe.
#![allow(clippy::unwrap_used)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use camrelay::config::{CameraConfig, SourceSpec};
use camrelay_suite::*;

/// An `ffmpeg` child process, killed when dropped.
struct FfmpegServer {
    child: Child,
    port: u16,
}

impl FfmpegServer {
    /// `ffmpeg` serving a 10 fps test pattern as MJPEG (`-f mpjpeg`) to ONE client on
    /// `http://127.0.0.1:PORT/`, for 30 s.
    fn one_shot() -> FfmpegServer {
        // A free port: bind port 0, read it back, close it again.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-re"])
            .args([
                "-f",
                "lavfi",
                "-i",
                "testsrc=size=320x240:rate=10",
                "-t",
                "30",
            ])
            .args(["-f", "mpjpeg", "-listen", "1"])
            .arg(format!("http://127.0.0.1:{port}/"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "cannot run `ffmpeg` ({error}): install the Debian package `ffmpeg` \
                     (apt-get install -y ffmpeg)"
                )
            });
        FfmpegServer { child, port }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// Waits until ffmpeg listens, WITHOUT connecting (a connection would be its only one):
    /// looks for the listening socket in `/proc/net/tcp`.
    async fn wait_listening(&mut self, within: Duration) {
        let local = format!("0100007F:{:04X}", self.port);
        let deadline = Instant::now() + within;
        loop {
            let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
            let listening = table.lines().skip(1).any(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                fields.get(1) == Some(&local.as_str()) && fields.get(3) == Some(&"0A")
            });
            if listening {
                return;
            }
            if let Ok(Some(exit)) = self.child.try_wait() {
                panic!("ffmpeg exited before listening: {exit}");
            }
            assert!(
                Instant::now() < deadline,
                "ffmpeg did not listen within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for FfmpegServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ffmpeg_one_shot_server_feeds_every_viewer() {
    let mut ffmpeg = FfmpegServer::one_shot();
    // Listening before the relay starts: a start-up probe would take the one connection.
    ffmpeg.wait_listening(Duration::from_secs(20)).await;
    let camera = CameraConfig::new("ffmpeg", SourceSpec::Stream { url: ffmpeg.url() });
    let relay = start_relay(vec![camera], |config| {
        config.detect = false;
    })
    .await;
    let addr = relay.local_addr();
    // Let a probe, if there were one, happen before anybody watches.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut first = MjpegViewer::connect(addr, "/cams/ffmpeg/stream")
        .await
        .unwrap();
    let mut second = MjpegViewer::connect(addr, "/cams/ffmpeg/stream")
        .await
        .unwrap();
    assert_eq!((first.status.as_u16(), second.status.as_u16()), (200, 200));
    let (a, b) = tokio::join!(live_frames(&mut first, 15), live_frames(&mut second, 15));
    for frames in [&a, &b] {
        assert_eq!(frames.len(), 15, "live frames from ffmpeg");
        for frame in frames {
            assert_eq!(&frame.jpeg[..2], &[0xFF, 0xD8], "a JPEG (SOI)");
            assert_eq!(
                &frame.jpeg[frame.jpeg.len() - 2..],
                &[0xFF, 0xD9],
                "a JPEG (EOI)"
            );
        }
        let ids: Vec<u64> = frames.iter().map(|f| f.frame_id).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    }
    // Both viewers share the one upstream: the same frames, under the same ids.
    let ids_a: Vec<u64> = a.iter().map(|f| f.frame_id).collect();
    let common: Vec<&Received> = b.iter().filter(|f| ids_a.contains(&f.frame_id)).collect();
    assert!(
        common.len() >= 10,
        "{ids_a:?} vs {:?}",
        b.iter().map(|f| f.frame_id).collect::<Vec<_>>()
    );
    for frame in common {
        let same = a.iter().find(|f| f.frame_id == frame.frame_id).unwrap();
        assert_eq!(same.jpeg, frame.jpeg, "frame {}", frame.frame_id);
    }
    // ffmpeg served its one client (the relay) and is still serving it.
    assert!(ffmpeg.child.try_wait().unwrap().is_none(), "ffmpeg exited");
    let stats = stats(addr).await;
    assert_eq!(stats["cameras"][0]["upstream"]["connects"], 1, "{stats}");
    relay.shutdown().await;
}

/// The next `n` live frames (offline cards and keepalive re-sends skipped), within 20 s.
async fn live_frames(viewer: &mut MjpegViewer, n: usize) -> Vec<Received> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut frames: Vec<Received> = Vec::new();
    while frames.len() < n && Instant::now() < deadline {
        let Some(frame) = viewer.next_within(Duration::from_secs(5)).await else {
            break;
        };
        let live = frame.camera_state.is_none();
        let new = frames
            .last()
            .is_none_or(|last| last.frame_id < frame.frame_id);
        if live && new {
            frames.push(frame);
        }
    }
    frames
}
