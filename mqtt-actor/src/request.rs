//! Request/response over MQTT 5: [`Request`] publishes with a response topic
//! and correlation data and answers with the reply; what an `on_request`
//! handler returns ([`IntoReply`], [`Reply`]) is published back the same way.
//!
//! The asking side: each actor has a reply topic prefix (by default
//! `{client_id}/replies`, or [`MqttActorBuilder::reply_topic_prefix`](crate::MqttActorBuilder::reply_topic_prefix)).
//! At its first request the actor subscribes `{prefix}/#` for a small
//! listener actor, the *reply desk*, which keeps the callers waiting by
//! correlation data. Each request goes out with the response topic
//! `{prefix}/{n}` and correlation data of its own; the reply that carries it
//! back answers the caller. A reply that comes too late, or carries unknown
//! correlation data, is logged and dropped.

use std::collections::HashMap;
use std::fmt::Display;
use std::time::Duration;

use actix::prelude::*;
use bytes::Bytes;
use futures::channel::oneshot;
use serde::Serialize;

use crate::error::{MqttError, Result};
use crate::messages::{MessageProperties, MqttMessage, Publish};
use crate::qos::QoS;

/// Publish a request and wait for its reply (MQTT 5 only): the answer is the
/// reply message, [`MqttError::NoReply`] when none came within the timeout,
/// or [`MqttError::NeedsMqtt5`] on an MQTT 3.1.1 connection.
///
/// ```no_run
/// # use mqtt_actor::*;
/// # use std::time::Duration;
/// # async fn ask(mqtt: actix::Addr<MqttActor>) -> Result<()> {
/// let reply = mqtt
///     .send(Request::new("svc/time", "now?").timeout(Duration::from_secs(2)))
///     .await??;
/// println!("the time is {:?}", reply.payload_str());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Request {
    /// What is published; its response topic and correlation data are the
    /// actor's own (any set here are replaced).
    pub publish: Publish,
    /// How long to wait for the reply, from the moment the actor takes the
    /// request (subscribing its reply topic and publishing included).
    pub timeout: Duration,
}

impl Request {
    /// How long a request waits for its reply unless told otherwise.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

    /// A QoS 0 request with `payload` to `topic`.
    pub fn new(topic: impl Into<String>, payload: impl Into<Bytes>) -> Self {
        Request::from(Publish::new(topic, payload))
    }

    /// Sets the QoS of the request.
    pub fn qos(mut self, qos: QoS) -> Self {
        self.publish.qos = qos;
        self
    }

    /// Sets how long to wait for the reply.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

impl From<Publish> for Request {
    /// A request of a publish built with every option of [`Publish`]
    /// (JSON, user properties, ...).
    fn from(publish: Publish) -> Self {
        Request {
            publish,
            timeout: Request::DEFAULT_TIMEOUT,
        }
    }
}

impl actix::Message for Request {
    type Result = Result<MqttMessage>;
}

/// A reply to a request, as an `on_request` handler may return it: the
/// payload, and optionally its QoS and MQTT 5 properties. The correlation
/// data of the request is added to it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reply {
    /// The payload.
    pub payload: Bytes,
    /// The QoS; `None` replies with the QoS the request came with.
    pub qos: Option<QoS>,
    /// MQTT 5 properties sent with it.
    pub properties: MessageProperties,
}

impl Reply {
    /// A reply with `payload`.
    pub fn new(payload: impl Into<Bytes>) -> Self {
        Reply {
            payload: payload.into(),
            ..Reply::default()
        }
    }

    /// A reply with `value` as JSON, and the content type
    /// `application/json`.
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<Self> {
        let payload = serde_json::to_vec(value).map_err(|e| MqttError::JsonEncode {
            topic: "(a reply)".into(),
            reason: e.to_string(),
        })?;
        Ok(Reply::new(payload).content_type("application/json"))
    }

    /// Sets the QoS.
    pub fn qos(mut self, qos: QoS) -> Self {
        self.qos = Some(qos);
        self
    }

    /// Sets the MQTT 5 `Content-Type`.
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.properties.content_type = Some(content_type.into());
        self
    }

    /// Adds an MQTT 5 `User-Property` (a status code, say).
    pub fn user_property(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.properties
            .user_properties
            .push((key.into(), value.into()));
        self
    }
}

/// What an `on_request` handler may return: a payload ([`Bytes`],
/// `Vec<u8>`, `String`, `&'static str`), a [`Reply`], `Option` of those
/// (`None`: no reply) or `Result` of those (`Err`: no reply, and a warning
/// in `on_log` with the error).
pub trait IntoReply {
    /// The reply to publish, none, or why there is none (logged).
    fn into_reply(self) -> std::result::Result<Option<Reply>, String>;
}

impl IntoReply for Reply {
    fn into_reply(self) -> std::result::Result<Option<Reply>, String> {
        Ok(Some(self))
    }
}

macro_rules! payload_replies {
    ($($t:ty),*) => {$(
        impl IntoReply for $t {
            fn into_reply(self) -> std::result::Result<Option<Reply>, String> {
                Ok(Some(Reply::new(self)))
            }
        }
    )*};
}

payload_replies!(Bytes, Vec<u8>, String, &'static str);

impl<T: IntoReply> IntoReply for Option<T> {
    fn into_reply(self) -> std::result::Result<Option<Reply>, String> {
        self.map_or(Ok(None), IntoReply::into_reply)
    }
}

impl<T: IntoReply, E: Display> IntoReply for std::result::Result<T, E> {
    fn into_reply(self) -> std::result::Result<Option<Reply>, String> {
        self.map_err(|e| e.to_string())?.into_reply()
    }
}

/// The reply publish for `request` (which must carry a response topic),
/// checked: an error is for the log, since nobody waits for it.
pub(crate) fn reply_to(request: &MqttMessage, reply: Reply) -> Result<Publish> {
    let topic = request.response_topic().unwrap_or_default();
    let mut publish = Publish::new(topic, reply.payload)
        .qos(reply.qos.unwrap_or(request.qos()))
        .properties(reply.properties);
    publish.properties.correlation_data = request.correlation_data().cloned();
    crate::topic::validate_topic(&publish.topic)?;
    publish.properties.validate()?;
    Ok(publish)
}

/// The listener that receives replies and answers the callers waiting for
/// them, by correlation data.
pub(crate) struct ReplyDesk {
    waiting: HashMap<Bytes, oneshot::Sender<MqttMessage>>,
}

/// A request is about to go out: answer `reply` with the message carrying
/// `correlation`.
pub(crate) struct Expect {
    pub correlation: Bytes,
    pub reply: oneshot::Sender<MqttMessage>,
}

impl actix::Message for Expect {
    type Result = ();
}

impl ReplyDesk {
    pub fn start() -> Addr<ReplyDesk> {
        ReplyDesk {
            waiting: HashMap::new(),
        }
        .start()
    }
}

impl Actor for ReplyDesk {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // Replies to a burst of requests arrive together.
        ctx.set_mailbox_capacity(1024);
    }
}

impl Handler<Expect> for ReplyDesk {
    type Result = ();
    fn handle(&mut self, e: Expect, _: &mut Context<Self>) {
        // Callers that gave up (timed out) are forgotten here, so the map
        // holds no more than the requests in flight.
        self.waiting.retain(|_, tx| !tx.is_canceled());
        self.waiting.insert(e.correlation, e.reply);
    }
}

impl Handler<MqttMessage> for ReplyDesk {
    type Result = ();
    fn handle(&mut self, msg: MqttMessage, _: &mut Context<Self>) {
        let caller = msg.correlation_data().and_then(|c| self.waiting.remove(c));
        let unanswered = match caller {
            Some(tx) => tx.send(msg).err(),
            None => Some(msg),
        };
        if let Some(msg) = unanswered {
            log::warn!(
                target: "mqtt_actor",
                "a reply on {:?} matches no request waiting (it came too late, or its correlation data is not ours): dropped",
                msg.topic()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(qos: QoS) -> MqttMessage {
        let props = MessageProperties {
            response_topic: Some("asker/replies/7".into()),
            correlation_data: Some(Bytes::from_static(b"c-7")),
            ..MessageProperties::default()
        };
        MqttMessage::with_properties("svc/x", "q", qos, false, Some(props))
    }

    #[test]
    fn handlers_may_return_payloads_replies_none_or_errors() {
        let payload =
            |r: std::result::Result<Option<Reply>, String>| r.map(|r| r.map(|r| r.payload));
        assert_eq!(payload("a".into_reply()), Ok(Some(Bytes::from("a"))));
        assert_eq!(
            payload(String::from("b").into_reply()),
            Ok(Some(Bytes::from("b")))
        );
        assert_eq!(
            payload(vec![1u8].into_reply()),
            Ok(Some(Bytes::from(vec![1u8])))
        );
        assert_eq!(payload(None::<&'static str>.into_reply()), Ok(None));
        assert_eq!(payload(Some("c").into_reply()), Ok(Some(Bytes::from("c"))));
        let failed: std::result::Result<&'static str, _> = Err("no oven");
        assert_eq!(payload(failed.into_reply()), Err("no oven".to_string()));
        let declined: std::result::Result<Option<Reply>, String> = Ok(None);
        assert_eq!(payload(declined.into_reply()), Ok(None));
    }

    #[test]
    fn a_reply_goes_to_the_response_topic_with_the_correlation_data() {
        let reply = Reply::new("a").user_property("status", "ok");
        let p = reply_to(&request(QoS::ExactlyOnce), reply).unwrap();
        assert_eq!(p.topic, "asker/replies/7");
        assert_eq!(p.qos, QoS::ExactlyOnce, "the request's QoS by default");
        assert_eq!(p.properties.correlation_data.as_deref(), Some(&b"c-7"[..]));
        assert_eq!(p.properties.user_property("status"), Some("ok"));
        let p = reply_to(
            &request(QoS::ExactlyOnce),
            Reply::new("a").qos(QoS::AtMostOnce),
        )
        .unwrap();
        assert_eq!(p.qos, QoS::AtMostOnce);
        let bad = Reply::new("a").content_type("x\0y");
        assert!(matches!(
            reply_to(&request(QoS::AtMostOnce), bad),
            Err(MqttError::InvalidProperty { .. })
        ));
    }

    #[test]
    fn a_json_reply_says_it_is_json() {
        let r = Reply::json(&[1, 2]).unwrap();
        assert_eq!(&r.payload[..], b"[1,2]");
        assert_eq!(
            r.properties.content_type.as_deref(),
            Some("application/json")
        );
    }
}
