//! Topic and filter validation (MQTT 3.1.1 / 5 rules) and the index of who holds which filter.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

use paho_mqtt::TopicMatcher;

use crate::error::{MqttError, Result};
use crate::messages::QoS;

const MAX_TOPIC_LEN: usize = 65535;

/// Checks a topic name used for publishing: not empty, no wildcards, no NUL,
/// at most 65535 bytes.
pub fn validate_topic(topic: &str) -> Result<()> {
    let fail = |reason| {
        Err(MqttError::InvalidTopic {
            topic: topic.to_string(),
            reason,
        })
    };
    if topic.is_empty() {
        return fail("a topic must not be empty");
    }
    if topic.len() > MAX_TOPIC_LEN {
        return fail("a topic must not be longer than 65535 bytes");
    }
    if topic.contains('\0') {
        return fail("a topic must not contain NUL");
    }
    if topic.contains(['+', '#']) {
        return fail("wildcards '+' and '#' are only allowed in subscription filters");
    }
    Ok(())
}

/// Checks a topic filter used for subscribing: not empty, no NUL, at most 65535
/// bytes, `+` and `#` only as whole levels, `#` only last.
pub fn validate_filter(filter: &str) -> Result<()> {
    let fail = |reason| {
        Err(MqttError::InvalidFilter {
            filter: filter.to_string(),
            reason,
        })
    };
    if filter.is_empty() {
        return fail("a filter must not be empty");
    }
    if filter.len() > MAX_TOPIC_LEN {
        return fail("a filter must not be longer than 65535 bytes");
    }
    if filter.contains('\0') {
        return fail("a filter must not contain NUL");
    }
    let levels: Vec<&str> = filter.split('/').collect();
    for (i, level) in levels.iter().enumerate() {
        if level.contains('#') && (*level != "#" || i + 1 != levels.len()) {
            return fail("'#' must be a whole level and the last one");
        }
        if level.contains('+') && *level != "+" {
            return fail("'+' must be a whole level");
        }
    }
    Ok(())
}

/// One filter held at the broker: its QoS and who holds it.
#[derive(Debug)]
pub(crate) struct Entry<H> {
    /// The QoS each holder asked for; the broker subscription uses the highest.
    pub holders: HashMap<H, QoS>,
    /// The QoS the broker granted, once it acknowledged.
    pub granted: Option<QoS>,
}

impl<H> Entry<H> {
    /// The QoS to ask the broker for: the highest any holder wants.
    pub fn wanted(&self) -> QoS {
        self.holders
            .values()
            .copied()
            .max()
            .unwrap_or(QoS::AtMostOnce)
    }
}

/// What changed at the broker level after adding or removing a holder.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Change {
    /// The broker must be (re-)asked for this filter at this QoS.
    SubscribeAt(QoS),
    /// The broker already serves this filter at a sufficient QoS.
    AlreadyGranted(QoS),
    /// The last holder let go: unsubscribe at the broker.
    Unsubscribe,
    /// Nothing to do at the broker.
    Nothing,
}

/// Filters and their holders, indexed with Paho's `TopicMatcher` so that an
/// incoming topic finds its filters without a scan of every filter.
#[derive(Debug)]
pub(crate) struct Index<H> {
    matcher: TopicMatcher<Entry<H>>,
    by_holder: HashMap<H, HashSet<String>>,
}

impl<H: Clone + Eq + Hash> Default for Index<H> {
    fn default() -> Self {
        Index {
            matcher: TopicMatcher::new(),
            by_holder: HashMap::new(),
        }
    }
}

impl<H: Clone + Eq + Hash> Index<H> {
    /// Adds (or updates) `holder` on `filter`.
    pub fn add(&mut self, filter: &str, holder: H, qos: QoS) -> Change {
        self.by_holder
            .entry(holder.clone())
            .or_default()
            .insert(filter.to_string());
        if self.matcher.get(filter).is_none() {
            self.matcher.insert(
                filter,
                Entry {
                    holders: HashMap::new(),
                    granted: None,
                },
            );
        }
        let entry = self.matcher.get_mut(filter).expect("entry inserted above");
        entry.holders.insert(holder, qos);
        match entry.granted {
            Some(granted) if granted >= entry.wanted() => Change::AlreadyGranted(granted),
            _ => Change::SubscribeAt(entry.wanted()),
        }
    }

    /// Removes `holder` from `filter`; `None` when it did not hold it.
    pub fn remove(&mut self, filter: &str, holder: &H) -> Option<Change> {
        let entry = self.matcher.get_mut(filter)?;
        entry.holders.remove(holder)?;
        if let Some(set) = self.by_holder.get_mut(holder) {
            set.remove(filter);
            if set.is_empty() {
                self.by_holder.remove(holder);
            }
        }
        if entry.holders.is_empty() {
            self.matcher.remove(filter);
            Some(Change::Unsubscribe)
        } else {
            Some(Change::Nothing)
        }
    }

    /// Removes `holder` from every filter; returns the filters nobody holds any more.
    pub fn remove_holder(&mut self, holder: &H) -> Vec<String> {
        let filters = self.by_holder.get(holder).cloned().unwrap_or_default();
        filters
            .into_iter()
            .filter(|f| self.remove(f, holder) == Some(Change::Unsubscribe))
            .collect()
    }

    /// Drops `filter` with all its holders.
    pub fn remove_filter(&mut self, filter: &str) {
        let holders: Vec<H> = match self.matcher.get(filter) {
            Some(e) => e.holders.keys().cloned().collect(),
            None => return,
        };
        for h in holders {
            self.remove(filter, &h);
        }
    }

    /// Records the QoS the broker granted for `filter`.
    pub fn set_granted(&mut self, filter: &str, granted: Option<QoS>) {
        if let Some(entry) = self.matcher.get_mut(filter) {
            entry.granted = granted;
        }
    }

    /// Forgets every grant (the connection was lost).
    pub fn clear_grants(&mut self) {
        for (_, entry) in self.matcher.iter_mut() {
            entry.granted = None;
        }
    }

    /// Every holder known to the index.
    pub fn holders(&self) -> impl Iterator<Item = &H> {
        self.by_holder.keys()
    }

    /// Every filter with its entry.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &Entry<H>)> {
        self.matcher.iter()
    }

    /// The distinct holders of every filter that matches `topic`: each once,
    /// however many of its filters match.
    pub fn holders_matching(&self, topic: &str) -> HashSet<&H> {
        self.matcher
            .matches(topic)
            .flat_map(|(_, entry)| entry.holders.keys())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_with_wildcards_nul_or_nothing_are_rejected() {
        assert!(validate_topic("a/b").is_ok());
        assert!(validate_topic("").is_err());
        assert!(validate_topic("a/+").is_err());
        assert!(validate_topic("a/#").is_err());
        assert!(validate_topic("a\0b").is_err());
        assert!(validate_topic(&"x".repeat(65536)).is_err());
    }

    #[test]
    fn filters_follow_the_wildcard_rules() {
        for ok in ["a/b", "#", "+", "a/+/c", "a/#", "+/+/#", "$SYS/#"] {
            assert!(validate_filter(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a/#/c", "a#", "a/b+", "a/+b/c", "#/a", "a\0"] {
            assert!(validate_filter(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_filter_is_subscribed_once_and_released_after_its_last_holder() {
        let mut idx = Index::default();
        assert_eq!(
            idx.add("a/#", 1, QoS::AtMostOnce),
            Change::SubscribeAt(QoS::AtMostOnce)
        );
        idx.set_granted("a/#", Some(QoS::AtMostOnce));
        assert_eq!(
            idx.add("a/#", 2, QoS::AtMostOnce),
            Change::AlreadyGranted(QoS::AtMostOnce)
        );
        assert_eq!(
            idx.add("a/#", 3, QoS::ExactlyOnce),
            Change::SubscribeAt(QoS::ExactlyOnce)
        );
        assert_eq!(idx.remove("a/#", &1), Some(Change::Nothing));
        assert_eq!(idx.remove("a/#", &1), None);
        assert_eq!(idx.remove_holder(&2), Vec::<String>::new());
        assert_eq!(idx.remove_holder(&3), vec!["a/#".to_string()]);
        assert_eq!(idx.entries().count(), 0);
    }

    #[test]
    fn overlapping_filters_yield_each_holder_once() {
        let mut idx = Index::default();
        idx.add("s/#", 1, QoS::AtMostOnce);
        idx.add("s/+/t", 1, QoS::AtMostOnce);
        idx.add("s/x/t", 2, QoS::AtMostOnce);
        idx.add("other", 3, QoS::AtMostOnce);
        let mut got: Vec<_> = idx.holders_matching("s/x/t").into_iter().copied().collect();
        got.sort();
        assert_eq!(got, vec![1, 2]);
        assert!(idx.holders_matching("$SYS/x").is_empty());
    }

    #[test]
    fn leading_wildcards_do_not_match_dollar_topics() {
        let mut idx = Index::default();
        idx.add("#", 1, QoS::AtMostOnce);
        idx.add("+/x", 2, QoS::AtMostOnce);
        assert!(idx.holders_matching("$SYS/x").is_empty());
    }
}
