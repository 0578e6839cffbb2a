//! Subscriptions: `Subscribe`, `Unsubscribe` and `UnsubscribeAll`, re-subscribing
//! after a reconnect, and releasing the filters of listeners whose actor stopped.
//!
//! # Holding a filter
//!
//! - Who holds what is kept in the [`Index`](crate::topic::Index); which broker
//!   subscriptions serve the held filters, in the [`Plan`](crate::plan::Plan),
//!   where no two broker subscriptions overlap.
//! - A `Subscribe` becomes a *pending* hold. It is answered once the broker
//!   granted the SUBSCRIBE made for it; then the hold is granted. Messages
//!   (and the retained messages its SUBSCRIBE brings) reach the holder from
//!   the moment the SUBSCRIBE is sent.
//! - A SUBSCRIBE that is refused, times out, or is cut off by a connection
//!   loss answers the error and leaves nothing behind: the pending hold is
//!   removed (or the holder's earlier hold on the same filter restored), and
//!   the plan follows. The same `Subscribe` can simply be sent again.
//! - *Late joiners*: a holder joining a filter the broker already serves
//!   gets its retained messages (see `delivery.rs`) at the cost of what
//!   matches its own filter. Under a wider broker filter in place, the step
//!   subscribes the newcomer's own filter (a *probe*, answering its
//!   `Subscribe`) and lets go of it with the other extras once granted; a
//!   newcomer of the broker filter itself makes the step send that SUBSCRIBE
//!   again.
//! - After a reconnect every broker filter is subscribed again. One the broker
//!   now refuses is lost for the holders it served: each listener gets
//!   [`ListenerNotice::SubscriptionLost`] for each of its filters, the
//!   application's loss is logged, and the filters are released. (A
//!   re-SUBSCRIBE that only times out is logged and kept: the next reconnect
//!   issues it again.)
//!
//! # Steps
//!
//! Changes reach the broker one *step* at a time: a step takes every request
//! waiting, changes the index and the plan, sends the SUBSCRIBEs needed (all
//! at once), and once they are answered, the UNSUBSCRIBEs of broker filters
//! the plan no longer has, then answers its requests. A broker filter is
//! unsubscribed only when every broker filter of the plan that overlaps it is
//! in place, so a filter that moves to a wider broker subscription loses no
//! message on the way (the two may both deliver for the length of one round
//! trip). Requests that arrive meanwhile wait for the next step, which takes
//! them all together: one round trip for a burst of subscribes.
//!
//! # In mailbox order
//!
//! Messages to the actor take effect in the order it handles them, though a
//! `Subscribe` waits for the next step while a release acts at once. So an
//! `Unsubscribe` of a filter withdraws its holder's `Subscribe`s of that
//! filter still waiting for a step (`UnsubscribeAll`, or the listener's
//! stop, all of them): each is answered [`MqttError::Withdrawn`], and the
//! holder's granted hold goes too (say, under a QoS change waiting). The
//! `Unsubscribe` is answered `Ok` when it withdrew or released anything,
//! `NotSubscribed` otherwise. A `Subscribe` already in the step in flight is
//! answered once granted, and its filter then released.

//!
//! The steps themselves run in `broker_steps.rs`.

use std::time::Instant;

use actix::prelude::*;
use futures::channel::oneshot;

use super::listeners::{Holder, Listener};
use super::steps::Queued;
use super::MqttActor;
use crate::error::{MqttError, Result};
use crate::handlers::LogLevel;
use crate::messages::{MqttMessage, Subscribe, Unsubscribe, UnsubscribeAll};
use crate::qos::QoS;
use crate::topic::validate_filter;

impl MqttActor {
    /// Releases `holder`'s hold on every filter in `emptied` that nobody holds
    /// any more: the next step unsubscribes what the plan no longer needs.
    fn released(&mut self, emptied: Vec<String>) -> bool {
        let any = !emptied.is_empty();
        self.steps.released.extend(emptied);
        any
    }

    /// Forgets a listener whose actor stopped, with what was queued for it,
    /// and releases the filters only it held.
    pub(super) fn drop_listener(
        &mut self,
        listener: Recipient<MqttMessage>,
        ctx: &mut Context<Self>,
    ) {
        if self.forget_listener(listener) {
            self.run_step(ctx);
        }
    }

    /// Forgets a listener whose actor stopped, as
    /// [`drop_listener`](Self::drop_listener) does, without starting a step
    /// (a step about to start calls it): whether there is a filter to release.
    pub(super) fn forget_listener(&mut self, listener: Recipient<MqttMessage>) -> bool {
        self.listeners.remove(&listener);
        let holder = Holder::Listener(listener);
        self.windows.forget(&holder);
        self.steps.withdraw(&holder, None);
        let emptied = self.index.remove_holder(&holder);
        self.released(emptied)
    }

    /// Runs every [`SWEEP_INTERVAL`](super::SWEEP_INTERVAL): listeners and
    /// watchers whose actor stopped are dropped even when no message fails to
    /// reach them, state of listeners that hold nothing any more goes once
    /// their backlog is empty, and closed retained windows go.
    pub(super) fn sweep_dead(&mut self, ctx: &mut Context<Self>) {
        let dead: Vec<Recipient<MqttMessage>> = self
            .index
            .holders()
            .filter_map(Holder::stopped_listener)
            .collect();
        for listener in dead {
            self.log(
                LogLevel::Notice,
                "a listener stopped: releasing its filters",
            );
            self.drop_listener(listener, ctx);
        }
        let (index, steps) = (&self.index, &self.steps);
        self.listeners.retain(|r, l| {
            let holder = Holder::Listener(r.clone());
            r.connected()
                && (l.backlog.is_waiting() || index.holds(&holder) || steps.asking(&holder))
        });
        self.watchers.retain(|w| w.connected());
        self.windows.sweep(Instant::now());
        self.report_inbound_drops();
    }
}

impl Handler<Subscribe> for MqttActor {
    type Result = ResponseFuture<Result<QoS>>;
    fn handle(&mut self, msg: Subscribe, ctx: &mut Context<Self>) -> Self::Result {
        if let Err(e) = validate_filter(&msg.filter) {
            return Box::pin(async move { Err(e) });
        }
        if !self.connection.is_connected() {
            let e = self.not_connected();
            return Box::pin(async move { Err(e) });
        }
        self.warn_if_shares_mix(&msg.filter);
        if let Some(listener) = &msg.listener {
            let state = self
                .listeners
                .entry(listener.clone())
                .or_insert_with(|| Listener::new(Subscribe::DEFAULT_CAPACITY));
            if let Some(capacity) = msg.capacity {
                state.backlog.set_capacity(capacity);
            }
            if let Some(notices) = msg.notices {
                state.notices = Some(notices);
            }
            if let Some(sink) = msg.sink {
                state.sink = Some(sink.0);
            }
        }
        let (reply, answer) = oneshot::channel();
        self.steps.requests.push(Queued {
            filter: msg.filter,
            holder: Holder::of(msg.listener),
            qos: msg.qos,
            reply,
        });
        self.run_step(ctx);
        Box::pin(async move { answer.await.unwrap_or(Err(MqttError::Stopped)) })
    }
}

impl MqttActor {
    /// Answers a release once the broker let go of what nobody holds any more
    /// (at once when nothing changes at the broker, or while disconnected).
    fn answer_release(
        &mut self,
        emptied: Vec<String>,
        ctx: &mut Context<Self>,
    ) -> ResponseFuture<Result<()>> {
        if !self.released(emptied) || !self.connection.is_connected() {
            return Box::pin(async { Ok(()) });
        }
        let (reply, answer) = oneshot::channel();
        self.steps.releasing.push(reply);
        self.run_step(ctx);
        Box::pin(async move { answer.await.unwrap_or(Err(MqttError::Stopped)) })
    }
}

impl Handler<Unsubscribe> for MqttActor {
    type Result = ResponseFuture<Result<()>>;
    fn handle(&mut self, msg: Unsubscribe, ctx: &mut Context<Self>) -> Self::Result {
        let holder = Holder::of(msg.listener);
        let withdrew = self.steps.withdraw(&holder, Some(&msg.filter));
        match self.index.remove(&msg.filter, &holder) {
            None if withdrew => Box::pin(async { Ok(()) }),
            None => Box::pin(async move { Err(MqttError::NotSubscribed { filter: msg.filter }) }),
            Some(emptied) => {
                let emptied = if emptied {
                    vec![msg.filter]
                } else {
                    Vec::new()
                };
                self.answer_release(emptied, ctx)
            }
        }
    }
}

impl Handler<UnsubscribeAll> for MqttActor {
    type Result = ResponseFuture<Result<()>>;
    fn handle(&mut self, msg: UnsubscribeAll, ctx: &mut Context<Self>) -> Self::Result {
        let holder = Holder::of(msg.listener);
        self.windows.forget(&holder);
        self.steps.withdraw(&holder, None);
        let emptied = self.index.remove_holder(&holder);
        self.answer_release(emptied, ctx)
    }
}
