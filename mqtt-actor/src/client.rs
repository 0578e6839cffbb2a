//! The Paho side: client and connect options made from the configuration,
//! callbacks that only forward into channels, and conversions of messages and
//! acknowledgements.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use paho_mqtt as paho;

use crate::broker_limits::Announced;
use crate::config::{MqttConfig, ProtocolVersion, TlsVersion, Transport};
use crate::error::{MqttError, Result};
use crate::messages::{MessageProperties, MqttMessage};
use crate::qos::QoS;

/// Incoming messages wait here between Paho's thread and the actor; past this,
/// Paho's side drops and counts them.
pub(crate) const INBOUND_CAPACITY: usize = 65_536;

/// Bytes of topic names kept to say which topics lost messages on the way in;
/// past this, further losses are counted without their topic.
const DROPPED_TOPIC_BYTES: usize = 1 << 20;

/// Messages Paho's callback could not hand to the actor because the channel
/// between them was full, counted on Paho's thread. The topics are kept
/// (bounded) so that the actor can tell exactly the listeners whose filters
/// match them; what is counted without a topic is told to every listener.
#[derive(Debug, Default)]
pub(crate) struct InboundDrops {
    total: AtomicU64,
    /// Set when `pending` has something to report: the actor checks this
    /// after every message without taking the lock.
    fresh: AtomicBool,
    pending: Mutex<DropReport>,
}

/// Messages lost on the way in since the actor last looked.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct DropReport {
    /// Lost messages per topic.
    pub by_topic: HashMap<String, u64>,
    /// Lost messages whose topic was not kept (the bound was reached).
    pub unattributed: u64,
    topic_bytes: usize,
}

impl InboundDrops {
    /// Counts a message on `topic` lost on Paho's thread.
    pub fn record(&self, topic: &str) {
        self.total.fetch_add(1, Ordering::Relaxed);
        let mut report = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = report.by_topic.get_mut(topic) {
            *n += 1;
        } else if report.topic_bytes + topic.len() <= DROPPED_TOPIC_BYTES {
            report.topic_bytes += topic.len();
            report.by_topic.insert(topic.to_string(), 1);
        } else {
            report.unattributed += 1;
        }
        self.fresh.store(true, Ordering::Release);
    }

    /// Every message lost so far.
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// What was lost since the last call, if anything.
    pub fn take(&self) -> Option<DropReport> {
        if !self.fresh.swap(false, Ordering::Acquire) {
            return None;
        }
        let mut report = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        Some(std::mem::take(&mut *report))
    }
}

/// A connection event from Paho's callbacks; never dropped. (A connection
/// comes up with the answer to its connect, which carries the CONNACK.)
pub(crate) enum ConnectionEvent {
    /// An established connection ended, for the reason given.
    Lost(String),
}

impl actix::Message for ConnectionEvent {
    type Result = ();
}

/// Incoming publishes from Paho's callbacks.
pub(crate) struct Inbound(pub(crate) paho::Message);

impl actix::Message for Inbound {
    type Result = ();
}

pub(crate) type ConnectionEvents = std::pin::Pin<Box<async_channel::Receiver<ConnectionEvent>>>;
pub(crate) type InboundStream = std::pin::Pin<Box<async_channel::Receiver<Inbound>>>;

pub(crate) fn generated_client_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!("mqtt-actor-{}-{nanos:08x}", std::process::id())
}

pub(crate) fn mqtt_version(config: &MqttConfig) -> u32 {
    match config.protocol_version {
        ProtocolVersion::V311 => paho::MQTT_VERSION_3_1_1,
        ProtocolVersion::V5 => paho::MQTT_VERSION_5,
    }
}

/// The options of a connection to `uri`, one broker of the failover list.
pub(crate) fn connect_options(config: &MqttConfig, uri: &str) -> Result<paho::ConnectOptions> {
    let mut b = match (config.transport, config.protocol_version) {
        (Transport::Tcp, ProtocolVersion::V311) => paho::ConnectOptionsBuilder::new_v3(),
        (Transport::Tcp, ProtocolVersion::V5) => paho::ConnectOptionsBuilder::new_v5(),
        (Transport::Websockets, ProtocolVersion::V311) => paho::ConnectOptionsBuilder::new_ws(),
        (Transport::Websockets, ProtocolVersion::V5) => paho::ConnectOptionsBuilder::new_ws_v5(),
    };
    b.server_uris(&[uri])
        .keep_alive_interval(config.keepalive)
        .connect_timeout(config.request_timeout);
    match config.protocol_version {
        ProtocolVersion::V311 => b.clean_session(config.clean_session),
        ProtocolVersion::V5 => b.clean_start(config.clean_session),
    };
    if let Some(user) = &config.username {
        b.user_name(user);
    }
    if let Some(pass) = &config.password {
        b.password(pass.as_str());
    }
    if let Some(topic) = &config.last_will_topic {
        b.will_message(
            paho::MessageBuilder::new()
                .topic(topic)
                .payload(config.last_will_message.as_bytes())
                .qos(i32::from(config.last_will_qos))
                .retained(config.last_will_retain)
                .finalize(),
        );
    }
    if config.uses_tls() {
        b.ssl_options(ssl_options(config)?);
    } else {
        // Paho C's connect prints "checking URI" to stdout for each server
        // URI when no SSL options are given (a stray debug printf); options
        // that plain connections never use keep the app's stdout clean.
        b.ssl_options(paho::SslOptions::default());
    }
    Ok(b.finalize())
}

fn ssl_options(config: &MqttConfig) -> Result<paho::SslOptions> {
    let mut s = paho::SslOptionsBuilder::new();
    let file_err = |setting: &str, path: &std::path::Path, e: paho::Error| {
        MqttError::config(setting, path.display(), e)
    };
    if let Some(ca) = &config.tls_ca_certs {
        s.trust_store(ca)
            .map_err(|e| file_err("MQTT_TLS_CA_CERTS", ca, e))?;
    }
    if let Some(cert) = &config.tls_certfile {
        s.key_store(cert)
            .map_err(|e| file_err("MQTT_TLS_CERTFILE", cert, e))?;
    }
    if let Some(key) = &config.tls_keyfile {
        s.private_key(key)
            .map_err(|e| file_err("MQTT_TLS_KEYFILE", key, e))?;
    }
    if let Some(ciphers) = &config.tls_ciphers {
        s.enabled_cipher_suites(ciphers);
    }
    s.ssl_version(match config.tls_version {
        TlsVersion::Auto => paho::SslVersion::Default,
        TlsVersion::V1_0 => paho::SslVersion::Tls_1_0,
        TlsVersion::V1_1 => paho::SslVersion::Tls_1_1,
        TlsVersion::V1_2 => paho::SslVersion::Tls_1_2,
    });
    s.enable_server_cert_auth(!config.tls_insecure)
        .verify(!config.tls_insecure);
    Ok(s.finalize())
}

/// Routes Paho's callbacks into two channels: connection events (unbounded,
/// they are rare and must not be lost) and messages (bounded, drops counted).
/// The callbacks only forward: nothing blocking runs on Paho's thread.
pub(crate) fn install_callbacks(
    client: &paho::AsyncClient,
    capacity: usize,
    dropped: Arc<InboundDrops>,
) -> (ConnectionEvents, InboundStream) {
    let (event_tx, event_rx) = async_channel::unbounded();
    let (msg_tx, msg_rx) = async_channel::bounded(capacity.max(1));
    let tx = event_tx.clone();
    client.set_connection_lost_callback(move |_| {
        let _ = tx.try_send(ConnectionEvent::Lost("connection lost".into()));
    });
    client.set_disconnected_callback(move |_, _, reason| {
        let _ = event_tx.try_send(ConnectionEvent::Lost(format!(
            "broker sent DISCONNECT: {reason}"
        )));
    });
    client.set_message_callback(move |_, msg| {
        if let Some(msg) = msg {
            if let Err(e) = msg_tx.try_send(Inbound(msg)) {
                dropped.record(e.into_inner().0.topic());
            }
        }
    });
    (Box::pin(event_rx), Box::pin(msg_rx))
}

pub(crate) fn to_qos(q: QoS) -> paho::QoS {
    paho::QoS::from(i32::from(q))
}

pub(crate) fn from_paho(msg: &paho::Message) -> MqttMessage {
    let qos = QoS::try_from(msg.qos() as i32).unwrap_or_default();
    let props = msg.properties();
    let properties = (!props.is_empty())
        .then(|| MessageProperties {
            content_type: props.get_string(paho::PropertyCode::ContentType),
            response_topic: props.get_string(paho::PropertyCode::ResponseTopic),
            correlation_data: props
                .get_binary(paho::PropertyCode::CorrelationData)
                .map(Bytes::from),
            message_expiry_interval: props
                .get_int(paho::PropertyCode::MessageExpiryInterval)
                .map(|v| v as u32),
            payload_format_indicator: props
                .get_int(paho::PropertyCode::PayloadFormatIndicator)
                .map(|v| v as u8),
            user_properties: props.user_iter().collect(),
        })
        // Only a Subscription Identifier: nothing the application sees.
        .filter(|p| !p.is_empty());
    MqttMessage::with_properties(
        msg.topic(),
        Bytes::copy_from_slice(msg.payload()),
        qos,
        msg.retained(),
        properties,
    )
}

/// The Subscription Identifiers an MQTT 5 message came with.
pub(crate) fn subscription_ids(msg: &paho::Message) -> Vec<i32> {
    let props = msg.properties();
    (0..)
        .map_while(|i| props.get_int_at(paho::PropertyCode::SubscriptionIdentifier, i))
        .collect()
}

/// A SUBSCRIBE, with a Subscription Identifier when `id` is given.
pub(crate) fn subscribe(
    client: &paho::AsyncClient,
    filter: &str,
    qos: QoS,
    id: Option<i32>,
) -> paho::Token {
    let Some(id) = id else {
        return client.subscribe(filter, to_qos(qos));
    };
    let mut props = paho::Properties::new();
    // A fixed small positive number is always a valid identifier.
    let _ = props.push_int(paho::PropertyCode::SubscriptionIdentifier, id);
    client.subscribe_with_options(
        filter,
        to_qos(qos),
        paho::SubscribeOptions::default(),
        props,
    )
}

/// The Paho form of properties that passed [`MessageProperties::validate`]
/// (Paho panics on a NUL in a string, so that check must come first).
pub(crate) fn to_paho_properties(p: &MessageProperties) -> Result<paho::Properties> {
    use paho::PropertyCode as C;
    let mut props = paho::Properties::new();
    let refused = |e: paho::Error| MqttError::Client(format!("cannot set MQTT 5 properties: {e}"));
    if let Some(v) = &p.content_type {
        props.push_string(C::ContentType, v).map_err(refused)?;
    }
    if let Some(v) = &p.response_topic {
        props.push_string(C::ResponseTopic, v).map_err(refused)?;
    }
    if let Some(v) = &p.correlation_data {
        props
            .push_binary(C::CorrelationData, v.to_vec())
            .map_err(refused)?;
    }
    if let Some(v) = p.message_expiry_interval {
        props
            .push_u32(C::MessageExpiryInterval, v)
            .map_err(refused)?;
    }
    if let Some(v) = p.payload_format_indicator {
        props
            .push_byte(C::PayloadFormatIndicator, v)
            .map_err(refused)?;
    }
    for (k, v) in &p.user_properties {
        props
            .push_string_pair(C::UserProperty, k, v)
            .map_err(refused)?;
    }
    Ok(props)
}

/// An operation at the broker `broker` that waits for its acknowledgement:
/// what it is, on which topic or filter.
pub(crate) struct Operation {
    pub operation: &'static str,
    pub topic: String,
    pub broker: String,
}

/// Awaits the broker's acknowledgement of an operation (a Paho token), bounded
/// by the request timeout; a refusal or a timeout names the operation and
/// topic, and an operation cut off by the connection's end is `NotConnected`.
pub(crate) async fn await_ack<F, T>(fut: F, timeout: Duration, operation: Operation) -> Result<T>
where
    F: Future<Output = paho::Result<T>>,
{
    let Operation {
        operation,
        topic,
        broker,
    } = operation;
    match tokio::time::timeout(timeout, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(paho::Error::Disconnected | paho::Error::OperationIncomplete)) => {
            Err(MqttError::NotConnected { broker })
        }
        Ok(Err(e)) => Err(refusal(operation, topic, &e)),
        Err(_) => Err(MqttError::Timeout {
            operation,
            topic,
            timeout,
        }),
    }
}

fn refusal(operation: &'static str, topic: String, e: &paho::Error) -> MqttError {
    match e {
        paho::Error::ReasonCode(..) | paho::Error::Failure => MqttError::Refused {
            operation,
            topic,
            reason: e.to_string(),
        },
        other => MqttError::Client(format!("{operation} on {topic:?} failed: {other}")),
    }
}

/// What an MQTT 5 CONNACK announced about publishes (nothing for 3.1.1).
pub(crate) fn announced(rsp: &paho::ServerResponse) -> Announced {
    use paho::PropertyCode as C;
    let props = rsp.properties();
    Announced {
        retain_available: props.get_int(C::RetainAvailable).map(|v| v != 0),
        max_qos: props
            .get_int(C::MaximumQos)
            .and_then(|v| QoS::try_from(v).ok()),
        max_packet_size: props.get_int(C::MaximumPacketSize).map(|v| v as u32),
        topic_alias_max: props
            .get_int(C::TopicAliasMaximum)
            .and_then(|v| u16::try_from(v).ok()),
        subscription_ids: props
            .get_int(C::SubscriptionIdentifiersAvailable)
            .map(|v| v != 0),
    }
}

pub(crate) fn granted_qos(rsp: &paho::ServerResponse) -> i32 {
    rsp.subscribe_response()
        .unwrap_or_else(|| rsp.reason_code() as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lost_messages_are_reported_by_topic_once() {
        let drops = InboundDrops::default();
        assert_eq!(drops.take(), None);
        drops.record("a/1");
        drops.record("a/1");
        drops.record("b");
        let report = drops.take().unwrap();
        assert_eq!(
            report.by_topic,
            HashMap::from([("a/1".into(), 2), ("b".into(), 1)])
        );
        assert_eq!(report.unattributed, 0);
        assert_eq!(drops.take(), None, "reported once");
        assert_eq!(drops.total(), 3);
    }

    #[test]
    fn past_the_bound_losses_are_counted_without_their_topic() {
        let drops = InboundDrops::default();
        let long = "x".repeat(DROPPED_TOPIC_BYTES);
        drops.record(&long);
        drops.record("y");
        drops.record(&long);
        let report = drops.take().unwrap();
        assert_eq!(report.by_topic.get(&long), Some(&2));
        assert_eq!(report.unattributed, 1);
    }
}
