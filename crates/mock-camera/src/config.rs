//! How a [`MockCamera`](crate::MockCamera) behaves.

use std::time::Duration;

/// Settings of a [`MockCamera`](crate::MockCamera). `Default` is a healthy VGA camera at
/// 30 fps that, like the real board, serves one `/stream` client at a time.
///
/// The fault options (`close_after`, `truncate_every`, `garbage_every`, `stall_after`) count
/// the parts sent on each `/stream` response, starting at 1.
#[derive(Debug, Clone, PartialEq)]
pub struct MockConfig {
    /// Frames per second the "sensor" captures (and `/stream` sends). Default 30.
    pub fps: f64,
    /// Frame width in pixels. Default 640. `/control?var=framesize` changes it at run time.
    /// A size that is not one of [`FRAME_SIZES`](crate::FRAME_SIZES) works too; `/status`
    /// then reports `"framesize": -1`.
    pub width: u32,
    /// Frame height in pixels. Default 480.
    pub height: u32,
    /// JPEG quality 1..=100 (not the ESP32's 0..=63 scale; `/status` reports that one).
    /// Default 80, which `/status` shows as the firmware's default 12.
    pub quality: u8,
    /// Most `/stream` clients served at once. Default 1 (the firmware's stream handler loops
    /// inside the server task). 0 = unlimited. What a further client gets: [`Self::when_busy`].
    pub max_clients: usize,
    /// How a `/stream` request is answered while `max_clients` streams are open. Default
    /// [`WhenBusy::Silent`], like the board.
    pub when_busy: WhenBusy,
    /// Draw `Frame: N` (the camera's frame id) into every image. Costs one JPEG encode per
    /// frame while someone streams.
    pub show_frame_id: bool,
    /// End each `/stream` response after this many parts (a clean chunked end).
    pub close_after: Option<u64>,
    /// Every Nth part carries a JPEG cut to half its length (no EOI). Its `Content-Length`
    /// is the truncated length, as the firmware reports whatever buffer it got.
    pub truncate_every: Option<u64>,
    /// Every Nth part carries random bytes instead of a JPEG (honest `Content-Length`).
    pub garbage_every: Option<u64>,
    /// After this many parts, send nothing for `stall_for` (connection left open), then go on
    /// with the current frame. Once per response.
    pub stall_after: Option<u64>,
    /// How long a stall lasts. Default 5 s.
    pub stall_for: Duration,
    /// Frames in the pre-encoded loop. Default 90 (3 s at 30 fps); tests use a few so a
    /// debug build starts fast.
    pub loop_frames: usize,
}

impl Default for MockConfig {
    fn default() -> Self {
        MockConfig {
            fps: 30.0,
            width: 640,
            height: 480,
            quality: 80,
            max_clients: 1,
            when_busy: WhenBusy::Silent,
            show_frame_id: false,
            close_after: None,
            truncate_every: None,
            garbage_every: None,
            stall_after: None,
            stall_for: Duration::from_secs(5),
            loop_frames: crate::DEFAULT_LOOP_FRAMES,
        }
    }
}

/// How a busy camera (all `max_clients` stream slots taken) answers another `/stream` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WhenBusy {
    /// Like the board: the connection is accepted and the request is read, but no answer comes
    /// while the slots are taken (the firmware's single HTTP task is inside the first client's
    /// stream loop). Once a slot frees, the waiting request is served, if its client is still
    /// there. A client needs a response-head timeout to notice.
    #[default]
    Silent,
    /// A prompt `HTTP 503` with a plain-text "camera busy" body: fast, and says plainly what
    /// happened (the board never does this).
    Refuse503,
}

impl MockConfig {
    /// Time between frames; `fps` is clamped to 0.1..=1000 (NaN counts as 30).
    pub fn frame_interval(&self) -> Duration {
        let fps = if self.fps.is_nan() {
            30.0
        } else {
            self.fps.clamp(0.1, 1000.0)
        };
        Duration::from_secs_f64(1.0 / fps)
    }
}

/// Converts a JPEG quality (1..=100) to the firmware's scale (0..=63, lower is better).
/// 80 maps to the firmware default 12.
pub fn esp_quality_of(jpeg_quality: u8) -> i32 {
    ((100 - i32::from(jpeg_quality.clamp(1, 100))) * 3 / 5).clamp(0, 63)
}

/// Converts the firmware's quality (0..=63, lower is better) to a JPEG quality (5..=100).
pub fn jpeg_quality_of(esp_quality: i32) -> u8 {
    let q = 100 - esp_quality.clamp(0, 63) * 5 / 3;
    // In 5..=100 by the clamp above.
    q.clamp(5, 100) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quality_scales_map_the_defaults() {
        assert_eq!(esp_quality_of(80), 12);
        assert_eq!(jpeg_quality_of(12), 80);
        assert_eq!(jpeg_quality_of(63), 5);
        assert_eq!(jpeg_quality_of(-4), 100);
        assert_eq!(esp_quality_of(0), 59);
    }

    #[test]
    fn frame_interval_is_clamped() {
        let cfg = MockConfig {
            fps: 0.0,
            ..MockConfig::default()
        };
        assert_eq!(cfg.frame_interval(), Duration::from_secs(10));
        let cfg = MockConfig {
            fps: f64::NAN,
            ..MockConfig::default()
        };
        assert!(cfg.frame_interval() < Duration::from_millis(34));
        assert!(MockConfig::default().frame_interval() > Duration::from_millis(33));
    }
}
