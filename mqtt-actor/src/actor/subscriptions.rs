//! Subscriptions: `Subscribe`, `Unsubscribe` and `UnsubscribeAll`, what the
//! broker answered, re-subscribing after a reconnect, and releasing the filters
//! of listeners whose actor stopped. Who holds what is kept in the
//! [`Index`](crate::topic::Index); this file turns its changes into SUBSCRIBE
//! and UNSUBSCRIBE packets.

use std::future::Future;

use actix::prelude::*;

use super::delivery::Backlog;
use super::MqttActor;
use crate::client::{await_ack, granted_qos, to_qos};
use crate::error::{MqttError, Result};
use crate::handlers::{self, LogLevel, Subscribed, Unsubscribed};
use crate::messages::{MqttMessage, QoS, Subscribe, Unsubscribe, UnsubscribeAll};
use crate::topic::{validate_filter, Change};

/// Who holds a filter: the application (its handlers) or a listener actor.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Holder {
    App,
    Listener(Recipient<MqttMessage>),
}

impl Holder {
    fn of(listener: Option<Recipient<MqttMessage>>) -> Self {
        listener.map_or(Holder::App, Holder::Listener)
    }
}

/// The broker's answer to a SUBSCRIBE (or its failure to answer in time),
/// recorded by the actor in the order the answers arrive.
struct SubAck {
    filter: String,
    granted: Result<QoS>,
}

impl actix::Message for SubAck {
    type Result = ();
}

/// The broker acknowledged an UNSUBSCRIBE (UNSUBACK).
struct UnsubAck {
    filter: String,
}

impl actix::Message for UnsubAck {
    type Result = ();
}

impl MqttActor {
    /// Paho does not restore subscriptions after a reconnect: issue them all again.
    pub(super) fn resubscribe(&mut self, ctx: &mut Context<Self>) {
        let filters: Vec<(String, QoS)> = self
            .index
            .entries()
            .map(|(f, e)| (f.to_string(), e.wanted()))
            .collect();
        for (filter, qos) in filters {
            let fut = self.subscribe_at_broker(filter.clone(), qos);
            fut.into_actor(self)
                .map(move |res, act, _| {
                    if let Err(e) = res {
                        act.log(
                            LogLevel::Err,
                            &format!("re-subscribing {filter:?} failed: {e}"),
                        );
                    }
                })
                .spawn(ctx);
        }
    }

    fn subscribe_at_broker(&self, filter: String, qos: QoS) -> impl Future<Output = Result<QoS>> {
        let token = self.client.subscribe(filter.clone(), to_qos(qos));
        let timeout = self.config.request_timeout;
        let me = self.me();
        async move {
            let rsp = await_ack(token, timeout, "subscribe", filter.clone()).await;
            let granted = rsp.and_then(|rsp| {
                QoS::try_from(granted_qos(&rsp)).map_err(|_| MqttError::Refused {
                    operation: "subscribe",
                    topic: filter.clone(),
                    reason: format!("SUBACK return code 0x{:02x}", granted_qos(&rsp)),
                })
            });
            let _ = me
                .send(SubAck {
                    filter,
                    granted: granted.clone(),
                })
                .await;
            granted
        }
    }

    fn unsubscribe_at_broker(&self, filter: String) -> impl Future<Output = Result<()>> {
        // While disconnected there is nothing to release at the broker: the
        // filter is simply not re-issued on the next connection.
        let token = self
            .connection
            .is_connected()
            .then(|| self.client.unsubscribe(filter.clone()));
        let timeout = self.config.request_timeout;
        let me = self.me();
        async move {
            if let Some(token) = token {
                await_ack(token, timeout, "unsubscribe", filter.clone()).await?;
                let _ = me.send(UnsubAck { filter }).await;
            }
            Ok(())
        }
    }

    fn release(&mut self, filters: Vec<String>, ctx: &mut Context<Self>) {
        for filter in filters {
            let fut = self.unsubscribe_at_broker(filter.clone());
            fut.into_actor(self)
                .map(move |res, act, _| {
                    if let Err(e) = res {
                        act.log(LogLevel::Warning, &format!("unsubscribing {filter:?}: {e}"));
                    }
                })
                .spawn(ctx);
        }
    }

    /// Forgets a listener whose actor stopped, with what was queued for it,
    /// and releases the filters only it held.
    pub(super) fn drop_listener(
        &mut self,
        listener: Recipient<MqttMessage>,
        ctx: &mut Context<Self>,
    ) {
        self.backlogs.remove(&listener);
        let filters = self.index.remove_holder(&Holder::Listener(listener));
        self.release(filters, ctx);
    }

    /// Runs every [`SWEEP_INTERVAL`](super::SWEEP_INTERVAL): listeners and
    /// watchers whose actor stopped are dropped even when no message fails to
    /// reach them, and backlogs of listeners that hold nothing any more go once
    /// they are empty.
    pub(super) fn sweep_dead(&mut self, ctx: &mut Context<Self>) {
        let dead: Vec<Recipient<MqttMessage>> = self
            .index
            .holders()
            .filter_map(|h| match h {
                Holder::Listener(r) if !r.connected() => Some(r.clone()),
                _ => None,
            })
            .collect();
        for listener in dead {
            self.log(
                LogLevel::Notice,
                "a listener stopped: releasing its filters",
            );
            self.drop_listener(listener, ctx);
        }
        let index = &self.index;
        self.backlogs.retain(|r, backlog| {
            r.connected() && (backlog.is_waiting() || index.holds(&Holder::Listener(r.clone())))
        });
        self.watchers.retain(|w| w.connected());
    }
}

impl Handler<SubAck> for MqttActor {
    type Result = ();
    fn handle(&mut self, SubAck { filter, granted }: SubAck, _: &mut Context<Self>) {
        match granted {
            Ok(qos) => {
                self.index.set_granted(&filter, Some(qos));
                let event = Subscribed {
                    filter,
                    granted: qos,
                };
                handlers::call(&self.handlers.subscribe, &self.me(), &event);
            }
            Err(MqttError::Refused { .. }) => {
                // A refused filter is dropped so that it is not retried on every connect.
                self.index.remove_filter(&filter);
            }
            Err(_) => {}
        }
    }
}

impl Handler<UnsubAck> for MqttActor {
    type Result = ();
    fn handle(&mut self, UnsubAck { filter }: UnsubAck, _: &mut Context<Self>) {
        let event = Unsubscribed { filter };
        handlers::call(&self.handlers.unsubscribe, &self.me(), &event);
    }
}

impl Handler<Subscribe> for MqttActor {
    type Result = ResponseFuture<Result<QoS>>;
    fn handle(&mut self, msg: Subscribe, _: &mut Context<Self>) -> Self::Result {
        if let Err(e) = validate_filter(&msg.filter) {
            return Box::pin(async move { Err(e) });
        }
        if !self.connection.is_connected() {
            let e = self.not_connected();
            return Box::pin(async move { Err(e) });
        }
        self.warn_if_shares_mix(&msg.filter);
        if let Some(listener) = &msg.listener {
            let backlog = self
                .backlogs
                .entry(listener.clone())
                .or_insert_with(|| Backlog::new(Subscribe::DEFAULT_BACKLOG));
            if let Some(limit) = msg.backlog {
                backlog.set_limit(limit);
            }
        }
        match self
            .index
            .add(&msg.filter, Holder::of(msg.listener), msg.qos)
        {
            Change::AlreadyGranted(q) => Box::pin(async move { Ok(q) }),
            Change::SubscribeAt(q) => Box::pin(self.subscribe_at_broker(msg.filter, q)),
            Change::Unsubscribe | Change::Nothing => unreachable!("add never releases"),
        }
    }
}

impl Handler<Unsubscribe> for MqttActor {
    type Result = ResponseFuture<Result<()>>;
    fn handle(&mut self, msg: Unsubscribe, _: &mut Context<Self>) -> Self::Result {
        match self.index.remove(&msg.filter, &Holder::of(msg.listener)) {
            None => Box::pin(async move { Err(MqttError::NotSubscribed { filter: msg.filter }) }),
            Some(Change::Unsubscribe) => Box::pin(self.unsubscribe_at_broker(msg.filter)),
            Some(_) => Box::pin(async { Ok(()) }),
        }
    }
}

impl Handler<UnsubscribeAll> for MqttActor {
    type Result = ResponseFuture<Result<()>>;
    fn handle(&mut self, msg: UnsubscribeAll, _: &mut Context<Self>) -> Self::Result {
        let filters = self.index.remove_holder(&Holder::of(msg.listener));
        let futs: Vec<_> = filters
            .into_iter()
            .map(|f| self.unsubscribe_at_broker(f))
            .collect();
        Box::pin(async move {
            futures::future::join_all(futs)
                .await
                .into_iter()
                .collect::<Result<Vec<()>>>()
                .map(|_| ())
        })
    }
}
