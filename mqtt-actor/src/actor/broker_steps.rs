//! Runs the subscription steps against the broker (see "Steps" in
//! `subscriptions.rs`): a step's SUBSCRIBEs and their SUBACKs, the
//! UNSUBSCRIBEs of the broker filters the plan no longer has, and the step
//! abandoned on a connection loss.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::time::Instant;

use actix::prelude::*;

use super::listeners::Holder;
use super::retained::{PLAN_ID, PROBE_ID};
use super::steps::{AtBroker, Joining, StepInFlight};
use super::MqttActor;
use crate::client::{await_ack, granted_qos, subscribe};
use crate::config::ProtocolVersion;
use crate::error::{MqttError, Result};
use crate::handlers::{self, LogLevel, Subscribed, Unsubscribed};
use crate::messages::{ListenerNotice, MqttMessage};
use crate::qos::QoS;
use crate::topic::Hold;

/// `error` for the SUBSCRIBE of `broker_filter`, told about `filter`.
fn for_filter(error: MqttError, filter: &str, broker_filter: &str) -> MqttError {
    match error {
        MqttError::Refused {
            operation, reason, ..
        } if filter != broker_filter => MqttError::Refused {
            operation,
            topic: filter.to_string(),
            reason: format!(
                "{reason} (the broker subscription asked for was {broker_filter:?}, \
                 which covers {filter:?} and the held filters overlapping it)"
            ),
        },
        other => other,
    }
}

impl MqttActor {
    /// Runs the next step if there is work and none is in flight.
    pub(super) fn run_step(&mut self, ctx: &mut Context<Self>) {
        if self.steps.in_flight.is_some() || !self.connection.is_connected() {
            return;
        }
        // A listener that stopped while its `Subscribe`s waited: they are
        // withdrawn, not sent.
        let dead: HashSet<Recipient<MqttMessage>> = self
            .steps
            .queued_holders()
            .filter_map(Holder::stopped_listener)
            .collect();
        for listener in dead {
            self.forget_listener(listener);
        }
        if !self.steps.has_work() {
            return;
        }
        self.steps.attempts += 1;
        let attempt = self.steps.attempts;
        let resubscribe = std::mem::take(&mut self.steps.resubscribe);
        let requests = std::mem::take(&mut self.steps.requests);
        let released = std::mem::take(&mut self.steps.released);
        let releasing = std::mem::take(&mut self.steps.releasing);

        let mut touched: HashSet<String> = HashSet::new();
        for filter in released {
            if self.index.entry(&filter).is_none() {
                touched.extend(self.plan.remove(&filter).created);
            }
        }
        let mut added = Vec::with_capacity(requests.len());
        for r in requests {
            let previous = self
                .index
                .entry(&r.filter)
                .and_then(|e| e.holders.get(&r.holder))
                .copied();
            let hold = Hold {
                qos: r.qos,
                pending: Some(attempt),
            };
            self.index.add(&r.filter, r.holder.clone(), hold);
            touched.extend(self.plan.add(&r.filter).created);
            added.push((r, previous));
        }
        // Later requests of the same step may have moved earlier ones to a
        // wider broker filter: look them up once all are in.
        let mut joining: Vec<Joining> = added
            .into_iter()
            .map(|(r, previous)| {
                let broker_filter = self
                    .plan
                    .broker_filter(&r.filter)
                    .unwrap_or(&r.filter)
                    .to_string();
                touched.insert(broker_filter.clone());
                Joining {
                    filter: r.filter,
                    holder: r.holder,
                    qos: r.qos,
                    broker_filter,
                    previous,
                    reply: r.reply,
                }
            })
            .collect();
        if resubscribe {
            touched.extend(self.plan.groups().map(|(j, _)| j.to_string()));
        }

        let mut newcomers: HashMap<&str, Vec<(Holder, String)>> = HashMap::new();
        for j in &joining {
            newcomers
                .entry(j.broker_filter.as_str())
                .or_default()
                .push((j.holder.clone(), j.filter.clone()));
        }
        let mut touched: Vec<String> = touched.into_iter().collect();
        touched.sort();
        let mut to_subscribe: Vec<(String, QoS)> = Vec::new();
        let mut probes: Vec<String> = Vec::new();
        let v5 = self.config.protocol_version == ProtocolVersion::V5;
        for j in touched {
            let Some(members) = self.plan.members(&j) else {
                continue; // retired by a later change of the same step
            };
            let wanted = members
                .iter()
                .filter_map(|m| self.index.entry(m))
                .map(|e| e.wanted())
                .max()
                .unwrap_or(QoS::AtMostOnce);
            let in_place = self
                .at_broker
                .get(&j)
                .is_some_and(|a| a.confirmed && a.asked >= wanted);
            let due: Vec<(Holder, String)> = if resubscribe {
                members
                    .iter()
                    .filter_map(|m| Some((m, self.index.entry(m)?)))
                    .flat_map(|(m, e)| e.holders.keys().map(|h| (h.clone(), m.clone())))
                    .collect()
            } else {
                newcomers.get(j.as_str()).cloned().unwrap_or_default()
            };
            let narrower = !due.is_empty() && due.iter().all(|(_, f)| *f != j);
            // On MQTT 5 the probe's copies of live messages are told apart by
            // Subscription Identifiers; a broker without them gets none.
            let narrower = narrower && (!v5 || self.limits.subscription_ids);
            if in_place && !resubscribe && narrower {
                // Newcomers under a broker filter in place: the broker is
                // asked only for their own filters (see "Late joiners").
                for (_, f) in &due {
                    if !probes.contains(f) {
                        probes.push(f.clone());
                    }
                }
                self.windows.subscribing(&j, due);
            } else if resubscribe || !due.is_empty() || !in_place {
                self.windows.subscribing(&j, due);
                to_subscribe.push((j, wanted));
            }
        }
        drop(newcomers);
        for j in joining.iter_mut().filter(|j| probes.contains(&j.filter)) {
            j.broker_filter = j.filter.clone();
        }
        for f in probes {
            let qos = self.index.entry(&f).map_or(QoS::AtMostOnce, |e| e.wanted());
            to_subscribe.push((f, qos));
        }

        let futs: Vec<_> = to_subscribe
            .into_iter()
            .map(|(j, qos)| {
                let fut = self.subscribe_at_broker(j.clone(), qos);
                async move { (j, qos, fut.await) }
            })
            .collect();
        let handle = ctx.spawn(
            futures::future::join_all(futs)
                .into_actor(self)
                .map(|results, act, ctx| act.subscribed(results, ctx)),
        );
        self.steps.in_flight = Some(StepInFlight {
            attempt,
            handle,
            joining,
            releasing,
        });
    }

    fn subscribe_at_broker(&self, filter: String, qos: QoS) -> impl Future<Output = Result<QoS>> {
        let id = self.limits.subscription_ids.then(|| {
            if self.plan.contains(&filter) {
                PLAN_ID
            } else {
                PROBE_ID
            }
        });
        let token = subscribe(&self.client, &filter, qos, id);
        let timeout = self.config.request_timeout;
        let ack = self.ack("subscribe", &filter);
        async move {
            let rsp = await_ack(token, timeout, ack).await?;
            QoS::try_from(granted_qos(&rsp)).map_err(|_| MqttError::Refused {
                operation: "subscribe",
                topic: filter,
                reason: format!("SUBACK return code 0x{:02x}", granted_qos(&rsp)),
            })
        }
    }

    /// The SUBSCRIBEs of the step in flight were answered.
    fn subscribed(&mut self, results: Vec<(String, QoS, Result<QoS>)>, ctx: &mut Context<Self>) {
        let Some(step) = self.steps.in_flight.as_mut() else {
            return;
        };
        let attempt = step.attempt;
        let joining = std::mem::take(&mut step.joining);
        let now = Instant::now();
        let mut outcome: HashMap<String, Result<QoS>> = HashMap::new();
        for (j, asked, res) in results {
            // A probe's window is its broker filter's.
            let window = self.plan.broker_filter(&j).unwrap_or(&j).to_string();
            self.windows.acknowledged(&window, now);
            match &res {
                Ok(granted) => {
                    let at = AtBroker {
                        asked,
                        granted: *granted,
                        confirmed: true,
                    };
                    self.at_broker.insert(j.clone(), at);
                    let event = Subscribed {
                        filter: j.clone(),
                        granted: *granted,
                    };
                    handlers::call(&self.handlers.subscribe, &self.me(), &event);
                }
                Err(e) => {
                    self.log(LogLevel::Err, &format!("subscribing {j:?} failed: {e}"));
                    // Unanswered is not refused: the broker may hold it after
                    // all. Unconfirmed, it is unsubscribed once the plan lets go.
                    if !matches!(e, MqttError::Refused { .. }) && !self.at_broker.contains_key(&j) {
                        let at = AtBroker {
                            asked,
                            granted: asked,
                            confirmed: false,
                        };
                        self.at_broker.insert(j.clone(), at);
                    }
                }
            }
            outcome.insert(j, res);
        }

        let mut failed_for_newcomers: HashSet<String> = HashSet::new();
        for x in joining {
            let res = outcome
                .get(&x.broker_filter)
                .cloned()
                .unwrap_or_else(|| Err(self.not_connected()));
            let still_pending = self
                .index
                .entry(&x.filter)
                .and_then(|e| e.holders.get(&x.holder))
                .is_some_and(|h| h.pending == Some(attempt));
            match res {
                Ok(granted) => {
                    if still_pending {
                        let hold = Hold {
                            qos: x.qos,
                            pending: None,
                        };
                        self.index.add(&x.filter, x.holder, hold);
                    }
                    let _ = x.reply.send(Ok(granted.min(x.qos)));
                }
                Err(e) => {
                    if still_pending {
                        self.leave_nothing_behind(&x.filter, &x.holder, x.previous);
                    }
                    failed_for_newcomers.insert(x.broker_filter.clone());
                    let _ = x
                        .reply
                        .send(Err(for_filter(e, &x.filter, &x.broker_filter)));
                }
            }
        }

        // A broker filter subscribed only for holders that already held their
        // filters (after a reconnect, or a split) and refused: they lose them.
        for (j, res) in &outcome {
            let Err(e @ MqttError::Refused { .. }) = res else {
                continue;
            };
            if failed_for_newcomers.contains(j)
                || self.at_broker.get(j).is_some_and(|a| a.confirmed)
            {
                continue;
            }
            self.lose(j, e);
        }
        self.release_extras(ctx);
    }

    /// Takes back a pending hold whose SUBSCRIBE failed.
    fn leave_nothing_behind(&mut self, filter: &str, holder: &Holder, previous: Option<Hold>) {
        match previous {
            Some(hold) => {
                let hold = Hold {
                    pending: None,
                    ..hold
                };
                self.index.add(filter, holder.clone(), hold);
            }
            None => {
                if self.index.remove(filter, holder) == Some(true) {
                    self.steps.released.push(filter.to_string());
                }
            }
        }
    }

    /// Every holder of a filter served by `broker_filter` loses it: told,
    /// and the filters released.
    fn lose(&mut self, broker_filter: &str, error: &MqttError) {
        let Some(members) = self.plan.members(broker_filter).cloned() else {
            return;
        };
        for filter in members {
            let holders: Vec<Holder> = self
                .index
                .entry(&filter)
                .map(|e| e.holders.keys().cloned().collect())
                .unwrap_or_default();
            for holder in holders {
                if self.index.remove(&filter, &holder) == Some(true) {
                    self.steps.released.push(filter.clone());
                }
                let error = for_filter(error.clone(), &filter, broker_filter);
                match &holder {
                    Holder::App => self.log(
                        LogLevel::Err,
                        &format!("the application's subscription to {filter:?} is lost: {error}"),
                    ),
                    Holder::Listener(r) => {
                        self.log(
                            LogLevel::Warning,
                            &format!("a listener's subscription to {filter:?} is lost: {error}"),
                        );
                        if let Some(l) = self.listeners.get(r) {
                            l.tell(ListenerNotice::SubscriptionLost {
                                filter: filter.clone(),
                                error,
                            });
                        }
                    }
                }
            }
        }
    }

    /// Unsubscribes the broker filters the plan no longer has, once every
    /// broker filter of the plan overlapping them is in place; then ends the step.
    fn release_extras(&mut self, ctx: &mut Context<Self>) {
        let mut extras: Vec<String> = Vec::new();
        for e in self.at_broker.keys().filter(|e| !self.plan.contains(e)) {
            let mut covered = true;
            self.plan.for_each_overlap(e, |j| {
                covered &= self.at_broker.get(j).is_some_and(|a| a.confirmed);
            });
            if covered {
                extras.push(e.clone());
            }
        }
        let futs: Vec<_> = extras
            .into_iter()
            .map(|e| {
                let fut = self.unsubscribe_at_broker(e.clone());
                async move { (e, fut.await) }
            })
            .collect();
        let handle = ctx.spawn(
            futures::future::join_all(futs)
                .into_actor(self)
                .map(|results, act, ctx| act.unsubscribed(results, ctx)),
        );
        if let Some(step) = self.steps.in_flight.as_mut() {
            step.handle = handle;
        }
    }

    fn unsubscribe_at_broker(&self, filter: String) -> impl Future<Output = Result<()>> {
        let token = self.client.unsubscribe(filter.clone());
        let timeout = self.config.request_timeout;
        let ack = self.ack("unsubscribe", &filter);
        async move { await_ack(token, timeout, ack).await.map(|_| ()) }
    }

    /// The UNSUBSCRIBEs of the step in flight were answered: the step ends.
    fn unsubscribed(&mut self, results: Vec<(String, Result<()>)>, ctx: &mut Context<Self>) {
        for (filter, res) in results {
            // Either way the filter is not the plan's any more; a failure is
            // logged rather than retried for ever.
            self.at_broker.remove(&filter);
            match res {
                Ok(()) => {
                    let event = Unsubscribed { filter };
                    handlers::call(&self.handlers.unsubscribe, &self.me(), &event);
                }
                Err(e) => self.log(LogLevel::Warning, &format!("unsubscribing {filter:?}: {e}")),
            }
        }
        if let Some(step) = self.steps.in_flight.take() {
            for r in step.releasing {
                let _ = r.send(Ok(()));
            }
        }
        self.run_step(ctx);
    }

    /// The connection was lost: the step in flight is abandoned (its
    /// subscribes fail with `NotConnected` and leave nothing behind), and so
    /// are the requests waiting. The broker subscriptions are forgotten, or,
    /// with a persistent session, kept as unconfirmed until the next step.
    pub(super) fn abandon_steps(&mut self, ctx: &mut Context<Self>) {
        if let Some(step) = self.steps.in_flight.take() {
            ctx.cancel_future(step.handle);
            for x in step.joining {
                let still_pending = self
                    .index
                    .entry(&x.filter)
                    .and_then(|e| e.holders.get(&x.holder))
                    .is_some_and(|h| h.pending == Some(step.attempt));
                if still_pending {
                    self.leave_nothing_behind(&x.filter, &x.holder, x.previous);
                }
                let _ = x.reply.send(Err(self.not_connected()));
            }
            for r in step.releasing {
                let _ = r.send(Ok(()));
            }
        }
        for r in std::mem::take(&mut self.steps.requests) {
            let _ = r.reply.send(Err(self.not_connected()));
        }
        for r in std::mem::take(&mut self.steps.releasing) {
            let _ = r.send(Ok(()));
        }
        if self.config.clean_session {
            self.at_broker.clear();
        } else {
            self.at_broker
                .values_mut()
                .for_each(|a| a.confirmed = false);
        }
    }
}
