//! The filters one WebSocket session holds, and those it asked for that the
//! broker has not answered yet: both count against `WS_MAX_FILTERS`, so a
//! burst of subscribes sent before any answer cannot pass the limit.
//!
//! # Generations
//!
//! A filter can also be let go of by the session's fan-out, which releases
//! it at the `MqttActor` when the access rules no longer let the client read
//! it, or when the broker lost it, and tells the session (`FilterLost`, in
//! `fanout.rs`). The session may handle that late: it can have
//! subscribed to the same filter again meanwhile (its client saw the notice,
//! its rights came back), and then the news of the old hold must not take
//! the new one from its book, or the `MqttActor` would go on delivering a
//! filter the session no longer knows it holds (its `unsubscribe` answered
//! as not subscribed, its count one short).
//!
//! So every subscribe a session sends gets a number, its *generation*, from
//! a counter ([`Generations`]) that the session and its fan-out share; the
//! session numbers a subscribe before it sends it. When the fan-out lets go
//! of a filter, it queues an `Unsubscribe` at the `MqttActor` (on a sender of
//! its own, which is never parked, so at once) and then reads the last
//! generation numbered: every later subscribe reaches the `MqttActor` after
//! that `Unsubscribe`, and its hold stands. The session is told that last
//! generation, and drops its hold only if the hold came from a subscribe no
//! later than it ([`FilterBook::lost`]); a later hold is the client's new
//! one.
//!
//! A subscribe numbered no later may have reached the `MqttActor` before the
//! `Unsubscribe` or after it. Before it, the `MqttActor` (which takes its
//! messages in mailbox order) either withdraws it, when it still waited for
//! its subscription step (it is answered with an error), or grants it and
//! then lets go of it; after it, it is granted and stands. A grant cannot
//! tell which, so the fan-out takes no such grant when it hears of it
//! (`Held`, in `fanout.rs`): it lets go of the filter once more, with the
//! same notice, and the session drops the hold when told.
//! The client then holds the filter in no book, nor at the `MqttActor`, and
//! may subscribe again. (Rare: it takes a subscribe to a filter crossing the
//! release of the same filter.) The fan-out remembers what it let go of, and
//! when, until every subscribe up to then has been answered ([`LetGo`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The generations of one session's subscribes: numbered by the session as
/// it sends each, read by its fan-out when it lets go of a filter (see the
/// module docs). The first is 1; 0 is "none yet".
#[derive(Clone, Debug, Default)]
pub(crate) struct Generations(Arc<AtomicU64>);

impl Generations {
    /// Numbers the subscribe about to be sent.
    pub fn next(&self) -> u64 {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// The last generation numbered.
    pub fn last(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// A session's filters, held and pending. Plain state: the session asks the
/// `MqttActor` and tells the book what came of it.
#[derive(Debug, Default)]
pub(crate) struct FilterBook {
    /// Each filter held, with the generation of the subscribe behind the
    /// hold: a loss of an earlier one leaves it alone.
    held: HashMap<String, u64>,
    /// Subscribes sent and not answered, by generation (a client may send
    /// the same filter twice before the first answer).
    pending: BTreeMap<u64, String>,
    generations: Generations,
}

impl FilterBook {
    /// The counter this book numbers its subscribes with, for the fan-out.
    pub fn generations(&self) -> Generations {
        self.generations.clone()
    }

    /// Filters held or pending, each counted once.
    pub fn count(&self) -> usize {
        let asked: HashSet<&String> = self
            .pending
            .values()
            .filter(|f| !self.held.contains_key(*f))
            .collect();
        self.held.len() + asked.len()
    }

    /// Whether the session holds or asked for any filter.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty() && self.pending.is_empty()
    }

    /// Numbers a subscribe to `filter` about to be sent, unless it would
    /// make more than `max` filters; `Err(max)` then, and nothing changes.
    pub fn reserve(&mut self, filter: &str, max: usize) -> Result<u64, usize> {
        if !self.knows(filter) && self.count() >= max {
            return Err(max);
        }
        let generation = self.generations.next();
        self.pending.insert(generation, filter.to_string());
        Ok(generation)
    }

    /// The broker answered the subscribe `generation` to `filter`: held
    /// when `granted` (by the latest of the subscribes granted).
    pub fn answered(&mut self, filter: &str, generation: u64, granted: bool) {
        self.pending.remove(&generation);
        if granted {
            let held = self.held.entry(filter.to_string()).or_default();
            *held = (*held).max(generation);
        }
    }

    /// Every subscribe up to the generation returned has been answered (so
    /// told to the fan-out, if granted).
    pub fn settled(&self) -> u64 {
        match self.pending.keys().next() {
            Some(first) => first - 1,
            None => self.generations.last(),
        }
    }

    /// Whether the session holds `filter` or asked for it.
    pub fn knows(&self, filter: &str) -> bool {
        self.held.contains_key(filter) || self.pending.values().any(|f| f == filter)
    }

    /// The client unsubscribed `filter`; `false` if it was not held.
    pub fn release(&mut self, filter: &str) -> bool {
        self.held.remove(filter).is_some()
    }

    /// The fan-out let go of `filter` at the `MqttActor` after subscribe
    /// `up_to` was sent: the hold goes if it is no later; `true` if it went.
    pub fn lost(&mut self, filter: &str, up_to: u64) -> bool {
        match self.held.get(filter) {
            Some(&generation) if generation <= up_to => {
                self.held.remove(filter);
                true
            }
            _ => false,
        }
    }
}

/// What a fan-out let go of at the `MqttActor`, each filter with the last
/// generation numbered then and the notice its client got (`N`): a grant of
/// a subscribe no later is not taken (see the module docs). Plain state.
#[derive(Debug)]
pub(crate) struct LetGo<N> {
    filters: HashMap<String, (u64, N)>,
}

impl<N> Default for LetGo<N> {
    fn default() -> Self {
        LetGo {
            filters: HashMap::new(),
        }
    }
}

impl<N> LetGo<N> {
    /// `filter` was let go of after subscribe `up_to`, with `notice`.
    pub fn note(&mut self, filter: &str, up_to: u64, notice: N) {
        self.filters.insert(filter.to_string(), (up_to, notice));
    }

    /// The notice to repeat when the grant of subscribe `generation` to
    /// `filter` may have been undone by a release after it was sent;
    /// `None` for a grant that stands.
    pub fn undone(&self, filter: &str, generation: u64) -> Option<&N> {
        match self.filters.get(filter) {
            Some((up_to, notice)) if generation <= *up_to => Some(notice),
            _ => None,
        }
    }

    /// Every subscribe up to `settled` has been answered and its grant
    /// seen: what was let go of by then is needed no more.
    pub fn settle(&mut self, settled: u64) {
        self.filters.retain(|_, (up_to, _)| *up_to > settled);
    }

    /// How many filters it remembers.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.filters.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_subscribes_count_against_the_limit() {
        let mut book = FilterBook::default();
        let a1 = book.reserve("a", 2).expect("room");
        let b = book.reserve("b", 2).expect("room");
        assert_eq!(book.reserve("c", 2), Err(2), "two pending fill the book");
        let a2 = book
            .reserve("a", 2)
            .expect("the same filter again is no new one");
        book.answered("a", a1, true);
        book.answered("a", a2, true);
        book.answered("b", b, false);
        assert_eq!(book.count(), 1);
        let c = book.reserve("c", 2).expect("a refused one frees its place");
        assert!(book.release("a"));
        assert!(!book.release("a"));
        assert!(book.knows("c") && !book.knows("a"));
        book.answered("c", c, true);
        assert_eq!(book.count(), 1);
        assert!(!book.is_empty());
    }

    /// The race this module is about, step by step: the fan-out revokes a
    /// filter and tells the session, the client subscribes to it again and
    /// is granted it, and only then does the session hear of the loss.
    #[test]
    fn a_late_loss_leaves_the_hold_of_a_later_subscribe() {
        let mut book = FilterBook::default();
        let fanout = book.generations();
        let first = book.reserve("f", 2).expect("room");
        book.answered("f", first, true);

        // The fan-out releases it at the MqttActor, then reads the counter;
        // its `FilterLost` waits in the session's mailbox.
        let up_to = fanout.last();
        // The client saw the notice and subscribes again: granted.
        let again = book.reserve("f", 2).expect("room");
        assert!(again > up_to);
        book.answered("f", again, true);
        // The late news of the first hold.
        assert!(!book.lost("f", up_to), "the new hold stays");

        assert!(book.knows("f"));
        assert_eq!(book.count(), 1);
        let other = book.reserve("g", 2).expect("one place left");
        book.answered("g", other, true);
        assert_eq!(book.reserve("h", 2), Err(2), "f and g fill the book");
        assert!(book.release("f"), "the client can unsubscribe it");
        assert_eq!(book.count(), 1);
    }

    #[test]
    fn a_loss_in_time_takes_the_hold() {
        let mut book = FilterBook::default();
        let fanout = book.generations();
        let first = book.reserve("f", 2).expect("room");
        book.answered("f", first, true);
        assert!(book.lost("f", fanout.last()));
        assert!(!book.knows("f") && book.is_empty());
        assert!(!book.lost("f", fanout.last()), "once");
    }

    /// A subscribe sent before the release and answered after it (a client
    /// that subscribed to a filter it held, while it was revoked): its hold
    /// goes with the loss, whichever the session hears of first.
    #[test]
    fn a_loss_takes_the_hold_of_a_subscribe_sent_before_it() {
        for loss_first in [false, true] {
            let mut book = FilterBook::default();
            let fanout = book.generations();
            let first = book.reserve("f", 2).expect("room");
            book.answered("f", first, true);
            let again = book.reserve("f", 2).expect("room");
            let up_to = fanout.last();
            if loss_first {
                assert!(book.lost("f", up_to));
                book.answered("f", again, true);
                // Held by the book until the fan-out refuses the grant and
                // tells it again, after a later read of the counter.
                assert!(book.lost("f", fanout.last()));
            } else {
                book.answered("f", again, true);
                assert!(book.lost("f", up_to));
            }
            assert!(!book.knows("f"), "loss first: {loss_first}");
        }
    }

    #[test]
    fn settled_is_the_last_generation_before_the_first_unanswered() {
        let mut book = FilterBook::default();
        assert_eq!(book.settled(), 0);
        let a = book.reserve("a", 9).expect("room");
        let b = book.reserve("b", 9).expect("room");
        assert_eq!(book.settled(), a - 1);
        book.answered("b", b, true);
        assert_eq!(book.settled(), a - 1, "a is still unanswered");
        book.answered("a", a, false);
        assert_eq!(book.settled(), b);
    }

    #[test]
    fn a_grant_no_later_than_a_release_is_undone_until_settled() {
        let mut let_go = LetGo::default();
        let_go.note("f", 5, "revoked");
        assert_eq!(let_go.undone("f", 4), Some(&"revoked"));
        assert_eq!(let_go.undone("f", 5), Some(&"revoked"));
        assert_eq!(let_go.undone("f", 6), None, "subscribed after the release");
        assert_eq!(let_go.undone("g", 1), None, "never let go of");
        let_go.settle(4);
        assert_eq!(let_go.len(), 1, "subscribe 5 may still be answered");
        let_go.settle(5);
        assert_eq!(let_go.len(), 0);
        assert_eq!(let_go.undone("f", 5), None);
    }
}
