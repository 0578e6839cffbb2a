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
//!   (Prometheus), `cache` (last value per topic), `history` (last messages
//!   per topic), `retained` (retained messages seen), `seen` (the three
//!   together, recorded from the server's own subscriptions), `broker` (the embedded
//!   broker), `guard` (what the embedded broker refuses before rumqttd sees
//!   it), `access/` (password file, ACL, same-origin rules, login rate
//!   limit: pure, wired in by the floors above), `gate` (the access policy
//!   with the state of sign-ins, and who a request acts for), `tls` (the
//!   HTTPS certificate), `workers` (the handlers of `--handle`, on a broker
//!   connection of their own), `limits` (filter shape, session slots),
//!   `filters` (a session's held and pending filters), `inflight` (a
//!   session's requests in flight and the hold on its socket);
//! * `state`: what handlers and sessions share (it holds sessions only as
//!   recipients of `GoingAway`);
//! * `session` (one WebSocket client), `outbox` (its bounded outbound queue
//!   and the listener that fills it), `stream` (one Server-Sent Events
//!   client of `/api/stream`, on an outbox too), `api` (HTTP handlers), `pages` (the
//!   dashboard and login pages), `auth` (the same-origin and sign-in checks of
//!   every request, and the sign-in routes);
//! * this file: start-up and shutdown.
#![warn(missing_docs)]

pub mod access;
mod api;
mod auth;
mod broker;
mod cache;
mod error;
mod filters;
mod gate;
mod guard;
mod history;
mod inflight;
mod limits;
mod metrics;
mod outbox;
mod pages;
mod protocol;
mod retained;
mod seen;
mod session;
mod settings;
mod state;
mod stream;
mod tls;
mod workers;

pub use settings::{MqttArgs, SessionKey, Settings};

use std::future::Future;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_web::cookie::Key;
use actix_web::middleware::from_fn;
use actix_web::{dev::ServerHandle, web, App, HttpServer};
use mqtt_actor::{Disconnect, MqttActor, WatchConnection};

use crate::access::{Access, AccessError, Reloaded, SameOrigin};
use crate::error::{ApiError, Code};
use crate::gate::Gate;
use crate::limits::SessionSlots;
use crate::outbox::ConnSocket;
use crate::seen::Seen;
use crate::state::{AppState, ReadinessFlag, Sessions};

/// Why the app could not start, or why its server failed.
pub type StartError = Box<dyn std::error::Error>;

/// The app, serving: where it listens, and a way to wait for its end.
#[derive(Debug)]
pub struct RunningApp {
    http_addrs: Vec<SocketAddr>,
    https: bool,
    embedded_broker_port: Option<u16>,
    embedded_broker_internal_port: Option<u16>,
    gate: Arc<Gate>,
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

    /// True when it serves HTTPS and WSS (`--tls-cert`).
    pub fn https(&self) -> bool {
        self.https
    }

    /// A handle that re-reads the password file and ACL (what `main` does on
    /// SIGHUP), for as long as the app runs.
    pub fn reloader(&self) -> Reloader {
        Reloader(self.gate.clone())
    }

    /// The embedded broker's port on 127.0.0.1, when the app started one
    /// (no broker URL configured).
    pub fn embedded_broker_port(&self) -> Option<u16> {
        self.embedded_broker_port
    }

    /// The embedded broker's internal port, behind its guard (for tests: it
    /// refuses every client but the guard).
    pub fn embedded_broker_internal_port(&self) -> Option<u16> {
        self.embedded_broker_internal_port
    }

    /// Resolves when the app has shut down (after the shutdown future given
    /// to [`run`] resolved), with the HTTP server's error if it failed.
    pub async fn finished(self) -> Result<(), StartError> {
        Ok(self.server.await??)
    }
}

/// Re-reads the password file and the ACL file of a running app, without
/// dropping its sessions: a socket whose user is gone closes with 1008 at its
/// next check; on any error the files in force stay.
#[derive(Debug, Clone)]
pub struct Reloader(Arc<Gate>);

impl Reloader {
    /// Re-reads both files, and logs what it loaded or why it could not.
    pub fn reload(&self) -> Result<Reloaded, AccessError> {
        let result = self.0.reload();
        match &result {
            Ok(r) => log::info!(
                "access files re-read: {} users, {} ACL rules",
                r.users.map_or("no".to_string(), |n| n.to_string()),
                r.acl_rules.map_or("no".to_string(), |n| n.to_string())
            ),
            Err(e) => log::warn!("access files not re-read, the old ones stay in force: {e}"),
        }
        result
    }
}

/// What `run` checks and loads before it starts anything: the access files,
/// the exposure rule, the same-origin settings and the certificate.
struct Prepared {
    gate: Arc<Gate>,
    tls: Option<rustls::ServerConfig>,
    session_key: Key,
}

fn prepare(settings: &Settings) -> Result<Prepared, StartError> {
    let access = Access::open(
        settings.password_file.as_deref(),
        settings.acl_file.as_deref(),
    )?;
    // Checked on the resolved addresses before binding, so that the app never
    // listens on a public address it would refuse to serve.
    let addrs: Vec<SocketAddr> = settings
        .bind
        .to_socket_addrs()
        .map_err(|e| {
            format!(
                "cannot use {:?} as the address to serve HTTP on: {e}",
                settings.bind
            )
        })?
        .collect();
    access::check_exposure(&addrs, access.requires_login(), settings.allow_anonymous)?;
    same_origin(settings, &[])?;
    let tls = match (&settings.tls_cert, &settings.tls_key) {
        (Some(cert), Some(key)) => Some(tls::server_config(cert, key)?),
        (None, None) => None,
        _ => return Err("--tls-cert and --tls-key go together: give both or neither".into()),
    };
    let session_key = match &settings.session_key {
        Some(key) => Key::derive_from(key.as_bytes()),
        None => Key::generate(),
    };
    let gate = Gate::new(access, settings.session_ttl(), settings.metrics_public);
    Ok(Prepared {
        gate: Arc::new(gate),
        tls,
        session_key,
    })
}

/// The `Host` / `Origin` rules of a server bound to `bound`.
fn same_origin(settings: &Settings, bound: &[SocketAddr]) -> Result<SameOrigin, AccessError> {
    SameOrigin::new(bound, settings.tls_cert.is_some())
        .allow_hosts(&settings.allowed_hosts)?
        .allow_origins(&settings.allowed_origins)
}

/// Starts everything: the embedded broker (when no broker URL is set), the
/// `MqttActor`, and the HTTP server (HTTPS with `--tls-cert`). Returns once
/// the server listens; it serves until `shutdown` resolves, then closes every
/// WebSocket with 1001, disconnects from the broker cleanly (so no last will
/// is published) and stops. Call it inside an actix system.
///
/// It refuses to start, before starting anything, when an access file or the
/// certificate cannot be read, or when it would serve anonymous clients on a
/// public address without `--allow-anonymous`.
pub async fn run(
    settings: Settings,
    shutdown: impl Future + 'static,
) -> Result<RunningApp, StartError> {
    let Prepared {
        gate,
        tls,
        session_key,
    } = prepare(&settings)?;
    let https = tls.is_some();
    // The embedded broker, if any, lives until the process exits.
    let embedded = start_embedded_broker(&settings)?;
    let embedded_broker_port = embedded.as_ref().map(|b| b.port());
    let embedded_broker_internal_port = embedded.as_ref().map(|b| b.internal_port());
    let (state, workers) = start_mqtt(&settings, embedded_broker_port, gate.clone()).await?;

    let payload_cap = settings.max_frame_bytes * 8 + (1 << 20);
    let app_state = state.clone();
    let session_ttl = settings.session_ttl();
    let server = HttpServer::new(move || {
        App::new()
            .wrap(from_fn(auth::guard))
            .wrap(auth::session_middleware(
                session_key.clone(),
                https,
                session_ttl,
            ))
            .app_data(app_state.clone())
            .app_data(web::PayloadConfig::new(payload_cap))
            .app_data(web::QueryConfig::default().error_handler(|e, _| {
                ApiError::new(Code::BadRequest, format!("bad query: {e}")).into()
            }))
            .configure(api::routes)
            .configure(pages::routes)
            .configure(auth::routes)
            .route("/ws", web::get().to(session::ws_route))
            .route("/api/stream", web::get().to(stream::stream_route))
            .default_service(web::to(api::no_such_route))
    })
    .on_connect(ConnSocket::note)
    // Sessions write many small frames: with Nagle's algorithm on (actix-web
    // keeps the OS default), each waits for the client's delayed ACK, up to
    // 40 ms (measured by mqtt-bench: p50 14 ms -> 0.2 ms at 5,000 msg/s).
    .tcp_nodelay(true)
    .disable_signals()
    .shutdown_timeout(5);
    let server = match tls {
        Some(config) => server.bind_rustls_0_23(&settings.bind, config)?,
        None => server.bind(&settings.bind)?,
    };
    let http_addrs = server.addrs();
    if http_addrs.is_empty() {
        return Err(format!("{:?} names no address to serve HTTP on", settings.bind).into());
    }
    gate.set_origin(same_origin(&settings, &http_addrs)?);
    let server = server.run();
    let handle = server.handle();
    let state = state.into_inner();
    actix_rt::spawn(async move {
        shutdown.await;
        shut_down(state, workers, handle).await;
    });
    Ok(RunningApp {
        http_addrs,
        https,
        embedded_broker_port,
        embedded_broker_internal_port,
        gate,
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
    let b = broker::EmbeddedBroker::start(settings)?;
    log::info!("embedded MQTT broker on {}", b.address());
    Ok(Some(b))
}

/// Starts the `MqttActor` (feeding what the server keeps of its messages) and the handlers of
/// `--handle` (if any), and builds the shared state; `embedded_broker_port`
/// replaces the configured broker.
async fn start_mqtt(
    settings: &Settings,
    embedded_broker_port: Option<u16>,
    gate: Arc<Gate>,
) -> Result<(web::Data<AppState>, Option<Addr<MqttActor>>), StartError> {
    let broker = embedded_broker_port.map(|port| ("127.0.0.1".to_string(), port));
    let config = settings.mqtt.to_config(broker)?;
    let seen = Arc::new(Seen::new(settings));
    let workers = workers::start(&settings.handle, &config, seen.clone())?;
    let recorder = seen.clone();
    let mqtt = MqttActor::builder(config)
        .on_message(move |_, msg| recorder.record(msg))
        .start()?;
    let connected = Arc::new(AtomicBool::new(false));
    let readiness = ReadinessFlag(connected.clone()).start();
    mqtt.send(WatchConnection(readiness.recipient())).await?;
    let state = web::Data::new(AppState {
        mqtt,
        settings: settings.clone(),
        connected,
        draining: AtomicBool::new(false),
        sessions: Sessions::default(),
        session_slots: SessionSlots::new(settings.max_sessions, settings.max_sessions_per_ip),
        dropped: Default::default(),
        seen,
        metrics: Default::default(),
        started: Instant::now(),
        gate,
    });
    Ok((state, workers))
}

/// Drains (`/readyz` 503 for `--drain-s` while open sockets are served),
/// then closes every socket with 1001, leaves the broker cleanly and stops.
async fn shut_down(state: Arc<AppState>, workers: Option<Addr<MqttActor>>, server: ServerHandle) {
    state.draining.store(true, Ordering::Release);
    let drain = state.settings.drain();
    if !drain.is_zero() {
        log::info!("draining for {drain:?}: /readyz answers 503, open sockets are still served");
        actix_rt::time::sleep(drain).await;
    }
    log::info!("shutting down: closing sessions, disconnecting from the broker");
    state.sessions.close_all();
    // Let the close frames reach the clients before the server stops.
    actix_rt::time::sleep(Duration::from_millis(200)).await;
    let leave = |mqtt: Addr<MqttActor>| async move {
        let _ = actix_rt::time::timeout(Duration::from_secs(3), mqtt.send(Disconnect)).await;
    };
    futures::future::join(
        leave(state.mqtt.clone()),
        futures::future::OptionFuture::from(workers.map(leave)),
    )
    .await;
    server.stop(true).await;
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    /// The floors of the Layout section of the crate docs, lowest first.
    const FLOORS: &[&[&str]] = &[
        &[
            "error", "protocol", "settings", "metrics", "cache", "history", "retained", "seen",
            "broker", "guard", "access", "gate", "tls", "workers", "limits", "filters", "inflight",
        ],
        &["state"],
        &["session", "outbox", "stream", "api", "pages", "auth"],
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
