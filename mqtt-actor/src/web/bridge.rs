//! [`Bridge`]: built once, outside `HttpServer::new`, from the `MqttActor`'s
//! address, a [`BridgeConfig`] and the two access traits; it mounts its
//! routes in any scope ([`Bridge::configure`]) and gives the application a
//! [`BridgeHandle`] for shutdown and access-rule changes.

use std::any::Any;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;
use actix_web::dev::Extensions;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::web::access::{Authenticator, Authorizer, DenyAll, Principal};
use crate::web::admission;
use crate::web::api;
use crate::web::config::BridgeConfig;
use crate::web::error::{ApiError, BridgeError, ErrorCode};
use crate::web::limits::SessionSlots;
use crate::web::mosquitto::{MosquittoAuth, Reloaded};
use crate::web::origin::SameOrigin;
use crate::web::ownership::Ownership;
use crate::web::records::Records;
use crate::web::session;
use crate::web::socket::ConnSocket;
use crate::web::state::{BridgeState, Control, ReadinessFlag, Sessions};
use crate::web::stream;
use crate::{MqttActor, WatchConnection};

/// The browser bridge: WebSocket sessions (`/ws`), Server-Sent Events
/// (`/api/stream`) and the HTTP API (`/api/*`, `/healthz`, `/readyz`,
/// `/metrics`) of `docs/protocol.md`, over one `MqttActor`. Cheap to clone.
///
/// ```no_run
/// use actix_web::{web, App, HttpServer};
/// use mqtt_actor::web::{AllowAll, Bridge, BridgeConfig};
/// use mqtt_actor::{MqttActor, MqttConfig};
///
/// #[actix_web::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let mqtt = MqttActor::builder(MqttConfig::from_env()?).start()?;
///     let bridge = Bridge::builder(mqtt, BridgeConfig::default())
///         .authenticator(AllowAll)
///         .authorizer(AllowAll)
///         .build()?;
///     HttpServer::new(move || {
///         App::new().service(web::scope("/mqtt").configure(bridge.configure()))
///     })
///     .on_connect(Bridge::on_connect)
///     .bind("127.0.0.1:8080")?
///     .run()
///     .await?;
///     Ok(())
/// }
/// ```
#[derive(Clone)]
pub struct Bridge {
    state: web::Data<BridgeState>,
}

impl std::fmt::Debug for Bridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bridge")
            .field("config", &self.state.config)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Bridge`]: [`Bridge::builder`], then the access traits (a
/// bridge without them serves nobody), then [`BridgeBuilder::build`].
#[must_use = "a builder does nothing until built"]
pub struct BridgeBuilder {
    mqtt: Addr<MqttActor>,
    config: BridgeConfig,
    authenticator: Box<dyn Authenticator>,
    authorizer: Box<dyn Authorizer>,
    records: Option<Arc<Records>>,
}

impl Bridge {
    /// A builder for a bridge over `mqtt`, limited by `config`.
    pub fn builder(mqtt: Addr<MqttActor>, config: BridgeConfig) -> BridgeBuilder {
        BridgeBuilder {
            mqtt,
            config,
            authenticator: Box::new(DenyAll),
            authorizer: Box::new(DenyAll),
            records: None,
        }
    }

    /// Registers the bridge's routes and its own data in a scope (or the
    /// app): `/ws`, `/api/publish`, `/api/subscriptions`, `/api/topics`,
    /// `/api/history`, `/api/retained`, `/api/status`, `/api/stream`,
    /// `/healthz`, `/readyz` and `/metrics`, relative to the scope.
    /// Call it inside the `HttpServer::new` factory.
    pub fn configure(&self) -> impl FnOnce(&mut web::ServiceConfig) + 'static {
        let state = self.state.clone();
        move |cfg| {
            let payload_cap = state.config.max_frame_bytes * 8 + (1 << 20);
            cfg.app_data(state.config.trusted_proxies.clone())
                .app_data(state)
                .app_data(web::PayloadConfig::new(payload_cap))
                .app_data(web::QueryConfig::default().error_handler(|e, _| {
                    ApiError::new(ErrorCode::BadRequest, format!("bad query: {e}")).into()
                }))
                .configure(api::routes)
                .route("/ws", web::get().to(session::ws_route))
                .route("/api/stream", web::get().to(stream::stream_route));
        }
    }

    /// The server's `on_connect` hook: pass it to `HttpServer::on_connect`
    /// (or [`LeanServer::on_connect`](crate::web::LeanServer::on_connect)),
    /// so that a client that stops reading is cut off when its frames wait
    /// past the idle timeout, over plain TCP and TLS (rustls) alike. Without
    /// it such a client holds its session until the operating system gives
    /// up on the connection.
    pub fn on_connect(conn: &dyn Any, ext: &mut Extensions) {
        ConnSocket::note(conn, ext);
    }

    /// The handle for shutdown and access-rule changes.
    pub fn handle(&self) -> BridgeHandle {
        BridgeHandle {
            state: self.state.clone().into_inner(),
        }
    }

    /// The same-origin checks of the bridge's own routes (`Host`, then
    /// `Origin` for an upgrade or a request that changes state), for the
    /// application's routes: `Err` is the refusal (`421`, `403`), an
    /// `actix_web::ResponseError`.
    pub fn check_origin(&self, req: &HttpRequest) -> Result<(), ApiError> {
        admission::check_origin(&self.state, req, false)
    }

    /// Every check of the bridge's own routes (same origin, JSON bodies, the
    /// authenticator), for the application's routes: who `req` acts for, or
    /// the answer (`401`, `421`, `403`, `415`, `429`).
    pub fn admit<'a>(
        &'a self,
        req: &'a HttpRequest,
    ) -> impl Future<Output = Result<Principal, HttpResponse>> + 'a {
        admission::admit(&self.state, req)
    }
}

impl BridgeBuilder {
    /// Who requests act for (see [`Authenticator`]).
    pub fn authenticator(mut self, authenticator: impl Authenticator) -> Self {
        self.authenticator = Box::new(authenticator);
        self
    }

    /// What they may do (see [`Authorizer`]).
    pub fn authorizer(mut self, authorizer: impl Authorizer) -> Self {
        self.authorizer = Box::new(authorizer);
        self
    }

    /// The records behind `/api/topics`, `/api/history` and `/api/retained`,
    /// fed by the application (see [`Records`]); without them the bridge
    /// keeps empty ones.
    pub fn records(mut self, records: Arc<Records>) -> Self {
        self.records = Some(records);
        self
    }

    /// `/api/history` from `recorder`'s database (v2 and the v2.1 range
    /// form) instead of the in-memory history (feature `history`).
    #[cfg(feature = "history")]
    pub fn history(mut self, recorder: crate::recorder::Recorder) -> Self {
        let config = &self.config;
        let records = self.records.get_or_insert_with(|| Records::new(config));
        if !records.set_recorder(recorder) {
            log::warn!("bridge: a recorder was already set on these records; the first one stays");
        }
        self
    }

    /// The bridge, watching the broker connection from now on. Call it
    /// inside an actix system. Fails on an entry of
    /// [`BridgeConfig::allowed_origins`] or
    /// [`BridgeConfig::allowed_hosts`] that is not one.
    pub fn build(self) -> Result<Bridge, BridgeError> {
        let config = self.config;
        let origin = SameOrigin::new(&[], false)
            .allow_hosts(&config.allowed_hosts)?
            .allow_origins(&config.allowed_origins)?;
        let connected = Arc::new(AtomicBool::new(false));
        let readiness = ReadinessFlag(connected.clone()).start();
        self.mqtt.do_send(WatchConnection(readiness.recipient()));
        let state = BridgeState {
            mqtt: self.mqtt,
            origin,
            authenticator: self.authenticator,
            authorizer: self.authorizer,
            connected,
            draining: AtomicBool::new(false),
            sessions: Sessions::default(),
            session_slots: SessionSlots::new(config.max_sessions, config.max_sessions_per_address),
            dropped: Arc::new(AtomicU64::new(0)),
            records: self.records.unwrap_or_else(|| Records::new(&config)),
            ownership: Ownership::new(
                config.max_server_subscriptions_per_user,
                config.max_server_subscriptions,
            ),
            metrics: Default::default(),
            started: Instant::now(),
            config,
        };
        Ok(Bridge {
            state: web::Data::new(state),
        })
    }
}

/// What the application may ask of a running bridge. Cheap to clone.
#[derive(Clone)]
pub struct BridgeHandle {
    state: Arc<BridgeState>,
}

impl std::fmt::Debug for BridgeHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BridgeHandle")
            .field("sessions", &self.sessions())
            .finish_non_exhaustive()
    }
}

impl BridgeHandle {
    /// Shutdown begins: `/readyz` answers `503` from now on (so that a load
    /// balancer sends no new clients), while open sessions are still served.
    pub fn drain(&self) {
        self.state.draining.store(true, Ordering::Release);
    }

    /// Closes every session: WebSockets with 1001, event streams end.
    pub fn close_all(&self) {
        self.state.sessions.tell_all(Control::GoingAway);
    }

    /// Checks everything open against the access rules now: call it after
    /// they changed (a reloaded password or ACL file). A WebSocket whose
    /// login no longer holds closes with 1008, an event stream ends with an
    /// `unauthorized` error. Every filter a WebSocket or event stream holds
    /// is checked with the [`Authorizer`]: one no longer readable is
    /// released and its client gets an `unsubscribed` notice with the
    /// reason `revoked` (an event stream left with none ends). A
    /// server-side subscription whose owner is gone or may no longer read
    /// its filter is dropped.
    pub fn recheck(&self) {
        self.state.sessions.tell_all(Control::Recheck);
        self.state.recheck_server_subscriptions();
    }

    /// Re-reads `auth`'s password and ACL files (what an app does on
    /// SIGHUP), logs what it loaded or why it could not, and, when they
    /// loaded, has every open session checked against them ([`recheck`]).
    /// On an error the files in force stay.
    ///
    /// [`recheck`]: BridgeHandle::recheck
    pub fn reload(&self, auth: &MosquittoAuth) -> Result<Reloaded, BridgeError> {
        let result = auth.reload();
        match &result {
            Ok(r) => {
                let count = |n: Option<usize>| n.map_or("no".to_string(), |n| n.to_string());
                log::info!(
                    "access files re-read: {} users, {} ACL rules",
                    count(r.users),
                    count(r.acl_rules)
                );
                self.recheck();
            }
            Err(e) => log::warn!("access files not re-read, the old ones stay in force: {e}"),
        }
        result
    }

    /// Open sessions (WebSockets and event streams).
    pub fn sessions(&self) -> usize {
        self.state.sessions.count()
    }
}
