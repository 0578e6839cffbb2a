//! The example app: an actix-web server that puts the `MqttActor` behind a
//! WebSocket protocol, an HTTP API and a live dashboard, as the web API
//! contract `docs/protocol.md` describes.
//!
//! [`run`] starts it from [`Settings`] and serves until the shutdown future
//! it is given resolves; `main.rs` passes SIGTERM / Ctrl-C, tests pass a
//! channel:
//!
//! ```no_run
//! # async fn demo() -> Result<(), example_app::StartError> {
//! let settings = example_app::Settings {
//!     bind: "127.0.0.1:0".into(),
//!     ..Default::default()
//! };
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let app = example_app::run(settings, stopped).await?;
//! println!("serving on http://{}", app.http_addr());
//! let _ = stop.send(());
//! app.finished().await
//! # }
//! ```
//!
//! # Layout
//!
//! Files form floors; a file imports only from its own floor or below
//! (a test in this file checks it):
//!
//! * bottom: `error` (the error codes and their HTTP form), `protocol` (the
//!   contract's serde types), `settings` (flags and environment), `metrics`
//!   (Prometheus), `cache` (last value per topic), `broker` (the embedded
//!   broker), `access/` (password file, ACL, same-origin rules, login rate
//!   limit: pure, wired in by the floors above), `limits` (filter shape,
//!   session slots), `filters` (a session's held and pending filters),
//!   `inflight` (a session's requests in flight and the gate on its socket);
//! * `state`: what handlers and sessions share (it holds sessions only as
//!   recipients of `GoingAway`);
//! * `session` (one WebSocket client), `outbox` (its bounded outbound queue
//!   and the listener that fills it), `api` (HTTP handlers), `pages` (the
//!   dashboard);
//! * this file: start-up and shutdown.
#![warn(missing_docs)]

pub mod access;
mod api;
mod broker;
mod cache;
mod error;
mod filters;
mod inflight;
mod limits;
mod metrics;
mod outbox;
mod pages;
mod protocol;
mod session;
mod settings;
mod state;

pub use settings::{MqttArgs, Settings};

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_web::{dev::ServerHandle, web, App, HttpServer};
use mqtt_actor::{Disconnect, MqttActor, WatchConnection};

use crate::cache::TopicCache;
use crate::error::{ApiError, Code};
use crate::limits::SessionSlots;
use crate::outbox::ConnSocket;
use crate::state::{AppState, ReadinessFlag, Sessions};

/// Why the app could not start, or why its server failed.
pub type StartError = Box<dyn std::error::Error>;

/// The app, serving: where it listens, and a way to wait for its end.
#[derive(Debug)]
pub struct RunningApp {
    http_addrs: Vec<SocketAddr>,
    embedded_broker_port: Option<u16>,
    /// The HTTP server's task: it ends once shutdown has closed the sessions,
    /// disconnected from the broker and stopped the server.
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningApp {
    /// The address HTTP is served on (the first, when the bind address named
    /// several; there is always one).
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addrs[0]
    }

    /// Every address HTTP is served on.
    pub fn http_addrs(&self) -> &[SocketAddr] {
        &self.http_addrs
    }

    /// The embedded broker's port on 127.0.0.1, when the app started one
    /// (no broker URL configured).
    pub fn embedded_broker_port(&self) -> Option<u16> {
        self.embedded_broker_port
    }

    /// Resolves when the app has shut down (after the shutdown future given
    /// to [`run`] resolved), with the HTTP server's error if it failed.
    pub async fn finished(self) -> Result<(), StartError> {
        Ok(self.server.await??)
    }
}

/// Starts everything: the embedded broker (when no broker URL is set), the
/// `MqttActor`, and the HTTP server. Returns once the server listens; it serves
/// until `shutdown` resolves, then closes every WebSocket with 1001,
/// disconnects from the broker cleanly (so no last will is published) and
/// stops. Call it inside an actix system.
pub async fn run(
    settings: Settings,
    shutdown: impl Future + 'static,
) -> Result<RunningApp, StartError> {
    // The embedded broker, if any, lives until the process exits.
    let embedded = start_embedded_broker(&settings)?;
    let embedded_broker_port = embedded.as_ref().map(|b| b.port());
    let state = start_mqtt(&settings, embedded_broker_port).await?;

    let payload_cap = settings.max_frame_bytes * 8 + (1 << 20);
    let app_state = state.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(app_state.clone())
            .app_data(web::PayloadConfig::new(payload_cap))
            .app_data(web::QueryConfig::default().error_handler(|e, _| {
                ApiError::new(Code::BadRequest, format!("bad query: {e}")).into()
            }))
            .configure(api::routes)
            .configure(pages::routes)
            .route("/ws", web::get().to(session::ws_route))
            .default_service(web::to(api::no_such_route))
    })
    .on_connect(ConnSocket::note)
    .disable_signals()
    .shutdown_timeout(5)
    .bind(&settings.bind)?;
    let http_addrs = server.addrs();
    if http_addrs.is_empty() {
        return Err(format!("{:?} names no address to serve HTTP on", settings.bind).into());
    }
    let server = server.run();
    let handle = server.handle();
    let state = state.into_inner();
    actix_rt::spawn(async move {
        shutdown.await;
        shut_down(state, handle).await;
    });
    Ok(RunningApp {
        http_addrs,
        embedded_broker_port,
        server: actix_rt::spawn(server),
    })
}

/// Starts the embedded broker when no broker URL is configured.
fn start_embedded_broker(
    settings: &Settings,
) -> Result<Option<broker::EmbeddedBroker>, StartError> {
    if settings.mqtt.get("BROKER_URL").is_some() {
        return Ok(None);
    }
    let b = broker::EmbeddedBroker::start(settings.embedded_broker_port)?;
    log::info!("embedded MQTT broker on {}", b.address());
    Ok(Some(b))
}

/// Starts the `MqttActor` (feeding the last-value cache) and builds the shared
/// state; `embedded_broker_port` replaces the configured broker.
async fn start_mqtt(
    settings: &Settings,
    embedded_broker_port: Option<u16>,
) -> Result<web::Data<AppState>, StartError> {
    let broker = embedded_broker_port.map(|port| ("127.0.0.1".to_string(), port));
    let config = settings.mqtt.to_config(broker)?;
    let cache = Arc::new(TopicCache::new(
        settings.topic_cache_size,
        settings.topic_cache_bytes,
    ));
    let recorder = cache.clone();
    let mqtt = MqttActor::builder(config)
        .on_message(move |_, msg| recorder.record(msg))
        .start()?;
    let connected = Arc::new(AtomicBool::new(false));
    let readiness = ReadinessFlag(connected.clone()).start();
    mqtt.send(WatchConnection(readiness.recipient())).await?;
    Ok(web::Data::new(AppState {
        mqtt,
        settings: settings.clone(),
        connected,
        sessions: Sessions::default(),
        session_slots: SessionSlots::new(settings.max_sessions, settings.max_sessions_per_ip),
        dropped: Default::default(),
        cache,
        metrics: Default::default(),
        started: Instant::now(),
    }))
}

async fn shut_down(state: Arc<AppState>, server: ServerHandle) {
    log::info!("shutting down: closing sessions, disconnecting from the broker");
    state.sessions.close_all();
    // Let the close frames reach the clients before the server stops.
    actix_rt::time::sleep(Duration::from_millis(200)).await;
    let _ = actix_rt::time::timeout(Duration::from_secs(3), state.mqtt.send(Disconnect)).await;
    server.stop(true).await;
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    /// The floors of the Layout section of the crate docs, lowest first.
    const FLOORS: &[&[&str]] = &[
        &[
            "error", "protocol", "settings", "metrics", "cache", "broker", "access", "limits",
            "filters", "inflight",
        ],
        &["state"],
        &["session", "outbox", "api", "pages"],
        &["lib", "main"],
    ];

    fn floor(module: &str) -> usize {
        FLOORS
            .iter()
            .position(|f| f.contains(&module))
            .unwrap_or_else(|| panic!("src/{module}.rs is on no floor: add it to FLOORS"))
    }

    /// A file's text, or for a module directory (`access/`) its files' texts.
    fn source_text(path: &std::path::Path) -> String {
        if !path.is_dir() {
            return std::fs::read_to_string(path).expect("a source file");
        }
        let mut files: Vec<_> = std::fs::read_dir(path)
            .expect("a module directory")
            .map(|e| e.expect("a directory entry").path())
            .collect();
        files.sort();
        files.iter().map(|f| source_text(f)).collect()
    }

    /// Each file of `src/` and the crate modules its code (not its comments) names.
    fn imports() -> BTreeMap<String, Vec<String>> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut graph = BTreeMap::new();
        for entry in std::fs::read_dir(dir).expect("src/ is readable") {
            let path = entry.expect("a directory entry").path();
            let Some(module) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            let text = source_text(&path);
            let code: String = text
                .lines()
                .filter(|line| !line.trim_start().starts_with("//"))
                .collect();
            let mut used: Vec<String> = code
                .split("crate::")
                .skip(1)
                .map(|rest| {
                    rest.chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect()
                })
                .filter(|m: &String| !m.is_empty() && m != module)
                .collect();
            used.sort();
            used.dedup();
            graph.insert(module.to_string(), used);
        }
        graph
    }

    #[test]
    fn no_file_imports_from_a_floor_above_it_nor_in_a_loop() {
        let graph = imports();
        for (module, used) in &graph {
            for other in used {
                assert!(
                    floor(other) <= floor(module),
                    "src/{module}.rs imports crate::{other}, a floor above it"
                );
            }
        }
        // Within a floor, a walk along imports never comes back to its start.
        fn reaches(
            graph: &BTreeMap<String, Vec<String>>,
            from: &str,
            to: &str,
            seen: &mut Vec<String>,
        ) -> bool {
            graph.get(from).into_iter().flatten().any(|next| {
                if next == to {
                    return true;
                }
                if seen.contains(next) {
                    return false;
                }
                seen.push(next.clone());
                reaches(graph, next, to, seen)
            })
        }
        for module in graph.keys() {
            assert!(
                !reaches(&graph, module, module, &mut Vec::new()),
                "src/{module}.rs is part of an import loop"
            );
        }
    }
}
