//! The WebSocket session actor (actix-web-actors): reads the requests of `docs/protocol.md`
//! from one client and answers them; the filters it holds are held at the
//! `MqttActor` by its [`Fanout`], which fills the session's bounded
//! [`Outbox`] (see `fanout.rs` for why the two are apart). Its frames come
//! through the valve of a [`RequestWindow`], so at most `max_inflight` of
//! its requests are answered at once (see `inflight.rs`).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::SystemTime;

use actix::prelude::*;
use actix_http::ws::Codec;
use actix_web::{web, HttpRequest, HttpResponse};
use actix_web_actors::ws::{self, CloseCode, CloseReason, ProtocolError, WebsocketContext};
use bytes::Bytes;
use bytestring::ByteString;
use futures::Stream;
use serde_json::Value;

use crate::web::access::{Operation, Principal};
use crate::web::admission::Admitted;
use crate::web::error::{ApiError, ErrorCode};
use crate::web::fanout::{Activity, Client, Fanout, FilterLost, Held, Released, Stop, TellLost};
use crate::web::filters::FilterBook;
use crate::web::framing::WsFraming;
use crate::web::http::client_ip;
use crate::web::inflight::{RequestWindow, ValvedStream};
use crate::web::limits::{check_web_filter, SessionSlot};
use crate::web::protocol::{parse_request, peek_id, ClientRequest, Event, PublishBody};
use crate::web::queue::{Outbox, OutboxLimits};
use crate::web::socket::ConnSocket;
use crate::web::state::{BridgeState, Control};
use crate::{
    MqttActor, MqttError, MqttMessage, QoS, Subscribe, Unsubscribe, UnsubscribeAll, WatchConnection,
};

/// `GET /ws`: upgrades to a WebSocket served by a new [`Session`].
pub(crate) async fn ws_route(
    Admitted(principal): Admitted,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<BridgeState>,
) -> Result<HttpResponse, actix_web::Error> {
    let mut response = ws::handshake(&req)?;
    let slot = state.session_slots.open(Some(client_ip(&req)))?;
    let state = state.into_inner();
    let outbox = Outbox::new(OutboxLimits::of(&state.config), state.dropped.clone());
    if let Some(socket) = ConnSocket::of(&req) {
        outbox.attach_socket(socket);
    }
    // Frames up to this size are read and answered with `too_large`; beyond it
    // the frame cannot be skipped and the socket closes with 1009.
    let hard_cap = (state.config.max_frame_bytes * 4).max(1 << 20);
    let session = Session::new(state, outbox.clone(), principal, slot);
    let frames = ValvedStream::new(payload, session.inflight.valve());
    let ctx = WebsocketContext::with_codec(session, frames, Codec::new().max_size(hard_cap));
    Ok(response.streaming(OutboundStream::new(ctx, outbox)))
}

/// One WebSocket client.
pub(crate) struct Session {
    /// Its place in the registry, once it runs.
    id: Option<u64>,
    state: Arc<BridgeState>,
    outbox: Arc<Outbox>,
    fanout: Addr<Fanout>,
    filters: FilterBook,
    activity: Arc<Activity>,
    /// Who the socket acts for; checked on every request and heartbeat, so
    /// the socket ends with its login.
    principal: Principal,
    /// Requests being answered, and text frames waiting for their turn.
    inflight: RequestWindow<ByteString>,
    /// This session's place among the open ones, given back when it ends.
    _slot: SessionSlot,
}

impl Session {
    fn new(
        state: Arc<BridgeState>,
        outbox: Arc<Outbox>,
        principal: Principal,
        slot: SessionSlot,
    ) -> Self {
        let activity = Activity::new();
        let filters = FilterBook::default();
        let client = Client::WebSocket {
            activity: activity.clone(),
            session: None,
            generations: filters.generations(),
        };
        let fanout = Fanout::new(
            outbox.clone(),
            state.clone(),
            client,
            principal.clone(),
            Default::default(),
        )
        .start();
        Session {
            id: None,
            inflight: RequestWindow::new(state.config.max_inflight),
            state,
            outbox,
            fanout,
            filters,
            activity,
            principal,
            _slot: slot,
        }
    }

    /// Closes the socket with 1008 when its login ended (expired, signed out,
    /// user gone); true while it holds.
    fn login_holds(&self, ctx: &mut WebsocketContext<Self>) -> bool {
        let Err(why) = self.state.still_valid(&self.principal, SystemTime::now()) else {
            return true;
        };
        log::info!("session {:?}: closing: {why}", self.id);
        ctx.close(Some(CloseReason::from((CloseCode::Policy, why))));
        ctx.stop();
        false
    }

    fn listener(&self) -> Recipient<MqttMessage> {
        self.fanout.clone().recipient()
    }

    fn on_text(&mut self, text: ByteString, ctx: &mut WebsocketContext<Self>) {
        if !self.login_holds(ctx) {
            return;
        }
        let limit = self.state.config.max_frame_bytes;
        if text.len() > limit {
            let err = ApiError::new(
                ErrorCode::TooLarge,
                format!("frame of {} bytes is over the limit of {limit}", text.len()),
            );
            return self.outbox.event(&Event::error(peek_id(&text), err));
        }
        if let Some(text) = self.inflight.admit(text) {
            self.handle_text(text, ctx);
        }
    }

    /// Handles the frames that waited while the session was at its limit of
    /// requests, as far as there is room.
    fn resume(&mut self, ctx: &mut WebsocketContext<Self>) {
        while let Some(text) = self.inflight.next_waiting() {
            self.handle_text(text, ctx);
        }
    }

    fn handle_text(&mut self, text: ByteString, ctx: &mut WebsocketContext<Self>) {
        match parse_request(&text) {
            Ok((id, request)) => self.on_request(id, request, ctx),
            Err((id, err)) => self.outbox.event(&Event::error(id, err)),
        }
    }

    fn on_request(
        &mut self,
        id: Option<Value>,
        request: ClientRequest,
        ctx: &mut WebsocketContext<Self>,
    ) {
        match request {
            ClientRequest::Ping => self.outbox.event(&Event::Pong { id }),
            ClientRequest::Subscribe { topic, qos } => self.subscribe(id, topic, qos, ctx),
            ClientRequest::Unsubscribe { topic } => self.unsubscribe(id, topic, ctx),
            ClientRequest::Publish(body) => self.publish(id, body, ctx),
        }
    }

    fn reply(&mut self, id: Option<Value>, result: Result<Event, ApiError>) {
        let event = result.unwrap_or_else(|e| Event::error(id, e));
        self.outbox.event(&event);
    }

    /// Sends `request` to the `MqttActor` and replies with what `answer`
    /// makes of its result, carrying `id` either way. The request holds one
    /// of the session's places until it is answered.
    fn ask<M, T>(
        &mut self,
        ctx: &mut WebsocketContext<Self>,
        id: Option<Value>,
        request: M,
        answer: impl FnOnce(&mut Self, Option<Value>, Result<T, MqttError>) -> Result<Event, ApiError>
            + 'static,
    ) where
        M: actix::Message<Result = Result<T, MqttError>> + Send + 'static,
        T: Send + 'static,
        MqttActor: Handler<M>,
    {
        self.inflight.started();
        self.state
            .mqtt
            .send(request)
            .into_actor(self)
            .map(move |res, act, ctx| {
                act.inflight.finished();
                // A session waiting for its answers is not a silent one.
                act.activity.touch();
                let result = res.map_err(MqttError::from).and_then(|r| r);
                let event = answer(act, id.clone(), result);
                act.reply(id, event);
                act.resume(ctx);
            })
            .spawn(ctx);
    }

    fn subscribe(
        &mut self,
        id: Option<Value>,
        topic: String,
        qos: QoS,
        ctx: &mut WebsocketContext<Self>,
    ) {
        let config = &self.state.config;
        let shape = check_web_filter(&topic, config.max_filter_levels, config.max_filter_bytes);
        if let Err(e) = shape {
            return self.reply(id, Err(e));
        }
        let allowed = self
            .state
            .authorize(&self.principal, Operation::Subscribe, &topic);
        if let Err(e) = allowed {
            return self.reply(id, Err(e));
        }
        let generation = match self.filters.reserve(&topic, config.max_filters) {
            Ok(generation) => generation,
            Err(max) => {
                let err = ApiError::new(
                    ErrorCode::BadRequest,
                    format!(
                        "this session already holds or asked for {max} filters, the most allowed (WS_MAX_FILTERS)"
                    ),
                );
                return self.reply(id, Err(err));
            }
        };
        // Its messages may come before the answer.
        self.outbox.hold(&topic);
        let request = Subscribe::new(topic.clone())
            .qos(qos)
            .listener(self.listener())
            .notices(self.fanout.clone().recipient())
            .sink(self.outbox.clone());
        self.ask(ctx, id, request, move |act, id, result| {
            act.filters.answered(&topic, generation, result.is_ok());
            if !act.filters.knows(&topic) {
                act.outbox.forget(&topic);
            }
            let granted = result?;
            // Handled once this reply is queued: a revocation comes after it.
            act.fanout.do_send(Held {
                filter: topic.clone(),
                generation,
                settled: act.filters.settled(),
            });
            Ok(Event::Subscribed {
                id,
                topic,
                qos: granted,
            })
        });
    }

    fn unsubscribe(&mut self, id: Option<Value>, topic: String, ctx: &mut WebsocketContext<Self>) {
        if !self.filters.release(&topic) {
            let err = ApiError::new(
                ErrorCode::BadRequest,
                format!("this session is not subscribed to {topic:?}"),
            );
            return self.reply(id, Err(err));
        }
        self.fanout.do_send(Released(topic.clone()));
        // Nothing of it alone from now on, until the MqttActor let go of it.
        self.outbox.release(&topic);
        let request = Unsubscribe::new(topic.clone()).listener(self.listener());
        self.ask(ctx, id, request, |act, id, result| {
            act.outbox.release_confirmed();
            result?;
            Ok(Event::Unsubscribed {
                id,
                topic,
                reason: None,
            })
        });
    }

    fn publish(&mut self, id: Option<Value>, body: PublishBody, ctx: &mut WebsocketContext<Self>) {
        let allowed = self
            .state
            .authorize(&self.principal, Operation::Publish, &body.topic);
        if let Err(e) = allowed {
            return self.reply(id, Err(e));
        }
        match self.state.publish_request(&body) {
            Ok(request) => {
                let topic = body.topic;
                self.ask(ctx, id, request, |_, id, result| {
                    result?;
                    Ok(Event::Published { id, topic })
                });
            }
            Err(e) => self.reply(id, Err(e)),
        }
    }
}

impl Actor for Session {
    type Context = WebsocketContext<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let parts = vec![ctx.address().recipient(), self.fanout.clone().recipient()];
        self.id = Some(self.state.sessions.register(parts));
        ctx.run_interval(self.state.config.heartbeat(), |act, ctx| {
            if act.login_holds(ctx) {
                ctx.ping(b"");
            }
        });
        // The fan-out gets the current state first, then every change.
        let watch = WatchConnection(self.fanout.clone().recipient());
        self.state.mqtt.do_send(watch);
        let session = ctx.address().downgrade().recipient();
        self.fanout.do_send(TellLost(session));
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        if let Some(id) = self.id {
            self.state.sessions.unregister(id);
        }
        // Pending subscribes too: their listener is this session's.
        if !self.filters.is_empty() {
            self.state.mqtt.do_send(UnsubscribeAll::of(self.listener()));
        }
        self.fanout.do_send(Stop);
        self.outbox.close();
    }
}

impl Handler<FilterLost> for Session {
    type Result = ();
    fn handle(&mut self, lost: FilterLost, _: &mut Self::Context) {
        // The fan-out had the MqttActor let go of it: nothing to unsubscribe.
        // Unless the client subscribed again since (see `filters.rs`).
        if self.filters.lost(&lost.filter, lost.up_to) {
            log::info!("session {:?}: no longer holds {:?}", self.id, lost.filter);
        }
    }
}

impl Handler<Control> for Session {
    type Result = ();
    fn handle(&mut self, control: Control, ctx: &mut Self::Context) {
        match control {
            Control::GoingAway => {
                ctx.close(Some(CloseReason::from((
                    CloseCode::Away,
                    "server shutting down",
                ))));
                ctx.stop();
            }
            // Its fan-out re-checks the filters, even while this waits.
            Control::Recheck => {
                self.login_holds(ctx);
            }
        }
    }
}

impl StreamHandler<Result<ws::Message, ProtocolError>> for Session {
    fn handle(&mut self, item: Result<ws::Message, ProtocolError>, ctx: &mut Self::Context) {
        self.activity.touch();
        match item {
            Ok(ws::Message::Text(text)) => self.on_text(text, ctx),
            Ok(ws::Message::Binary(_)) => {
                let err = ApiError::new(
                    ErrorCode::BadRequest,
                    "binary frames are not accepted: send JSON text frames",
                );
                self.outbox.event(&Event::error(None, err));
            }
            Ok(ws::Message::Continuation(_)) => {
                let err =
                    ApiError::new(ErrorCode::BadRequest, "fragmented frames are not accepted");
                self.outbox.event(&Event::error(None, err));
            }
            Ok(ws::Message::Ping(p)) => ctx.pong(&p),
            Ok(ws::Message::Pong(_)) | Ok(ws::Message::Nop) => {}
            Ok(ws::Message::Close(reason)) => {
                ctx.close(reason);
                ctx.stop();
            }
            Err(ProtocolError::Overflow) => {
                let err = ApiError::new(ErrorCode::TooLarge, "frame too large to read");
                ctx.text(Event::error(None, err).to_text());
                ctx.close(Some(CloseReason::from((
                    CloseCode::Size,
                    "frame too large",
                ))));
                ctx.stop();
            }
            Err(e) => {
                log::info!("session {:?}: protocol error: {e}", self.id);
                ctx.stop();
            }
        }
    }
}

/// The session's outbound stream, which is its HTTP response body: the
/// session context's own frames (pongs, pings, close) first, then the outbox,
/// as fast as the client reads.
struct OutboundStream {
    ctx: Pin<Box<dyn Stream<Item = Result<Bytes, actix_web::Error>>>>,
    outbox: Arc<Outbox>,
    framing: WsFraming,
}

impl OutboundStream {
    /// Joins the session context's stream and the outbox.
    fn new(
        ctx: impl Stream<Item = Result<Bytes, actix_web::Error>> + 'static,
        outbox: Arc<Outbox>,
    ) -> Self {
        OutboundStream {
            ctx: Box::pin(ctx),
            outbox,
            framing: WsFraming::new(),
        }
    }
}

impl Stream for OutboundStream {
    type Item = Result<Bytes, actix_web::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        match self.ctx.as_mut().poll_next(cx) {
            Poll::Ready(None) => {
                self.outbox.close();
                return Poll::Ready(None);
            }
            Poll::Ready(Some(item)) => return Poll::Ready(Some(item)),
            Poll::Pending => {}
        }
        let this = &mut *self;
        this.outbox
            .poll_chunk(&mut this.framing, cx.waker())
            .map(|chunk| chunk.map(Ok))
    }
}

impl Drop for OutboundStream {
    fn drop(&mut self) {
        self.outbox.detach_socket();
    }
}
