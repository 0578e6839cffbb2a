//! The `on_*` callbacks, registered on the builder before the actor connects.

use actix::Addr;

use crate::actor::MqttActor;
use crate::messages::{MqttMessage, QoS};
use crate::topic::Trie;

/// Flask-MQTT's log levels, with the same bit values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// `MQTT_LOG_INFO` (0x01).
    Info = 0x01,
    /// `MQTT_LOG_NOTICE` (0x02).
    Notice = 0x02,
    /// `MQTT_LOG_WARNING` (0x04).
    Warning = 0x04,
    /// `MQTT_LOG_ERR` (0x08).
    Err = 0x08,
    /// `MQTT_LOG_DEBUG` (0x10).
    Debug = 0x10,
}

impl LogLevel {
    /// The level for the `log` crate.
    pub fn as_log_level(self) -> log::Level {
        match self {
            LogLevel::Info | LogLevel::Notice => log::Level::Info,
            LogLevel::Warning => log::Level::Warn,
            LogLevel::Err => log::Level::Error,
            LogLevel::Debug => log::Level::Debug,
        }
    }
}

/// Passed to `on_connect` handlers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connected {
    /// The URI of the broker connected to (with a failover list: the one
    /// that answered).
    pub broker: String,
    /// `false` for the first connection, `true` after a reconnect.
    pub reconnect: bool,
}

/// Passed to `on_disconnect` handlers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disconnected {
    /// The URI of the broker whose connection was lost.
    pub broker: String,
    /// Why the connection ended.
    pub reason: String,
}

/// Passed to `on_publish` handlers once the broker accepted a publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The topic.
    pub topic: String,
    /// The QoS it went out with.
    pub qos: QoS,
}

/// Passed to `on_subscribe` handlers once the broker acknowledged a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribed {
    /// The broker subscription's filter: the held filter, or the wider one
    /// serving overlapping held filters.
    pub filter: String,
    /// The QoS granted in SUBACK.
    pub granted: QoS,
}

/// Passed to `on_unsubscribe` handlers once the broker acknowledged an
/// unsubscription (UNSUBACK).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribed {
    /// The filter the broker no longer serves.
    pub filter: String,
}

type Callback<T> = Box<dyn Fn(&Addr<MqttActor>, &T)>;
/// An `on_topic`-like handler: `Err` is a warning for `on_log` (a payload
/// that did not decode, a request without a response topic, ...).
pub(crate) type TopicCallback =
    Box<dyn Fn(&Addr<MqttActor>, &MqttMessage) -> std::result::Result<(), String>>;
type LogCallback = Box<dyn Fn(LogLevel, &str)>;

/// Every registered callback. Handlers run on the actor's thread: keep them
/// short, and hand long work to another actor or task.
#[derive(Default)]
pub(crate) struct Handlers {
    pub connect: Vec<Callback<Connected>>,
    pub disconnect: Vec<Callback<Disconnected>>,
    pub message: Vec<Callback<MqttMessage>>,
    pub topics: Option<Trie<(String, Vec<TopicCallback>)>>,
    pub publish: Vec<Callback<Published>>,
    pub subscribe: Vec<Callback<Subscribed>>,
    pub unsubscribe: Vec<Callback<Unsubscribed>>,
    pub log: Vec<LogCallback>,
}

impl Handlers {
    pub fn add_topic(&mut self, filter: String, f: TopicCallback) {
        let topics = self.topics.get_or_insert_with(Trie::default);
        let (_, list) = topics.get_or_insert_with(&filter, || (filter.clone(), Vec::new()));
        list.push(f);
    }

    /// The filters of the `on_topic` handlers.
    pub fn topic_filters(&self) -> impl Iterator<Item = &str> {
        self.topics
            .iter()
            .flat_map(|t| t.values().map(|(filter, _)| filter.as_str()))
    }

    /// Runs every matching `on_topic` handler, then every `on_message` handler.
    pub fn message(&self, addr: &Addr<MqttActor>, msg: &MqttMessage) {
        if let Some(topics) = &self.topics {
            topics.for_each_match(msg.topic(), |(_, list)| {
                for f in list {
                    if let Err(warning) = f(addr, msg) {
                        self.log(LogLevel::Warning, &warning);
                    }
                }
            });
        }
        self.message.iter().for_each(|f| f(addr, msg));
    }

    /// Sends a log line to the `log` crate and to every `on_log` handler.
    pub fn log(&self, level: LogLevel, text: &str) {
        log::log!(target: "mqtt_actor", level.as_log_level(), "{text}");
        self.log.iter().for_each(|f| f(level, text));
    }
}

pub(crate) fn call<T>(list: &[Callback<T>], addr: &Addr<MqttActor>, event: &T) {
    list.iter().for_each(|f| f(addr, event));
}
