//! # mqtt-actor
//!
//! MQTT for Actix applications: an [`MqttActor`] owns an Eclipse Paho client,
//! keeps track of what is subscribed and by whom, reconnects and re-subscribes,
//! dispatches incoming messages to handlers and to listener actors.
//!
//! ```no_run
//! use mqtt_actor::{MqttActor, MqttConfig, Publish, QoS, Subscribe};
//!
//! #[actix::main]
//! async fn main() -> Result<(), mqtt_actor::MqttError> {
//!     let mqtt = MqttActor::builder(MqttConfig::from_env()?)
//!         // Subscribing in on_connect re-subscribes after every reconnect, as in Flask-MQTT.
//!         .on_connect(|mqtt, _| mqtt.do_send(Subscribe::new("home/+/temperature")))
//!         .on_topic("home/+/temperature", |_, msg| {
//!             println!("{}: {:?}", msg.topic(), msg.payload_str());
//!         })
//!         .start()?;
//!     mqtt.send(Publish::new("home/kitchen/lamp", "on").qos(QoS::AtLeastOnce))
//!         .await??;
//!     Ok(())
//! }
//! ```
//!
//! Listener actors get the messages of their own filters in their mailbox:
//! `Subscribe::new(filter).listener(addr.recipient())`, once per message
//! however many of their filters match, on every broker. The actor never
//! waits on a listener; a listener whose mailbox is full has its messages
//! kept in a bounded backlog, in order, and only past it are messages dropped,
//! counted ([`Subscribe::capacity`], [`Status::dropped`]) and told to the
//! listener ([`Subscribe::notices`], [`ListenerNotice`]). A filter is held
//! once the broker granted it; a holder joining a filter the broker already
//! serves gets its retained messages too.
//!
//! Beyond handlers and listeners: typed JSON payloads ([`Publish::json`],
//! [`MqttMessage::json`], [`MqttActorBuilder::on_topic_json`]); MQTT 5
//! properties on [`Publish`] and on every [`MqttMessage`]; a
//! [`SubscribeStream`] for async code that is not an actor (an actix-web
//! response body, say), which reports what its reader lost and lets go of its
//! filter when dropped; and request/response over MQTT 5 ([`Request`],
//! [`MqttActorBuilder::on_request`]).
//!
//! # Layout
//!
//! Files form floors; a file imports only from its own floor or below, and
//! no two files import each other in a loop (`tests/floors.rs` at the
//! workspace root checks it, for `src/` and for each directory under it):
//!
//! - bottom, the words everything shares: `error.rs` ([`MqttError`], one enum
//!   for the crate), `qos.rs` ([`QoS`]), `strings.rs` (the characters MQTT
//!   strings must not carry), `brokers.rs` (the broker list of
//!   `MQTT_BROKER_URL`: checking and completing its entries), `client_id.rs`
//!   (`{hostname}` and `{pid}` in `MQTT_CLIENT_ID`);
//! - `topic.rs` (topic and filter validation, the trie of filters, and the
//!   index of who holds which filter), `config.rs` ([`MqttConfig`], the table
//!   of settings ([`SETTINGS`]), reading them from the environment, TOML or
//!   JSON, and validation);
//! - `messages.rs` (the public vocabulary: [`Subscribe`], [`Unsubscribe`],
//!   [`Publish`], the queries and their answers, [`MqttMessage`]),
//!   `plan.rs` (which broker subscriptions serve the held filters, none
//!   overlapping), `handlers.rs` (the `on_*` callbacks and the events they
//!   get: [`Connected`], [`Subscribed`], [`Unsubscribed`], ...);
//! - `client.rs` (the Paho side: options from the configuration, callbacks
//!   that only forward, conversions), `request.rs` ([`Request`], [`Reply`]
//!   and [`IntoReply`]: request/response over MQTT 5, and the listener that
//!   hands replies to their callers), `stream.rs` ([`SubscribeStream`] and
//!   its [`MessageStream`] of [`StreamItem`]s, for async code that is not an
//!   actor: the bounded queue and the listener bridge that fills it),
//!   `broker_limits.rs` (what the broker allows a publish to be: retain,
//!   QoS, packet size, from CONNACK or the settings);
//! - `actor/`: the [`MqttActor`] and its [`MqttActorBuilder`], on floors of
//!   their own (listed in its module docs): the pure parts of its state at
//!   the bottom, the struct in `mod.rs`, and one file per job on top; the
//!   delivery policy is at the top of `actor/delivery.rs`;
//! - `web/` (feature `web`): the browser bridge, on floors of its own
//!   (listed in its module docs); `recorder/` (feature `history`): the
//!   recorder of messages into SQLite or PostgreSQL, its retention and
//!   history queries;
//! - this file: the crate docs and re-exports.
#![warn(missing_docs)]

mod actor;
mod broker_limits;
mod brokers;
mod client;
mod client_id;
mod config;
mod error;
mod handlers;
mod messages;
mod plan;
mod qos;
#[cfg(feature = "history")]
pub mod recorder;
mod request;
mod stream;
mod strings;
mod topic;
#[cfg(feature = "web")]
pub mod web;

pub use actor::builder::MqttActorBuilder;
pub use actor::MqttActor;
pub use config::{MqttConfig, ProtocolVersion, Setting, TlsVersion, Transport, SETTINGS};
pub use error::{MqttError, Result};
pub use handlers::{Connected, Disconnected, LogLevel, Published, Subscribed, Unsubscribed};
pub use messages::{
    ConnectionChanged, Disconnect, GetStatus, GetSubscriptions, ListenerNotice, MessageProperties,
    MqttMessage, Publish, Status, Subscribe, SubscriptionInfo, Unsubscribe, UnsubscribeAll,
    WaitConnected, WatchConnection,
};
pub use qos::QoS;
pub use request::{IntoReply, Reply, Request};
pub use stream::{MessageStream, StreamItem, SubscribeStream};
pub use topic::{validate_filter, validate_topic};
