//! The serde types of the web API contract (`docs/protocol.md`): WebSocket
//! requests and events, HTTP bodies. Nothing else lives here; the error codes
//! and their HTTP form are in `error.rs`. A test holds [`Event::name`] to the
//! `type` serde writes.

use crate::{MessageProperties, MqttMessage, QoS};
use base64::Engine;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::web::error::{ApiError, ErrorCode};

/// A request from a WebSocket client (without its `id`, which is kept apart).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ClientRequest {
    /// `{"type":"subscribe","topic":…,"qos"?}`
    Subscribe {
        /// The filter.
        topic: String,
        /// Requested QoS.
        #[serde(default)]
        qos: QoS,
    },
    /// `{"type":"unsubscribe","topic":…}`
    Unsubscribe {
        /// The filter.
        topic: String,
    },
    /// `{"type":"publish",…}`
    Publish(PublishBody),
    /// `{"type":"ping"}`
    Ping,
}

/// The fields of a publish, shared by the WebSocket request and `POST /api/publish`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PublishBody {
    /// The topic (no wildcards).
    pub topic: String,
    /// The payload, as text or base64.
    #[serde(default)]
    pub payload: String,
    /// How `payload` is encoded.
    #[serde(default)]
    pub encoding: Encoding,
    /// QoS.
    #[serde(default)]
    pub qos: QoS,
    /// Retain flag.
    #[serde(default)]
    pub retain: bool,
    /// MQTT 5 properties (an extension of the contract, see the README).
    #[serde(default, deserialize_with = "properties_object")]
    pub properties: Option<Properties>,
}

impl PublishBody {
    /// The payload bytes, decoded.
    pub fn payload_bytes(&self) -> Result<Bytes, ApiError> {
        match self.encoding {
            Encoding::Utf8 => Ok(Bytes::from(self.payload.clone().into_bytes())),
            Encoding::Base64 => base64::engine::general_purpose::STANDARD
                .decode(&self.payload)
                .map(Bytes::from)
                .map_err(|e| {
                    ApiError::new(
                        ErrorCode::BadRequest,
                        format!("payload is not valid base64: {e}"),
                    )
                }),
        }
    }
}

/// The MQTT 5 properties of a message, as the web API shows them: an
/// optional `properties` object of `message` frames (and SSE data) and of
/// publish requests, beyond the contract (clients may ignore it). Absent
/// properties are left out, and so is an object that would be empty.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Properties {
    /// `Content-Type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// `Message-Expiry-Interval`, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_expiry_interval: Option<u32>,
    /// `Response-Topic`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_topic: Option<String>,
    /// `Correlation-Data`, base64 (it is binary in MQTT).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_data: Option<String>,
    /// `User-Property` pairs, in order, each `[key, value]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user_properties: Vec<(String, String)>,
}

impl Properties {
    /// The web view of a message's properties; `None` when it has none of
    /// those the web API shows.
    pub fn of(props: &MessageProperties) -> Option<Properties> {
        let view = Properties {
            content_type: props.content_type.clone(),
            message_expiry_interval: props.message_expiry_interval,
            response_topic: props.response_topic.clone(),
            correlation_data: props
                .correlation_data
                .as_ref()
                .map(|d| base64::engine::general_purpose::STANDARD.encode(d)),
            user_properties: props.user_properties.clone(),
        };
        (view != Properties::default()).then_some(view)
    }

    /// The library's properties, with the correlation data decoded; a
    /// string MQTT cannot carry (over 65,535 bytes, or with U+0000) or data
    /// that is not base64 is `bad_request`.
    pub fn to_library(&self) -> Result<MessageProperties, ApiError> {
        let bad = |what: String| ApiError::new(ErrorCode::BadRequest, what);
        let strings =
            self.content_type
                .iter()
                .map(|s| ("content_type", s))
                .chain(self.response_topic.iter().map(|s| ("response_topic", s)))
                .chain(self.user_properties.iter().flat_map(|(k, v)| {
                    [("a user property's key", k), ("a user property's value", v)]
                }));
        for (name, text) in strings {
            if text.len() > u16::MAX as usize {
                return Err(bad(format!(
                    "properties: {name} of {} bytes is over MQTT's limit of 65535",
                    text.len()
                )));
            }
            if text.contains('\0') {
                return Err(bad(format!("properties: {name} contains U+0000")));
            }
        }
        let correlation_data = match &self.correlation_data {
            None => None,
            Some(text) => {
                let data = base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .map_err(|e| bad(format!("properties: correlation_data is not base64: {e}")))?;
                if data.len() > u16::MAX as usize {
                    return Err(bad(format!(
                        "properties: correlation_data of {} bytes is over MQTT's limit of 65535",
                        data.len()
                    )));
                }
                Some(Bytes::from(data))
            }
        };
        Ok(MessageProperties {
            content_type: self.content_type.clone(),
            response_topic: self.response_topic.clone(),
            correlation_data,
            message_expiry_interval: self.message_expiry_interval,
            user_properties: self.user_properties.clone(),
            ..Default::default()
        })
    }
}

/// A `properties` object, and only an object (serde would read a struct
/// from an array too); `null` is none.
fn properties_object<'de, D>(de: D) -> Result<Option<Properties>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    use serde::de::Error;
    match Value::deserialize(de)? {
        Value::Null => Ok(None),
        value @ Value::Object(_) => serde_json::from_value(value)
            .map(Some)
            .map_err(D::Error::custom),
        other => Err(D::Error::custom(format!(
            "`properties` must be an object, not {other}"
        ))),
    }
}

/// `utf8` or `base64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// Text.
    #[default]
    Utf8,
    /// Binary, base64-encoded.
    Base64,
}

/// `POST /api/subscriptions` body.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SubscriptionBody {
    /// The filter.
    pub topic: String,
    /// Requested QoS.
    #[serde(default)]
    pub qos: QoS,
}

/// A frame from the server to a WebSocket client.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Event {
    /// Reply to `subscribe`.
    Subscribed {
        /// The request's id.
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<Value>,
        /// The filter.
        topic: String,
        /// Granted QoS.
        qos: QoS,
    },
    /// Reply to `unsubscribe`; or, with a `reason` and no `id`, the server
    /// released one of the client's filters on its own (2.1).
    Unsubscribed {
        /// The request's id.
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<Value>,
        /// The filter.
        topic: String,
        /// Why the server released it (`"revoked"`: the access rules no
        /// longer let this client read it); absent in a reply.
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<&'static str>,
    },
    /// Reply to `publish`.
    Published {
        /// The request's id.
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<Value>,
        /// The topic.
        topic: String,
    },
    /// Reply to `ping`.
    Pong {
        /// The request's id.
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<Value>,
    },
    /// The broker connection.
    Status {
        /// Connected now.
        connected: bool,
        /// The broker.
        broker: String,
        /// Which app instance serves the socket (its MQTT client id).
        instance: String,
    },
    /// A request failed.
    Error {
        /// The request's id.
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<Value>,
        /// One of the error codes of `docs/protocol.md`.
        code: ErrorCode,
        /// For people.
        message: String,
    },
    /// Messages were dropped for this client.
    Lagged {
        /// How many.
        dropped: u64,
    },
}

/// The `reason` of an `unsubscribed` notice for a filter the access rules no
/// longer grant (2.1).
pub const REVOKED: &str = "revoked";

impl Event {
    /// The `error` frame for a request with `id`.
    pub fn error(id: Option<Value>, err: ApiError) -> Event {
        Event::Error {
            id,
            code: err.code,
            message: err.message,
        }
    }

    /// The notice that the server released `filter` because the access
    /// rules no longer let the client read it (2.1).
    pub fn revoked(filter: String) -> Event {
        Event::Unsubscribed {
            id: None,
            topic: filter,
            reason: Some(REVOKED),
        }
    }

    /// The frame's `type`, which names it as a Server-Sent Event too.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Subscribed { .. } => "subscribed",
            Event::Unsubscribed { .. } => "unsubscribed",
            Event::Published { .. } => "published",
            Event::Pong { .. } => "pong",
            Event::Status { .. } => "status",
            Event::Error { .. } => "error",
            Event::Lagged { .. } => "lagged",
        }
    }

    /// The JSON text of the frame.
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).expect("protocol events always serialize")
    }
}

/// The `message` frame / `/api/topics` view of an MQTT message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MessageView<'a> {
    /// The topic.
    pub topic: &'a str,
    /// Text, or base64 of binary.
    pub payload: String,
    /// Which of the two.
    pub encoding: Encoding,
    /// QoS.
    pub qos: QoS,
    /// Retain flag.
    pub retain: bool,
    /// MQTT 5 properties, when the message has any (an extension).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub properties: Option<Properties>,
}

impl<'a> MessageView<'a> {
    /// The view of `msg`: UTF-8 payloads as text, others as base64.
    pub fn of(msg: &'a MqttMessage) -> Self {
        let (payload, encoding) = match msg.payload_str() {
            Some(text) => (text.to_string(), Encoding::Utf8),
            None => (
                base64::engine::general_purpose::STANDARD.encode(msg.payload()),
                Encoding::Base64,
            ),
        };
        MessageView {
            topic: msg.topic(),
            payload,
            encoding,
            qos: msg.qos(),
            retain: msg.retain(),
            properties: msg.properties().and_then(Properties::of),
        }
    }

    /// The `{"type":"message",…}` frame text.
    pub fn frame(msg: &MqttMessage) -> String {
        #[derive(Serialize)]
        struct Frame<'a> {
            r#type: &'static str,
            #[serde(flatten)]
            view: MessageView<'a>,
        }
        let mut text = serde_json::to_string(&Frame {
            r#type: "message",
            view: MessageView::of(msg),
        })
        .expect("message frames always serialize");
        // Queues count frames by their length: let that be what they hold
        // (the writer's doubling leaves up to twice as much allocated).
        text.shrink_to_fit();
        text
    }
}

/// The body of `GET /api/status` (and what `/metrics` exposes).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusBody {
    /// Connected to the broker.
    pub connected: bool,
    /// The broker.
    pub broker: String,
    /// The client id.
    pub client_id: String,
    /// Seconds since start.
    pub uptime_s: u64,
    /// Open sessions.
    pub sessions: usize,
    /// Messages from the broker.
    pub messages_in: u64,
    /// Messages published.
    pub messages_out: u64,
    /// Messages dropped for slow sessions and listeners.
    pub dropped: u64,
}

/// The `id` of a frame too large to handle, so that its `too_large` error
/// still carries it: the frame is scanned, not built (its other fields are
/// skipped without being copied). `None` when it has no usable id.
pub fn peek_id(text: &str) -> Option<Value> {
    #[derive(Deserialize)]
    struct IdOnly {
        id: Option<Value>,
    }
    // Only an object carries an id (serde would read a struct from `[1]` too).
    if !text.trim_start().starts_with('{') {
        return None;
    }
    let id = serde_json::from_str::<IdOnly>(text).ok()?.id?;
    (id.is_string() || id.is_number()).then_some(id)
}

/// Parses one text frame into its `id` and request; the error keeps the `id`.
pub fn parse_request(
    text: &str,
) -> Result<(Option<Value>, ClientRequest), (Option<Value>, ApiError)> {
    let mut value: Value = serde_json::from_str(text).map_err(|e| {
        (
            None,
            ApiError::new(ErrorCode::BadRequest, format!("not JSON: {e}")),
        )
    })?;
    let Some(object) = value.as_object_mut() else {
        return Err((
            None,
            ApiError::new(ErrorCode::BadRequest, "a request must be a JSON object"),
        ));
    };
    let id = object.remove("id");
    if let Some(bad) = id.as_ref().filter(|v| !(v.is_string() || v.is_number())) {
        return Err((
            None,
            ApiError::new(
                ErrorCode::BadRequest,
                format!("`id` must be a string or a number, not {bad}"),
            ),
        ));
    }
    serde_json::from_value(value)
        .map(|req| (id.clone(), req))
        .map_err(|e| (id, ApiError::new(ErrorCode::BadRequest, e.to_string())))
}

/// Parses an HTTP JSON body.
pub fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::new(ErrorCode::BadRequest, format!("bad JSON body: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn requests_parse_with_defaults_and_keep_their_id() {
        let (id, req) = parse_request(r#"{"type":"subscribe","topic":"a/#","id":7}"#).unwrap();
        assert_eq!(id, Some(json!(7)));
        assert_eq!(
            req,
            ClientRequest::Subscribe {
                topic: "a/#".into(),
                qos: QoS::AtMostOnce
            }
        );
        let (_, req) = parse_request(r#"{"type":"publish","topic":"t"}"#).unwrap();
        let ClientRequest::Publish(p) = req else {
            panic!()
        };
        assert_eq!(
            (p.payload.as_str(), p.encoding, p.retain),
            ("", Encoding::Utf8, false)
        );
    }

    #[test]
    fn bad_requests_are_bad_request_and_keep_the_id() {
        for text in [
            "nope",
            "[1]",
            r#"{"type":"dance"}"#,
            r#"{"type":"subscribe"}"#,
            r#"{"type":"subscribe","topic":5}"#,
            r#"{"type":"publish","topic":"t","qos":7}"#,
        ] {
            let (_, err) = parse_request(text).unwrap_err();
            assert_eq!(err.code, ErrorCode::BadRequest, "{text}");
        }
        let (id, _) = parse_request(r#"{"type":"dance","id":"x"}"#).unwrap_err();
        assert_eq!(id, Some(json!("x")));
    }

    #[test]
    fn the_id_of_a_frame_is_found_without_building_it() {
        let big = format!(
            r#"{{"type":"publish","payload":"{}","id":7}}"#,
            "x".repeat(1000)
        );
        assert_eq!(peek_id(&big), Some(json!(7)));
        assert_eq!(peek_id(r#"{"id":"a"}"#), Some(json!("a")));
        assert_eq!(peek_id(r#"{"id":[1]}"#), None);
        assert_eq!(peek_id("[1]"), None);
        assert_eq!(peek_id("not json"), None);
    }

    #[test]
    fn events_serialize_as_the_protocol_says() {
        let e = Event::Subscribed {
            id: None,
            topic: "a".into(),
            qos: QoS::AtLeastOnce,
        };
        assert_eq!(e.to_text(), r#"{"type":"subscribed","topic":"a","qos":1}"#);
        let e = Event::error(
            Some(json!(1)),
            ApiError::new(ErrorCode::NotConnected, "down"),
        );
        assert_eq!(
            e.to_text(),
            r#"{"type":"error","id":1,"code":"not_connected","message":"down"}"#
        );
        assert_eq!(
            Event::Lagged { dropped: 3 }.to_text(),
            r#"{"type":"lagged","dropped":3}"#
        );
    }

    #[test]
    fn an_events_name_is_its_type() {
        let events = [
            Event::Subscribed {
                id: None,
                topic: "a".into(),
                qos: QoS::AtMostOnce,
            },
            Event::revoked("a".into()),
            Event::Published {
                id: None,
                topic: "a".into(),
            },
            Event::Pong { id: None },
            Event::Status {
                connected: true,
                broker: "b".into(),
                instance: "i".into(),
            },
            Event::error(None, ApiError::new(ErrorCode::BadRequest, "x")),
            Event::Lagged { dropped: 1 },
        ];
        for event in events {
            let value: Value = serde_json::from_str(&event.to_text()).unwrap();
            assert_eq!(value["type"], event.name());
        }
    }

    #[test]
    fn a_revoked_filter_is_an_unsubscribed_notice_with_its_reason() {
        assert_eq!(
            Event::revoked("plant/#".into()).to_text(),
            r#"{"type":"unsubscribed","topic":"plant/#","reason":"revoked"}"#
        );
        let reply = Event::Unsubscribed {
            id: Some(7.into()),
            topic: "a".into(),
            reason: None,
        };
        assert_eq!(
            reply.to_text(),
            r#"{"type":"unsubscribed","id":7,"topic":"a"}"#
        );
    }

    #[test]
    fn publish_properties_parse_and_bad_ones_are_bad_request() {
        let (_, req) = parse_request(
            r#"{"type":"publish","topic":"t","properties":{"content_type":"application/json",
                "message_expiry_interval":60,"response_topic":"r/1","correlation_data":"AAE=",
                "user_properties":[["k","v"],["k","w"]]}}"#,
        )
        .unwrap();
        let ClientRequest::Publish(p) = req else {
            panic!()
        };
        let props = p.properties.unwrap().to_library().unwrap();
        assert_eq!(props.content_type.as_deref(), Some("application/json"));
        assert_eq!(props.message_expiry_interval, Some(60));
        assert_eq!(props.correlation_data.as_deref(), Some(&[0u8, 1][..]));
        assert_eq!(
            props.user_properties,
            [("k".into(), "v".into()), ("k".into(), "w".into())]
        );
        for text in [
            r#"{"type":"publish","topic":"t","properties":{"colour":"red"}}"#,
            r#"{"type":"publish","topic":"t","properties":{"message_expiry_interval":-1}}"#,
            r#"{"type":"publish","topic":"t","properties":{"user_properties":[["k"]]}}"#,
            r#"{"type":"publish","topic":"t","properties":[]}"#,
        ] {
            let (_, err) = parse_request(text).unwrap_err();
            assert_eq!(err.code, ErrorCode::BadRequest, "{text}");
        }
        let bad = [
            Properties {
                correlation_data: Some("not base64!".into()),
                ..Default::default()
            },
            Properties {
                content_type: Some("a\0b".into()),
                ..Default::default()
            },
            Properties {
                user_properties: vec![("k".into(), "v".repeat(70_000))],
                ..Default::default()
            },
        ];
        for props in bad {
            let err = props.to_library().unwrap_err();
            assert_eq!(err.code, ErrorCode::BadRequest, "{props:?}");
            assert!(err.message.starts_with("properties: "), "{}", err.message);
        }
    }

    #[test]
    fn message_frames_show_mqtt5_properties_and_leave_out_absent_ones() {
        let props = MessageProperties {
            content_type: Some("text/plain".into()),
            correlation_data: Some(Bytes::from_static(&[0, 1])),
            user_properties: vec![("a".into(), "1".into())],
            ..Default::default()
        };
        let view = Properties::of(&props).unwrap();
        assert_eq!(
            serde_json::to_value(&view).unwrap(),
            json!({"content_type":"text/plain","correlation_data":"AAE=","user_properties":[["a","1"]]})
        );
        let only_format = MessageProperties {
            payload_format_indicator: Some(1),
            ..Default::default()
        };
        assert_eq!(
            Properties::of(&only_format),
            None,
            "nothing to show: no object"
        );
        let m = MqttMessage::new("t", "x", QoS::AtMostOnce, false);
        let v: Value = serde_json::from_str(&MessageView::frame(&m)).unwrap();
        assert!(v.get("properties").is_none(), "{v}");
    }

    #[test]
    fn binary_payloads_become_base64() {
        let m = MqttMessage::new("b", vec![0u8, 159, 146, 150], QoS::AtMostOnce, true);
        let v: Value = serde_json::from_str(&MessageView::frame(&m)).unwrap();
        assert_eq!(
            v,
            json!({"type":"message","topic":"b","payload":"AJ+Slg==","encoding":"base64","qos":0,"retain":true})
        );
        let m = MqttMessage::new("t", "héllo \"q\"", QoS::ExactlyOnce, false);
        let v: Value = serde_json::from_str(&MessageView::frame(&m)).unwrap();
        assert_eq!(v["payload"], "héllo \"q\"");
        assert_eq!(v["encoding"], "utf8");
    }
}
