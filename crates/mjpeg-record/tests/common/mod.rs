//! Helpers shared by the integration tests: real JPEG frames and the ffprobe/ffmpeg checks.
#![allow(dead_code)]

use bytes::Bytes;
use mjpeg_record::RecordFrame;
use std::path::Path;
use std::process::Command;

/// A real 640x480 JPEG (a VLC frame).
pub const VGA: &[u8] = include_bytes!("../../../yolo-detect/testdata/vlc-frame-640x480.jpg");

/// 2025-11-29T20:30:00Z in Unix µs: a segment boundary.
pub const T0: i64 = 1_764_448_200_000_000;
/// 1/30 s.
pub const PERIOD: i64 = 33_333;

/// The VGA JPEG with a COM segment carrying `id` after SOI: a distinct, valid JPEG per frame.
pub fn jpeg(id: u64) -> Bytes {
    let text = format!("frame {id}");
    let mut v = Vec::with_capacity(VGA.len() + 4 + text.len());
    v.extend_from_slice(&VGA[..2]);
    v.extend_from_slice(&[0xFF, 0xFE]);
    v.extend_from_slice(&((text.len() + 2) as u16).to_be_bytes());
    v.extend_from_slice(text.as_bytes());
    v.extend_from_slice(&VGA[2..]);
    Bytes::from(v)
}

/// Frame `i` of a 30 fps camera starting at `t0`.
pub fn frame(i: u64, t0: i64) -> RecordFrame {
    let t = t0 + i as i64 * PERIOD;
    RecordFrame::new(jpeg(i), 1000 + i, t, t + 1_500)
}

fn tool(name: &str) -> Command {
    if Command::new(name).arg("-version").output().is_err() {
        panic!("{name} not found: install the Debian package `ffmpeg` (apt-get install -y ffmpeg)");
    }
    Command::new(name)
}

/// Frames ffprobe reads from `path`, failing on any error ffprobe prints.
pub fn ffprobe_frames(path: &Path) -> u64 {
    let out = tool("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args([
            "-show_entries",
            "stream=nb_read_frames,codec_name",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .expect("run ffprobe");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "ffprobe {}: {stderr}",
        path.display()
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.trim();
    let (codec, n) = line
        .split_once(',')
        .unwrap_or_else(|| panic!("ffprobe said {line:?}"));
    assert_eq!(codec, "mjpeg", "{}", path.display());
    n.parse().expect("frame count")
}

/// What `ffmpeg -i path -c copy -f mjpeg -` writes: the JPEGs concatenated.
pub fn ffmpeg_copy_mjpeg(path: &Path) -> Vec<u8> {
    let out = tool("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-c", "copy", "-f", "mjpeg", "-"])
        .output()
        .expect("run ffmpeg");
    assert!(
        out.status.success(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Every `.mp4` under `dir`, sorted.
pub fn mp4s(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "mp4") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

pub mod small_fs;
