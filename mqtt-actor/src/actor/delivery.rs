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
//!   [`Subscribe::DEFAULT_BACKLOG`] messages, or what the listener's
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
//! - A holder that joins a filter the broker already serves (a second
//!   listener on `d/#`, or a listener on `d/+` under a held `d/#`) makes the
//!   actor send the broker filter's SUBSCRIBE again; the broker (Mosquitto,
//!   any broker following MQTT's "replace the subscription and re-send the
//!   retained messages") sends the retained messages again.
//! - From that SUBSCRIBE until its SUBACK plus a quiet time
//!   ([`RETAINED_QUIET`] after the last retained message), the broker filter
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
//! being cleared. Only the broker knows; asking it again costs one SUBSCRIBE
//! per joining holder, and the retained messages under the broker filter (a
//! wide broker filter sends all of its own). Limits: rumqttd does not re-send
//! retained messages for a SUBSCRIBE of a filter the client already holds, so
//! on the embedded broker a late joiner of the same filter gets none; and a
//! broker that kept the retain flag on forwarded messages would have them
//! reach only the due holders while a window is open.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::time::{Duration, Instant};

use actix::prelude::*;

use super::subscriptions::Holder;
use super::MqttActor;
use crate::client::{from_paho, DropReport, Inbound};
use crate::handlers::LogLevel;
use crate::messages::{ListenerNotice, MqttMessage, Subscribe};

/// How long a retained window stays open after its SUBACK, and after each
/// retained message that came through it.
pub(crate) const RETAINED_QUIET: Duration = Duration::from_secs(1);

/// What became of a message offered to a listener, and what the actor must do.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step<T> {
    /// Handed over (or, after [`Backlog::resume`], everything was handed over).
    Delivered,
    /// Kept in the backlog behind earlier messages.
    Queued,
    /// The backlog is full: count it as dropped.
    Dropped,
    /// The listener's actor has stopped: drop the listener.
    Closed,
    /// The mailbox is full. Send this message with `send` (which queues it
    /// past the mailbox's capacity) and call [`Backlog::resume`] once the
    /// listener has handled it.
    Wait(T),
}

/// Messages for one listener that wait while its mailbox is full. Plain
/// state: the mailbox is reached through the `try_send` the caller passes.
#[derive(Debug)]
pub(crate) struct Backlog<T> {
    queue: VecDeque<T>,
    limit: usize,
    /// A message sent past the mailbox's capacity has not been handled yet:
    /// everything new goes behind it, through the queue.
    waiting: bool,
}

impl<T> Backlog<T> {
    /// An empty backlog of at most `limit` messages.
    pub fn new(limit: usize) -> Self {
        Backlog {
            queue: VecDeque::new(),
            limit,
            waiting: false,
        }
    }

    /// Changes the bound; messages already queued stay.
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
    }

    /// Whether messages are on their way or waiting: the backlog must stay
    /// until [`resume`](Self::resume) has handed everything over.
    pub fn is_waiting(&self) -> bool {
        self.waiting
    }

    /// Messages queued.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Offers a new message: straight into the mailbox unless earlier ones wait.
    pub fn offer(
        &mut self,
        msg: T,
        try_send: impl FnOnce(T) -> Result<(), SendError<T>>,
    ) -> Step<T> {
        if self.waiting {
            if self.queue.len() >= self.limit {
                return Step::Dropped;
            }
            self.queue.push_back(msg);
            return Step::Queued;
        }
        match try_send(msg) {
            Ok(()) => Step::Delivered,
            Err(SendError::Full(msg)) => {
                self.waiting = true;
                Step::Wait(msg)
            }
            Err(SendError::Closed(_)) => Step::Closed,
        }
    }

    /// The message of the last [`Step::Wait`] was handled: hands the queue
    /// over, oldest first, until the mailbox is full again.
    pub fn resume(&mut self, mut try_send: impl FnMut(T) -> Result<(), SendError<T>>) -> Step<T> {
        while let Some(msg) = self.queue.pop_front() {
            match try_send(msg) {
                Ok(()) => {}
                Err(SendError::Full(msg)) => return Step::Wait(msg),
                Err(SendError::Closed(_)) => return Step::Closed,
            }
        }
        self.waiting = false;
        Step::Delivered
    }
}

/// What the actor keeps per listener.
pub(crate) struct Listener {
    pub backlog: Backlog<MqttMessage>,
    /// Where [`ListenerNotice`]s go ([`Subscribe::notices`]).
    pub notices: Option<Recipient<ListenerNotice>>,
    /// Messages dropped for it and not told yet.
    pub untold: u64,
}

impl Listener {
    /// A listener with an empty backlog of `limit` messages.
    pub fn new(limit: usize) -> Self {
        Listener {
            backlog: Backlog::new(limit),
            notices: None,
            untold: 0,
        }
    }

    /// Tells the listener what was dropped for it since the last notice.
    fn tell_dropped(&mut self) {
        if self.untold == 0 {
            return;
        }
        if let Some(n) = &self.notices {
            n.do_send(ListenerNotice::Dropped { count: self.untold });
        }
        self.untold = 0;
    }

    /// Tells the listener something, if it asked for notices.
    pub fn tell(&self, notice: ListenerNotice) {
        if let Some(n) = &self.notices {
            n.do_send(notice);
        }
    }
}

/// One holder due the retained messages of a broker filter.
#[derive(Debug, Default)]
struct Due {
    /// The holder's filters under the broker filter the SUBSCRIBE was for.
    filters: Vec<String>,
    /// Topics whose retained message it already got in this window.
    served: HashSet<String>,
}

#[derive(Debug)]
struct Window<H> {
    due: HashMap<H, Due>,
    /// `None` until the SUBACK was handled; then when the window closes.
    closes: Option<Instant>,
}

/// The open retained windows, per broker filter (see the module docs). Plain
/// state; the caller passes the time.
#[derive(Debug)]
pub(crate) struct RetainedWindows<H> {
    open: HashMap<String, Window<H>>,
}

impl<H> Default for RetainedWindows<H> {
    fn default() -> Self {
        RetainedWindows {
            open: HashMap::new(),
        }
    }
}

impl<H: Clone + Eq + Hash> RetainedWindows<H> {
    /// A SUBSCRIBE of `broker_filter` is sent for `due` (holder, filter)
    /// pairs: opens its window, or keeps it open until this SUBACK too.
    pub fn subscribing(&mut self, broker_filter: &str, due: impl IntoIterator<Item = (H, String)>) {
        let w = self
            .open
            .entry(broker_filter.to_string())
            .or_insert_with(|| Window {
                due: HashMap::new(),
                closes: None,
            });
        w.closes = None;
        for (h, filter) in due {
            let d = w.due.entry(h).or_default();
            if !d.filters.contains(&filter) {
                d.filters.push(filter);
            }
        }
    }

    /// The SUBACK (or the failure) of `broker_filter`'s SUBSCRIBE was handled.
    pub fn acknowledged(&mut self, broker_filter: &str, now: Instant) {
        if let Some(w) = self.open.get_mut(broker_filter) {
            w.closes = Some(now + RETAINED_QUIET);
        }
    }

    /// Whether any window is open (the cheap test on every retained message).
    pub fn any(&self) -> bool {
        !self.open.is_empty()
    }

    /// For a retained message on `topic` that reached `holder` through
    /// `filter`, served by `broker_filter`: `None` when no window is open
    /// there (deliver as usual), else whether to deliver it.
    pub fn admit(
        &mut self,
        broker_filter: &str,
        holder: &H,
        filter: &str,
        topic: &str,
        now: Instant,
    ) -> Option<bool> {
        let w = self.open.get_mut(broker_filter)?;
        if w.closes.is_some_and(|t| now > t) {
            self.open.remove(broker_filter);
            return None;
        }
        if let Some(t) = &mut w.closes {
            *t = now + RETAINED_QUIET;
        }
        let Some(d) = w.due.get_mut(holder) else {
            return Some(false);
        };
        let mine = d.filters.iter().any(|f| f == filter);
        Some(mine && d.served.insert(topic.to_string()))
    }

    /// Forgets `holder` (it let go or stopped).
    pub fn forget(&mut self, holder: &H) {
        for w in self.open.values_mut() {
            w.due.remove(holder);
        }
    }

    /// Drops the windows that closed.
    pub fn sweep(&mut self, now: Instant) {
        self.open
            .retain(|_, w| !matches!(w.closes, Some(t) if now > t));
    }
}

impl MqttActor {
    fn dispatch(&mut self, msg: MqttMessage, ctx: &mut Context<Self>) {
        self.counters.messages_in += 1;
        let now = Instant::now();
        let windows = msg.retain() && self.windows.any();
        let mut app = false;
        let mut targets: HashSet<&Recipient<MqttMessage>> = HashSet::new();
        let (index, plan, open) = (&self.index, &self.plan, &mut self.windows);
        index.for_each_match(msg.topic(), |filter, entry| {
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
                    Holder::Listener(r) => {
                        targets.insert(r);
                    }
                }
            }
        });
        let mut steps = Vec::new();
        for r in targets {
            // Subscribe made the listener's state; cloning a recipient to
            // look it up would cost an allocation per message.
            if !self.listeners.contains_key(r) {
                let fresh = Listener::new(Subscribe::DEFAULT_BACKLOG);
                self.listeners.insert(r.clone(), fresh);
            }
            let listener = self.listeners.get_mut(r).expect("inserted above");
            match listener.backlog.offer(msg.clone(), |m| r.try_send(m)) {
                Step::Delivered | Step::Queued => {}
                Step::Dropped => {
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
        step: Step<MqttMessage>,
        ctx: &mut Context<Self>,
    ) {
        match step {
            Step::Delivered | Step::Queued => {}
            Step::Dropped => {
                self.counters.dropped += 1;
                if let Some(l) = self.listeners.get_mut(&r) {
                    l.untold += 1;
                }
            }
            Step::Closed => self.drop_listener(r, ctx),
            Step::Wait(msg) => {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A listener's mailbox: holds `capacity` messages, then is full.
    struct Mailbox {
        got: VecDeque<u32>,
        capacity: usize,
        closed: bool,
    }

    impl Mailbox {
        fn new(capacity: usize) -> Self {
            Mailbox {
                got: VecDeque::new(),
                capacity,
                closed: false,
            }
        }

        fn try_send(&mut self, m: u32) -> Result<(), SendError<u32>> {
            if self.closed {
                Err(SendError::Closed(m))
            } else if self.got.len() >= self.capacity {
                Err(SendError::Full(m))
            } else {
                self.got.push_back(m);
                Ok(())
            }
        }

        /// The listener handles everything in its mailbox, then `extra`
        /// (the message sent past the capacity).
        fn drain(&mut self, extra: u32, handled: &mut Vec<u32>) {
            handled.extend(self.got.drain(..));
            handled.push(extra);
        }
    }

    #[test]
    fn messages_go_straight_to_a_mailbox_with_room() {
        let mut mailbox = Mailbox::new(4);
        let mut b = Backlog::new(10);
        for m in 0..4 {
            assert_eq!(b.offer(m, |m| mailbox.try_send(m)), Step::Delivered);
        }
        assert!(!b.is_waiting());
        assert_eq!(mailbox.got, [0, 1, 2, 3]);
    }

    #[test]
    fn a_burst_past_the_mailbox_waits_and_arrives_whole_and_in_order() {
        let mut mailbox = Mailbox::new(2);
        let mut b = Backlog::new(10);
        let mut steps = Vec::new();
        for m in 0..8 {
            steps.push(b.offer(m, |m| mailbox.try_send(m)));
        }
        assert_eq!(
            steps[..3],
            [Step::Delivered, Step::Delivered, Step::Wait(2)]
        );
        assert!(steps[3..].iter().all(|s| *s == Step::Queued));
        assert_eq!(b.len(), 5);

        let mut handled = Vec::new();
        let mut extra = 2;
        loop {
            mailbox.drain(extra, &mut handled);
            match b.resume(|m| mailbox.try_send(m)) {
                Step::Wait(m) => extra = m,
                Step::Delivered => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        handled.extend(mailbox.got.drain(..));
        assert_eq!(handled, (0..8).collect::<Vec<_>>());
        assert!(
            !b.is_waiting(),
            "an empty backlog lets messages through again"
        );
        assert_eq!(b.offer(8, |m| mailbox.try_send(m)), Step::Delivered);
    }

    #[test]
    fn past_the_backlog_messages_are_dropped_and_the_rest_keep_their_order() {
        let mut mailbox = Mailbox::new(1);
        let mut b = Backlog::new(2);
        let steps: Vec<_> = (0..6)
            .map(|m| b.offer(m, |m| mailbox.try_send(m)))
            .collect();
        assert_eq!(
            steps,
            [
                Step::Delivered,
                Step::Wait(1),
                Step::Queued,
                Step::Queued,
                Step::Dropped,
                Step::Dropped
            ]
        );
        mailbox.got.clear();
        assert_eq!(b.resume(|m| mailbox.try_send(m)), Step::Wait(3));
        assert_eq!(mailbox.got, [2]);
    }

    #[test]
    fn a_backlog_of_zero_drops_as_soon_as_the_mailbox_is_full() {
        let mut mailbox = Mailbox::new(1);
        let mut b = Backlog::new(0);
        assert_eq!(b.offer(0, |m| mailbox.try_send(m)), Step::Delivered);
        assert_eq!(b.offer(1, |m| mailbox.try_send(m)), Step::Wait(1));
        assert_eq!(b.offer(2, |m| mailbox.try_send(m)), Step::Dropped);
    }

    #[test]
    fn a_closed_mailbox_is_reported() {
        let mut mailbox = Mailbox::new(1);
        let mut b = Backlog::new(5);
        mailbox.closed = true;
        assert_eq!(b.offer(0, |m| mailbox.try_send(m)), Step::Closed);
        mailbox.closed = false;
        mailbox.got.push_back(9);
        assert_eq!(b.offer(1, |m| mailbox.try_send(m)), Step::Wait(1));
        assert_eq!(b.offer(2, |m| mailbox.try_send(m)), Step::Queued);
        mailbox.closed = true;
        assert_eq!(b.resume(|m| mailbox.try_send(m)), Step::Closed);
    }

    #[test]
    fn a_retained_window_serves_only_its_due_holders_once_per_topic() {
        let t0 = Instant::now();
        let mut w: RetainedWindows<u32> = RetainedWindows::default();
        assert_eq!(
            w.admit("d/#", &1, "d/#", "d/x", t0),
            None,
            "no window: deliver"
        );
        w.subscribing("d/#", [(2, "d/+".to_string())]);
        assert_eq!(w.admit("d/#", &1, "d/#", "d/x", t0), Some(false), "not due");
        assert_eq!(w.admit("d/#", &2, "d/+", "d/x", t0), Some(true));
        assert_eq!(
            w.admit("d/#", &2, "d/+", "d/x", t0),
            Some(false),
            "once per topic"
        );
        assert_eq!(w.admit("other", &2, "d/+", "d/x", t0), None);
        w.acknowledged("d/#", t0);
        let later = t0 + RETAINED_QUIET / 2;
        assert_eq!(w.admit("d/#", &2, "d/+", "d/y", later), Some(true));
        // Each retained message keeps the window open a while longer.
        let still = later + RETAINED_QUIET / 2 + Duration::from_millis(1);
        assert_eq!(w.admit("d/#", &1, "d/#", "d/z", still), Some(false));
        w.sweep(still + RETAINED_QUIET * 2);
        assert!(!w.any(), "closed windows go");
        assert_eq!(w.admit("d/#", &1, "d/#", "d/z", still), None);
    }

    #[test]
    fn a_due_holder_gets_nothing_outside_its_own_filter() {
        let t0 = Instant::now();
        let mut w: RetainedWindows<u32> = RetainedWindows::default();
        w.subscribing("+/#", [(1, "a/#".to_string())]);
        assert_eq!(w.admit("+/#", &1, "+/b", "c/b", t0), Some(false));
        assert_eq!(w.admit("+/#", &1, "a/#", "a/b", t0), Some(true));
        w.forget(&1);
        assert_eq!(w.admit("+/#", &1, "a/#", "a/c", t0), Some(false));
    }
}
