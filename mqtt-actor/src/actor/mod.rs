//! The `MqttActor`: owns the Paho client, keeps the subscriptions, reconnects,
//! buffers publishes while disconnected and fans incoming messages out.
//!
//! The actor is one struct whose state lives in plain parts, tested without a
//! broker; the files of this module wire them to Paho and actix:
//!
//! - `builder.rs`: [`MqttActorBuilder`], handlers and initial subscriptions,
//!   validation, the Paho client.
//! - `connection.rs`: whether the connection is up, and the back-off between
//!   attempts (pure).
//! - `failover.rs`: which broker of the failover list the next attempt goes
//!   to (pure).
//! - `takeover.rs`: seeing another client with the same client id (pure).
//! - `sharing.rs`: the warning about a shared subscription next to an
//!   overlapping ordinary one on one connection.
//! - `lifecycle.rs`: connecting, reconnecting, connection events, waiting for
//!   and watching the connection, `Disconnect`.
//! - `subscriptions.rs`: `Subscribe`, `Unsubscribe`, `UnsubscribeAll`: a
//!   filter is held once the broker granted it; the broker subscriptions
//!   follow the [`Plan`](crate::plan::Plan) (none overlapping), changed one
//!   step at a time; re-subscribing after a reconnect; releasing the filters
//!   of listeners that stopped.
//! - `publishing.rs`: `Publish` with its deadline, and the bounded buffer of
//!   QoS 1/2 publishes made while disconnected (pure).
//! - `delivery.rs`: incoming messages to handlers and listeners, with the
//!   delivery policy: each listener's backlog, drop notices, and retained
//!   messages only for the holders that asked for them (pure parts).
//! - `queries.rs`: the counters, `GetStatus`, `GetSubscriptions`.
//! - `streams.rs`: `SubscribeStream`: a listener bridge per stream.
//! - `requests.rs`: `Request`: the reply topic, correlation data, and the
//!   reply desk that answers the callers.

mod builder;
mod connection;
mod delivery;
mod failover;
mod lifecycle;
mod publishing;
mod queries;
mod requests;
mod sharing;
mod streams;
mod subscriptions;
mod takeover;

use std::time::Duration;

use actix::prelude::*;
use futures::channel::oneshot;
use paho_mqtt as paho;

use crate::client::{ConnectionEvents, InboundStream};
use crate::config::MqttConfig;
use crate::error::MqttError;
use crate::handlers::{Handlers, LogLevel};
use crate::messages::{ConnectionChanged, MqttMessage};
use crate::plan::Plan;
use crate::topic::Index;

pub use builder::MqttActorBuilder;

use connection::Connection;
use delivery::{Listener, RetainedWindows};
use failover::Failover;
use publishing::{Buffered, InFlight, OfflineBuffer};
use queries::Counters;
use requests::Requests;
use subscriptions::{AtBroker, Holder, Steps};
use takeover::TakeoverWatch;

/// How often listeners whose actor stopped are looked for.
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// The actor. Build it with [`MqttActor::builder`].
pub struct MqttActor {
    config: MqttConfig,
    /// The brokers of the failover list and the one in use (or tried next),
    /// which logs, errors, events and `GetStatus` name.
    failover: Failover,
    /// The id sent to the broker: the configured one (placeholders replaced),
    /// or one generated at build.
    client_id: String,
    client: paho::AsyncClient,
    /// One per broker of the failover list, in its order, built once from
    /// `config` (TLS files are read then); every attempt clones one.
    connect_opts: Vec<paho::ConnectOptions>,
    /// Sees the broker ending connections in the pattern of another client
    /// with the same id, so that the log says so.
    takeovers: TakeoverWatch,
    /// Shared filters already warned about (see `sharing.rs`): once each.
    mixed_shares_warned: std::collections::HashSet<String>,
    handlers: Handlers,
    /// Who holds which filter, at what QoS, granted or still waiting for SUBACK.
    index: Index<Holder>,
    /// Which broker subscriptions serve the held filters (none overlapping).
    plan: Plan,
    /// The broker subscriptions made on this connection (or, with a
    /// persistent session, kept from an earlier one), by broker filter.
    at_broker: std::collections::HashMap<String, AtBroker>,
    /// Subscription requests and releases waiting for the next step, and the
    /// step in flight.
    steps: Steps,
    /// Per broker filter, the holders that are due the retained messages its
    /// latest SUBSCRIBE brings (see `delivery.rs`).
    windows: RetainedWindows<Holder>,
    /// Up or down, stopping or not, and the back-off between attempts.
    connection: Connection,
    /// QoS 1/2 publishes made while disconnected, with the callers waiting for
    /// their answer; sent in order on the next connection.
    offline: OfflineBuffer<Buffered>,
    /// QoS 1/2 publishes sent and not yet acknowledged, with their callers:
    /// answered at once when the connection is lost.
    in_flight: InFlight,
    /// Per listener: the messages waiting while its mailbox is full, the
    /// drops not yet told, and where to tell them (see `delivery.rs` for the
    /// policy). Keyed like the index's holders.
    listeners: std::collections::HashMap<Recipient<MqttMessage>, Listener>,
    /// Actors told of every connection change ([`crate::WatchConnection`]).
    watchers: Vec<Recipient<ConnectionChanged>>,
    /// Callers of [`crate::WaitConnected`] waiting for the next connection.
    waiting: Vec<oneshot::Sender<()>>,
    counters: Counters,
    /// The reply topic prefix and the reply desk of [`crate::Request`]s.
    requests: Requests,
    /// The last failure to connect, reported by `GetStatus` and `WaitConnected`;
    /// cleared once connected.
    last_error: Option<MqttError>,
    /// Paho's connection events and messages; taken in `started`, where they
    /// become message streams of the actor.
    streams: Option<(ConnectionEvents, InboundStream)>,
    /// The actor's own address, set in `started`: handlers get it so that they
    /// can send the actor messages, and answers from the broker come back to it.
    addr: Option<Addr<MqttActor>>,
}

impl MqttActor {
    /// Starts building an actor for `config`.
    pub fn builder(config: MqttConfig) -> MqttActorBuilder {
        MqttActorBuilder::new(config)
    }

    fn me(&self) -> Addr<MqttActor> {
        self.addr.clone().expect("address is set in started()")
    }

    /// The broker in use, or while disconnected the one tried next.
    fn uri(&self) -> &str {
        self.failover.current()
    }

    fn log(&self, level: LogLevel, text: &str) {
        self.handlers.log(level, text);
    }

    /// A request to this actor's broker, for [`await_ack`](crate::client::await_ack).
    fn ack(&self, operation: &'static str, topic: &str) -> crate::client::Request {
        crate::client::Request {
            operation,
            topic: topic.to_string(),
            broker: self.uri().to_string(),
        }
    }

    fn not_connected(&self) -> MqttError {
        MqttError::NotConnected {
            broker: self.uri().to_string(),
        }
    }
}

impl Actor for MqttActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.addr = Some(ctx.address());
        if let Some((events, inbound)) = self.streams.take() {
            ctx.add_message_stream(events);
            ctx.add_message_stream(inbound);
        }
        ctx.run_interval(SWEEP_INTERVAL, |act, ctx| act.sweep_dead(ctx));
        self.log(
            LogLevel::Info,
            &format!("client {} connecting to {}", self.client_id, self.uri()),
        );
        self.connect(ctx);
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        if self.client.is_connected() {
            // The DISCONNECT is already under way; nobody is left to await it.
            drop(self.client.disconnect(None));
        }
    }
}
