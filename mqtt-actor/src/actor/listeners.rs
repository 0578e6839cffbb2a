//! Who holds filters, and what the actor keeps per listener: the messages
//! waiting while its mailbox is full (its backlog, bounded by the capacity
//! its `Subscribe` asked for) and the drops not told yet. Plain state; the
//! delivery policy that uses it is in `delivery.rs`.

use std::collections::VecDeque;
use std::sync::Arc;

use actix::prelude::*;

use crate::messages::{ListenerNotice, MqttMessage, Sink};

/// Who holds a filter: the application (its handlers) or a listener actor.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Holder {
    App,
    Listener(Recipient<MqttMessage>),
}

impl Holder {
    pub fn of(listener: Option<Recipient<MqttMessage>>) -> Self {
        listener.map_or(Holder::App, Holder::Listener)
    }

    /// The listener, when it is one whose actor has stopped.
    pub fn stopped_listener(&self) -> Option<Recipient<MqttMessage>> {
        match self {
            Holder::Listener(r) if !r.connected() => Some(r.clone()),
            _ => None,
        }
    }
}

/// What became of a message offered to a listener, and what the actor must do.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome<T> {
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
    capacity: usize,
    /// A message sent past the mailbox's capacity has not been handled yet:
    /// everything new goes behind it, through the queue.
    waiting: bool,
}

impl<T> Backlog<T> {
    /// An empty backlog of at most `capacity` messages.
    pub fn new(capacity: usize) -> Self {
        Backlog {
            queue: VecDeque::new(),
            capacity,
            waiting: false,
        }
    }

    /// Changes the bound; messages already queued stay.
    pub fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity;
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
    ) -> Outcome<T> {
        if self.waiting {
            if self.queue.len() >= self.capacity {
                return Outcome::Dropped;
            }
            self.queue.push_back(msg);
            return Outcome::Queued;
        }
        match try_send(msg) {
            Ok(()) => Outcome::Delivered,
            Err(SendError::Full(msg)) => {
                self.waiting = true;
                Outcome::Wait(msg)
            }
            Err(SendError::Closed(_)) => Outcome::Closed,
        }
    }

    /// The message of the last [`Outcome::Wait`] was handled: hands the queue
    /// over, oldest first, until the mailbox is full again.
    pub fn resume(
        &mut self,
        mut try_send: impl FnMut(T) -> Result<(), SendError<T>>,
    ) -> Outcome<T> {
        while let Some(msg) = self.queue.pop_front() {
            match try_send(msg) {
                Ok(()) => {}
                Err(SendError::Full(msg)) => return Outcome::Wait(msg),
                Err(SendError::Closed(_)) => return Outcome::Closed,
            }
        }
        self.waiting = false;
        Outcome::Delivered
    }
}

/// What the actor keeps per listener.
pub(crate) struct Listener {
    pub backlog: Backlog<MqttMessage>,
    /// Where [`ListenerNotice`]s go ([`Subscribe::notices`]).
    pub notices: Option<Recipient<ListenerNotice>>,
    /// Messages dropped for it and not told yet.
    pub untold: u64,
    /// Takes its messages instead of its mailbox, when its `Subscribe` gave
    /// one: no backlog then, the sink keeps its own bound.
    pub sink: Option<Arc<dyn Sink>>,
}

impl Listener {
    /// A listener with an empty backlog of `capacity` messages.
    pub fn new(capacity: usize) -> Self {
        Listener {
            backlog: Backlog::new(capacity),
            notices: None,
            untold: 0,
            sink: None,
        }
    }

    /// Tells the listener what was dropped for it since the last notice.
    pub fn tell_dropped(&mut self) {
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
            assert_eq!(b.offer(m, |m| mailbox.try_send(m)), Outcome::Delivered);
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
            [Outcome::Delivered, Outcome::Delivered, Outcome::Wait(2)]
        );
        assert!(steps[3..].iter().all(|s| *s == Outcome::Queued));
        assert_eq!(b.len(), 5);

        let mut handled = Vec::new();
        let mut extra = 2;
        loop {
            mailbox.drain(extra, &mut handled);
            match b.resume(|m| mailbox.try_send(m)) {
                Outcome::Wait(m) => extra = m,
                Outcome::Delivered => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        handled.extend(mailbox.got.drain(..));
        assert_eq!(handled, (0..8).collect::<Vec<_>>());
        assert!(
            !b.is_waiting(),
            "an empty backlog lets messages through again"
        );
        assert_eq!(b.offer(8, |m| mailbox.try_send(m)), Outcome::Delivered);
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
                Outcome::Delivered,
                Outcome::Wait(1),
                Outcome::Queued,
                Outcome::Queued,
                Outcome::Dropped,
                Outcome::Dropped
            ]
        );
        mailbox.got.clear();
        assert_eq!(b.resume(|m| mailbox.try_send(m)), Outcome::Wait(3));
        assert_eq!(mailbox.got, [2]);
    }

    #[test]
    fn a_backlog_of_zero_drops_as_soon_as_the_mailbox_is_full() {
        let mut mailbox = Mailbox::new(1);
        let mut b = Backlog::new(0);
        assert_eq!(b.offer(0, |m| mailbox.try_send(m)), Outcome::Delivered);
        assert_eq!(b.offer(1, |m| mailbox.try_send(m)), Outcome::Wait(1));
        assert_eq!(b.offer(2, |m| mailbox.try_send(m)), Outcome::Dropped);
    }

    #[test]
    fn a_closed_mailbox_is_reported() {
        let mut mailbox = Mailbox::new(1);
        let mut b = Backlog::new(5);
        mailbox.closed = true;
        assert_eq!(b.offer(0, |m| mailbox.try_send(m)), Outcome::Closed);
        mailbox.closed = false;
        mailbox.got.push_back(9);
        assert_eq!(b.offer(1, |m| mailbox.try_send(m)), Outcome::Wait(1));
        assert_eq!(b.offer(2, |m| mailbox.try_send(m)), Outcome::Queued);
        mailbox.closed = true;
        assert_eq!(b.resume(|m| mailbox.try_send(m)), Outcome::Closed);
    }
}
