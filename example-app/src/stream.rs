//! `GET /api/stream?topic=F[&topic=G…]`: the messages under some filters as
//! Server-Sent Events, for clients that do not speak WebSocket (`curl -N`,
//! a browser's `EventSource`).
//!
//! A stream is a WebSocket session without requests. Its filters come in the
//! query; each is checked (shape: `400 invalid_topic`; access, as a
//! WebSocket `subscribe`: `403 forbidden`) and granted by the broker before
//! the answer starts, so a refusal is an HTTP error, and once the answer has
//! started every message published after it arrives. Then its
//! [`StreamListener`], the `MqttActor`'s listener for the stream, puts each
//! message (the WebSocket `message` frame, encoded once for everyone) in a
//! bounded [`Outbox`] like a session's, which the response body drains at the
//! client's pace: `event: message` with the frame as `data`; when the
//! outbox is full the oldest messages are dropped and the client gets
//! `event: lagged` with `{"dropped":n}` (the library's `Dropped` notices
//! join it). A `:` comment goes out every `WS_HEARTBEAT_S` while nothing
//! waits, so that proxies keep the connection and a client gone is noticed.
//!
//! A stream takes a session slot (`WS_MAX_SESSIONS`, `WS_MAX_SESSIONS_PER_IP`),
//! is counted in `/api/status` `sessions`, and gives at most `WS_MAX_FILTERS`
//! filters. It ends, and its filters are released, when the client goes away
//! (its next write fails: at the latest a heartbeat later), when its frames
//! wait undrained past `WS_IDLE_TIMEOUT_S`, when its login ends, when the
//! broker no longer grants any of its filters (an `event: error` says so,
//! with the WebSocket `error` object), and at shutdown.

use std::collections::BTreeSet;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::SystemTime;

use actix::prelude::*;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::{Bytes, BytesMut};
use bytestring::ByteString;
use futures::Stream;
use mqtt_actor::{ListenerNotice, MqttError, MqttMessage, QoS, Subscribe, UnsubscribeAll};

use crate::error::{ApiError, Code};
use crate::gate::{enforce, Login};
use crate::limits::{check_web_filter, SessionSlot};
use crate::outbox::{ConnSocket, Framing, Outbox, OutboxLimits, Stop};
use crate::protocol::{Event, MessageView};
use crate::settings::Settings;
use crate::state::{AppState, GoingAway};

/// The first bytes of every stream, so that the client sees it begin at once.
const OPENING: &str = ": stream open\n\n";
/// The heartbeat comment.
const HEARTBEAT: &str = ": heartbeat\n\n";

/// The filters of a stream's query: every `topic`, each once, checked for
/// shape; at least one and at most `WS_MAX_FILTERS`.
fn stream_filters(query: &str, settings: &Settings) -> Result<Vec<String>, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
        .map_err(|e| ApiError::new(Code::BadRequest, format!("bad query: {e}")))?;
    let filters: BTreeSet<String> = pairs
        .into_iter()
        .filter(|(key, _)| key == "topic")
        .map(|(_, filter)| filter)
        .collect();
    if filters.is_empty() {
        return Err(ApiError::new(
            Code::BadRequest,
            "name at least one filter: /api/stream?topic=FILTER[&topic=FILTER…]",
        ));
    }
    if filters.len() > settings.max_filters {
        return Err(ApiError::new(
            Code::BadRequest,
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
pub async fn stream_route(
    req: HttpRequest,
    state: web::Data<AppState>,
    login: Login,
) -> Result<HttpResponse, ApiError> {
    let filters = stream_filters(req.query_string(), &state.settings)?;
    let who = login.who();
    for filter in &filters {
        enforce(state.gate.access.can_subscribe(&who, filter))?;
    }
    let slot = state.session_slots.open(req.peer_addr().map(|a| a.ip()))?;
    let state = state.into_inner();
    let limits = OutboxLimits {
        frames: state.settings.queue_frames,
        bytes: state.settings.queue_bytes,
    };
    let outbox = Outbox::new(limits, state.dropped.clone());
    if let Some(socket) = ConnSocket::of(&req) {
        outbox.attach_socket(socket);
    }
    outbox.push(OPENING.into(), false);
    let listener = StreamListener {
        state: state.clone(),
        outbox: outbox.clone(),
        login,
        filters: filters.iter().cloned().collect(),
    }
    .start();
    // From here on, whatever ends the request (an error, the client leaving
    // while the broker answers, the end of the stream) releases it all.
    let end = StreamEnd::new(state.clone(), outbox.clone(), listener.clone(), slot);
    let subscribes = filters.into_iter().map(|filter| {
        let request = Subscribe::new(filter)
            .qos(QoS::AtMostOnce)
            .listener(listener.clone().recipient())
            .notices(listener.clone().recipient());
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

/// Server-Sent Events framing of an outbox: messages as `event: message`,
/// other frames as they were queued (already events or comments), drops as
/// `event: lagged`.
struct SseFraming;

impl Framing for SseFraming {
    fn message(&mut self, text: ByteString, buf: &mut BytesMut) {
        // JSON from serde_json has no raw newline: one `data` line holds it.
        buf.extend_from_slice(b"event: message\ndata: ");
        buf.extend_from_slice(text.as_bytes());
        buf.extend_from_slice(b"\n\n");
    }

    fn event(&mut self, text: ByteString, buf: &mut BytesMut) {
        buf.extend_from_slice(text.as_bytes());
    }

    fn lagged(&mut self, dropped: u64, buf: &mut BytesMut) {
        let event = format!("event: lagged\ndata: {{\"dropped\":{dropped}}}\n\n");
        buf.extend_from_slice(event.as_bytes());
    }
}

/// An `event: error` with the WebSocket `error` object as data.
fn error_event(err: ApiError) -> ByteString {
    format!(
        "event: error\ndata: {}\n\n",
        Event::error(None, err).to_text()
    )
    .into()
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
        let mut buf = BytesMut::new();
        if !self.outbox.take(&mut buf, &mut SseFraming, cx.waker()) {
            return Poll::Ready(None);
        }
        if buf.is_empty() {
            return Poll::Pending;
        }
        Poll::Ready(Some(Ok(buf.freeze())))
    }
}

/// What a stream holds, let go when it ends: its place among the sessions,
/// its listener and filters, its outbox and the duplicate of its socket.
struct StreamEnd {
    id: u64,
    state: Arc<AppState>,
    outbox: Arc<Outbox>,
    listener: Addr<StreamListener>,
    _slot: SessionSlot,
}

impl StreamEnd {
    fn new(
        state: Arc<AppState>,
        outbox: Arc<Outbox>,
        listener: Addr<StreamListener>,
        slot: SessionSlot,
    ) -> Self {
        let id = state.sessions.next_id();
        state.sessions.register(id, listener.clone().recipient());
        StreamEnd {
            id,
            state,
            outbox,
            listener,
            _slot: slot,
        }
    }
}

impl Drop for StreamEnd {
    fn drop(&mut self) {
        self.state.sessions.unregister(self.id);
        // Pending subscribes too: the MqttActor handles this after them.
        let all = UnsubscribeAll::of(self.listener.clone().recipient());
        self.state.mqtt.do_send(all);
        self.listener.do_send(Stop);
        self.outbox.close();
        self.outbox.detach_socket();
    }
}

/// The `MqttActor`'s listener for one stream: fills its outbox, sends the
/// heartbeats, and ends the stream when its client stops reading, its login
/// ends or its last filter is lost.
pub struct StreamListener {
    state: Arc<AppState>,
    outbox: Arc<Outbox>,
    login: Login,
    /// The filters still granted.
    filters: BTreeSet<String>,
}

impl StreamListener {
    fn tick(&mut self, ctx: &mut Context<Self>) {
        if let Some(why) = self.state.gate.lapsed(&self.login, SystemTime::now()) {
            log::info!("event stream: closing: {why}");
            self.outbox
                .push(error_event(ApiError::new(Code::Unauthorized, why)), false);
            return self.end(ctx);
        }
        let undrained = self.outbox.undrained_for();
        if undrained > self.state.settings.idle_timeout() {
            log::info!("event stream: its frames undrained for {undrained:?}: closing");
            self.outbox.abort();
            return ctx.stop();
        }
        if undrained.is_zero() {
            self.outbox.push(HEARTBEAT.into(), false);
        }
    }

    /// Ends the stream once the client has what waits for it.
    fn end(&mut self, ctx: &mut Context<Self>) {
        self.outbox.close();
        ctx.stop();
    }
}

impl Actor for StreamListener {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // The MqttActor never waits: what does not fit here is dropped and counted there.
        ctx.set_mailbox_capacity(4096);
        ctx.run_interval(self.state.settings.heartbeat(), Self::tick);
    }
}

impl Handler<MqttMessage> for StreamListener {
    type Result = ();
    fn handle(&mut self, msg: MqttMessage, _: &mut Context<Self>) {
        // The WebSocket sessions' frame: encoded once for all of them.
        let frame = msg.memo(|m| ByteString::from(MessageView::frame(m)));
        self.outbox.push(ByteString::clone(&frame), true);
    }
}

impl Handler<ListenerNotice> for StreamListener {
    type Result = ();
    fn handle(&mut self, notice: ListenerNotice, ctx: &mut Context<Self>) {
        match notice {
            ListenerNotice::Dropped { count } => self.outbox.add_lagged(count),
            ListenerNotice::SubscriptionLost { filter, error } => {
                let mut err = ApiError::from(error);
                err.message = format!("subscription to {filter:?} lost: {}", err.message);
                self.outbox.push(error_event(err), false);
                self.filters.remove(&filter);
                if self.filters.is_empty() {
                    log::info!("event stream: the broker grants none of its filters: closing");
                    self.end(ctx);
                }
            }
            _ => {}
        }
    }
}

impl Handler<GoingAway> for StreamListener {
    type Result = ();
    fn handle(&mut self, _: GoingAway, ctx: &mut Context<Self>) {
        self.end(ctx);
    }
}

impl Handler<Stop> for StreamListener {
    type Result = ();
    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn the_query_names_each_filter_once_and_bad_ones_are_refused() {
        let settings = Settings {
            max_filters: 2,
            ..Settings::default()
        };
        let filters = stream_filters("topic=a%2F%23&topic=b/%2B&topic=a/%23&x=1", &settings);
        assert_eq!(filters.unwrap(), ["a/#", "b/+"]);
        let code = |query: &str| stream_filters(query, &settings).unwrap_err().code;
        assert_eq!(code(""), Code::BadRequest);
        assert_eq!(code("filter=a"), Code::BadRequest);
        assert_eq!(code("topic=a&topic=b&topic=c"), Code::BadRequest);
        assert_eq!(code("topic=a/%23/b"), Code::InvalidTopic);
        assert_eq!(code("topic="), Code::InvalidTopic);
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
        outbox.push(OPENING.into(), false);
        for i in 0..3 {
            outbox.push(format!(r#"{{"type":"message","n":{i}}}"#).into(), true);
        }
        outbox.add_lagged(2);
        outbox.push(error_event(ApiError::new(Code::BrokerError, "lost")), false);
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
