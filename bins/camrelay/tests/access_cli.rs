//! Access tokens and TLS on the command line, in the environment and in the config file: the
//! binary's precedence rule (the command line wins; tokens add up), and no token in any output.
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
