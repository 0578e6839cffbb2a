//! The bookkeeping of subscription steps (see "Steps" in
//! `subscriptions.rs`): what waits for the next step, the step in flight,
//! and the broker subscriptions as the broker acknowledged them. Plain state.

use actix::prelude::*;
use futures::channel::oneshot;

use super::listeners::Holder;
use crate::error::{MqttError, Result};
use crate::qos::QoS;
use crate::topic::Hold;

/// A broker subscription, as the broker acknowledged it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AtBroker {
    /// The QoS the SUBSCRIBE asked for.
    pub asked: QoS,
    /// The QoS the broker granted.
    pub granted: QoS,
    /// Acknowledged on the current connection (a persistent session may keep
    /// subscriptions of an earlier one that are not confirmed yet).
    pub confirmed: bool,
}

/// A `Subscribe` waiting for the next step.
pub(super) struct Queued {
    pub(super) filter: String,
    pub(super) holder: Holder,
    pub(super) qos: QoS,
    pub(super) reply: oneshot::Sender<Result<QoS>>,
}

/// A `Subscribe` the step in flight answers.
pub(super) struct Joining {
    pub(super) filter: String,
    pub(super) holder: Holder,
    pub(super) qos: QoS,
    /// The broker filter whose SUBSCRIBE decides.
    pub(super) broker_filter: String,
    /// The holder's hold on the filter before, restored if this one fails.
    pub(super) previous: Option<Hold>,
    pub(super) reply: oneshot::Sender<Result<QoS>>,
}

/// The step in flight.
pub(super) struct StepInFlight {
    pub(super) attempt: u64,
    pub(super) handle: SpawnHandle,
    pub(super) joining: Vec<Joining>,
    /// Callers of `Unsubscribe` / `UnsubscribeAll` waiting for the broker.
    pub(super) releasing: Vec<oneshot::Sender<Result<()>>>,
}

/// What waits for the next step, and the step in flight.
#[derive(Default)]
pub(crate) struct Steps {
    pub(super) requests: Vec<Queued>,
    /// Filters nobody holds any more, to take out of the plan.
    pub(super) released: Vec<String>,
    /// Callers waiting for the broker to let go of released filters.
    pub(super) releasing: Vec<oneshot::Sender<Result<()>>>,
    /// A new connection: every broker filter is subscribed again, and every
    /// holder is due its retained messages.
    pub(super) resubscribe: bool,
    pub(super) in_flight: Option<StepInFlight>,
    pub(super) attempts: u64,
}

impl Steps {
    /// A new connection: the next step subscribes every broker filter again.
    pub fn resubscribe_all(&mut self) {
        self.resubscribe = true;
    }

    /// Whether a `Subscribe` of `holder` waits for a step or is being answered.
    pub fn asking(&self, holder: &Holder) -> bool {
        self.requests.iter().any(|r| r.holder == *holder)
            || self
                .in_flight
                .as_ref()
                .is_some_and(|s| s.joining.iter().any(|j| j.holder == *holder))
    }

    /// The holders of `Subscribe`s waiting for the next step.
    pub fn queued_holders(&self) -> impl Iterator<Item = &Holder> {
        self.requests.iter().map(|r| &r.holder)
    }

    /// Takes `holder`'s `Subscribe`s waiting for the next step out of it,
    /// those for `filter` (all of them with `None`), and answers each with
    /// [`MqttError::Withdrawn`]: a later `Unsubscribe` or `UnsubscribeAll`
    /// of the same holder comes first (see "In mailbox order" in
    /// `subscriptions.rs`). Whether there was any.
    pub fn withdraw(&mut self, holder: &Holder, filter: Option<&str>) -> bool {
        let (withdrawn, kept): (Vec<Queued>, Vec<Queued>) = std::mem::take(&mut self.requests)
            .into_iter()
            .partition(|r| r.holder == *holder && filter.is_none_or(|f| r.filter == f));
        self.requests = kept;
        let any = !withdrawn.is_empty();
        for r in withdrawn {
            let _ = r.reply.send(Err(MqttError::Withdrawn { filter: r.filter }));
        }
        any
    }

    pub fn has_work(&self) -> bool {
        !self.requests.is_empty()
            || !self.released.is_empty()
            || !self.releasing.is_empty()
            || self.resubscribe
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::MqttMessage;

    /// A listener that drops what it gets: only its address matters here.
    struct Nobody;

    impl Actor for Nobody {
        type Context = Context<Self>;
    }

    impl Handler<MqttMessage> for Nobody {
        type Result = ();
        fn handle(&mut self, _: MqttMessage, _: &mut Context<Self>) {}
    }

    /// Queues a `Subscribe` of `filter` by `holder`; its answer.
    fn queue(steps: &mut Steps, holder: &Holder, filter: &str) -> oneshot::Receiver<Result<QoS>> {
        let (reply, answer) = oneshot::channel();
        steps.requests.push(Queued {
            filter: filter.to_string(),
            holder: holder.clone(),
            qos: QoS::AtLeastOnce,
            reply,
        });
        answer
    }

    fn withdrawn(filter: &str) -> Option<Result<QoS>> {
        Some(Err(MqttError::Withdrawn {
            filter: filter.to_string(),
        }))
    }

    #[actix_rt::test]
    async fn an_unsubscribe_withdraws_its_holders_waiting_subscribes_of_that_filter_only() {
        let listener = Holder::Listener(Nobody.start().recipient());
        let mut steps = Steps::default();
        let mut f1 = queue(&mut steps, &listener, "f");
        let mut f2 = queue(&mut steps, &listener, "f");
        let mut g = queue(&mut steps, &listener, "g");
        let mut app_f = queue(&mut steps, &Holder::App, "f");

        assert!(steps.withdraw(&listener, Some("f")));
        assert_eq!(f1.try_recv().ok().flatten(), withdrawn("f"));
        assert_eq!(f2.try_recv().ok().flatten(), withdrawn("f"));
        assert_eq!(g.try_recv(), Ok(None), "another filter waits on");
        assert_eq!(app_f.try_recv(), Ok(None), "another holder's waits on");
        let left: Vec<_> = steps.requests.iter().map(|r| r.filter.as_str()).collect();
        assert_eq!(left, ["g", "f"]);
        assert!(
            !steps.withdraw(&listener, Some("f")),
            "nothing left to withdraw"
        );
    }

    #[actix_rt::test]
    async fn an_unsubscribe_all_withdraws_every_waiting_subscribe_of_its_holder() {
        let listener = Holder::Listener(Nobody.start().recipient());
        let mut steps = Steps::default();
        let mut f = queue(&mut steps, &listener, "f");
        let mut app_f = queue(&mut steps, &Holder::App, "f");
        let mut g = queue(&mut steps, &listener, "g");

        assert!(steps.withdraw(&listener, None));
        assert_eq!(f.try_recv().ok().flatten(), withdrawn("f"));
        assert_eq!(g.try_recv().ok().flatten(), withdrawn("g"));
        assert_eq!(app_f.try_recv(), Ok(None));
        assert!(steps.asking(&Holder::App));
        assert!(!steps.asking(&listener));
        assert_eq!(steps.queued_holders().count(), 1);
        assert!(!steps.withdraw(&listener, None));
    }
}
