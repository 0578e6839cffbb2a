//! The browser bridge (cargo feature `web`): MQTT messages in the pages of
//! your own actix-web app, as the web API contract `docs/protocol.md` says.
//!
//! A [`Bridge`] serves WebSocket sessions (`/ws`), Server-Sent Events
//! (`/api/stream`) and an HTTP API (`/api/*`, `/healthz`, `/readyz`,
//! `/metrics`) under whatever scope the application mounts it in. Each
//! client has a bounded outbox: when it reads too slowly, its oldest
//! messages are dropped and it is told how many (`lagged`), and a client that
//! stops reading is cut off after [`BridgeConfig::idle_timeout`]. Every
//! request passes the same-origin rules ([`BridgeConfig::same_origin`]) and an
//! [`Authenticator`]; every subscribe, publish and read passes an
//! [`Authorizer`]. Closures implement both, [`AllowAll`] opens the bridge, and
//! [`MosquittoAuth`] reads Mosquitto's password and ACL files.
//!
//! ```no_run
//! use actix_web::{web, App, HttpRequest, HttpServer};
//! use mqtt_actor::web::{AuthError, Bridge, BridgeConfig, Operation, Principal};
//! use mqtt_actor::{MqttActor, MqttConfig};
//!
//! #[actix_web::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let mqtt = MqttActor::builder(MqttConfig::from_env()?).start()?;
//!     let bridge = Bridge::builder(mqtt, BridgeConfig::default())
//!         // Who: the user a header names (behind a proxy that sets it).
//!         .authenticator(|req: &HttpRequest| -> Result<Option<Principal>, AuthError> {
//!             let user = req.headers().get("x-user").and_then(|v| v.to_str().ok());
//!             Ok(user.map(Principal::user))
//!         })
//!         // What: only under their own prefix.
//!         .authorizer(|who: &Principal, _: Operation, topic: &str| {
//!             who.name().is_some_and(|name| topic.starts_with(&format!("users/{name}/")))
//!         })
//!         .build()?;
//!     HttpServer::new(move || App::new().service(web::scope("/mqtt").configure(bridge.configure())))
//!         .on_connect(Bridge::on_connect)
//!         .bind("127.0.0.1:8080")?
//!         .run()
//!         .await?;
//!     Ok(())
//! }
//! ```
//!
//! # Layout
//!
//! Files form floors; a file imports only from its own floor or below, and
//! never in a loop (`tests/floors.rs` checks it):
//!
//! * bottom: `error` (the contract's error codes and their HTTP form;
//!   [`BridgeError`]), `config` ([`BridgeConfig`]), `protocol` (the
//!   contract's serde types), `http` (request headers, refused sign-ins),
//!   `limits` (filter shape, session slots), `metrics` (Prometheus),
//!   `origin` (the `Host` / `Origin` rules), `access` (the access traits,
//!   [`Principal`], [`AllowAll`]), `records/` (last values, history, retained
//!   messages), `mosquitto/` (password file, ACL, login cookie, sign-in
//!   limits: [`MosquittoAuth`]), `socket` (a connection's socket, to cut off
//!   a client), `framing` (WebSocket or Server-Sent Events on the wire),
//!   `inflight` (a session's requests in flight, and the valve on its
//!   socket), `filters` (a session's held and pending filters), `releases`
//!   (what a client's outbox lets in while a filter is being released),
//!   `ownership` (who owns the server-side subscriptions, and how many),
//!   `upgrade` (an upgraded connection served on its bare socket);
//! * `queue` (one client's bounded outbox), `state` (what handlers and
//!   sessions share);
//! * `admission` (the checks of every request), `fanout` (every client's
//!   listener: fills its outbox, cuts it off when it stops reading);
//! * `session` (one WebSocket client), `stream` (one event stream), `api`
//!   (the HTTP API);
//! * `bridge` ([`Bridge`], [`BridgeHandle`]), `server` ([`LeanServer`]), and
//!   this file.

mod access;
mod admission;
mod api;
mod bridge;
mod config;
mod error;
mod fanout;
mod filters;
mod framing;
mod http;
mod inflight;
mod limits;
mod metrics;
mod mosquitto;
mod origin;
mod ownership;
mod protocol;
mod queue;
mod records;
mod releases;
mod server;
mod session;
mod socket;
mod state;
mod stream;
mod upgrade;

pub use access::{Access, AllowAll, AuthError, Authenticator, Authorizer, Operation, Principal};
pub use bridge::{Bridge, BridgeBuilder, BridgeHandle};
pub use config::BridgeConfig;
pub use error::{ApiError, BridgeError, ErrorCode};
pub use http::{client_info, BadProxy, ClientInfo, TrustedProxies};
pub use mosquitto::{LoginPage, MosquittoAuth, Reloaded};
pub use records::Records;
pub use server::LeanServer;
