//! The actor's public vocabulary: the messages it takes and the ones it sends.

use std::any::Any;
use std::fmt;
use std::sync::{Arc, OnceLock};

use actix::prelude::*;
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{MqttError, Result};
use crate::qos::QoS;
use crate::strings;
use crate::topic::validate_topic;

/// MQTT 5 properties of a message: those an incoming message came with
/// ([`MqttMessage::properties`]), and those a [`Publish`] sends.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MessageProperties {
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// `Response-Topic`.
    pub response_topic: Option<String>,
    /// `Correlation-Data`.
    pub correlation_data: Option<Bytes>,
    /// `Message-Expiry-Interval`, seconds.
    pub message_expiry_interval: Option<u32>,
    /// `Payload-Format-Indicator` (1: UTF-8).
    pub payload_format_indicator: Option<u8>,
    /// `User-Property` pairs, in order.
    pub user_properties: Vec<(String, String)>,
}

/// The longest string or binary value MQTT encodes (a two-byte length).
const MAX_PROPERTY_LEN: usize = 65_535;

impl MessageProperties {
    /// Whether no property is set.
    pub fn is_empty(&self) -> bool {
        *self == MessageProperties::default()
    }

    /// The value of the first user property named `key`.
    pub fn user_property(&self, key: &str) -> Option<&str> {
        self.user_properties
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Checks what MQTT (and the Paho client, which would abort on a NUL)
    /// accepts: strings of at most 65,535 bytes without the characters MQTT
    /// forbids (NUL, control characters U+0001 to U+001F and U+007F to
    /// U+009F, non-characters such as U+FFFE), a response topic without
    /// wildcards, a payload format indicator of 0 or 1. The error names the
    /// property, and the character and where it is.
    pub fn validate(&self) -> Result<()> {
        let fail = |name, value: &str, reason: &str| {
            Err(MqttError::InvalidProperty {
                name,
                value: shorten(value),
                reason: reason.to_string(),
            })
        };
        let strings = [
            ("Content-Type", self.content_type.as_deref()),
            ("Response-Topic", self.response_topic.as_deref()),
        ]
        .into_iter()
        .filter_map(|(name, v)| Some((name, v?)))
        .chain(
            self.user_properties
                .iter()
                .flat_map(|(k, v)| [("User-Property", k.as_str()), ("User-Property", v.as_str())]),
        );
        for (name, value) in strings {
            if let Some(reason) = strings::check(value) {
                return fail(name, value, &reason);
            }
            if value.len() > MAX_PROPERTY_LEN {
                return fail(name, value, "must not be longer than 65535 bytes");
            }
        }
        if let Some(topic) = &self.response_topic {
            if let Err(MqttError::InvalidTopic { reason, .. }) = validate_topic(topic) {
                return fail("Response-Topic", topic, &reason);
            }
        }
        if let Some(data) = &self.correlation_data {
            if data.len() > MAX_PROPERTY_LEN {
                let shown = format!("{} bytes", data.len());
                return fail(
                    "Correlation-Data",
                    &shown,
                    "must not be longer than 65535 bytes",
                );
            }
        }
        if let Some(v) = self.payload_format_indicator.filter(|v| *v > 1) {
            return fail("Payload-Format-Indicator", &v.to_string(), "must be 0 or 1");
        }
        Ok(())
    }
}

/// A value for an error message: long values are cut.
fn shorten(value: &str) -> String {
    const SHOWN: usize = 64;
    match value.char_indices().nth(SHOWN) {
        Some((end, _)) => format!("{}...", &value[..end]),
        None => value.to_string(),
    }
}

struct MessageInner {
    topic: String,
    payload: Bytes,
    qos: QoS,
    retain: bool,
    properties: Option<MessageProperties>,
    memo: OnceLock<Arc<dyn Any + Send + Sync>>,
}

/// An incoming MQTT message. Cloning is cheap (one reference count), so the
/// same message fans out to any number of listeners without copying.
#[derive(Clone)]
pub struct MqttMessage(Arc<MessageInner>);

impl actix::Message for MqttMessage {
    type Result = ();
}

impl MqttMessage {
    /// Builds a message (the actor builds them from what the broker sends; tests may too).
    pub fn new(
        topic: impl Into<String>,
        payload: impl Into<Bytes>,
        qos: QoS,
        retain: bool,
    ) -> Self {
        Self::with_properties(topic, payload, qos, retain, None)
    }

    pub(crate) fn with_properties(
        topic: impl Into<String>,
        payload: impl Into<Bytes>,
        qos: QoS,
        retain: bool,
        properties: Option<MessageProperties>,
    ) -> Self {
        MqttMessage(Arc::new(MessageInner {
            topic: topic.into(),
            payload: payload.into(),
            qos,
            retain,
            properties,
            memo: OnceLock::new(),
        }))
    }

    /// The topic the message was published to.
    pub fn topic(&self) -> &str {
        &self.0.topic
    }

    /// The payload bytes (cheap to clone).
    pub fn payload(&self) -> &Bytes {
        &self.0.payload
    }

    /// The payload as UTF-8, if it is valid UTF-8.
    pub fn payload_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0.payload).ok()
    }

    /// The QoS it was delivered with.
    pub fn qos(&self) -> QoS {
        self.0.qos
    }

    /// Whether the broker delivered it as a retained message.
    pub fn retain(&self) -> bool {
        self.0.retain
    }

    /// MQTT 5 properties, when present.
    pub fn properties(&self) -> Option<&MessageProperties> {
        self.0.properties.as_ref()
    }

    /// The payload decoded from JSON. A payload that is not the JSON `T`
    /// expects is [`MqttError::JsonDecode`], with the topic and serde's message.
    ///
    /// ```
    /// # use mqtt_actor::{MqttMessage, QoS};
    /// #[derive(serde::Deserialize)]
    /// struct Reading { celsius: f64 }
    ///
    /// let msg = MqttMessage::new("home/kitchen", r#"{"celsius": 21.5}"#, QoS::AtMostOnce, false);
    /// assert_eq!(msg.json::<Reading>()?.celsius, 21.5);
    /// let bad = MqttMessage::new("home/kitchen", "warm", QoS::AtMostOnce, false);
    /// assert!(bad.json::<Reading>().is_err());
    /// # Ok::<(), mqtt_actor::MqttError>(())
    /// ```
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.0.payload).map_err(|e| MqttError::JsonDecode {
            topic: self.topic().to_string(),
            reason: e.to_string(),
        })
    }

    /// MQTT 5 `Content-Type`, when present.
    pub fn content_type(&self) -> Option<&str> {
        self.properties()?.content_type.as_deref()
    }

    /// MQTT 5 `Response-Topic`: where the sender of a request wants its reply.
    pub fn response_topic(&self) -> Option<&str> {
        self.properties()?.response_topic.as_deref()
    }

    /// MQTT 5 `Correlation-Data`: what a reply must carry back to the sender.
    pub fn correlation_data(&self) -> Option<&Bytes> {
        self.properties()?.correlation_data.as_ref()
    }

    /// MQTT 5 `Message-Expiry-Interval`, seconds: what is left of the
    /// publisher's interval when the broker forwarded the message.
    pub fn message_expiry_interval(&self) -> Option<u32> {
        self.properties()?.message_expiry_interval
    }

    /// The value of the first MQTT 5 `User-Property` named `key`.
    pub fn user_property(&self, key: &str) -> Option<&str> {
        self.properties()?.user_property(key)
    }

    /// Computes a value derived from this message once and shares it with every
    /// other holder of the same message (every listener gets a clone of one
    /// message). Fan-out servers use it to encode a message once for all their
    /// sessions. The first type stored wins; asking for another type computes
    /// it afresh without storing it.
    pub fn memo<T, F>(&self, compute: F) -> Arc<T>
    where
        T: Any + Send + Sync,
        F: FnOnce(&MqttMessage) -> T,
    {
        if let Some(v) = self.0.memo.get() {
            if let Ok(v) = Arc::clone(v).downcast::<T>() {
                return v;
            }
            return Arc::new(compute(self));
        }
        let value: Arc<T> = Arc::new(compute(self));
        // A racing clone may have stored first; both computed the same value.
        let _ = self.0.memo.set(value.clone());
        value
    }
}

impl PartialEq for MqttMessage {
    /// Same topic, payload, QoS, retain flag and properties.
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (&*self.0, &*other.0);
        Arc::ptr_eq(&self.0, &other.0)
            || (a.topic == b.topic
                && a.payload == b.payload
                && a.qos == b.qos
                && a.retain == b.retain
                && a.properties == b.properties)
    }
}

impl fmt::Debug for MqttMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MqttMessage")
            .field("topic", &self.0.topic)
            .field("payload", &self.0.payload)
            .field("qos", &self.0.qos)
            .field("retain", &self.0.retain)
            .field("properties", &self.0.properties)
            .finish()
    }
}

/// Subscribe to a filter, for the application itself or on behalf of a listener.
///
/// Answers the QoS the broker granted, once it sent SUBACK.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Subscribe {
    /// The topic filter (`+` and `#` allowed).
    pub filter: String,
    /// The QoS asked for.
    pub qos: QoS,
    /// Who gets the matching messages; `None` means the application (its handlers).
    pub listener: Option<Recipient<MqttMessage>>,
    /// For a listener: the capacity of its backlog, how many messages the
    /// actor keeps for it while its mailbox is full, before it drops any (see
    /// [`Subscribe::capacity`]). `None` keeps the listener's current
    /// capacity, or [`Subscribe::DEFAULT_CAPACITY`] for a new listener.
    pub capacity: Option<usize>,
    /// For a listener: where the actor tells it what it did not get
    /// ([`ListenerNotice`]: messages dropped for it, a filter the broker no
    /// longer grants). `None` keeps the listener's current recipient, if any.
    pub notices: Option<Recipient<ListenerNotice>>,
    /// For a listener inside this crate: takes its messages on the actor's
    /// thread, instead of its mailbox (see [`Sink`]).
    pub(crate) sink: Option<SinkRef>,
}

impl Subscribe {
    /// Messages kept for a listener whose mailbox is full, unless its
    /// `Subscribe` asks for another capacity.
    pub const DEFAULT_CAPACITY: usize = 1024;

    /// A QoS 0 subscription held by the application.
    pub fn new(filter: impl Into<String>) -> Self {
        Subscribe {
            filter: filter.into(),
            qos: QoS::AtMostOnce,
            listener: None,
            capacity: None,
            notices: None,
            sink: None,
        }
    }

    /// Sets the QoS.
    pub fn qos(mut self, qos: QoS) -> Self {
        self.qos = qos;
        self
    }

    /// Holds the subscription on behalf of `listener`, which gets every matching message.
    pub fn listener(mut self, listener: Recipient<MqttMessage>) -> Self {
        self.listener = Some(listener);
        self
    }

    /// Sets the capacity of the listener's backlog: while its mailbox is
    /// full, the actor keeps up to `messages` for it, in order, and hands them
    /// over as it makes room; past that, messages are dropped for this
    /// listener and counted in [`Status::dropped`]. The backlog belongs to the
    /// listener, not to the filter: the latest `Subscribe` that sets its
    /// capacity wins. Size it for the longest burst the listener must not
    /// lose messages to; a stuck listener costs at most that many messages of
    /// memory.
    pub fn capacity(mut self, messages: usize) -> Self {
        self.capacity = Some(messages);
        self
    }

    /// Sends the listener's [`ListenerNotice`]s to `notices` (usually the
    /// listener actor itself: `addr.clone().recipient()` for both): how many
    /// messages were dropped for it, and which of its filters the broker
    /// refused after a reconnect. Like the backlog, it belongs to the
    /// listener: the latest `Subscribe` that sets it wins. Without it, drops
    /// are only counted in [`Status::dropped`] and lost filters only logged.
    pub fn notices(mut self, notices: Recipient<ListenerNotice>) -> Self {
        self.notices = Some(notices);
        self
    }

    /// Hands the listener's messages to `sink` on the actor's thread rather
    /// than to its mailbox; the listener's recipient still names it (to
    /// unsubscribe, and for its notices). Like the backlog, it belongs to the
    /// listener: the latest `Subscribe` that sets it wins.
    #[cfg_attr(not(feature = "web"), allow(dead_code))]
    pub(crate) fn sink(mut self, sink: Arc<dyn Sink>) -> Self {
        self.sink = Some(SinkRef(sink));
        self
    }
}

/// Where a listener inside this crate takes its messages without a mailbox
/// in between: the `MqttActor` calls it for each message, in the order the
/// broker sent them, on its own thread (one hop from the MQTT connection to
/// where a message waits for its reader, as Phoenix's fastlane). It must
/// never block and never fail for being full: it keeps its own bound and
/// tells its reader what it dropped.
pub(crate) trait Sink: Send + Sync {
    /// Takes `msg`; `false` when the listener has ended, so that the actor
    /// drops it and releases what only it held.
    fn deliver(&self, msg: &MqttMessage) -> bool;
}

/// A shared [`Sink`], as a field of [`Subscribe`] (which is `Debug`).
#[derive(Clone)]
pub(crate) struct SinkRef(pub Arc<dyn Sink>);

impl fmt::Debug for SinkRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sink")
    }
}

/// What a listener did not get, told to the recipient its [`Subscribe::notices`]
/// named. Notices are sent with `do_send`, past the mailbox's capacity, and at
/// most one per hand-over of the listener's backlog, so they are never lost
/// and never pile up.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ListenerNotice {
    /// `count` messages matching the listener's filters were dropped for it:
    /// its mailbox and backlog were full, or the channel from Paho's thread to
    /// the actor was (see the delivery policy in the README). Messages
    /// received plus the sum of these counts is what the listener should have
    /// got.
    Dropped {
        /// Messages lost since the previous notice.
        count: u64,
    },
    /// The broker refused (or did not acknowledge) the re-SUBSCRIBE of
    /// `filter` after a reconnect, or a change of the broker subscriptions:
    /// the listener no longer holds it and gets nothing more for it.
    SubscriptionLost {
        /// The filter, as the listener subscribed it.
        filter: String,
        /// Why: [`MqttError::Refused`] or [`MqttError::Timeout`].
        error: MqttError,
    },
}

impl actix::Message for ListenerNotice {
    type Result = ();
}

impl actix::Message for Subscribe {
    type Result = Result<QoS>;
}

/// Let go of a filter. The broker subscription ends when its last holder lets go.
///
/// In mailbox order: a [`Subscribe`] of the same filter by the same holder
/// that still waits for its subscription step is withdrawn, and answered
/// [`MqttError::Withdrawn`](crate::MqttError::Withdrawn). Answered
/// [`MqttError::NotSubscribed`](crate::MqttError::NotSubscribed) when the
/// holder neither held nor asked for the filter.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Unsubscribe {
    /// The filter, exactly as subscribed.
    pub filter: String,
    /// The holder; `None` means the application.
    pub listener: Option<Recipient<MqttMessage>>,
}

impl Unsubscribe {
    /// Releases the application's hold on `filter`.
    pub fn new(filter: impl Into<String>) -> Self {
        Unsubscribe {
            filter: filter.into(),
            listener: None,
        }
    }

    /// Releases `listener`'s hold instead.
    pub fn listener(mut self, listener: Recipient<MqttMessage>) -> Self {
        self.listener = Some(listener);
        self
    }
}

impl actix::Message for Unsubscribe {
    type Result = Result<()>;
}

/// Let go of every filter of one holder (the application when `listener` is `None`).
///
/// In mailbox order: the holder's [`Subscribe`]s that still wait for their
/// subscription step are withdrawn, each answered
/// [`MqttError::Withdrawn`](crate::MqttError::Withdrawn).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct UnsubscribeAll {
    /// The holder; `None` means the application.
    pub listener: Option<Recipient<MqttMessage>>,
}

impl UnsubscribeAll {
    /// Every filter the application holds.
    pub fn new() -> Self {
        UnsubscribeAll::default()
    }

    /// Every filter `listener` holds.
    pub fn of(listener: Recipient<MqttMessage>) -> Self {
        UnsubscribeAll {
            listener: Some(listener),
        }
    }
}

impl actix::Message for UnsubscribeAll {
    type Result = Result<()>;
}

/// Publish a message. Answers once the broker accepted it: at once for QoS 0,
/// after PUBACK for QoS 1 and PUBCOMP for QoS 2.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Publish {
    /// The topic (no wildcards).
    pub topic: String,
    /// The payload.
    pub payload: Bytes,
    /// The QoS.
    pub qos: QoS,
    /// Whether the broker keeps it as the topic's retained message.
    pub retain: bool,
    /// MQTT 5 properties sent with it; a publish with any set fails with
    /// [`MqttError::NeedsMqtt5`] on an MQTT 3.1.1 connection rather than
    /// going out without them.
    pub properties: MessageProperties,
}

impl Publish {
    /// A QoS 0, non-retained publish.
    pub fn new(topic: impl Into<String>, payload: impl Into<Bytes>) -> Self {
        Publish {
            topic: topic.into(),
            payload: payload.into(),
            qos: QoS::AtMostOnce,
            retain: false,
            properties: MessageProperties::default(),
        }
    }

    /// A QoS 0, non-retained publish of `value` as JSON. A value serde cannot
    /// encode (a map with non-string keys, say) is [`MqttError::JsonEncode`].
    /// On MQTT 5, add `.content_type("application/json")` to say what it is.
    ///
    /// ```
    /// # use mqtt_actor::Publish;
    /// #[derive(serde::Serialize)]
    /// struct Reading { celsius: f64 }
    ///
    /// let p = Publish::json("home/kitchen", &Reading { celsius: 21.5 })?;
    /// assert_eq!(&p.payload[..], br#"{"celsius":21.5}"#);
    /// # Ok::<(), mqtt_actor::MqttError>(())
    /// ```
    pub fn json<T: Serialize + ?Sized>(topic: impl Into<String>, value: &T) -> Result<Self> {
        let topic = topic.into();
        match serde_json::to_vec(value) {
            Ok(payload) => Ok(Publish::new(topic, payload)),
            Err(e) => Err(MqttError::JsonEncode {
                topic,
                reason: e.to_string(),
            }),
        }
    }

    /// Sets the QoS.
    pub fn qos(mut self, qos: QoS) -> Self {
        self.qos = qos;
        self
    }

    /// Sets the retain flag.
    pub fn retain(mut self, retain: bool) -> Self {
        self.retain = retain;
        self
    }

    /// Sets every MQTT 5 property at once (replacing those set before).
    pub fn properties(mut self, properties: MessageProperties) -> Self {
        self.properties = properties;
        self
    }

    /// Adds an MQTT 5 `User-Property`; pairs keep their order, and a key may
    /// appear more than once.
    pub fn user_property(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.properties
            .user_properties
            .push((key.into(), value.into()));
        self
    }

    /// Sets the MQTT 5 `Content-Type` (a MIME type, say `application/json`).
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.properties.content_type = Some(content_type.into());
        self
    }

    /// Sets the MQTT 5 `Message-Expiry-Interval`: the broker discards the
    /// message when it could not deliver it within `seconds` (and a retained
    /// one is forgotten then).
    pub fn message_expiry_interval(mut self, seconds: u32) -> Self {
        self.properties.message_expiry_interval = Some(seconds);
        self
    }

    /// Sets the MQTT 5 `Response-Topic`: where the receiver should reply.
    /// [`Request`](crate::Request) sets it (and the correlation data) itself.
    pub fn response_topic(mut self, topic: impl Into<String>) -> Self {
        self.properties.response_topic = Some(topic.into());
        self
    }

    /// Sets the MQTT 5 `Correlation-Data` a reply carries back.
    pub fn correlation_data(mut self, data: impl Into<Bytes>) -> Self {
        self.properties.correlation_data = Some(data.into());
        self
    }
}

impl actix::Message for Publish {
    type Result = Result<()>;
}

/// One held filter, as answered by [`GetSubscriptions`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SubscriptionInfo {
    /// The filter.
    pub filter: String,
    /// The QoS the broker granted (or the QoS asked for while not yet granted).
    pub qos: QoS,
    /// Whether the broker has acknowledged it on the current connection.
    pub active: bool,
    /// How many listeners hold it.
    pub listeners: usize,
    /// Whether the application itself holds it.
    pub app: bool,
    /// The broker subscription that serves it: the filter itself, or a wider
    /// one when held filters overlap (see the README's "Overlapping filters").
    pub broker_filter: String,
}

/// The current subscriptions (Flask-MQTT's `mqtt.topics`), sorted by filter.
#[derive(Debug, Clone, Copy, Default)]
pub struct GetSubscriptions;

impl actix::Message for GetSubscriptions {
    type Result = Vec<SubscriptionInfo>;
}

/// The connection and its counters, as answered by [`GetStatus`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Status {
    /// Connected to the broker right now.
    pub connected: bool,
    /// The broker's URI: the one in use, or while disconnected the one of
    /// the failover list tried next.
    pub broker: String,
    /// The client id in use.
    pub client_id: String,
    /// Messages received from the broker.
    pub messages_in: u64,
    /// Messages published and accepted.
    pub messages_out: u64,
    /// Messages not delivered to a listener whose mailbox and backlog were
    /// full, plus messages Paho's side dropped before they reached the actor.
    pub dropped: u64,
    /// Listeners currently registered.
    pub listeners: usize,
    /// QoS 1/2 publishes waiting for the connection to return.
    pub buffered: usize,
    /// The last connection failure, cleared on success.
    #[serde(serialize_with = "display_opt")]
    pub last_error: Option<MqttError>,
}

fn display_opt<S: serde::Serializer>(
    e: &Option<MqttError>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match e {
        Some(e) => s.serialize_some(&e.to_string()),
        None => s.serialize_none(),
    }
}

/// Query the connection status and counters.
#[derive(Debug, Clone, Copy, Default)]
pub struct GetStatus;

impl actix::Message for GetStatus {
    type Result = Status;
}

/// Sent to connection watchers on every change of the broker connection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionChanged {
    /// Connected now.
    pub connected: bool,
    /// The broker's URI: the one in use, or while disconnected the one of
    /// the failover list tried next.
    pub broker: String,
    /// The client id in use, which tells instances of an application apart.
    pub client_id: String,
}

impl actix::Message for ConnectionChanged {
    type Result = ();
}

/// Register `recipient` for [`ConnectionChanged`] notices: the current state
/// first, then every change, in order. Also answers the current state.
/// Watchers whose actor stopped are dropped automatically.
#[derive(Debug, Clone)]
pub struct WatchConnection(pub Recipient<ConnectionChanged>);

impl actix::Message for WatchConnection {
    type Result = ConnectionChanged;
}

/// Wait until the actor is connected, for at most the given time. Answers at
/// once when connected; after the time, the last connection error (or
/// [`MqttError::NotConnected`]). The actor keeps retrying either way.
#[derive(Debug, Clone, Copy)]
pub struct WaitConnected(pub std::time::Duration);

impl actix::Message for WaitConnected {
    type Result = Result<()>;
}

/// Disconnect cleanly (the broker does not send the last will) and stop the actor.
#[derive(Debug, Clone, Copy, Default)]
pub struct Disconnect;

impl actix::Message for Disconnect {
    type Result = ();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_that_mqtt_cannot_carry_are_refused_by_name() {
        let ok = Publish::new("t", "x")
            .content_type("text/plain")
            .user_property("k", "v")
            .response_topic("r/1")
            .correlation_data("c");
        assert_eq!(ok.properties.validate(), Ok(()));
        let bad = |p: Publish| match p.properties.validate() {
            Err(MqttError::InvalidProperty { name, .. }) => name,
            other => panic!("expected InvalidProperty, got {other:?}"),
        };
        assert_eq!(
            bad(Publish::new("t", "").content_type("a\0b")),
            "Content-Type"
        );
        assert_eq!(
            bad(Publish::new("t", "").user_property("k", "v\0")),
            "User-Property"
        );
        assert_eq!(
            bad(Publish::new("t", "").response_topic("r/#")),
            "Response-Topic"
        );
        let long = "x".repeat(70_000);
        let err = Publish::new("t", "")
            .user_property(long, "v")
            .properties
            .validate();
        assert!(
            err.unwrap_err().to_string().len() < 200,
            "long values are cut in the message"
        );
        let huge = Publish::new("t", "").correlation_data(vec![0u8; 70_000]);
        assert_eq!(bad(huge), "Correlation-Data");
    }

    #[test]
    fn memo_is_computed_once_per_message_across_clones() {
        let msg = MqttMessage::new("a", "x", QoS::AtMostOnce, false);
        let copy = msg.clone();
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let f = |m: &MqttMessage| {
            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            m.topic().len()
        };
        assert_eq!(*msg.memo(f), 1);
        assert_eq!(*copy.memo(f), 1);
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    }
}
