//! The example app: an actix-web server that mounts the browser bridge of
//! `mqtt_actor::web` (WebSocket, Server-Sent Events and the HTTP API of
//! `docs/protocol.md`) beside a live dashboard, with Mosquitto's password and
//! ACL files for access control and an embedded broker when none is set.
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
//! (`tests/floors.rs` at the workspace root checks it):
//!
//! * bottom: `settings` (flags and environment, and the bridge's config they
//!   make), `broker` (the embedded broker), `guard` (what the embedded broker
//!   refuses before rumqttd sees it), `tls` (the HTTPS certificate),
//!   `workers` (the handlers of `--handle`, on a broker connection of their
//!   own), `history` (the flags of the history recorder, and opening it);
//! * `pages` (the dashboard and login pages), `signin` (the bridge's checks
//!   applied to the app's own routes, the login redirect, security headers);
//! * this file: start-up and shutdown.
#![warn(missing_docs)]

mod broker;
mod guard;
mod history;
mod pages;
mod settings;
mod signin;
mod tls;
mod workers;

pub use history::HistoryArgs;
pub use settings::{MqttArgs, SessionKey, Settings};

use std::future::Future;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use actix::prelude::*;
use actix_web::cookie::Key;
use actix_web::middleware::from_fn;
use actix_web::{dev::ServerHandle, web, App, HttpServer};
use mqtt_actor::recorder::Recorder;
use mqtt_actor::web::{Bridge, BridgeError, BridgeHandle, MosquittoAuth, Records, Reloaded};
use mqtt_actor::{Disconnect, MqttActor};

/// Why the app could not start, or why its server failed.
pub type StartError = Box<dyn std::error::Error>;

/// The app, serving: where it listens, and a way to wait for its end.
#[derive(Debug)]
pub struct RunningApp {
    http_addrs: Vec<SocketAddr>,
    https: bool,
    embedded_broker_port: Option<u16>,
    reloader: Reloader,
    embedded_broker_internal_port: Option<u16>,
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
        self.reloader.clone()
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
/// dropping its sessions: a socket whose user is gone closes with 1008 at
/// once; on any error the files in force stay.
#[derive(Debug, Clone)]
pub struct Reloader {
    auth: MosquittoAuth,
    bridge: BridgeHandle,
}

impl Reloader {
    /// Re-reads both files, logs what it loaded or why it could not, and has
    /// every open session checked against them.
    pub fn reload(&self) -> Result<Reloaded, BridgeError> {
        self.bridge.reload(&self.auth)
    }
}

/// Mosquitto 2's secure-by-default rule for the web side: without users, the
/// app serves loopback addresses only unless `--allow-anonymous` is given.
/// `bound` are the addresses actually listened on; the error is the one line
/// to print when refusing to start.
fn check_exposure(
    bound: &[SocketAddr],
    requires_login: bool,
    allow_anonymous: bool,
) -> Result<(), String> {
    if requires_login || allow_anonymous {
        return Ok(());
    }
    match bound.iter().find(|a| !a.ip().to_canonical().is_loopback()) {
        Some(public) => Err(format!(
            "refusing to serve anonymous clients on {public}, which is not a loopback address: \
             give --password-file, or --allow-anonymous to let anyone who reaches it use the broker"
        )),
        None => Ok(()),
    }
}

/// What `run` checks and loads before it starts anything: the access files,
/// the exposure rule and the certificate.
struct Prepared {
    auth: MosquittoAuth,
    tls: Option<rustls::ServerConfig>,
    session_key: Key,
}

fn prepare(settings: &Settings) -> Result<Prepared, StartError> {
    let auth = MosquittoAuth::open(
        settings.password_file.as_deref(),
        settings.acl_file.as_deref(),
    )?
    .login_lasts(settings.session_ttl())
    .max_sign_outs(settings.max_sign_outs)
    .login_body_timeout(settings.login_body_timeout());
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
    check_exposure(&addrs, auth.requires_login(), settings.allow_anonymous)?;
    let tls = match (&settings.tls_cert, &settings.tls_key) {
        (Some(cert), Some(key)) => Some(tls::server_config(cert, key)?),
        (None, None) => None,
        _ => return Err("--tls-cert and --tls-key go together: give both or neither".into()),
    };
    let session_key = match &settings.session_key {
        Some(key) => Key::derive_from(key.as_bytes()),
        None => Key::generate(),
    };
    Ok(Prepared {
        auth,
        tls,
        session_key,
    })
}

/// Starts everything: the embedded broker (when no broker URL is set), the
/// `MqttActor`, the bridge, and the HTTP server (HTTPS with `--tls-cert`).
/// Returns once the server listens; it serves until `shutdown` resolves,
/// then closes every WebSocket with 1001, disconnects from the broker cleanly
/// (so no last will is published) and stops. Call it inside an actix system.
///
/// It refuses to start, before starting anything, when an access file or the
/// certificate cannot be read, when it would serve anonymous clients on a
/// public address without `--allow-anonymous`, or when the history database
/// cannot be opened (a bad URL, a data folder it cannot create, a
/// migration that fails).
///
/// While recording, `/api/history` answers from the history database and
/// `/metrics` shows the recorder's counters; shutdown writes what the
/// recorder still holds before the server stops.
pub async fn run(
    settings: Settings,
    shutdown: impl Future + 'static,
) -> Result<RunningApp, StartError> {
    let Prepared {
        auth,
        tls,
        session_key,
    } = prepare(&settings)?;
    let recorder = settings.history.open().await?;
    let https = tls.is_some();
    // The embedded broker, if any, lives until the process exits.
    let embedded = start_embedded_broker(&settings)?;
    let embedded_broker_port = embedded.as_ref().map(|b| b.port());
    let embedded_broker_internal_port = embedded.as_ref().map(|b| b.internal_port());
    // Every client of the embedded broker, this app's own included, goes
    // through the guard (guard.rs).
    let Started {
        bridge,
        mqtt,
        workers,
        feed,
    } = start_mqtt(&settings, embedded_broker_port, &auth, recorder.clone())?;

    let app_bridge = bridge.clone();
    let app_auth = auth.clone();
    let app_mqtt = mqtt.clone();
    let server = HttpServer::new(move || {
        App::new()
            .wrap(signin::security_headers(https))
            .wrap(app_auth.session_middleware(session_key.clone(), https))
            .wrap(from_fn(signin::transport_security))
            .app_data(web::Data::new(app_bridge.clone()))
            .app_data(web::Data::new(app_auth.clone()))
            .app_data(web::Data::new(app_mqtt.clone()))
            .configure(app_bridge.configure())
            .service(
                web::scope("")
                    .wrap(from_fn(signin::check))
                    .configure(app_auth.login_routes(pages::login_page))
                    .configure(pages::routes)
                    .default_service(web::to(pages::no_such_route)),
            )
    })
    .on_connect(Bridge::on_connect)
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
    let server = server.run();
    let handle = server.handle();
    let bridge = bridge.handle();
    let reloader = Reloader {
        auth,
        bridge: bridge.clone(),
    };
    let drain = settings.drain();
    let leaving = [Some(mqtt), workers, feed];
    actix_rt::spawn(async move {
        shutdown.await;
        shut_down(bridge, drain, leaving, recorder, handle).await;
    });
    Ok(RunningApp {
        http_addrs,
        https,
        embedded_broker_port,
        reloader,
        embedded_broker_internal_port,
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

/// What [`start_mqtt`] starts.
struct Started {
    bridge: Bridge,
    /// The app's own client, which the bridge uses.
    mqtt: Addr<MqttActor>,
    /// The handlers of `--handle`, on a connection of their own.
    workers: Option<Addr<MqttActor>>,
    /// The recorder's shared subscriptions, on a connection of their own.
    feed: Option<Addr<MqttActor>>,
}

/// The app's `MqttActor` (feeding the bridge's records of the server's own
/// subscriptions), the handlers of `--handle` (if any), the recorder's feed
/// (if recording) and the bridge over them; `embedded_broker_port` replaces
/// the configured broker.
fn start_mqtt(
    settings: &Settings,
    embedded_broker_port: Option<u16>,
    auth: &MosquittoAuth,
    history: Option<Recorder>,
) -> Result<Started, StartError> {
    let broker = embedded_broker_port.map(|port| ("127.0.0.1".to_string(), port));
    let config = settings.mqtt.to_config(broker)?;
    let bridge_config = settings.bridge_config();
    let records = Records::new(&bridge_config);
    let workers = workers::start(&settings.handle, &config, records.clone())?;
    let feed = match &history {
        Some(history) => history.start_feed(&config)?,
        None => None,
    };
    let recorder = records.clone();
    let mqtt = MqttActor::builder(config)
        .on_message(move |_, msg| recorder.record(msg))
        .start()?;
    let mut bridge = Bridge::builder(mqtt.clone(), bridge_config)
        .authenticator(auth.clone())
        .authorizer(auth.clone())
        .records(records);
    if let Some(history) = history {
        bridge = bridge.history(history);
    }
    Ok(Started {
        bridge: bridge.build()?,
        mqtt,
        workers,
        feed,
    })
}

/// Drains (`/readyz` 503 for `--drain-s` while open sockets are served),
/// then closes every socket with 1001, leaves the broker cleanly, writes
/// what the recorder holds and stops.
async fn shut_down(
    bridge: BridgeHandle,
    drain: Duration,
    clients: [Option<Addr<MqttActor>>; 3],
    recorder: Option<Recorder>,
    server: ServerHandle,
) {
    bridge.drain();
    if !drain.is_zero() {
        log::info!("draining for {drain:?}: /readyz answers 503, open sockets are still served");
        actix_rt::time::sleep(drain).await;
    }
    log::info!("shutting down: closing sessions, disconnecting from the broker");
    bridge.close_all();
    // Let the close frames reach the clients before the server stops.
    actix_rt::time::sleep(Duration::from_millis(200)).await;
    let leave = |mqtt: Addr<MqttActor>| async move {
        let _ = actix_rt::time::timeout(Duration::from_secs(3), mqtt.send(Disconnect)).await;
    };
    futures::future::join_all(clients.into_iter().flatten().map(leave)).await;
    if let Some(recorder) = recorder {
        recorder.close().await;
    }
    server.stop(true).await;
}
