//! Incoming messages to the application's handlers and to listener actors.
//!
//! # Delivery policy
//!
//! The actor never waits on a listener, each listener gets its messages in
//! the order the broker sent them, and every message a listener does not get
//! is told to it.
//!
//! - Each message is handed to each matching listener once, however many of
//!   its filters match, with `try_send` into the listener's actix mailbox (16
//!   messages by default; the listener may raise it with
//!   `ctx.set_mailbox_capacity`). The broker sends each message once too: no
//!   two broker subscriptions overlap (see `plan.rs`).
//! - When that mailbox is full, the message waits in the listener's *backlog*,
//!   kept by the `MqttActor`, and so does every later message for it until the
//!   backlog is empty again. The backlog holds up to
//!   [`Subscribe::DEFAULT_CAPACITY`] messages, or what the listener's
//!   [`Subscribe::backlog`] asked for. When the listener has handled the
//!   message that found its mailbox full, the backlog is handed over, oldest
//!   first, until the mailbox is full again.
//! - Only when the backlog is full too is a message dropped, for that listener
//!   alone, and counted in [`Status::dropped`](crate::Status::dropped). The
//!   count is told to the listener's [`Subscribe::notices`] recipient as
//!   [`ListenerNotice::Dropped`] with the next hand-over of its backlog (one
//!   notice per hand-over, however many were dropped).
//! - Messages Paho's thread could not hand to the actor (the channel between
//!   them holds [`MqttActorBuilder::inbound_capacity`](crate::MqttActorBuilder::inbound_capacity)
//!   messages) are counted by topic; once the actor catches up, each listener
//!   whose filters match those topics gets a `Dropped` notice with its count.
//!   Past a bound of remembered topics, losses are told to every listener.
//!
//! - A listener of this crate may give its `Subscribe` a sink (`Sink`, the
//!   web bridge's outboxes): then each message goes straight into it on the
//!   actor's thread, with no mailbox and no backlog in between; the sink
//!   bounds itself and tells its reader what it dropped, and a sink that
//!   says its listener has ended has the listener dropped.
//!
//! So a listener that keeps up on average loses nothing to a burst shorter
//! than its mailbox plus its backlog; a stuck listener costs at most its
//! backlog (shared messages, one reference each) and slows down nobody; and
//! per listener, messages received plus the notices' counts is what it should
//! have got. A listener whose actor has stopped is removed with its backlog,
//! and the filters only it held are released.
//!
//! # Retained messages
//!
//! A broker sends a filter's retained messages in answer to a SUBSCRIBE, with
//! the retain flag set; messages it forwards as they are published come with
//! the flag cleared (MQTT 3.1.1 and MQTT 5 without "retain as published",
//! Mosquitto and rumqttd alike). So retained messages belong to whoever
//! caused the SUBSCRIBE:
//!
//! - A holder that joins a filter the broker already serves asks the broker
//!   for its own filter only (*late joiners*, see `subscriptions.rs`): under
//!   a wider broker filter in place (`d/5` under a held `d/#`), the actor
//!   subscribes the newcomer's filter (a *probe*) and unsubscribes it once
//!   granted; a newcomer of the broker filter itself (a second listener on
//!   `d/#`) makes the actor send that SUBSCRIBE again, and the broker (any
//!   following MQTT's "replace the subscription and re-send the retained
//!   messages") sends its retained messages again.
//! - While a probe is in place, a live message under it matches two broker
//!   subscriptions. With MQTT 5 the broker subscriptions carry Subscription
//!   Identifiers ([`PLAN_ID`](super::retained::PLAN_ID), the probe's
//!   [`PROBE_ID`](super::retained::PROBE_ID)), and a live copy that came
//!   through the probe alone is dropped; with MQTT 3.1.1 Mosquitto sends one
//!   PUBLISH per client anyway.
//! - From that SUBSCRIBE until its SUBACK plus a quiet time
//!   ([`RETAINED_QUIET`](super::retained::RETAINED_QUIET) after the last
//!   retained message), the broker filter
//!   has a *retained window*: a message with the retain flag set that matches
//!   it goes only to the holders the SUBSCRIBE was for, and to each at most
//!   once per topic. The holders that already had those values get nothing
//!   again. After a reconnect every holder is due, since values may have
//!   changed while the connection was down.
//! - Outside a window, a message with the retain flag set goes to every
//!   matching holder, as any other.
//!
//! Why not serve retained values the actor already saw: a retained value
//! published while the actor is subscribed arrives with the flag cleared, so
//! the actor cannot tell whether the broker kept it, nor see a retained value
//! being cleared. Only the broker knows; asking it costs one SUBSCRIBE (and
//! one UNSUBSCRIBE) per joining holder, and the retained messages under its
//! own filter. Limits: rumqttd does not re-send
//! retained messages for a SUBSCRIBE of a filter the client already holds, so
//! on the embedded broker a late joiner of the same filter gets none; and a
//! broker that kept the retain flag on forwarded messages would have them
//! reach only the due holders while a window is open.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use actix::prelude::*;

use super::listeners::{Holder, Listener, Outcome};
use super::retained::is_probe_copy;
use super::MqttActor;
use crate::client::{from_paho, subscription_ids, DropReport, Inbound};
use crate::handlers::LogLevel;
use crate::messages::{ListenerNotice, MqttMessage, Subscribe};

impl MqttActor {
    fn dispatch(&mut self, msg: MqttMessage, ctx: &mut Context<Self>) {
        self.counters.messages_in += 1;
        let now = Instant::now();
        let windows = msg.retain() && self.windows.any();
        let mut app = false;
        // Holders are unique within one filter's entry: only a message that
        // matched several filters needs the (hashing) check for duplicates.
        let mut targets: Vec<&Recipient<MqttMessage>> = Vec::new();
        let mut filters = 0;
        let (index, plan, open) = (&self.index, &self.plan, &mut self.windows);
        index.for_each_match(msg.topic(), |filter, entry| {
            filters += 1;
            let broker_filter = if windows {
                plan.broker_filter(filter)
            } else {
                None
            };
            for holder in entry.holders.keys() {
                if let Some(j) = broker_filter {
                    if open.admit(j, holder, filter, msg.topic(), now) == Some(false) {
                        continue;
                    }
                }
                match holder {
                    Holder::App => app = true,
                    Holder::Listener(r) => targets.push(r),
                }
            }
        });
        if filters > 1 {
            let mut seen = HashSet::with_capacity(targets.len());
            targets.retain(|r| seen.insert(*r));
        }
        let mut steps = Vec::new();
        for r in targets {
            // Subscribe made the listener's state; cloning a recipient to
            // look it up would cost an allocation per message.
            let listener = match self.listeners.get_mut(r) {
                Some(listener) => listener,
                None => {
                    let fresh = Listener::new(Subscribe::DEFAULT_CAPACITY);
                    self.listeners.entry(r.clone()).or_insert(fresh)
                }
            };
            if let Some(sink) = &listener.sink {
                // One hop: into the listener's own queue, no mailbox.
                if !sink.deliver(&msg) {
                    steps.push((r.clone(), Outcome::Closed));
                }
                continue;
            }
            match listener.backlog.offer(msg.clone(), |m| r.try_send(m)) {
                Outcome::Delivered | Outcome::Queued => {}
                Outcome::Dropped => {
                    listener.untold += 1;
                    self.counters.dropped += 1;
                }
                step => steps.push((r.clone(), step)),
            }
        }
        if app {
            self.handlers.message(&self.me(), &msg);
        }
        for (r, step) in steps {
            self.follow(r, step, ctx);
        }
    }

    /// Does what a [`Step`] that is not plain delivery asks for.
    fn follow(
        &mut self,
        r: Recipient<MqttMessage>,
        step: Outcome<MqttMessage>,
        ctx: &mut Context<Self>,
    ) {
        match step {
            Outcome::Delivered | Outcome::Queued => {}
            Outcome::Dropped => {
                self.counters.dropped += 1;
                if let Some(l) = self.listeners.get_mut(&r) {
                    l.untold += 1;
                }
            }
            Outcome::Closed => self.drop_listener(r, ctx),
            Outcome::Wait(msg) => {
                // `send` queues the message past the mailbox's capacity and
                // resolves once the listener has handled it: the sign that it
                // has room again. The future runs beside the actor's other
                // work; nothing waits for it. An error means the listener stopped.
                r.send(msg)
                    .into_actor(self)
                    .map(move |handled, act, ctx| match handled {
                        Ok(()) => act.resume(r, ctx),
                        Err(_) => act.drop_listener(r, ctx),
                    })
                    .spawn(ctx);
            }
        }
    }

    /// The listener made room: hand over its backlog, and tell it what was
    /// dropped meanwhile.
    fn resume(&mut self, r: Recipient<MqttMessage>, ctx: &mut Context<Self>) {
        let Some(listener) = self.listeners.get_mut(&r) else {
            return; // dropped meanwhile
        };
        let step = listener.backlog.resume(|m| r.try_send(m));
        listener.tell_dropped();
        self.follow(r, step, ctx);
    }

    /// Tells every listener whose filters match a topic that lost messages on
    /// Paho's side how many it lost.
    pub(super) fn report_inbound_drops(&mut self) {
        let Some(DropReport {
            by_topic,
            unattributed,
            ..
        }) = self.counters.inbound.take()
        else {
            return;
        };
        let mut lost: HashMap<&Recipient<MqttMessage>, u64> = HashMap::new();
        for (topic, n) in &by_topic {
            let mut hit: HashSet<&Recipient<MqttMessage>> = HashSet::new();
            self.index.for_each_match(topic, |_, entry| {
                hit.extend(entry.holders.keys().filter_map(|h| match h {
                    Holder::Listener(r) => Some(r),
                    Holder::App => None,
                }))
            });
            for r in hit {
                *lost.entry(r).or_default() += n;
            }
        }
        if unattributed > 0 {
            for h in self.index.holders() {
                if let Holder::Listener(r) = h {
                    *lost.entry(r).or_default() += unattributed;
                }
            }
        }
        let total: u64 = by_topic.values().sum::<u64>() + unattributed;
        self.log(
            LogLevel::Warning,
            &format!(
                "{total} incoming messages were dropped before reaching the actor (its channel was full)"
            ),
        );
        for (r, n) in lost {
            if let Some(l) = self.listeners.get(r) {
                l.tell(ListenerNotice::Dropped { count: n });
            }
        }
    }
}

impl Handler<Inbound> for MqttActor {
    type Result = ();
    fn handle(&mut self, Inbound(msg): Inbound, ctx: &mut Context<Self>) {
        if self.limits.subscription_ids && is_probe_copy(&subscription_ids(&msg), msg.retained()) {
            self.counters.messages_in += 1;
            return;
        }
        let msg = from_paho(&msg);
        self.log(
            LogLevel::Debug,
            &format!(
                "received {} bytes on {:?}",
                msg.payload().len(),
                msg.topic()
            ),
        );
        self.dispatch(msg, ctx);
        self.report_inbound_drops();
    }
}
