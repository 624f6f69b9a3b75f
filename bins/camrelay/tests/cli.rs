//! The `camrelay` binary as a user runs it: `--help`, clear errors for bad options and camera
//! URLs, the demo camera by default, and a graceful exit on SIGTERM with a viewer connected.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn camrelay() -> Command {
    Command::new(env!("CARGO_BIN_EXE_camrelay"))
}

#[test]
fn help_documents_every_option() {
    let out = camrelay().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for option in [
        "--listen",
        "--camera",
        "--config",
        "--queue",
        "--policy",
        "--idle-timeout",
        "--always-on",
        "--max-frame-age",
        "--write-timeout",
        "--max-viewers",
        "--max-viewers-per-camera",
        "--header-read-timeout",
        "--model",
        "--no-detect",
        "--mqtt",
        "--mqtt-ca",
    ] {
        assert!(help.contains(option), "--help lacks {option}");
    }
}

#[test]
fn bad_options_and_urls_give_clear_messages() {
    // Bad input exits 2 (like clap's usage errors); a relay that cannot start with good input
    // (here: the model file is missing) exits 1.
    let cases: &[(&[&str], &str, i32)] = &[
        (&["--camera", "door"], "expected NAME=URL", 2),
        (
            &["--camera", "door=rtsp://10.0.0.5/stream"],
            "only http://",
            2,
        ),
        (&["--camera", "door=http//10.0.0.5"], "not usable", 2),
        (&["--camera", "a b=http://x/"], "camera name", 2),
        (
            &["--camera", "a=demo", "--camera", "a=demo"],
            "used twice",
            2,
        ),
        (&["--queue", "0"], "--queue", 2),
        (&["--policy", "drop-all"], "--policy", 2),
        (
            &["--config", "/nonexistent/cameras.toml"],
            "cannot read config file",
            2,
        ),
        (&["--model", "/nonexistent/model.onnx"], "no such file", 1),
    ];
    for (args, expected, code) in cases {
        let out = camrelay()
            .args(*args)
            .args(["--listen", "127.0.0.1:0"])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert_eq!(out.status.code(), Some(*code), "{args:?}: {stderr}");
    }
}

#[test]
fn a_taken_address_is_a_start_error_with_a_hint() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = camrelay()
        .args(["--listen", &addr, "--no-detect"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot start: cannot listen on"),
        "{stderr}"
    );
    assert!(stderr.contains("--listen"), "{stderr}");
}

/// Starts the binary on a free port and returns it with its address.
fn spawn_relay(extra: &[&str]) -> (std::process::Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let child = camrelay()
        .args(["--listen", &addr])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(&addr).is_err() {
        assert!(Instant::now() < deadline, "relay did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    (child, addr)
}

#[test]
fn serves_the_demo_camera_and_exits_cleanly_on_sigterm() {
    let (mut child, addr) = spawn_relay(&["--no-detect"]);
    let mut viewer = TcpStream::connect(&addr).unwrap();
    viewer
        .write_all(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    viewer
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut head = [0u8; 256];
    let n = viewer.read(&mut head).unwrap();
    assert!(head[..n].starts_with(b"HTTP/1.1 200"));
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "relay did not exit on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "exit status {exit}");
    // The viewer's stream ended instead of hanging.
    let mut rest = Vec::new();
    let _ = viewer.read_to_end(&mut rest);
    let mut log = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .for_each(|l| log.push_str(&l));
    assert!(log.contains("broadcaster created"), "{log}");
}

/// A config file for one test, removed when dropped.
struct TempToml(std::path::PathBuf);

impl TempToml {
    fn new(name: &str, text: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("camrelay-cli-{}-{name}.toml", std::process::id()));
        std::fs::write(&path, text).unwrap();
        TempToml(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempToml {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn config_of(args: &[&str]) -> camrelay::config::RelayConfig {
    camrelay::cli::Args::try_from_iter(std::iter::once("camrelay").chain(args.iter().copied()))
        .unwrap()
        .into_config()
        .unwrap()
}

const EVERY_KEY: &str = r#"
listen = "127.0.0.1:9001"
queue = 7
policy = "drop-oldest"
idle_timeout = 3.0
always_on = true
max_frame_age = 0.25
write_timeout = 4.0
no_pacing = true
max_viewers = 11
max_viewers_per_camera = 6
header_read_timeout = 2.0
model = "/file/model.onnx"
no_detect = true
"#;

#[test]
fn without_options_or_file_every_setting_is_the_config_default() {
    let config = config_of(&[]);
    let defaults = camrelay::config::RelayConfig::default();
    assert_eq!(format!("{config:?}"), format!("{defaults:?}"));
}

#[test]
fn a_key_set_only_in_the_file_takes_the_file_value() {
    let file = TempToml::new("file-only", EVERY_KEY);
    let config = config_of(&["--config", file.path()]);
    assert_eq!(config.listen, "127.0.0.1:9001".parse().unwrap());
    assert_eq!(config.queue, 7);
    assert_eq!(config.policy, broadcast_core::Policy::DropOldest);
    assert_eq!(config.idle_timeout, Duration::from_secs(3));
    assert!(config.always_on);
    assert_eq!(config.max_frame_age, Duration::from_millis(250));
    assert_eq!(config.write_timeout, Duration::from_secs(4));
    assert!(!config.pace_slow_viewers);
    assert_eq!(config.max_viewers, 11);
    assert_eq!(config.max_viewers_per_camera, 6);
    assert_eq!(config.header_read_timeout, Duration::from_secs(2));
    assert_eq!(
        config.model.as_deref(),
        Some(std::path::Path::new("/file/model.onnx"))
    );
    assert!(!config.detect);
}

#[test]
fn a_key_set_in_both_takes_the_command_line_value() {
    let file = TempToml::new(
        "both",
        "listen = \"127.0.0.1:9001\"\nqueue = 7\npolicy = \"drop-oldest\"\nidle_timeout = 3.0\n\
         max_frame_age = 0.25\nwrite_timeout = 4.0\nno_pacing = false\nmax_viewers = 11\n\
         max_viewers_per_camera = 6\nheader_read_timeout = 2.0\nmodel = \"/file/model.onnx\"\n",
    );
    let config = config_of(&[
        "--config",
        file.path(),
        "--listen",
        "127.0.0.1:9002",
        "--queue",
        "9",
        "--policy",
        "drop-newest",
        "--idle-timeout",
        "8",
        "--max-frame-age",
        "0.5",
        "--write-timeout",
        "6",
        "--no-pacing",
        "--max-viewers",
        "22",
        "--max-viewers-per-camera",
        "12",
        "--header-read-timeout",
        "1",
        "--model",
        "/cli/model.onnx",
    ]);
    assert_eq!(config.listen, "127.0.0.1:9002".parse().unwrap());
    assert_eq!(config.queue, 9);
    assert_eq!(config.policy, broadcast_core::Policy::DropNewest);
    assert_eq!(config.idle_timeout, Duration::from_secs(8));
    assert_eq!(config.max_frame_age, Duration::from_millis(500));
    assert_eq!(config.write_timeout, Duration::from_secs(6));
    assert!(!config.pace_slow_viewers);
    assert_eq!(config.max_viewers, 22);
    assert_eq!(config.max_viewers_per_camera, 12);
    assert_eq!(config.header_read_timeout, Duration::from_secs(1));
    assert_eq!(
        config.model.as_deref(),
        Some(std::path::Path::new("/cli/model.onnx"))
    );
}

#[test]
fn an_option_given_with_its_default_value_still_wins_over_the_file() {
    let file = TempToml::new("default-value", "queue = 7\nidle_timeout = 3.0\n");
    let config = config_of(&[
        "--config",
        file.path(),
        "--queue",
        "5",
        "--idle-timeout",
        "10",
    ]);
    assert_eq!(config.queue, 5);
    assert_eq!(config.idle_timeout, Duration::from_secs(10));
}

#[test]
fn cameras_from_the_file_and_the_command_line_add_up() {
    let file = TempToml::new(
        "cameras",
        "[[camera]]\nname = \"door\"\nurl = \"http://10.0.0.5:81/stream\"\n",
    );
    let config = config_of(&["--config", file.path(), "--camera", "yard=demo"]);
    let names: Vec<_> = config.cameras.iter().map(|c| c.name()).collect();
    assert_eq!(names, ["door", "yard"]);
}

#[test]
fn bad_values_in_the_file_name_the_key() {
    let file = TempToml::new("bad", "queue = 0\n");
    let error = camrelay::cli::Args::try_from_iter(["camrelay", "--config", file.path()])
        .unwrap()
        .into_config()
        .unwrap_err();
    assert_eq!(error.kind(), camrelay::error::ConfigErrorKind::Value);
    assert!(error.to_string().contains("queue (config file)"), "{error}");
}

#[test]
fn mqtt_from_the_flag_the_file_or_both() {
    assert!(config_of(&[]).mqtt.is_none());
    let flag = config_of(&["--mqtt", "mqtt://cli:1883"]).mqtt.unwrap();
    assert_eq!(flag.url, "mqtt://cli:1883");
    assert_eq!(flag.topic_prefix, "camrelay");

    let file = TempToml::new(
        "mqtt",
        "[mqtt]\nurl = \"mqtt://file:1883\"\nrelay_id = \"garage\"\nlabels = [\"cat\"]\n",
    );
    let from_file = config_of(&["--config", file.path()]).mqtt.unwrap();
    assert_eq!(from_file.url, "mqtt://file:1883");
    assert_eq!(from_file.relay_id, "garage");
    // The flag's URL wins; the table's other keys stay.
    let both = config_of(&["--config", file.path(), "--mqtt", "mqtt://cli:1883"])
        .mqtt
        .unwrap();
    assert_eq!(both.url, "mqtt://cli:1883");
    assert_eq!(both.relay_id, "garage");
    assert_eq!(both.labels, vec!["cat".to_string()]);
}

#[test]
fn mqtt_ca_from_the_flag_or_the_file() {
    let file = TempToml::new(
        "mqtt-ca",
        "[mqtt]\nurl = \"mqtts://file:8883\"\nca = \"/file/ca.pem\"\n",
    );
    let from_file = config_of(&["--config", file.path()]).mqtt.unwrap();
    assert_eq!(from_file.ca, Some(std::path::PathBuf::from("/file/ca.pem")));
    let flag = config_of(&["--config", file.path(), "--mqtt-ca", "/cli/ca.pem"])
        .mqtt
        .unwrap();
    assert_eq!(flag.ca, Some(std::path::PathBuf::from("/cli/ca.pem")));
    let flag_only = config_of(&["--mqtt", "mqtts://cli", "--mqtt-ca", "/cli/ca.pem"])
        .mqtt
        .unwrap();
    assert_eq!(flag_only.ca, Some(std::path::PathBuf::from("/cli/ca.pem")));
    let error = camrelay::cli::Args::try_from_iter(["camrelay", "--mqtt-ca", "/cli/ca.pem"])
        .unwrap()
        .into_config()
        .unwrap_err();
    assert!(error.to_string().contains("--mqtt-ca"), "{error}");
}

#[test]
fn a_missing_mqtt_ca_file_is_a_start_error() {
    let out = camrelay()
        .args(["--listen", "127.0.0.1:0", "--no-detect"])
        .args(["--mqtt", "mqtts://127.0.0.1:8883"])
        .args(["--mqtt-ca", "/nonexistent/camrelay-mqtt-ca.pem"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("/nonexistent/camrelay-mqtt-ca.pem"),
        "{stderr}"
    );
}

#[test]
fn a_bad_mqtt_url_is_a_start_error() {
    let out = camrelay()
        .args(["--listen", "127.0.0.1:0", "--mqtt", "http://not-mqtt/"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("mqtt"), "{stderr}");
}
