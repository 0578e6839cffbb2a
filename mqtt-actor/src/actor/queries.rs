//! What the actor answers about itself: the counters, `GetStatus` and
//! `GetSubscriptions`.

use actix::prelude::*;

use super::listeners::Holder;
use super::MqttActor;
use crate::messages::{GetStatus, GetSubscriptions, Status, SubscriptionInfo};

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
            .map(|(filter, e)| {
                let broker_filter = self.plan.broker_filter(filter).unwrap_or(filter);
                let at = self.at_broker.get(broker_filter).filter(|a| a.confirmed);
                let granted = e.holders.values().any(|h| h.pending.is_none());
                SubscriptionInfo {
                    filter: filter.to_string(),
                    qos: at.map_or(e.wanted(), |a| a.granted.min(e.wanted())),
                    active: granted && at.is_some(),
                    listeners: e
                        .holders
                        .keys()
                        .filter(|h| matches!(h, Holder::Listener(_)))
                        .count(),
                    app: e.holders.contains_key(&Holder::App),
                    broker_filter: broker_filter.to_string(),
                }
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
