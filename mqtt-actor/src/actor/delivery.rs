//! Incoming messages to the application's handlers and to listener actors.
//!
//! # Delivery policy
//!
//! The actor never waits on a listener, and each listener gets its messages in
//! the order the broker sent them.
//!
//! - Each message is handed to each matching listener with `try_send` into the
//!   listener's actix mailbox (16 messages by default; the listener may raise
//!   it with `ctx.set_mailbox_capacity`).
//! - When that mailbox is full, the message waits in the listener's *backlog*,
//!   kept by the `MqttActor`, and so does every later message for it until the
//!   backlog is empty again. The backlog holds up to
//!   [`Subscribe::DEFAULT_BACKLOG`] messages, or what the listener's
//!   [`Subscribe::backlog`] asked for. When the listener has handled the
//!   message that found its mailbox full, the backlog is handed over, oldest
//!   first, until the mailbox is full again.
//! - Only when the backlog is full too is a message dropped, for that listener
//!   alone, and counted in [`Status::dropped`](crate::Status::dropped).
//!
//! So a listener that keeps up on average loses nothing to a burst shorter
//! than its mailbox plus its backlog, and a stuck listener costs at most its
//! backlog (shared messages, one reference each) and slows down nobody.
//! A listener whose actor has stopped is removed with its backlog, and the
//! filters only it held are released.

use std::collections::VecDeque;

use actix::prelude::*;

use super::subscriptions::Holder;
use super::MqttActor;
use crate::client::{from_paho, Inbound};
use crate::handlers::LogLevel;
use crate::messages::{MqttMessage, Subscribe};

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

impl MqttActor {
    fn dispatch(&mut self, msg: MqttMessage, ctx: &mut Context<Self>) {
        self.counters.messages_in += 1;
        let mut app = false;
        let mut steps = Vec::new();
        for holder in self.index.holders_matching(msg.topic()) {
            match holder {
                Holder::App => app = true,
                Holder::Listener(r) => {
                    // Subscribe made the backlog; cloning a recipient to look
                    // it up would cost an allocation per message.
                    if !self.backlogs.contains_key(r) {
                        let fresh = Backlog::new(Subscribe::DEFAULT_BACKLOG);
                        self.backlogs.insert(r.clone(), fresh);
                    }
                    let backlog = self.backlogs.get_mut(r).expect("inserted above");
                    match backlog.offer(msg.clone(), |m| r.try_send(m)) {
                        Step::Delivered | Step::Queued => {}
                        step => steps.push((r.clone(), step)),
                    }
                }
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
            Step::Dropped => self.counters.dropped += 1,
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

    /// The listener made room: hand over its backlog.
    fn resume(&mut self, r: Recipient<MqttMessage>, ctx: &mut Context<Self>) {
        let Some(backlog) = self.backlogs.get_mut(&r) else {
            return; // dropped meanwhile
        };
        let step = backlog.resume(|m| r.try_send(m));
        self.follow(r, step, ctx);
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
}
