//! `GET /api/stream?topic=F[&topic=G…]`: the messages under some filters as
//! Server-Sent Events, for clients that do not speak WebSocket (`curl -N`,
//! a browser's `EventSource`).
//!
//! A stream is a WebSocket session without requests. Its filters come in the
//! query; each is checked (shape: `400 invalid_topic`; access, as a
//! WebSocket `subscribe`: `403 forbidden`) and granted by the broker before
//! the answer starts, so a refusal is an HTTP error, and once the answer has
//! started every message published after it arrives. Then its [`Fanout`],
//! the same as a WebSocket session's, puts each message (the WebSocket
//! `message` frame, encoded once for everyone) in a bounded [`Outbox`], which
//! the response body drains at the client's pace through [`SseFraming`]:
//! `event: message` with the frame as `data`; when the outbox is full the
//! oldest messages are dropped and the client gets `event: lagged` with
//! `{"dropped":n}` (the library's `Dropped` notices join it). A `:` comment
//! goes out every heartbeat while nothing waits, so that proxies keep the
//! connection and a client gone is noticed.
//!
//! A stream takes a session slot (`max_sessions`, `max_sessions_per_address`),
//! is counted in `/api/status` `sessions`, and gives at most `max_filters`
//! filters. It ends, and its filters are released, when the client goes away
//! (its next write fails: at the latest a heartbeat later), when its frames
//! wait undrained past the idle timeout, when its login ends, when the
//! broker no longer grants any of its filters (an `event: error` says so,
//! with the WebSocket `error` object), when the access rules no longer let
//! it read any of them (each revoked filter gets `event: unsubscribed` with
//! `{"type":"unsubscribed","topic":…,"reason":"revoked"}` first, and no
//! message of that filter alone follows it), and at shutdown.

use std::collections::BTreeSet;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use actix::prelude::*;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use futures::Stream;

use crate::web::access::Operation;
use crate::web::admission::Admitted;
use crate::web::config::BridgeConfig;
use crate::web::error::{ApiError, ErrorCode};
use crate::web::fanout::{Client, Fanout, Stop};
use crate::web::framing::SseFraming;
use crate::web::http::client_ip;
use crate::web::limits::{check_web_filter, SessionSlot};
use crate::web::queue::{Outbox, OutboxLimits};
use crate::web::socket::ConnSocket;
use crate::web::state::BridgeState;
use crate::{MqttError, QoS, Subscribe, UnsubscribeAll};

/// The filters of a stream's query: every `topic`, each once, checked for
/// shape; at least one and at most `WS_MAX_FILTERS`.
fn stream_filters(query: &str, settings: &BridgeConfig) -> Result<Vec<String>, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
        .map_err(|e| ApiError::new(ErrorCode::BadRequest, format!("bad query: {e}")))?;
    let filters: BTreeSet<String> = pairs
        .into_iter()
        .filter(|(key, _)| key == "topic")
        .map(|(_, filter)| filter)
        .collect();
    if filters.is_empty() {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            "name at least one filter: /api/stream?topic=FILTER[&topic=FILTER…]",
        ));
    }
    if filters.len() > settings.max_filters {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            format!(
                "a stream of {} filters is over the limit of {} (WS_MAX_FILTERS)",
                filters.len(),
                settings.max_filters
            ),
        ));
    }
    for filter in &filters {
        check_web_filter(
            filter,
            settings.max_filter_levels,
            settings.max_filter_bytes,
        )?;
    }
    Ok(filters.into_iter().collect())
}

/// `GET /api/stream`: checks the filters, takes a session slot, has the
/// broker grant every filter, then answers with the event stream.
pub(crate) async fn stream_route(
    Admitted(principal): Admitted,
    req: HttpRequest,
    state: web::Data<BridgeState>,
) -> Result<HttpResponse, ApiError> {
    let filters = stream_filters(req.query_string(), &state.config)?;
    for filter in &filters {
        state.authorize(&principal, Operation::Subscribe, filter)?;
    }
    let slot = state.session_slots.open(Some(client_ip(&req)))?;
    let state = state.into_inner();
    let outbox = Outbox::new(OutboxLimits::of(&state.config), state.dropped.clone());
    if let Some(socket) = ConnSocket::of(&req) {
        outbox.attach_socket(socket);
    }
    // The first bytes, so that the client sees the stream begin at once.
    outbox.comment("stream open");
    for filter in &filters {
        outbox.hold(filter);
    }
    let held = filters.iter().cloned().collect();
    let fanout = Fanout::new(
        outbox.clone(),
        state.clone(),
        Client::EventStream,
        principal,
        held,
    )
    .start();
    // From here on, whatever ends the request (an error, the client leaving
    // while the broker answers, the end of the stream) releases it all.
    let end = StreamEnd::new(state.clone(), outbox.clone(), fanout.clone(), slot);
    let subscribes = filters.into_iter().map(|filter| {
        let request = Subscribe::new(filter)
            .qos(QoS::AtMostOnce)
            .listener(fanout.clone().recipient())
            .notices(fanout.clone().recipient())
            .sink(outbox.clone());
        state.mqtt.send(request)
    });
    for answer in futures::future::join_all(subscribes).await {
        answer.map_err(MqttError::from).and_then(|r| r)?;
    }
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        // nginx would otherwise hold the events back in its buffer.
        .insert_header(("x-accel-buffering", "no"))
        .streaming(EventStream { outbox, _end: end }))
}

/// The response body: the outbox, drained as fast as the client reads.
struct EventStream {
    outbox: Arc<Outbox>,
    /// Dropped with the body, when the stream ends for any reason.
    _end: StreamEnd,
}

impl Stream for EventStream {
    type Item = Result<Bytes, actix_web::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        self.outbox
            .poll_chunk(&mut SseFraming, cx.waker())
            .map(|chunk| chunk.map(Ok))
    }
}

/// What a stream holds, let go when it ends: its place among the sessions,
/// its fan-out and filters, its outbox and its hold on the socket.
struct StreamEnd {
    id: u64,
    state: Arc<BridgeState>,
    outbox: Arc<Outbox>,
    fanout: Addr<Fanout>,
    _slot: SessionSlot,
}

impl StreamEnd {
    fn new(
        state: Arc<BridgeState>,
        outbox: Arc<Outbox>,
        fanout: Addr<Fanout>,
        slot: SessionSlot,
    ) -> Self {
        let id = state.sessions.register(vec![fanout.clone().recipient()]);
        StreamEnd {
            id,
            state,
            outbox,
            fanout,
            _slot: slot,
        }
    }
}

impl Drop for StreamEnd {
    fn drop(&mut self) {
        self.state.sessions.unregister(self.id);
        // Pending subscribes too: the MqttActor handles this after them.
        let all = UnsubscribeAll::of(self.fanout.clone().recipient());
        self.state.mqtt.do_send(all);
        self.fanout.do_send(Stop);
        self.outbox.close();
        self.outbox.detach_socket();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn the_query_names_each_filter_once_and_bad_ones_are_refused() {
        let settings = BridgeConfig {
            max_filters: 2,
            ..BridgeConfig::default()
        };
        let filters = stream_filters("topic=a%2F%23&topic=b/%2B&topic=a/%23&x=1", &settings);
        assert_eq!(filters.unwrap(), ["a/#", "b/+"]);
        let code = |query: &str| stream_filters(query, &settings).unwrap_err().code;
        assert_eq!(code(""), ErrorCode::BadRequest);
        assert_eq!(code("filter=a"), ErrorCode::BadRequest);
        assert_eq!(code("topic=a&topic=b&topic=c"), ErrorCode::BadRequest);
        assert_eq!(code("topic=a/%23/b"), ErrorCode::InvalidTopic);
        assert_eq!(code("topic="), ErrorCode::InvalidTopic);
    }

    #[test]
    fn frames_become_server_sent_events() {
        let outbox = Outbox::new(
            OutboxLimits {
                frames: 3,
                bytes: 1 << 20,
            },
            Arc::new(AtomicU64::new(0)),
        );
        outbox.comment("stream open");
        for i in 0..3 {
            outbox.message("t", format!(r#"{{"type":"message","n":{i}}}"#).into());
        }
        outbox.add_lagged(2);
        let lost = ApiError::new(ErrorCode::BrokerError, "lost");
        outbox.event(&crate::web::protocol::Event::error(None, lost));
        let mut buf = BytesMut::new();
        let waker = futures::task::noop_waker_ref();
        assert!(outbox.take(&mut buf, &mut SseFraming, waker));
        let text = String::from_utf8(buf.to_vec()).unwrap();
        assert_eq!(
            text,
            "event: lagged\ndata: {\"dropped\":4}\n\n\
             : stream open\n\n\
             event: message\ndata: {\"type\":\"message\",\"n\":2}\n\n\
             event: error\ndata: {\"type\":\"error\",\"code\":\"broker_error\",\"message\":\"lost\"}\n\n"
        );
    }
}
