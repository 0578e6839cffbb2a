//! Starts the example app and serves until SIGTERM or Ctrl-C; SIGHUP re-reads
//! the password file and the ACL. See `--help`.

use std::process::ExitCode;

use clap::Parser;
use example_app::Settings;

#[actix_web::main]
async fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let settings = Settings::parse();
    raise_open_files_limit();
    let app = match example_app::run(settings, signal()).await {
        Ok(app) => app,
        Err(e) => return fail(e),
    };
    if let Some(port) = app.embedded_broker_port() {
        // Lines people (and the process tests) read on stdout: Rust's stdout
        // is line-buffered, so each reaches a pipe as it is printed.
        println!(
            "embedded MQTT broker on 127.0.0.1:{port} (feed it: mosquitto_pub -h 127.0.0.1 -p {port} -t demo/hello -m hi)"
        );
    }
    let scheme = if app.https() { "https" } else { "http" };
    for addr in app.http_addrs() {
        println!("listening on {scheme}://{addr}");
    }
    reload_on_sighup(app.reloader());
    match app.finished().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

/// Every WebSocket session and event stream holds a socket: a server at a
/// distribution's default soft limit of 1,024 open files would refuse
/// clients long before `WS_MAX_SESSIONS`. So the soft limit is raised to the
/// hard one, as Go's runtime and many servers do at start.
fn raise_open_files_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => log::debug!("open files limit: {limit}"),
        Err(e) => log::warn!("cannot raise the open files limit: {e}"),
    }
}

fn fail(e: example_app::StartError) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::FAILURE
}

/// Re-reads the access files on every SIGHUP, as Mosquitto does. The
/// reloader logs the outcome; a bad file leaves the old ones in force.
fn reload_on_sighup(reloader: example_app::Reloader) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hangup = match signal(SignalKind::hangup()) {
            Ok(hangup) => hangup,
            Err(e) => {
                log::warn!("no SIGHUP handler, the access files will not be re-read: {e}");
                return;
            }
        };
        actix_rt::spawn(async move {
            while hangup.recv().await.is_some() {
                let _ = reloader.reload();
            }
        });
    }
    #[cfg(not(unix))]
    let _ = reloader;
}

/// Resolves on SIGTERM or Ctrl-C (SIGINT).
async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
