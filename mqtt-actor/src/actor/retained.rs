//! Retained windows: which holders are due the retained messages a
//! SUBSCRIBE brings (see "Retained messages" in `delivery.rs`). Plain state;
//! the caller passes the time.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::time::{Duration, Instant};

/// The Subscription Identifier of the broker subscriptions of the plan
/// (MQTT 5, when the broker takes identifiers).
pub(crate) const PLAN_ID: i32 = 1;
/// The Subscription Identifier of the SUBSCRIBE that asks the broker for a
/// newcomer's own filter under a broker filter already in place.
pub(crate) const PROBE_ID: i32 = 2;

/// Whether a message is the second copy a broker sends because a probe's
/// SUBSCRIBE matches it too (MQTT 5 brokers send one PUBLISH per matching
/// subscription): it came through the probe alone and is not one of the
/// retained messages the probe asked for. The copy through the plan's
/// subscription (or a single copy naming both) is delivered.
pub(crate) fn is_probe_copy(ids: &[i32], retain: bool) -> bool {
    !retain && ids.contains(&PROBE_ID) && !ids.contains(&PLAN_ID)
}

/// How long a retained window stays open after its SUBACK, and after each
/// retained message that came through it.
pub(crate) const RETAINED_QUIET: Duration = Duration::from_secs(1);

/// One holder due the retained messages of a broker filter.
#[derive(Debug, Default)]
struct Due {
    /// The holder's filters under the broker filter the SUBSCRIBE was for.
    filters: Vec<String>,
    /// Topics whose retained message it already got in this window.
    served: HashSet<String>,
}

#[derive(Debug)]
struct Window<H> {
    due: HashMap<H, Due>,
    /// `None` until the SUBACK was handled; then when the window closes.
    closes: Option<Instant>,
}

/// The open retained windows, per broker filter (see the module docs). Plain
/// state; the caller passes the time.
#[derive(Debug)]
pub(crate) struct RetainedWindows<H> {
    open: HashMap<String, Window<H>>,
}

impl<H> Default for RetainedWindows<H> {
    fn default() -> Self {
        RetainedWindows {
            open: HashMap::new(),
        }
    }
}

impl<H: Clone + Eq + Hash> RetainedWindows<H> {
    /// A SUBSCRIBE of `broker_filter` is sent for `due` (holder, filter)
    /// pairs: opens its window, or keeps it open until this SUBACK too.
    pub fn subscribing(&mut self, broker_filter: &str, due: impl IntoIterator<Item = (H, String)>) {
        let w = self
            .open
            .entry(broker_filter.to_string())
            .or_insert_with(|| Window {
                due: HashMap::new(),
                closes: None,
            });
        w.closes = None;
        for (h, filter) in due {
            let d = w.due.entry(h).or_default();
            if !d.filters.contains(&filter) {
                d.filters.push(filter);
            }
        }
    }

    /// The SUBACK (or the failure) of `broker_filter`'s SUBSCRIBE was handled.
    pub fn acknowledged(&mut self, broker_filter: &str, now: Instant) {
        if let Some(w) = self.open.get_mut(broker_filter) {
            w.closes = Some(now + RETAINED_QUIET);
        }
    }

    /// Whether any window is open (the cheap test on every retained message).
    pub fn any(&self) -> bool {
        !self.open.is_empty()
    }

    /// For a retained message on `topic` that reached `holder` through
    /// `filter`, served by `broker_filter`: `None` when no window is open
    /// there (deliver as usual), else whether to deliver it.
    pub fn admit(
        &mut self,
        broker_filter: &str,
        holder: &H,
        filter: &str,
        topic: &str,
        now: Instant,
    ) -> Option<bool> {
        let w = self.open.get_mut(broker_filter)?;
        if w.closes.is_some_and(|t| now > t) {
            self.open.remove(broker_filter);
            return None;
        }
        if let Some(t) = &mut w.closes {
            *t = now + RETAINED_QUIET;
        }
        let Some(d) = w.due.get_mut(holder) else {
            return Some(false);
        };
        let mine = d.filters.iter().any(|f| f == filter);
        Some(mine && d.served.insert(topic.to_string()))
    }

    /// Forgets `holder` (it let go or stopped).
    pub fn forget(&mut self, holder: &H) {
        for w in self.open.values_mut() {
            w.due.remove(holder);
        }
    }

    /// Drops the windows that closed.
    pub fn sweep(&mut self, now: Instant) {
        self.open
            .retain(|_, w| !matches!(w.closes, Some(t) if now > t));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_live_copies_through_the_probe_alone_are_dropped() {
        assert!(is_probe_copy(&[PROBE_ID], false));
        assert!(
            !is_probe_copy(&[PROBE_ID], true),
            "what the probe asked for"
        );
        assert!(!is_probe_copy(&[PLAN_ID], false));
        assert!(!is_probe_copy(&[PLAN_ID, PROBE_ID], false), "a single copy");
        assert!(!is_probe_copy(&[], false), "MQTT 3.1.1: no identifiers");
    }

    #[test]
    fn a_retained_window_serves_only_its_due_holders_once_per_topic() {
        let t0 = Instant::now();
        let mut w: RetainedWindows<u32> = RetainedWindows::default();
        assert_eq!(
            w.admit("d/#", &1, "d/#", "d/x", t0),
            None,
            "no window: deliver"
        );
        w.subscribing("d/#", [(2, "d/+".to_string())]);
        assert_eq!(w.admit("d/#", &1, "d/#", "d/x", t0), Some(false), "not due");
        assert_eq!(w.admit("d/#", &2, "d/+", "d/x", t0), Some(true));
        assert_eq!(
            w.admit("d/#", &2, "d/+", "d/x", t0),
            Some(false),
            "once per topic"
        );
        assert_eq!(w.admit("other", &2, "d/+", "d/x", t0), None);
        w.acknowledged("d/#", t0);
        let later = t0 + RETAINED_QUIET / 2;
        assert_eq!(w.admit("d/#", &2, "d/+", "d/y", later), Some(true));
        // Each retained message keeps the window open a while longer.
        let still = later + RETAINED_QUIET / 2 + Duration::from_millis(1);
        assert_eq!(w.admit("d/#", &1, "d/#", "d/z", still), Some(false));
        w.sweep(still + RETAINED_QUIET * 2);
        assert!(!w.any(), "closed windows go");
        assert_eq!(w.admit("d/#", &1, "d/#", "d/z", still), None);
    }

    #[test]
    fn a_due_holder_gets_nothing_outside_its_own_filter() {
        let t0 = Instant::now();
        let mut w: RetainedWindows<u32> = RetainedWindows::default();
        w.subscribing("+/#", [(1, "a/#".to_string())]);
        assert_eq!(w.admit("+/#", &1, "+/b", "c/b", t0), Some(false));
        assert_eq!(w.admit("+/#", &1, "a/#", "a/b", t0), Some(true));
        w.forget(&1);
        assert_eq!(w.admit("+/#", &1, "a/#", "a/c", t0), Some(false));
    }
}
