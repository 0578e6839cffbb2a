//! The `on_*` callbacks, registered on the builder before the actor connects,
//! and the events they get.
//!
//! The callbacks take the actor's address; they are generic over the actor
//! type so that this file sits below the actor that keeps them.

use std::cmp::Ordering;

use actix::{Actor, Addr};

use crate::messages::MqttMessage;
use crate::qos::QoS;
use crate::topic::Trie;

/// Flask-MQTT's log levels, with the same bit values (`level as u8`).
/// They compare by severity: `Debug < Info < Notice < Warning < Err`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
    /// Rank by severity, lowest first (Flask-MQTT's bit values put `Debug`
    /// highest, so they cannot be the order).
    fn severity(self) -> u8 {
        match self {
            LogLevel::Debug => 0,
            LogLevel::Info => 1,
            LogLevel::Notice => 2,
            LogLevel::Warning => 3,
            LogLevel::Err => 4,
        }
    }

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

impl Ord for LogLevel {
    fn cmp(&self, other: &Self) -> Ordering {
        self.severity().cmp(&other.severity())
    }
}

impl PartialOrd for LogLevel {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Passed to `on_connect` handlers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Connected {
    /// The URI of the broker connected to (with a failover list: the one
    /// that answered).
    pub broker: String,
    /// `false` for the first connection, `true` after a reconnect.
    pub reconnect: bool,
}

/// Passed to `on_disconnect` handlers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Disconnected {
    /// The URI of the broker whose connection was lost.
    pub broker: String,
    /// Why the connection ended.
    pub reason: String,
}

/// Passed to `on_publish` handlers once the broker accepted a publish.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Published {
    /// The topic.
    pub topic: String,
    /// The QoS it went out with.
    pub qos: QoS,
}

/// Passed to `on_subscribe` handlers once the broker acknowledged a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
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
#[non_exhaustive]
pub struct Unsubscribed {
    /// The filter the broker no longer serves.
    pub filter: String,
}

type Callback<A, T> = Box<dyn Fn(&Addr<A>, &T)>;
/// An `on_topic`-like handler: `Err` is a warning for `on_log` (a payload
/// that did not decode, a request without a response topic, ...).
pub(crate) type TopicCallback<A> =
    Box<dyn Fn(&Addr<A>, &MqttMessage) -> std::result::Result<(), String>>;
type LogCallback<A> = Box<dyn Fn(&Addr<A>, LogLevel, &str)>;

/// Every registered callback. Handlers run on the actor's thread: keep them
/// short, and hand long work to another actor or task.
pub(crate) struct Handlers<A: Actor> {
    pub connect: Vec<Callback<A, Connected>>,
    pub disconnect: Vec<Callback<A, Disconnected>>,
    pub message: Vec<Callback<A, MqttMessage>>,
    pub topics: Option<Trie<(String, Vec<TopicCallback<A>>)>>,
    pub publish: Vec<Callback<A, Published>>,
    pub subscribe: Vec<Callback<A, Subscribed>>,
    pub unsubscribe: Vec<Callback<A, Unsubscribed>>,
    pub log: Vec<LogCallback<A>>,
}

impl<A: Actor> Default for Handlers<A> {
    fn default() -> Self {
        Handlers {
            connect: Vec::new(),
            disconnect: Vec::new(),
            message: Vec::new(),
            topics: None,
            publish: Vec::new(),
            subscribe: Vec::new(),
            unsubscribe: Vec::new(),
            log: Vec::new(),
        }
    }
}

impl<A: Actor> Handlers<A> {
    pub fn add_topic(&mut self, filter: String, f: TopicCallback<A>) {
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
    pub fn message(&self, addr: &Addr<A>, msg: &MqttMessage) {
        if let Some(topics) = &self.topics {
            topics.for_each_match(msg.topic(), |(_, list)| {
                for f in list {
                    if let Err(warning) = f(addr, msg) {
                        self.log(addr, LogLevel::Warning, &warning);
                    }
                }
            });
        }
        self.message.iter().for_each(|f| f(addr, msg));
    }

    /// Sends a log line to the `log` crate and to every `on_log` handler.
    pub fn log(&self, addr: &Addr<A>, level: LogLevel, text: &str) {
        log::log!(target: "mqtt_actor", level.as_log_level(), "{text}");
        self.log.iter().for_each(|f| f(addr, level, text));
    }
}

pub(crate) fn call<A: Actor, T>(list: &[Callback<A, T>], addr: &Addr<A>, event: &T) {
    list.iter().for_each(|f| f(addr, event));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_levels_order_by_severity_and_keep_flask_values() {
        let mut levels = [
            LogLevel::Err,
            LogLevel::Debug,
            LogLevel::Warning,
            LogLevel::Info,
            LogLevel::Notice,
        ];
        levels.sort();
        assert_eq!(
            levels,
            [
                LogLevel::Debug,
                LogLevel::Info,
                LogLevel::Notice,
                LogLevel::Warning,
                LogLevel::Err
            ]
        );
        assert!(LogLevel::Warning >= LogLevel::Info);
        assert_eq!(levels.map(|l| l as u8), [0x10, 0x01, 0x02, 0x04, 0x08]);
    }
}
