//! The WebSocket session actor (actix-web-actors): reads the requests of `docs/protocol.md`
//! from one client and answers them; the filters it holds are held at the
//! `MqttActor` by its [`Forwarder`], which fills the session's bounded
//! [`Outbox`] (see `outbox.rs` for why the two are apart). Its frames come
//! through the gate of [`InFlight`], so at most `WS_MAX_INFLIGHT` of its
//! requests are answered at once (see `inflight.rs`).

use std::sync::Arc;
use std::time::SystemTime;

use actix::prelude::*;
use actix_http::ws::Codec;
use actix_web::{web, HttpRequest, HttpResponse};
use actix_web_actors::ws::{self, CloseCode, CloseReason, ProtocolError, WebsocketContext};
use bytestring::ByteString;
use mqtt_actor::{
    MqttActor, MqttError, MqttMessage, QoS, Subscribe, Unsubscribe, UnsubscribeAll, WatchConnection,
};
use serde_json::Value;

use crate::error::{ApiError, Code};
use crate::filters::FilterBook;
use crate::gate::{enforce, Login};
use crate::inflight::{GatedStream, InFlight};
use crate::limits::{check_web_filter, SessionSlot};
use crate::outbox::{
    Activity, ConnSocket, FilterLost, Forwarder, OutboundStream, Outbox, OutboxLimits, Stop,
    TellLost,
};
use crate::protocol::{parse_request, peek_id, Event, PublishBody, Request};
use crate::state::{AppState, GoingAway};

/// `GET /ws`: upgrades to a WebSocket served by a new [`Session`].
pub async fn ws_route(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    login: Login,
) -> Result<HttpResponse, actix_web::Error> {
    let mut response = ws::handshake(&req)?;
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
    // Frames up to this size are read and answered with `too_large`; beyond it
    // the frame cannot be skipped and the socket closes with 1009.
    let hard_cap = (state.settings.max_frame_bytes * 4).max(1 << 20);
    let session = Session::new(state, outbox.clone(), login, slot);
    let frames = GatedStream::new(payload, session.inflight.gate());
    let ctx = WebsocketContext::with_codec(session, frames, Codec::new().max_size(hard_cap));
    Ok(response.streaming(OutboundStream::new(ctx, outbox)))
}

/// One WebSocket client.
pub struct Session {
    id: u64,
    state: Arc<AppState>,
    outbox: Arc<Outbox>,
    forwarder: Addr<Forwarder>,
    filters: FilterBook,
    activity: Arc<Activity>,
    /// Who the socket acts for; checked on every request and heartbeat, so
    /// the socket ends with its login.
    login: Login,
    /// Requests being answered, and text frames waiting for their turn.
    inflight: InFlight<ByteString>,
    /// This session's place among the open ones, given back when it ends.
    _slot: SessionSlot,
}

impl Session {
    fn new(state: Arc<AppState>, outbox: Arc<Outbox>, login: Login, slot: SessionSlot) -> Self {
        let activity = Activity::new();
        let forwarder = Forwarder::new(outbox.clone(), activity.clone(), &state).start();
        Session {
            id: state.sessions.next_id(),
            inflight: InFlight::new(state.settings.max_inflight),
            state,
            outbox,
            forwarder,
            filters: FilterBook::default(),
            activity,
            login,
            _slot: slot,
        }
    }

    /// Closes the socket with 1008 when its login ended (expired, signed out,
    /// user removed from the password file); true while it holds.
    fn login_holds(&self, ctx: &mut WebsocketContext<Self>) -> bool {
        let Some(why) = self.state.gate.lapsed(&self.login, SystemTime::now()) else {
            return true;
        };
        log::info!("session {}: closing: {why}", self.id);
        ctx.close(Some(CloseReason::from((CloseCode::Policy, why))));
        ctx.stop();
        false
    }

    fn listener(&self) -> Recipient<MqttMessage> {
        self.forwarder.clone().recipient()
    }

    fn on_text(&mut self, text: ByteString, ctx: &mut WebsocketContext<Self>) {
        if !self.login_holds(ctx) {
            return;
        }
        let limit = self.state.settings.max_frame_bytes;
        if text.len() > limit {
            let err = ApiError::new(
                Code::TooLarge,
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
        request: Request,
        ctx: &mut WebsocketContext<Self>,
    ) {
        match request {
            Request::Ping => self.outbox.event(&Event::Pong { id }),
            Request::Subscribe { topic, qos } => self.subscribe(id, topic, qos, ctx),
            Request::Unsubscribe { topic } => self.unsubscribe(id, topic, ctx),
            Request::Publish(body) => self.publish(id, body, ctx),
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
        let settings = &self.state.settings;
        let shape = check_web_filter(
            &topic,
            settings.max_filter_levels,
            settings.max_filter_bytes,
        );
        if let Err(e) = shape {
            return self.reply(id, Err(e));
        }
        let who = self.login.who();
        if let Err(e) = enforce(self.state.gate.access.can_subscribe(&who, &topic)) {
            return self.reply(id, Err(e));
        }
        if let Err(max) = self.filters.reserve(&topic, settings.max_filters) {
            let err = ApiError::new(
                Code::BadRequest,
                format!(
                    "this session already holds or asked for {max} filters, the most allowed (WS_MAX_FILTERS)"
                ),
            );
            return self.reply(id, Err(err));
        }
        let request = Subscribe::new(topic.clone())
            .qos(qos)
            .listener(self.listener())
            .notices(self.forwarder.clone().recipient());
        self.ask(ctx, id, request, |act, id, result| {
            act.filters.answered(&topic, result.is_ok());
            let granted = result?;
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
                Code::BadRequest,
                format!("this session is not subscribed to {topic:?}"),
            );
            return self.reply(id, Err(err));
        }
        let request = Unsubscribe::new(topic.clone()).listener(self.listener());
        self.ask(ctx, id, request, |_, id, result| {
            result?;
            Ok(Event::Unsubscribed { id, topic })
        });
    }

    fn publish(&mut self, id: Option<Value>, body: PublishBody, ctx: &mut WebsocketContext<Self>) {
        let who = self.login.who();
        if let Err(e) = enforce(self.state.gate.access.can_publish(&who, &body.topic)) {
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
        self.state
            .sessions
            .register(self.id, ctx.address().recipient());
        ctx.run_interval(self.state.settings.heartbeat(), |act, ctx| {
            if act.login_holds(ctx) {
                ctx.ping(b"");
            }
        });
        // The forwarder gets the current state first, then every change.
        let watch = WatchConnection(self.forwarder.clone().recipient());
        self.state.mqtt.do_send(watch);
        let session = ctx.address().downgrade().recipient();
        self.forwarder.do_send(TellLost(session));
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        self.state.sessions.unregister(self.id);
        // Pending subscribes too: their listener is this session's.
        if !self.filters.is_empty() {
            self.state.mqtt.do_send(UnsubscribeAll::of(self.listener()));
        }
        self.forwarder.do_send(Stop);
        self.outbox.close();
    }
}

impl Handler<FilterLost> for Session {
    type Result = ();
    fn handle(&mut self, FilterLost(filter): FilterLost, _: &mut Self::Context) {
        // The MqttActor let go of it already: nothing to unsubscribe.
        if self.filters.release(&filter) {
            log::info!(
                "session {}: the broker no longer grants {filter:?}",
                self.id
            );
        }
    }
}

impl Handler<GoingAway> for Session {
    type Result = ();
    fn handle(&mut self, _: GoingAway, ctx: &mut Self::Context) {
        ctx.close(Some(CloseReason::from((
            CloseCode::Away,
            "server shutting down",
        ))));
        ctx.stop();
    }
}

impl StreamHandler<Result<ws::Message, ProtocolError>> for Session {
    fn handle(&mut self, item: Result<ws::Message, ProtocolError>, ctx: &mut Self::Context) {
        self.activity.touch();
        match item {
            Ok(ws::Message::Text(text)) => self.on_text(text, ctx),
            Ok(ws::Message::Binary(_)) => {
                let err = ApiError::new(
                    Code::BadRequest,
                    "binary frames are not accepted: send JSON text frames",
                );
                self.outbox.event(&Event::error(None, err));
            }
            Ok(ws::Message::Continuation(_)) => {
                let err = ApiError::new(Code::BadRequest, "fragmented frames are not accepted");
                self.outbox.event(&Event::error(None, err));
            }
            Ok(ws::Message::Ping(p)) => ctx.pong(&p),
            Ok(ws::Message::Pong(_)) | Ok(ws::Message::Nop) => {}
            Ok(ws::Message::Close(reason)) => {
                ctx.close(reason);
                ctx.stop();
            }
            Err(ProtocolError::Overflow) => {
                let err = ApiError::new(Code::TooLarge, "frame too large to read");
                ctx.text(Event::error(None, err).to_text());
                ctx.close(Some(CloseReason::from((
                    CloseCode::Size,
                    "frame too large",
                ))));
                ctx.stop();
            }
            Err(e) => {
                log::info!("session {}: protocol error: {e}", self.id);
                ctx.stop();
            }
        }
    }
}
