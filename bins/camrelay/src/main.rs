//! The `camrelay` binary: parse the command line, start the relay, stop on SIGINT/SIGTERM.

use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args = camrelay::cli::Args::from_command_line();
    let config = match args.into_config() {
        Ok(config) => config,
        Err(error) => return report(&error.into()),
    };
    let relay = match camrelay::server::start(config).await {
        Ok(relay) => relay,
        Err(error) => return report(&error),
    };
    tracing::info!("camrelay listening on http://{}/", relay.local_addr());
    let token = relay.shutdown_token();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("signal received, shutting down");
        token.cancel();
    });
    relay.wait().await;
    std::process::ExitCode::SUCCESS
}

/// Tells the user why the relay did not start, and exits 2 for bad input, 1 otherwise.
fn report(error: &camrelay::error::StartError) -> std::process::ExitCode {
    use camrelay::error::StartErrorKind;
    match error.kind() {
        StartErrorKind::Config(_) => eprintln!("camrelay: {error}"),
        _ => eprintln!("camrelay: cannot start: {error}"),
    }
    if let Some(hint) = error.hint() {
        eprintln!("camrelay: {hint}");
    }
    std::process::ExitCode::from(error.exit_code())
}

/// SIGINT (Ctrl-C) or SIGTERM; Ctrl-C alone where SIGTERM cannot be watched.
async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        },
        Err(_) => drop(tokio::signal::ctrl_c().await),
    }
}
