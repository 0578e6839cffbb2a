//! What the HTTP handlers and sessions share: the `MqttActor`'s address, the
//! settings, the session registry, counters, what the server keeps of the
//! messages under its own subscriptions and the
//! access gate.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use actix::prelude::*;
use mqtt_actor::{ConnectionChanged, MessageProperties, MqttActor, Publish};

use crate::error::{ApiError, Code};
use crate::gate::Gate;
use crate::limits::{check_web_topic, SessionSlots};
use crate::metrics::Metrics;
use crate::protocol::{Properties, PublishBody};
use crate::seen::Seen;
use crate::settings::Settings;

/// Shared by every worker.
pub struct AppState {
    /// The MQTT actor.
    pub mqtt: Addr<MqttActor>,
    /// Settings.
    pub settings: Settings,
    /// Broker connection (`/readyz`, and publishes fail fast without it),
    /// kept current by [`ReadinessFlag`].
    pub connected: Arc<AtomicBool>,
    /// Set when shutdown begins: `/readyz` answers 503 from then on, so that
    /// a load balancer sends no new clients while open sockets drain.
    pub draining: AtomicBool,
    /// Open sessions.
    pub sessions: Sessions,
    /// Room for more sessions (`WS_MAX_SESSIONS`, `WS_MAX_SESSIONS_PER_IP`).
    pub session_slots: SessionSlots,
    /// Messages dropped for slow sessions.
    pub dropped: Arc<AtomicU64>,
    /// Last values, history and retained messages under server-side
    /// subscriptions.
    pub seen: Arc<Seen>,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// Start time, for `uptime_s`.
    pub started: Instant,
    /// Who may use the app and what they may do (`gate.rs`).
    pub gate: Arc<Gate>,
}

impl AppState {
    /// Checks a publish from the web (topic, payload, size, connection) and
    /// turns it into the actor's message.
    pub fn publish_request(&self, body: &PublishBody) -> Result<Publish, ApiError> {
        let s = &self.settings;
        check_web_topic(&body.topic, s.max_filter_levels, s.max_filter_bytes)?;
        let payload = body.payload_bytes()?;
        let limit = self.settings.max_frame_bytes;
        if payload.len() > limit {
            return Err(ApiError::new(
                Code::TooLarge,
                format!(
                    "payload of {} bytes is over the limit of {limit}",
                    payload.len()
                ),
            ));
        }
        let properties = match &body.properties {
            Some(props) => check_properties(props, s)?,
            None => MessageProperties::default(),
        };
        // The web API fails fast; only library users opt into buffering.
        if !self.connected.load(Ordering::Acquire) {
            return Err(ApiError::new(
                Code::NotConnected,
                "not connected to the MQTT broker right now",
            ));
        }
        // Over MQTT 3.1.1 a publish with properties fails with `NeedsMqtt5`
        // (`bad_request`): never sent without what was asked for.
        Ok(Publish::new(body.topic.clone(), payload)
            .qos(body.qos)
            .retain(body.retain)
            .properties(properties))
    }
}

/// Checks the MQTT 5 properties of a publish from the web and turns them into
/// the library's.
fn check_properties(props: &Properties, s: &Settings) -> Result<MessageProperties, ApiError> {
    if let Some(topic) = &props.response_topic {
        check_web_topic(topic, s.max_filter_levels, s.max_filter_bytes).map_err(|mut e| {
            e.message = format!("properties: response_topic: {}", e.message);
            e
        })?;
    }
    props.to_library()
}

/// Sent to every session when the server shuts down: close with 1001.
#[derive(Message)]
#[rtype(result = "()")]
pub struct GoingAway;

/// The open sessions, so shutdown can close each with 1001. It holds them as
/// recipients of [`GoingAway`] only, so that shared state need not know the
/// session type.
#[derive(Default)]
pub struct Sessions {
    next: AtomicU64,
    open: Mutex<HashMap<u64, Recipient<GoingAway>>>,
}

impl Sessions {
    /// A fresh session id.
    pub fn next_id(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// Adds a session.
    pub fn register(&self, id: u64, session: Recipient<GoingAway>) {
        self.open.lock().expect("sessions lock").insert(id, session);
    }

    /// Removes a session.
    pub fn unregister(&self, id: u64) {
        self.open.lock().expect("sessions lock").remove(&id);
    }

    /// How many are open.
    pub fn count(&self) -> usize {
        self.open.lock().expect("sessions lock").len()
    }

    /// Tells every session to close with 1001.
    pub fn close_all(&self) {
        for session in self.open.lock().expect("sessions lock").values() {
            session.do_send(GoingAway);
        }
    }
}

/// The readiness flag's writer: an actor that stores each connection notice
/// of the `MqttActor` into [`AppState::connected`].
pub struct ReadinessFlag(pub Arc<AtomicBool>);

impl Actor for ReadinessFlag {
    type Context = Context<Self>;
}

impl Handler<ConnectionChanged> for ReadinessFlag {
    type Result = ();
    fn handle(&mut self, c: ConnectionChanged, _: &mut Context<Self>) {
        self.0.store(c.connected, Ordering::Release);
    }
}
