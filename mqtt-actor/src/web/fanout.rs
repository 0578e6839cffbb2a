//! The one fan-out path of every client, WebSocket or event stream: a
//! [`Fanout`] actor is the `MqttActor`'s listener for one client. It puts
//! each message (encoded once, shared by every client that gets it) and each
//! notice in the client's [`Outbox`], and cuts the client off when it stops
//! reading.
//!
//! Why an actor apart from the WebSocket session: actix-web-actors drives a
//! session actor only while the HTTP layer polls its response stream, and the
//! HTTP layer stops polling when the client stops reading. A session actor
//! that were the `MqttActor`'s listener would then freeze with a full
//! mailbox, and messages would be lost without a word to the client. The
//! fan-out always runs: when frames have waited undrained past the idle
//! timeout (or, for a WebSocket, the client has sent nothing for as long), it
//! empties the outbox and shuts the connection's socket down, which ends the
//! HTTP connection and with it the session.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use actix::prelude::*;
use actix::WeakRecipient;
use bytestring::ByteString;

use crate::web::access::Principal;
use crate::web::error::{ApiError, ErrorCode};
use crate::web::protocol::{Event, MessageView};
use crate::web::queue::Outbox;
use crate::web::state::{BridgeState, Control};
use crate::{ConnectionChanged, ListenerNotice, MqttMessage};

/// When the client last sent a frame, shared by its session (which sees the
/// frames) and its fan-out (which keeps running when the session cannot).
pub(crate) struct Activity {
    started: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    /// Activity from now on.
    pub fn new() -> Arc<Self> {
        Arc::new(Activity {
            started: Instant::now(),
            last_ms: AtomicU64::new(0),
        })
    }

    /// The client sent something.
    pub fn touch(&self) {
        let now = self.started.elapsed().as_millis() as u64;
        self.last_ms.store(now, Ordering::Relaxed);
    }

    /// How long the client has been silent.
    pub fn idle_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.started.elapsed().saturating_sub(last)
    }
}

/// Told to a WebSocket session by its fan-out: the broker no longer grants
/// `0` (a refused re-SUBSCRIBE after a reconnect), and the `MqttActor` has
/// let go of it for the session, so the session no longer holds it either.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub(crate) struct FilterLost(pub String);

/// Whom a fan-out serves: what differs between the two transports.
pub(crate) enum Client {
    /// A WebSocket session: its client's own frames count as activity, and
    /// it keeps its book of filters (told of lost ones once it runs).
    WebSocket {
        activity: Arc<Activity>,
        session: Option<WeakRecipient<FilterLost>>,
    },
    /// An event stream: it ends with its last filter and with its login,
    /// and sends a comment as heartbeat.
    EventStream {
        filters: BTreeSet<String>,
        principal: Principal,
    },
}

/// The `MqttActor`'s listener for one client; see the module docs.
pub(crate) struct Fanout {
    outbox: Arc<Outbox>,
    state: Arc<BridgeState>,
    client: Client,
}

/// Names the session a fan-out tells of lost filters; sent by the session
/// once it runs (it has no address before).
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct TellLost(pub WeakRecipient<FilterLost>);

/// Stops a fan-out (its client ended).
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Stop;

impl Fanout {
    /// A fan-out filling `outbox` for `client`.
    pub fn new(outbox: Arc<Outbox>, state: Arc<BridgeState>, client: Client) -> Self {
        Fanout {
            outbox,
            state,
            client,
        }
    }

    /// Ends the client once it has what waits for it.
    fn end(&mut self, ctx: &mut Context<Self>) {
        self.outbox.close();
        ctx.stop();
    }

    /// An event stream whose login no longer holds ends, with an
    /// `unauthorized` error; true when it did.
    fn login_lapsed(&mut self, ctx: &mut Context<Self>) -> bool {
        let Client::EventStream { principal, .. } = &self.client else {
            return false;
        };
        let Err(why) = self.state.still_valid(principal, SystemTime::now()) else {
            return false;
        };
        log::info!("event stream: closing: {why}");
        let err = ApiError::new(ErrorCode::Unauthorized, why);
        self.outbox.event(&Event::error(None, err));
        self.end(ctx);
        true
    }

    fn tick(&mut self, ctx: &mut Context<Self>) {
        if self.login_lapsed(ctx) {
            return;
        }
        let idle_timeout = self.state.config.idle_timeout;
        let silent = match &self.client {
            Client::WebSocket { activity, .. } => activity.idle_for(),
            Client::EventStream { .. } => Duration::ZERO,
        };
        let undrained = self.outbox.undrained_for();
        if silent > idle_timeout || undrained > idle_timeout {
            log::info!(
                "client silent for {silent:?}, its frames undrained for {undrained:?}: cutting it off"
            );
            self.outbox.abort();
            return ctx.stop();
        }
        if undrained.is_zero() && matches!(self.client, Client::EventStream { .. }) {
            // So that proxies keep the connection, and a client gone is noticed.
            self.outbox.comment("heartbeat");
        }
    }
}

impl Actor for Fanout {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // The MqttActor never waits: what does not fit here is dropped and counted there.
        ctx.set_mailbox_capacity(4096);
        ctx.run_interval(self.state.config.heartbeat(), Self::tick);
    }
}

impl Handler<MqttMessage> for Fanout {
    type Result = ();
    fn handle(&mut self, msg: MqttMessage, _: &mut Context<Self>) {
        // Encoded once per MQTT message, shared by every client that gets it.
        let frame = msg.memo(|m| ByteString::from(MessageView::frame(m)));
        self.outbox.message(ByteString::clone(&frame));
    }
}

impl Handler<ListenerNotice> for Fanout {
    type Result = ();
    fn handle(&mut self, notice: ListenerNotice, ctx: &mut Context<Self>) {
        let (filter, error) = match notice {
            // Lost before the outbox: reported like the outbox's own drops.
            ListenerNotice::Dropped { count } => return self.outbox.add_lagged(count),
            ListenerNotice::SubscriptionLost { filter, error } => (filter, error),
        };
        let mut err = ApiError::from(error);
        err.message = format!("subscription to {filter:?} lost: {}", err.message);
        self.outbox.event(&Event::error(None, err));
        match &mut self.client {
            Client::WebSocket { session, .. } => {
                // `do_send` queues even for a session frozen by a client that
                // does not read; it forgets the filter when it runs again.
                if let Some(session) = session.as_ref().and_then(|s| s.upgrade()) {
                    session.do_send(FilterLost(filter));
                }
            }
            Client::EventStream { filters, .. } => {
                filters.remove(&filter);
                if filters.is_empty() {
                    log::info!("event stream: the broker grants none of its filters: closing");
                    self.end(ctx);
                }
            }
        }
    }
}

impl Handler<ConnectionChanged> for Fanout {
    type Result = ();
    fn handle(&mut self, c: ConnectionChanged, _: &mut Context<Self>) {
        self.outbox.event(&Event::Status {
            connected: c.connected,
            broker: c.broker,
            instance: c.client_id,
        });
    }
}

impl Handler<TellLost> for Fanout {
    type Result = ();
    fn handle(&mut self, TellLost(to): TellLost, _: &mut Context<Self>) {
        if let Client::WebSocket { session, .. } = &mut self.client {
            *session = Some(to);
        }
    }
}

/// An event stream's part in the bridge's controls (a WebSocket session
/// answers them itself).
impl Handler<Control> for Fanout {
    type Result = ();
    fn handle(&mut self, control: Control, ctx: &mut Context<Self>) {
        match control {
            Control::GoingAway => self.end(ctx),
            Control::Recheck => {
                self.login_lapsed(ctx);
            }
        }
    }
}

impl Handler<Stop> for Fanout {
    type Result = ();
    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}
