//! What the actor answers about itself: the counters, `GetStatus` and
//! `GetSubscriptions`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use actix::prelude::*;

use super::subscriptions::Holder;
use super::MqttActor;
use crate::messages::{GetStatus, GetSubscriptions, Status, SubscriptionInfo};

/// Counters reported by [`GetStatus`].
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
    /// inbound channel was full). Shared with that callback, which runs on
    /// Paho's thread, hence atomic.
    pub inbound_dropped: Arc<AtomicU64>,
}

impl Counters {
    /// Zero counters; `inbound_dropped` is the one Paho's callback counts into.
    pub fn new(inbound_dropped: Arc<AtomicU64>) -> Self {
        Counters {
            inbound_dropped,
            ..Counters::default()
        }
    }

    /// Every message lost on the way in, on either side of the actor.
    pub fn all_dropped(&self) -> u64 {
        self.dropped + self.inbound_dropped.load(Ordering::Relaxed)
    }
}

impl MqttActor {
    fn status(&self) -> Status {
        Status {
            connected: self.connection.is_connected(),
            broker: self.uri().to_string(),
            client_id: self.client_id.clone(),
            messages_in: self.counters.messages_in,
            messages_out: self.counters.messages_out,
            dropped: self.counters.all_dropped(),
            listeners: self
                .index
                .holders()
                .filter(|h| matches!(h, Holder::Listener(_)))
                .count(),
            buffered: self.offline.len(),
            last_error: self.last_error.clone(),
        }
    }

    fn subscriptions(&self) -> Vec<SubscriptionInfo> {
        let mut list: Vec<SubscriptionInfo> = self
            .index
            .entries()
            .map(|(filter, e)| SubscriptionInfo {
                filter: filter.to_string(),
                qos: e.granted.unwrap_or_else(|| e.wanted()),
                active: e.granted.is_some(),
                listeners: e
                    .holders
                    .keys()
                    .filter(|h| matches!(h, Holder::Listener(_)))
                    .count(),
                app: e.holders.contains_key(&Holder::App),
            })
            .collect();
        list.sort_by(|a, b| a.filter.cmp(&b.filter));
        list
    }
}

impl Handler<GetSubscriptions> for MqttActor {
    type Result = MessageResult<GetSubscriptions>;
    fn handle(&mut self, _: GetSubscriptions, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.subscriptions())
    }
}

impl Handler<GetStatus> for MqttActor {
    type Result = MessageResult<GetStatus>;
    fn handle(&mut self, _: GetStatus, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.status())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_counts_both_sides_of_the_actor() {
        let paho_side = Arc::new(AtomicU64::new(0));
        let mut c = Counters::new(paho_side.clone());
        c.dropped = 2;
        paho_side.fetch_add(3, Ordering::Relaxed);
        assert_eq!(c.all_dropped(), 5);
    }
}
