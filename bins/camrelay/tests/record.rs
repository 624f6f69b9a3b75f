//! Recording's command line and file settings, and what survives `kill -9` of the real binary.
#![allow(clippy::unwrap_used)]

use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mjpeg_record::{Archive, RecordConfig, RecordMode};

fn config_of(args: &[&str]) -> camrelay::config::RelayConfig {
    camrelay::cli::Args::try_from_iter(std::iter::once("camrelay").chain(args.iter().copied()))
        .unwrap()
        .into_config()
        .unwrap()
}

const FILE: &str = r#"
[record]
dir = "/file/rec"
keep = "7d"
segment = "30s"

[[camera]]
name = "door"
url = "demo"
record = { mode = "events", labels = ["person"], pre = "2s" }

[[camera]]
name = "yard"
url = "demo"
record = "off"

[[camera]]
name = "hall"
url = "demo"
"#;

#[test]
fn record_settings_follow_the_precedence_rule() {
    // Default: nothing recorded.
    assert!(config_of(&[]).record.is_none());
    // --record alone: defaults for everything but the directory.
    let config = config_of(&["--record", "/cli/rec"]);
    let record = config.record.unwrap();
    assert_eq!(record.dir, Path::new("/cli/rec"));
    assert_eq!(record.segment, Duration::from_secs(60));
    assert_eq!(record.keep, None);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cameras.toml");
    std::fs::write(&file, FILE).unwrap();
    let file = file.to_str().unwrap();
    // The file alone: its table and the cameras' modes.
    let config = config_of(&["--config", file]);
    let record = config.record.as_ref().unwrap();
    assert_eq!(record.dir, Path::new("/file/rec"));
    assert_eq!(record.keep, Some(Duration::from_secs(7 * 86400)));
    assert_eq!(record.segment, Duration::from_secs(30));
    assert_eq!(
        config.cameras[0].record,
        Some(RecordMode::events(
            &["person"],
            Duration::from_secs(2),
            Duration::from_secs(10)
        ))
    );
    assert_eq!(config.cameras[1].record, Some(RecordMode::OFF));
    // No key: continuous, the default.
    assert_eq!(config.cameras[2].record, None);
    // Both: the command line's directory wins, the file's other keys stay.
    let config = config_of(&["--config", file, "--record", "/cli/rec"]);
    let record = config.record.unwrap();
    assert_eq!(record.dir, Path::new("/cli/rec"));
    assert_eq!(record.keep, Some(Duration::from_secs(7 * 86400)));
}

fn spawn(dir: &Path) -> (std::process::Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let child = Command::new(env!("CARGO_BIN_EXE_camrelay"))
        .args(["--listen", &addr, "--no-detect", "--camera", "demo=demo"])
        .arg("--record")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(&addr).is_err() {
        assert!(Instant::now() < deadline, "relay did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    (child, addr)
}

fn ffprobe(path: &Path) {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-count_frames",
            "-show_entries",
            "stream=nb_read_frames",
        ])
        .arg(path)
        .output()
        .unwrap_or_else(|e| {
            panic!("ffprobe not runnable ({e}): install the Debian package `ffmpeg`")
        });
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "ffprobe {}: {stderr}",
        path.display()
    );
}

fn segments(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            segments(&path, out);
        } else if path.extension().is_some_and(|e| e == "mp4") {
            out.push(path);
        }
    }
}

#[test]
fn a_recording_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, _) = spawn(dir.path());
    std::thread::sleep(Duration::from_secs(3));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let killed_at = mjpeg_record::now_micros();

    // Restarting repairs the torn segment and records on.
    let (mut child, _) = spawn(dir.path());
    std::thread::sleep(Duration::from_millis(500));
    child.kill().unwrap();
    child.wait().unwrap();

    let archive = Archive::open(RecordConfig::new(dir.path())).unwrap();
    let frames: Vec<_> = archive
        .export_mjpeg("demo", killed_at - 60_000_000, killed_at)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        frames.len() >= 10,
        "only {} frames before the kill",
        frames.len()
    );
    let ids: Vec<u64> = frames.iter().map(|f| f.frame_id).collect();
    assert!(
        ids.windows(2).all(|w| w[1] == w[0] + 1),
        "the recording up to the kill has gaps: {ids:?}"
    );
    let mut files = Vec::new();
    segments(&dir.path().join("demo"), &mut files);
    assert!(!files.is_empty());
    for file in &files {
        ffprobe(file);
    }
}
