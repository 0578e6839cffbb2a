//! The `MqttActor`: owns the Paho client, keeps the subscriptions, reconnects,
//! buffers publishes while disconnected and fans incoming messages out.
//!
//! Files form floors, and import only from their own floor or below (the
//! crate's floors test checks it):
//!
//! - bottom, the pure parts the actor's state is made of, tested without a
//!   broker: `connection.rs` (up or down, the back-off between attempts),
//!   `failover.rs` (which broker of the failover list is tried next),
//!   `takeover.rs` (seeing another client with the same client id),
//!   `budget.rs` (the inbound stream yields to the mailbox now and then),
//!   `listeners.rs` (who holds a filter; per listener its backlog and the
//!   drops not told yet), `retained.rs` (who is due the retained messages of
//!   a SUBSCRIBE), `steps.rs` (what waits for the next subscription step, and
//!   the broker subscriptions as acknowledged), `buffers.rs` (publishes
//!   waiting for the connection or for their acknowledgement), `counters.rs`
//!   (what `GetStatus` counts), `replies.rs` (the asking side of requests);
//! - `mod.rs`: the [`MqttActor`] struct, made of those parts;
//! - top, the rooms, each adding one job's behaviour to the actor:
//!   `builder.rs` ([`MqttActorBuilder`], validation, the Paho client),
//!   `lifecycle.rs` (starting, connecting, reconnecting, connection events,
//!   waiting for and watching the connection, `Disconnect`),
//!   `subscriptions.rs` (`Subscribe`, `Unsubscribe`, `UnsubscribeAll`: a
//!   filter is held once the broker granted it; the broker subscriptions
//!   follow the [`Plan`](crate::plan::Plan), changed one step at a time;
//!   re-subscribing after a reconnect; releasing the filters of listeners
//!   that stopped; in mailbox order), `broker_steps.rs` (running a step:
//!   its SUBSCRIBEs and SUBACKs, the UNSUBSCRIBEs of what the plan let go
//!   of), `publishing.rs` (`Publish` with its deadline),
//!   `delivery.rs` (incoming messages to handlers and listeners, with the
//!   delivery policy), `queries.rs` (`GetStatus`, `GetSubscriptions`),
//!   `streams.rs` (`SubscribeStream`: a listener bridge per stream),
//!   `requests.rs` (`Request`: the reply topic, correlation data and the
//!   reply desk), `sharing.rs` (the warning about a shared subscription next
//!   to an overlapping ordinary one).

// The rooms: each adds the behaviour of one job to `MqttActor` (top floor).
mod broker_steps;
pub(crate) mod builder;
mod delivery;
mod lifecycle;
mod publishing;
mod queries;
mod requests;
mod sharing;
mod streams;
mod subscriptions;

// The pure parts the actor's state is made of (bottom floor).
mod budget;
mod buffers;
mod connection;
mod counters;
mod failover;
mod listeners;
mod replies;
mod retained;
mod steps;
mod takeover;

use std::time::Duration;

use actix::prelude::*;
use futures::channel::oneshot;
use paho_mqtt as paho;

use crate::broker_limits::BrokerLimits;
use crate::client::{ConnectionEvents, InboundStream, Operation};
use crate::config::MqttConfig;
use crate::error::MqttError;
use crate::handlers::{Handlers, LogLevel};
use crate::messages::{ConnectionChanged, MqttMessage};
use crate::plan::Plan;
use crate::topic::Index;

use buffers::{Buffered, InFlight, OfflineBuffer};
use connection::Connection;
use counters::Counters;
use failover::Failover;
use listeners::{Holder, Listener};
use replies::Requests;
use retained::RetainedWindows;
use steps::{AtBroker, Steps};
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
    handlers: Handlers<MqttActor>,
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
    /// What the broker of the current connection allows a publish to be
    /// (from its CONNACK on MQTT 5, from the settings on 3.1.1).
    limits: BrokerLimits,
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
    /// The actor's own address, known before it starts (see
    /// `MqttActorBuilder::start`): handlers get it so that they can send the
    /// actor messages, and answers from the broker come back to it.
    addr: Addr<MqttActor>,
}

impl MqttActor {
    fn me(&self) -> Addr<MqttActor> {
        self.addr.clone()
    }

    /// The broker in use, or while disconnected the one tried next.
    fn uri(&self) -> &str {
        self.failover.current()
    }

    fn log(&self, level: LogLevel, text: &str) {
        self.handlers.log(&self.addr, level, text);
    }

    /// An operation at this actor's broker, for [`await_ack`](crate::client::await_ack).
    fn ack(&self, operation: &'static str, topic: &str) -> Operation {
        Operation {
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
