//! What the bridge's handlers and sessions share ([`BridgeState`]): the
//! `MqttActor`'s address, the config, the two access traits, the session
//! registry, counters, and what the bridge keeps of the server's own
//! messages.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime};

use actix::prelude::*;

use crate::web::access::{Access, Authenticator, Authorizer, Operation, Principal};
use crate::web::config::BridgeConfig;
use crate::web::error::{ApiError, ErrorCode};
use crate::web::limits::{check_web_topic, SessionSlots};
use crate::web::metrics::Metrics;
use crate::web::origin::SameOrigin;
use crate::web::ownership::{Owner, Ownership};
use crate::web::protocol::{Properties, PublishBody};
use crate::web::records::Records;
use crate::{ConnectionChanged, MessageProperties, MqttActor, Publish, Unsubscribe};

/// Shared by every worker.
pub(crate) struct BridgeState {
    /// The MQTT actor.
    pub mqtt: Addr<MqttActor>,
    /// Limits and rules.
    pub config: BridgeConfig,
    /// The allowed hosts and origins of `config`, parsed; the server's own
    /// names come from each request's listener.
    pub origin: SameOrigin,
    /// Who a request acts for.
    pub authenticator: Box<dyn Authenticator>,
    /// What they may do.
    pub authorizer: Box<dyn Authorizer>,
    /// Broker connection (`/readyz`, and publishes fail fast without it),
    /// kept current by [`ReadinessFlag`].
    pub connected: Arc<AtomicBool>,
    /// Set when the application starts shutting down: `/readyz` answers 503
    /// from then on, so that a load balancer sends no new clients while open
    /// sockets drain.
    pub draining: AtomicBool,
    /// Open sessions.
    pub sessions: Sessions,
    /// Room for more sessions.
    pub session_slots: SessionSlots,
    /// Messages dropped for slow clients (`/api/status` `dropped`).
    pub dropped: Arc<AtomicU64>,
    /// Last values, history and retained messages under the server's own
    /// subscriptions.
    pub records: Arc<Records>,
    /// Who owns the server-side subscriptions web clients asked for.
    pub ownership: Ownership,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// Start time, for `uptime_s`.
    pub started: Instant,
}

impl BridgeState {
    /// Whether `principal` may do `operation` on `target`, as the client's
    /// error when not.
    pub fn authorize(
        &self,
        principal: &Principal,
        operation: Operation,
        target: &str,
    ) -> Result<(), ApiError> {
        let (code, message) = match self.authorizer.authorize(principal, operation, target) {
            Access::Allow => return Ok(()),
            Access::Forbidden(message) => (ErrorCode::Forbidden, message),
            Access::Unauthorized(message) => (ErrorCode::Unauthorized, message),
            Access::InvalidTopic(message) => (ErrorCode::InvalidTopic, message),
        };
        let message = match message.is_empty() {
            true => {
                let to = if operation == Operation::Read {
                    ""
                } else {
                    " to"
                };
                format!("not allowed to {operation}{to} {target}")
            }
            false => message,
        };
        log::debug!(
            "refused: {:?} {operation} {}: {message}",
            principal.user,
            target.escape_debug()
        );
        Err(ApiError::new(code, message))
    }

    /// Whether a session of `principal` may go on at `now`.
    pub fn still_valid(&self, principal: &Principal, now: SystemTime) -> Result<(), String> {
        self.authenticator.still_valid(principal, now)
    }

    /// Whether `principal` administers server-side subscriptions: the
    /// authorizer lets it publish to [`BridgeConfig::admin_topic`].
    pub fn is_admin(&self, principal: &Principal) -> bool {
        self.config.admin_topic.as_deref().is_some_and(|topic| {
            let access = self
                .authorizer
                .authorize(principal, Operation::Publish, topic);
            access == Access::Allow
        })
    }

    /// Drops the server-side subscriptions whose owner is gone (no longer
    /// signs in) or may no longer read the filter, and has the `MqttActor`
    /// let go of those nobody owns any more.
    pub fn recheck_server_subscriptions(&self) {
        let now = SystemTime::now();
        let released = self.ownership.retain(|owner: &Owner, filter| {
            let principal = match owner {
                Some(user) => Principal::user(user.as_str()),
                None => Principal::anonymous(),
            };
            let holds = self.still_valid(&principal, now).is_ok()
                && self.authorizer.authorize(&principal, Operation::Subscribe, filter)
                    == Access::Allow;
            if !holds {
                log::info!(
                    "server-side subscription to {} of {owner:?} dropped: its owner may no longer hold it",
                    filter.escape_debug()
                );
            }
            holds
        });
        for filter in released {
            self.mqtt.do_send(Unsubscribe::new(filter));
        }
    }

    /// Checks a publish from the web (topic, payload, size, connection) and
    /// turns it into the actor's message.
    pub fn publish_request(&self, body: &PublishBody) -> Result<Publish, ApiError> {
        let c = &self.config;
        check_web_topic(&body.topic, c.max_filter_levels, c.max_filter_bytes)?;
        let payload = body.payload_bytes()?;
        let limit = c.max_frame_bytes;
        if payload.len() > limit {
            return Err(ApiError::new(
                ErrorCode::TooLarge,
                format!(
                    "payload of {} bytes is over the limit of {limit}",
                    payload.len()
                ),
            ));
        }
        let properties = match &body.properties {
            Some(props) => check_properties(props, c)?,
            None => MessageProperties::default(),
        };
        self.require_connection()?;
        // Over MQTT 3.1.1 a publish with properties fails with `NeedsMqtt5`
        // (`bad_request`): never sent without what was asked for.
        Ok(Publish::new(body.topic.clone(), payload)
            .qos(body.qos)
            .retain(body.retain)
            .properties(properties))
    }

    /// The web API fails fast without a broker; only library users opt into
    /// buffering.
    pub fn require_connection(&self) -> Result<(), ApiError> {
        match self.connected.load(Ordering::Acquire) {
            true => Ok(()),
            false => Err(ApiError::new(
                ErrorCode::NotConnected,
                "not connected to the MQTT broker right now",
            )),
        }
    }
}

/// Checks the MQTT 5 properties of a publish from the web and turns them into
/// the library's.
fn check_properties(props: &Properties, c: &BridgeConfig) -> Result<MessageProperties, ApiError> {
    if let Some(topic) = &props.response_topic {
        check_web_topic(topic, c.max_filter_levels, c.max_filter_bytes).map_err(|mut e| {
            e.message = format!("properties: response_topic: {}", e.message);
            e
        })?;
    }
    props.to_library()
}

/// What the application asks of every open session.
#[derive(Message, Debug, Clone, Copy, PartialEq, Eq)]
#[rtype(result = "()")]
pub(crate) enum Control {
    /// The server shuts down: close (a WebSocket with 1001).
    GoingAway,
    /// The access rules changed: check the session's login and filters now.
    Recheck,
}

/// The open sessions, so that shutdown and rechecks reach each. It holds
/// them as recipients of [`Control`] only, so that shared state need not know
/// the session types: one per event stream (its fan-out), two per WebSocket
/// (the session, and its fan-out, which runs even when the session cannot).
#[derive(Default)]
pub(crate) struct Sessions {
    next: AtomicU64,
    open: Mutex<HashMap<u64, Vec<Recipient<Control>>>>,
}

impl Sessions {
    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Vec<Recipient<Control>>>> {
        // The map stays consistent at every step.
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a session, told every [`Control`] through `parts`; its id, for
    /// [`Sessions::unregister`].
    pub fn register(&self, parts: Vec<Recipient<Control>>) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(id, parts);
        id
    }

    /// Removes a session.
    pub fn unregister(&self, id: u64) {
        self.lock().remove(&id);
    }

    /// How many are open.
    pub fn count(&self) -> usize {
        self.lock().len()
    }

    /// Tells every session `control`.
    pub fn tell_all(&self, control: Control) {
        for part in self.lock().values().flatten() {
            part.do_send(control);
        }
    }
}

/// The readiness flag's writer: an actor that stores each connection notice
/// of the `MqttActor` into [`BridgeState::connected`].
pub(crate) struct ReadinessFlag(pub Arc<AtomicBool>);

impl Actor for ReadinessFlag {
    type Context = Context<Self>;
}

impl Handler<ConnectionChanged> for ReadinessFlag {
    type Result = ();
    fn handle(&mut self, c: ConnectionChanged, _: &mut Context<Self>) {
        self.0.store(c.connected, Ordering::Release);
    }
}
