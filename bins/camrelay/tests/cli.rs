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
    ] {
        assert!(help.contains(option), "--help lacks {option}");
    }
}

#[test]
fn bad_options_and_urls_give_clear_messages() {
    let cases: &[(&[&str], &str)] = &[
        (&["--camera", "door"], "expected NAME=URL"),
        (&["--camera", "door=rtsp://10.0.0.5/stream"], "only http://"),
        (&["--camera", "door=http//10.0.0.5"], "not usable"),
        (&["--camera", "a b=http://x/"], "camera name"),
        (&["--camera", "a=demo", "--camera", "a=demo"], "used twice"),
        (&["--queue", "0"], "--queue"),
        (&["--policy", "drop-all"], "--policy"),
        (
            &["--config", "/nonexistent/cameras.toml"],
            "cannot read config file",
        ),
        (&["--model", "/nonexistent/model.onnx"], "no such file"),
    ];
    for (args, expected) in cases {
        let out = camrelay()
            .args(*args)
            .args(["--listen", "127.0.0.1:0"])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
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
