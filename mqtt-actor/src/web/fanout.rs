//! The one fan-out path of every client, WebSocket or event stream: a
//! [`Fanout`] actor is the `MqttActor`'s listener for one client. The
//! `MqttActor` puts each message (encoded once, shared by every client that
//! gets it) straight into the client's [`Outbox`], the listener's sink; the
//! fan-out puts each notice there, and cuts the client off when it stops
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
//!
//! The fan-out also keeps the book of the filters its client holds, so that
//! when the access rules change ([`Control::Recheck`]) it checks each against
//! the [`Authorizer`](crate::web::Authorizer) and releases those no longer
//! readable, whether or not the client reads: the `MqttActor` lets go of them
//! for this client, and the client gets an `unsubscribed` notice with the
//! reason `revoked` (2.1), after which its outbox lets in no message of that
//! filter alone, even one the `MqttActor` was already delivering (see
//! `releases.rs`). An event stream left with no filter ends.
//!
//! A WebSocket session keeps a book of its filters too, and hears of the
//! filters its fan-out let go of by message ([`FilterLost`]), which it may
//! handle late, after its client subscribed to the same filter again. The
//! generations of `filters.rs` keep such late news from taking the new hold,
//! and keep a grant made before a release from standing after it.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use actix::prelude::*;
use actix::WeakRecipient;
use bytestring::ByteString;

use crate::messages::Sink;
use crate::web::access::{Operation, Principal};
use crate::web::error::{ApiError, ErrorCode};
use crate::web::filters::{Generations, LetGo};
use crate::web::protocol::{Event, MessageView};
use crate::web::queue::Outbox;
use crate::web::state::{BridgeState, Control};
use crate::{ConnectionChanged, ListenerNotice, MqttMessage, Unsubscribe};

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
/// `filter` (a refused re-SUBSCRIBE after a reconnect), or the access rules
/// no longer let the client read it, and the `MqttActor` has been told to
/// let go of it for the session, so the session no longer holds it either,
/// unless its hold came from a subscribe sent after that.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub(crate) struct FilterLost {
    pub filter: String,
    /// The last generation of the session's subscribes when the
    /// `MqttActor` was told: a hold from a later one stays (see
    /// `filters.rs`).
    pub up_to: u64,
}

/// Whom a fan-out serves: what differs between the two transports.
pub(crate) enum Client {
    /// A WebSocket session: its client's own frames count as activity, and
    /// it keeps its book of filters (told of lost ones once it runs).
    WebSocket {
        activity: Arc<Activity>,
        session: Option<WeakRecipient<FilterLost>>,
        /// The generations of the session's subscribes.
        generations: Generations,
    },
    /// An event stream: it ends with its last filter and with its login,
    /// and sends a comment as heartbeat.
    EventStream,
}

/// The `MqttActor`'s listener for one client; see the module docs.
pub(crate) struct Fanout {
    outbox: Arc<Outbox>,
    state: Arc<BridgeState>,
    client: Client,
    /// Who the client acts for, to check its filters again on a recheck.
    principal: Principal,
    /// The filters the client holds: an event stream's from its start, a
    /// WebSocket session's as the broker grants them ([`Held`]).
    filters: BTreeSet<String>,
    /// The filters of a WebSocket session let go of, so that a grant from
    /// before that is not taken ([`Held`]).
    let_go: LetGo<Event>,
}

/// Told to a WebSocket session's fan-out by the session: the broker granted
/// it `filter`. The fan-out checks it once more, so that a filter granted
/// after the access rules changed is released at once if they no longer
/// allow it, and so is one it let go of after the subscribe was sent.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub(crate) struct Held {
    pub filter: String,
    /// The subscribe's generation.
    pub generation: u64,
    /// Every subscribe of the session up to this generation has been
    /// answered, and told of if granted.
    pub settled: u64,
}

/// Told to a WebSocket session's fan-out by the session: its client
/// unsubscribed `0`.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub(crate) struct Released(pub String);

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
    /// A fan-out filling `outbox` for `client`, acting for `principal`,
    /// which holds `filters` from the start.
    pub fn new(
        outbox: Arc<Outbox>,
        state: Arc<BridgeState>,
        client: Client,
        principal: Principal,
        filters: BTreeSet<String>,
    ) -> Self {
        Fanout {
            outbox,
            state,
            client,
            principal,
            filters,
            let_go: LetGo::default(),
        }
    }

    /// Releases every filter the client may no longer read (see the module
    /// docs); an event stream left with none ends.
    fn revoke_unreadable(&mut self, ctx: &mut Context<Self>) {
        let revoked: Vec<String> = self
            .filters
            .iter()
            .filter(|f| {
                let access = self
                    .state
                    .authorize(&self.principal, Operation::Subscribe, f);
                access.is_err()
            })
            .cloned()
            .collect();
        for filter in revoked {
            self.revoke(filter, ctx);
        }
        if self.filters.is_empty() && matches!(self.client, Client::EventStream) {
            log::info!("event stream: none of its filters is readable any more: closing");
            self.end(ctx);
        }
    }

    /// Releases `filter` for the client, with the `unsubscribed` notice.
    fn revoke(&mut self, filter: String, ctx: &mut Context<Self>) {
        log::info!(
            "user {:?}: access to {} revoked: releasing it",
            self.principal.user,
            filter.escape_debug()
        );
        self.let_go(filter.clone(), Event::revoked(filter), ctx);
    }

    /// Lets go of `filter` for the client: at the `MqttActor`, in the
    /// session's book, and with `notice`. The outbox lets in nothing of the
    /// filter alone from before the notice until the `MqttActor` has let
    /// go of it (see `releases.rs`).
    fn let_go(&mut self, filter: String, notice: Event, ctx: &mut Context<Self>) {
        self.filters.remove(&filter);
        self.outbox.release(&filter);
        let release = Unsubscribe::new(filter.clone()).listener(ctx.address().recipient());
        // A sender of its own is never parked, so the release is in the
        // MqttActor's mailbox now, before the generation is read below.
        let answer = self.state.mqtt.clone().send(release);
        let outbox = self.outbox.clone();
        // Apart from this actor: the confirmation is due even if it stops.
        actix::spawn(async move {
            // Handled or not (the MqttActor gone), it sends nothing more.
            let _ = answer.await;
            outbox.release_confirmed();
        });
        self.outbox.event(&notice);
        if let Client::WebSocket {
            session,
            generations,
            ..
        } = &self.client
        {
            let up_to = generations.last();
            self.let_go.note(&filter, up_to, notice);
            // `do_send` queues even for a session frozen by a client that
            // does not read; it forgets the filter when it runs again.
            if let Some(session) = session.as_ref().and_then(|s| s.upgrade()) {
                session.do_send(FilterLost { filter, up_to });
            }
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
        if !matches!(self.client, Client::EventStream) {
            return false;
        }
        let Err(why) = self.state.still_valid(&self.principal, SystemTime::now()) else {
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
            Client::EventStream => Duration::ZERO,
        };
        let undrained = self.outbox.undrained_for();
        if silent > idle_timeout || undrained > idle_timeout {
            log::info!(
                "client silent for {silent:?}, its frames undrained for {undrained:?}: cutting it off"
            );
            self.outbox.abort();
            return ctx.stop();
        }
        self.outbox.release_idle();
        if undrained.is_zero() && matches!(self.client, Client::EventStream) {
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

/// The frame of `msg`: encoded once per MQTT message, shared by every
/// client that gets it.
fn frame_of(msg: &MqttMessage) -> ByteString {
    let frame = msg.memo(|m| ByteString::from(MessageView::frame(m)));
    ByteString::clone(&frame)
}

/// The one hop from the `MqttActor` to a client: every subscribe of a
/// WebSocket session or an event stream names its outbox as the sink, so
/// messages go straight into it on the actor's thread; the fan-out actor is
/// still the listener's name, and gets its notices.
impl Sink for Outbox {
    fn deliver(&self, msg: &MqttMessage) -> bool {
        self.message(msg.topic(), frame_of(msg))
    }
}

/// Messages that come through the mailbox all the same (a listener state the
/// `MqttActor` made afresh, without the sink).
impl Handler<MqttMessage> for Fanout {
    type Result = ();
    fn handle(&mut self, msg: MqttMessage, _: &mut Context<Self>) {
        self.outbox.message(msg.topic(), frame_of(&msg));
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
        // The MqttActor already let go of it; told all the same, so that a
        // grant of a subscribe sent before this is read goes too.
        self.let_go(filter, Event::error(None, err), ctx);
        if self.filters.is_empty() && matches!(self.client, Client::EventStream) {
            log::info!("event stream: the broker grants none of its filters: closing");
            self.end(ctx);
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

impl Handler<Held> for Fanout {
    type Result = ();
    fn handle(&mut self, held: Held, ctx: &mut Context<Self>) {
        let Held {
            filter,
            generation,
            settled,
        } = held;
        let undone = self.let_go.undone(&filter, generation).cloned();
        self.let_go.settle(settled);
        if let Some(notice) = undone {
            // Sent before a release, granted after it: the release may have
            // taken the hold, or not; let go of it again (see `filters.rs`).
            return self.let_go(filter, notice, ctx);
        }
        let allowed = self
            .state
            .authorize(&self.principal, Operation::Subscribe, &filter);
        match allowed {
            Ok(()) => {
                self.filters.insert(filter);
            }
            // Allowed when asked, revoked while the broker answered.
            Err(_) => self.revoke(filter, ctx),
        }
    }
}

impl Handler<Released> for Fanout {
    type Result = ();
    fn handle(&mut self, Released(filter): Released, _: &mut Context<Self>) {
        self.filters.remove(&filter);
    }
}

/// The fan-out's part in the bridge's controls: an event stream's all of
/// it; for a WebSocket, the filters (its session closes the socket itself).
impl Handler<Control> for Fanout {
    type Result = ();
    fn handle(&mut self, control: Control, ctx: &mut Context<Self>) {
        match control {
            Control::GoingAway if matches!(self.client, Client::EventStream) => self.end(ctx),
            Control::GoingAway => {}
            Control::Recheck => {
                if !self.login_lapsed(ctx) {
                    self.revoke_unreadable(ctx);
                }
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
