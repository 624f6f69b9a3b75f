//! Access tokens and TLS on the command line, in the environment and in the config file: the
//! binary's precedence rule (the command line wins; tokens add up), no token in any output,
//! and the warning at start when the relay listens beyond loopback without a token.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;

use camrelay::config::RelayConfig;
use relay_auth::tls::TlsFiles;

fn config_of(args: &[&str]) -> RelayConfig {
    camrelay::cli::Args::try_from_iter(std::iter::once("camrelay").chain(args.iter().copied()))
        .unwrap()
        .into_config()
        .unwrap()
}

struct TempToml(PathBuf);

impl TempToml {
    fn new(tag: &str, text: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "camrelay-access-cli-{tag}-{}.toml",
            std::process::id()
        ));
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

const AUTH_FILE: &str = r#"
[auth]
metrics_token = "file-metrics-0123456789abcdef"

[[auth.token]]
name = "door viewer"
token = "file-viewer-0123456789abcdef"
role = "viewer"
cameras = ["door"]

[tls]
cert = "/file/cert.pem"
key = "/file/key.pem"
"#;

#[test]
fn without_tokens_the_relay_is_open_on_loopback() {
    let config = config_of(&[]);
    assert!(config.access.token_store().unwrap().is_open());
    assert!(config.access.tls.is_none());
    assert!(config.listen.ip().is_loopback());
}

#[test]
fn file_tokens_and_option_tokens_add_up() {
    let file = TempToml::new("add-up", AUTH_FILE);
    let config = config_of(&[
        "--config",
        file.path(),
        "--admin-token",
        "cli-admin-0123456789abcdef",
        "--viewer-token",
        "cli-viewer-0123456789abcdef",
        "--viewer-token",
        "cli-viewer2-0123456789abcdef",
    ]);
    let store = config.access.token_store().unwrap();
    // 1 file entry + file metrics token + 1 admin + 2 viewers.
    assert_eq!(store.len(), 5);
    assert!(store.lookup("file-viewer-0123456789abcdef").is_some());
    assert!(store.lookup("cli-viewer2-0123456789abcdef").is_some());
    assert!(store.lookup("file-metrics-0123456789abcdef").is_some());
    assert_eq!(
        config.access.tls,
        Some(TlsFiles::new("/file/cert.pem", "/file/key.pem"))
    );
}

#[test]
fn the_command_line_wins_for_the_metrics_token_and_tls() {
    let file = TempToml::new("wins", AUTH_FILE);
    let config = config_of(&[
        "--config",
        file.path(),
        "--metrics-token",
        "cli-metrics-0123456789abcdef",
        "--tls-cert",
        "/cli/cert.pem",
        "--tls-key",
        "/cli/key.pem",
    ]);
    let store = config.access.token_store().unwrap();
    assert!(store.lookup("cli-metrics-0123456789abcdef").is_some());
    assert!(store.lookup("file-metrics-0123456789abcdef").is_none());
    assert_eq!(
        config.access.tls,
        Some(TlsFiles::new("/cli/cert.pem", "/cli/key.pem"))
    );
}

#[test]
fn a_tls_cert_needs_a_key() {
    let args = ["camrelay", "--tls-cert", "/cli/cert.pem"];
    assert!(camrelay::cli::Args::try_from_iter(args).is_err());
}

#[test]
fn debug_output_never_shows_a_token() {
    let file = TempToml::new("debug", AUTH_FILE);
    let args = camrelay::cli::Args::try_from_iter([
        "camrelay",
        "--config",
        file.path(),
        "--admin-token",
        "cli-admin-0123456789abcdef",
        "--metrics-token",
        "cli-metrics-0123456789abcdef",
    ])
    .unwrap();
    let shown_args = format!("{args:?}");
    let config = args.into_config().unwrap();
    let shown_config = format!("{config:?}");
    for shown in [shown_args, shown_config] {
        assert!(!shown.contains("0123456789abcdef"), "{shown}");
    }
}

#[test]
fn tokens_come_from_the_environment_comma_separated() {
    // The same token twice through the environment: the error names both entries (so the value
    // was split on the comma), never the token, and exits 2 like any bad input.
    let out = Command::new(env!("CARGO_BIN_EXE_camrelay"))
        .args(["--listen", "127.0.0.1:0"])
        .env(
            "CAMRELAY_VIEWER_TOKEN",
            "env-viewer-0123456789abcdef,env-viewer-0123456789abcdef",
        )
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--viewer-token #1"), "{stderr}");
    assert!(stderr.contains("--viewer-token #2"), "{stderr}");
    assert!(!stderr.contains("0123456789abcdef"), "{stderr}");
}

/// Starts the binary with `args` and the environment `env`, reads its log until it says where
/// it listens, stops it and returns the log (stderr).
fn start_up_log(args: &[&str], env: &[(&str, &str)]) -> String {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    use std::time::Duration;

    let mut child = Command::new(env!("CARGO_BIN_EXE_camrelay"))
        .args(args)
        .args(["--no-detect", "--camera", "door=demo"])
        .env_remove("CAMRELAY_LISTEN")
        .env_remove("CAMRELAY_ADMIN_TOKEN")
        .env_remove("CAMRELAY_VIEWER_TOKEN")
        .env_remove("CAMRELAY_METRICS_TOKEN")
        .env("RUST_LOG", "info")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut log = String::new();
    let started = loop {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => {
                log.push_str(&line);
                log.push('\n');
                if line.contains("camrelay listening on") {
                    break true;
                }
            }
            Err(_) => break false,
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    drop(rx);
    let _ = reader.join();
    assert!(started, "the relay did not say where it listens: {log}");
    log
}

const EXPOSED: &str = "which other machines can reach";

#[test]
fn listening_on_every_interface_without_a_token_warns_at_start() {
    let log = start_up_log(&["--listen", "0.0.0.0:0"], &[]);
    let warning = log
        .lines()
        .find(|line| line.contains(EXPOSED))
        .unwrap_or_else(|| panic!("no exposure warning: {log}"));
    assert!(warning.contains("WARN"), "{warning}");
    assert!(warning.contains("listens on 0.0.0.0:"), "{warning}");
    assert!(warning.contains("--admin-token"), "{warning}");
    assert!(
        log.contains("camrelay listening on http://0.0.0.0:"),
        "{log}"
    );
    assert_eq!(log.matches(EXPOSED).count(), 1, "{log}");
}

#[test]
fn no_exposure_warning_with_a_token_or_on_loopback() {
    let token = "env-viewer-0123456789abcdef";
    let with_token = start_up_log(
        &["--listen", "0.0.0.0:0"],
        &[("CAMRELAY_VIEWER_TOKEN", token)],
    );
    assert!(!with_token.contains(EXPOSED), "{with_token}");
    assert!(
        !with_token.contains(token),
        "the token is logged: {with_token}"
    );
    let loopback = start_up_log(&["--listen", "127.0.0.1:0"], &[]);
    assert!(!loopback.contains(EXPOSED), "{loopback}");
}
