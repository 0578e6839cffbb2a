//! The failover list at run time: which broker the next connection attempt
//! goes to. Plain state, no I/O; `lifecycle.rs` asks it before each attempt.
//!
//! - The first connection tries the brokers in list order, each at once after
//!   the previous one failed; only when every broker failed does the usual
//!   back-off apply before the next round.
//! - A lost connection moves on to the next broker of the list (wrapping
//!   around): the one just lost is the least likely to answer. Rounds then go
//!   on as above. There is no fail-back: the actor stays where it connected.

/// The brokers, and where in the list the actor is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failover {
    uris: Vec<String>,
    /// The broker in use, or the one the next attempt goes to.
    current: usize,
    /// Attempts that failed since the last success or loss: when every broker
    /// has failed once, the round is over and the back-off applies.
    failed_in_round: usize,
}

impl Failover {
    /// The list, in order; it is never empty (the configuration is checked
    /// before the actor is built), but an empty one behaves as one broker
    /// with an empty URI rather than panicking.
    pub fn new(uris: Vec<String>) -> Self {
        let uris = if uris.is_empty() {
            vec![String::new()]
        } else {
            uris
        };
        Failover {
            uris,
            current: 0,
            failed_in_round: 0,
        }
    }

    /// The broker in use, or while disconnected the one tried next.
    pub fn current(&self) -> &str {
        &self.uris[self.current]
    }

    /// Where the current broker is in the list (0 is the first).
    pub fn index(&self) -> usize {
        self.current
    }

    /// An attempt on the current broker failed: the next one is current now.
    /// Answers whether every broker has failed since the last success, so
    /// that the back-off applies before the next attempt (otherwise the next
    /// broker is tried at once).
    pub fn attempt_failed(&mut self) -> bool {
        self.failed_in_round += 1;
        self.advance();
        if self.failed_in_round >= self.uris.len() {
            self.failed_in_round = 0;
            return true;
        }
        false
    }

    /// Connected to the current broker.
    pub fn connected(&mut self) {
        self.failed_in_round = 0;
    }

    /// The connection to the current broker was lost: the next attempt goes
    /// to the next broker.
    pub fn lost(&mut self) {
        self.failed_in_round = 0;
        self.advance();
    }

    fn advance(&mut self) {
        self.current = (self.current + 1) % self.uris.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(n: usize) -> Failover {
        Failover::new((1..=n).map(|i| format!("tcp://node{i}:1883")).collect())
    }

    #[test]
    fn a_first_connection_tries_each_broker_in_order_before_backing_off() {
        let mut f = list(3);
        assert_eq!(f.current(), "tcp://node1:1883");
        assert!(!f.attempt_failed(), "node2 is tried at once");
        assert_eq!(f.current(), "tcp://node2:1883");
        assert!(!f.attempt_failed());
        assert_eq!(f.current(), "tcp://node3:1883");
        assert!(f.attempt_failed(), "every broker failed: back off");
        assert_eq!(
            f.current(),
            "tcp://node1:1883",
            "the next round starts over"
        );
        assert!(!f.attempt_failed());
    }

    #[test]
    fn a_lost_connection_moves_on_to_the_next_broker_and_wraps_around() {
        let mut f = list(2);
        f.connected();
        f.lost();
        assert_eq!(f.index(), 1);
        f.connected();
        f.lost();
        assert_eq!(f.index(), 0, "after the last comes the first");
        assert!(!f.attempt_failed(), "the other broker is tried at once");
        assert!(f.attempt_failed(), "both failed: back off");
    }

    #[test]
    fn a_single_broker_backs_off_after_every_failure() {
        let mut f = list(1);
        assert!(f.attempt_failed());
        f.lost();
        assert_eq!(f.index(), 0);
        assert!(f.attempt_failed());
    }

    #[test]
    fn an_empty_list_does_not_panic() {
        let mut f = Failover::new(Vec::new());
        assert_eq!(f.current(), "");
        assert!(f.attempt_failed());
    }
}
