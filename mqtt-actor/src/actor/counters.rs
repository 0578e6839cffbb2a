//! The counters [`GetStatus`](crate::GetStatus) reports.

use std::sync::Arc;

use crate::client::InboundDrops;

/// Counters reported by [`GetStatus`](crate::GetStatus).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Messages received from the broker.
    pub messages_in: u64,
    /// Publishes the broker accepted.
    pub messages_out: u64,
    /// Messages a listener did not get because its mailbox and its backlog
    /// were full.
    pub dropped: u64,
    /// Messages Paho's message callback could not hand to the actor (the
    /// inbound channel was full), by topic. Shared with that callback, which
    /// runs on Paho's thread.
    pub inbound: Arc<InboundDrops>,
}

impl Counters {
    /// Zero counters; `inbound` is where Paho's callback counts.
    pub fn new(inbound: Arc<InboundDrops>) -> Self {
        Counters {
            inbound,
            ..Counters::default()
        }
    }

    /// Every message lost on the way in, on either side of the actor.
    pub fn all_dropped(&self) -> u64 {
        self.dropped + self.inbound.total()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_counts_both_sides_of_the_actor() {
        let paho_side = Arc::new(InboundDrops::default());
        let mut c = Counters::new(paho_side.clone());
        c.dropped = 2;
        for _ in 0..3 {
            paho_side.record("t");
        }
        assert_eq!(c.all_dropped(), 5);
    }
}
