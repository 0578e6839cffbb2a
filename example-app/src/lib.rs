//! The example app: an actix-web server that puts the `MqttActor` behind a
//! WebSocket protocol, an HTTP API and a live dashboard (../shared/PROTOCOL.md).
#![warn(missing_docs)]

pub mod access;
pub mod api;
pub mod broker;
pub mod cache;
pub mod metrics;
pub mod outbox;
pub mod pages;
pub mod protocol;
pub mod session;
pub mod settings;
pub mod state;

use std::io::Write;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_web::{dev::ServerHandle, web, App, HttpResponse, HttpServer};
use mqtt_actor::{Disconnect, MqttActor, WatchConnection};

use crate::cache::TopicCache;
use crate::protocol::{ApiError, Code};
use crate::settings::Settings;
use crate::state::{AppState, ConnectionWatch, Sessions};

/// Why the app could not start.
pub type StartError = Box<dyn std::error::Error>;

/// Starts everything and serves until SIGTERM / Ctrl-C, then shuts down cleanly.
pub async fn run(settings: Settings) -> Result<(), StartError> {
    // The embedded broker, if any, lives until the process exits.
    let embedded = start_embedded_broker(&settings)?;
    let broker = embedded
        .as_ref()
        .map(|b| ("127.0.0.1".to_string(), b.port()));
    let state = start_mqtt(&settings, broker).await?;

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
            .default_service(web::to(no_such_route))
    })
    // Sessions write many small frames: with Nagle's algorithm on (actix-web
    // keeps the OS default), each waits for the client's delayed ACK, up to
    // 40 ms (measured by mqtt-bench: p50 14 ms -> 0.2 ms at 5,000 msg/s).
    .tcp_nodelay(true)
    .disable_signals()
    .shutdown_timeout(5)
    .bind(&settings.bind)?;
    for addr in server.addrs() {
        say(&format!("listening on http://{addr}"));
    }
    let server = server.run();
    actix_rt::spawn(shutdown_on_signal(state.into_inner(), server.handle()));
    server.await?;
    Ok(())
}

/// Starts the embedded broker when no broker URL is configured.
fn start_embedded_broker(
    settings: &Settings,
) -> Result<Option<broker::EmbeddedBroker>, StartError> {
    if settings.mqtt.broker_url.is_some() {
        return Ok(None);
    }
    let b = broker::EmbeddedBroker::start(settings.embedded_broker_port)?;
    say(&format!(
        "embedded MQTT broker on {} (feed it: mosquitto_pub -h 127.0.0.1 -p {} -t demo/hello -m hi)",
        b.address(),
        b.port()
    ));
    Ok(Some(b))
}

/// Starts the `MqttActor` (feeding the last-value cache) and builds the shared state.
async fn start_mqtt(
    settings: &Settings,
    broker: Option<(String, u16)>,
) -> Result<web::Data<AppState>, StartError> {
    let config = settings.mqtt.to_config(broker)?;
    let cache = Arc::new(Mutex::new(TopicCache::new(settings.topic_cache_size)));
    let recorder = cache.clone();
    let mqtt = MqttActor::builder(config)
        .on_message(move |_, msg| recorder.lock().expect("cache lock").record(msg))
        .start()?;
    let connected = Arc::new(AtomicBool::new(false));
    let watch = ConnectionWatch(connected.clone()).start();
    mqtt.send(WatchConnection(watch.recipient())).await?;
    Ok(web::Data::new(AppState {
        mqtt,
        settings: settings.clone(),
        connected,
        sessions: Sessions::default(),
        dropped: Default::default(),
        cache,
        metrics: Default::default(),
        started: Instant::now(),
    }))
}

async fn no_such_route() -> HttpResponse {
    let err = ApiError::new(Code::BadRequest, "no such route");
    HttpResponse::NotFound().json(serde_json::json!({ "error": err }))
}

/// Prints a line people (and the test harness) read on stdout.
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

async fn shutdown_on_signal(state: Arc<AppState>, server: ServerHandle) {
    wait_for_signal().await;
    log::info!("shutting down: closing sessions, disconnecting from the broker");
    state.sessions.close_all();
    // Let the close frames reach the clients before the server stops.
    actix_rt::time::sleep(Duration::from_millis(200)).await;
    let _ = actix_rt::time::timeout(Duration::from_secs(3), state.mqtt.send(Disconnect)).await;
    server.stop(true).await;
}

async fn wait_for_signal() {
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
