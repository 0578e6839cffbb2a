//! The bookkeeping of subscription steps (see "Steps" in
//! `subscriptions.rs`): what waits for the next step, the step in flight,
//! and the broker subscriptions as the broker acknowledged them. Plain state.

use actix::prelude::*;
use futures::channel::oneshot;

use super::listeners::Holder;
use crate::error::Result;
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

    pub fn has_work(&self) -> bool {
        !self.requests.is_empty()
            || !self.released.is_empty()
            || !self.releasing.is_empty()
            || self.resubscribe
    }
}
