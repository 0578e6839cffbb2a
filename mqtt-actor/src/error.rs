//! The crate's error type: every failure names what went wrong and with what value.

use std::time::Duration;

/// Everything that can go wrong in `mqtt-actor`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MqttError {
    /// A configuration setting has a value that cannot be used.
    #[error("invalid value {value:?} for {setting}: {reason}")]
    Config {
        /// The setting's name, as in Flask-MQTT (`MQTT_BROKER_PORT`, ...).
        setting: String,
        /// The offending value, as given.
        value: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// A configuration file could not be read or parsed.
    #[error("cannot load configuration from {source_name}: {reason}")]
    ConfigSource {
        /// The file or format that failed.
        source_name: String,
        /// What the parser said.
        reason: String,
    },
    /// A topic name (for publishing) breaks the MQTT rules.
    #[error("invalid topic {topic:?}: {reason}")]
    InvalidTopic {
        /// The topic as given.
        topic: String,
        /// Which rule it breaks (and where, for a forbidden character).
        reason: String,
    },
    /// A topic filter (for subscribing) breaks the MQTT rules.
    #[error("invalid topic filter {filter:?}: {reason}")]
    InvalidFilter {
        /// The filter as given.
        filter: String,
        /// Which rule it breaks (and where, for a forbidden character).
        reason: String,
    },
    /// A QoS outside 0, 1, 2.
    #[error("invalid QoS {0}: must be 0, 1 or 2")]
    InvalidQos(i64),
    /// The client is not connected to the broker right now.
    #[error("not connected to the MQTT broker at {broker}")]
    NotConnected {
        /// The broker's URI.
        broker: String,
    },
    /// The broker refused the connection (bad credentials, not authorised, ...).
    #[error("broker {broker} refused the connection: {reason}")]
    ConnectionRefused {
        /// The broker's URI.
        broker: String,
        /// The reason the broker gave.
        reason: String,
    },
    /// The broker could not be reached (TCP, DNS or WebSocket failure).
    #[error("cannot reach the MQTT broker at {broker}: {reason}")]
    Unreachable {
        /// The broker's URI.
        broker: String,
        /// The underlying failure.
        reason: String,
    },
    /// The TLS handshake failed (unknown CA, bad certificate, wrong version, ...).
    #[error("TLS handshake with {broker} failed: {reason}")]
    Tls {
        /// The broker's URI.
        broker: String,
        /// The underlying failure.
        reason: String,
    },
    /// The broker answered a request with a failure code (e.g. SUBACK 0x80).
    #[error("the broker refused {operation} on {topic:?}: {reason}")]
    Refused {
        /// `subscribe`, `unsubscribe` or `publish`.
        operation: &'static str,
        /// The topic or filter concerned.
        topic: String,
        /// The reason code or message.
        reason: String,
    },
    /// The broker did not acknowledge in time.
    #[error("{operation} on {topic:?} was not acknowledged within {timeout:?}")]
    Timeout {
        /// `subscribe`, `unsubscribe` or `publish`.
        operation: &'static str,
        /// The topic or filter concerned.
        topic: String,
        /// How long we waited.
        timeout: Duration,
    },
    /// No reply to a [`Request`](crate::Request) came within its timeout.
    #[error("no reply to the request on {topic:?} within {timeout:?}")]
    NoReply {
        /// The topic the request was published to.
        topic: String,
        /// How long we waited.
        timeout: Duration,
    },
    /// Too many QoS 1/2 publishes are already waiting for the connection to return.
    #[error(
        "publish to {topic:?} dropped: {capacity} publishes are already buffered while disconnected"
    )]
    BufferFull {
        /// The topic of the rejected publish.
        topic: String,
        /// The buffer's capacity (`max_buffered_publishes`).
        capacity: usize,
    },
    /// A value could not be encoded as a JSON payload ([`Publish::json`](crate::Publish::json)).
    #[error("cannot encode the payload for {topic:?} as JSON: {reason}")]
    JsonEncode {
        /// The topic it was for.
        topic: String,
        /// What serde said.
        reason: String,
    },
    /// A payload is not the JSON expected ([`MqttMessage::json`](crate::MqttMessage::json)).
    #[error("the payload on {topic:?} is not the JSON expected: {reason}")]
    JsonDecode {
        /// The message's topic.
        topic: String,
        /// What serde said (with the line and column).
        reason: String,
    },
    /// An MQTT 5 property of a publish that MQTT (or the client) cannot carry.
    #[error("invalid MQTT 5 property {name} {value:?}: {reason}")]
    InvalidProperty {
        /// The property, as MQTT names it (`Content-Type`, `User-Property`, ...).
        name: &'static str,
        /// The offending value (cut when long).
        value: String,
        /// Which rule it breaks (and where, for a forbidden character).
        reason: String,
    },
    /// Something only MQTT 5 can do was asked of an MQTT 3.1.1 connection.
    #[error("{what} needs MQTT 5, but this actor speaks MQTT 3.1.1 (set MQTT_PROTOCOL_VERSION=5)")]
    NeedsMqtt5 {
        /// What was asked (a publish with properties, a request, ...).
        what: String,
    },
    /// A retained publish (an empty one too) to a broker that keeps no
    /// retained messages: it said so in CONNACK (MQTT 5), or
    /// `MQTT_RETAIN_AVAILABLE` is false. Nothing was sent.
    #[error(
        "retained publish to {topic:?} refused: the broker at {broker} does not keep retained \
         messages (announced in CONNACK, or MQTT_RETAIN_AVAILABLE=false)"
    )]
    RetainUnavailable {
        /// The topic of the publish.
        topic: String,
        /// The broker's URI.
        broker: String,
    },
    /// A publish at a QoS above the broker's maximum: announced in CONNACK
    /// (MQTT 5), or `MQTT_MAX_QOS`. Nothing was sent.
    #[error(
        "publish to {topic:?} at QoS {requested} refused: the broker at {broker} accepts QoS \
         {max} at most"
    )]
    QosNotSupported {
        /// The topic of the publish.
        topic: String,
        /// The QoS asked for.
        requested: u8,
        /// The broker's maximum QoS.
        max: u8,
        /// The broker's URI.
        broker: String,
    },
    /// A publish whose packet is larger than the broker's Maximum Packet
    /// Size (announced in CONNACK), or than MQTT can encode. Nothing was sent.
    #[error(
        "publish to {topic:?} refused: its packet is {size} bytes, the broker at {broker} \
         accepts {max} at most"
    )]
    PacketTooLarge {
        /// The topic of the publish.
        topic: String,
        /// The size of the PUBLISH packet, in bytes.
        size: usize,
        /// The largest packet the broker accepts.
        max: usize,
        /// The broker's URI.
        broker: String,
    },
    /// Unsubscribe for a filter that the holder does not hold.
    #[error("not subscribed to {filter:?}")]
    NotSubscribed {
        /// The filter as given.
        filter: String,
    },
    /// A `Subscribe` taken back before the broker was asked for it: a later
    /// `Unsubscribe` of the same filter, or `UnsubscribeAll`, by the same
    /// holder reached the actor while it waited for the next subscription
    /// step (or its listener stopped meanwhile). Messages to the actor take
    /// effect in mailbox order, so the holder does not hold the filter.
    #[error(
        "the subscribe to {filter:?} was withdrawn by a later unsubscribe before the broker \
         was asked"
    )]
    Withdrawn {
        /// The filter of the `Subscribe`.
        filter: String,
    },
    /// Any other failure of the Paho client.
    #[error("MQTT client error: {0}")]
    Client(String),
    /// The actor has stopped (the process is shutting down).
    #[error("the MQTT actor has stopped")]
    Stopped,
    /// The actor is running but did not take the message within the time
    /// the caller gave `send(..).timeout(..)`: its mailbox is full or it is
    /// busy. The message may still be handled later.
    #[error("the MQTT actor did not answer in time (its mailbox is full or it is busy)")]
    MailboxTimeout,
}

impl MqttError {
    pub(crate) fn config(setting: &str, value: impl ToString, reason: impl ToString) -> Self {
        MqttError::Config {
            setting: setting.to_string(),
            value: value.to_string(),
            reason: reason.to_string(),
        }
    }

    /// Sorts a Paho connection failure into refused / unreachable / TLS.
    /// Paho reports a refused TCP connection and a failed TLS handshake alike,
    /// so `tcp_reachable` (did a plain TCP connect to the broker succeed?)
    /// tells them apart when TLS is in use.
    pub(crate) fn from_connect(
        broker: &str,
        err: &paho_mqtt::Error,
        tls: bool,
        tcp_reachable: bool,
    ) -> Self {
        use paho_mqtt::Error as E;
        let broker = broker.to_string();
        let reason = err.to_string();
        match err {
            E::ConnectReturn(_) | E::ReasonCode(..) => {
                MqttError::ConnectionRefused { broker, reason }
            }
            E::SslNotSupported => MqttError::Tls { broker, reason },
            _ if tls && tcp_reachable => MqttError::Tls { broker, reason },
            _ => MqttError::Unreachable { broker, reason },
        }
    }
}

impl<T> From<actix::prelude::SendError<T>> for MqttError {
    fn from(_: actix::prelude::SendError<T>) -> Self {
        MqttError::Stopped
    }
}

impl From<actix::MailboxError> for MqttError {
    fn from(e: actix::MailboxError) -> Self {
        match e {
            actix::MailboxError::Closed => MqttError::Stopped,
            actix::MailboxError::Timeout => MqttError::MailboxTimeout,
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = MqttError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mailbox_timeout_is_not_a_stopped_actor() {
        let timeout = MqttError::from(actix::MailboxError::Timeout);
        assert_eq!(timeout, MqttError::MailboxTimeout);
        assert!(!timeout.to_string().contains("stopped"), "{timeout}");
        assert_eq!(
            MqttError::from(actix::MailboxError::Closed),
            MqttError::Stopped
        );
    }
}
