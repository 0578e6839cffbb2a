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
    if let Some(rest) = filter.strip_prefix("$share/") {
        let Some((group, inner)) = rest.split_once('/') else {
            return fail("a shared subscription is $share/{group}/{filter}");
        };
        if group.is_empty() || group.contains(['+', '#']) {
            return fail("a share group must be a non-empty name without wildcards");
        }
        if inner.is_empty() {
            return fail("a shared subscription needs a filter after its group");
        }
        return validate_filter(inner).map_err(|_| MqttError::InvalidFilter {
            filter: filter.to_string(),
            reason: "the filter of a shared subscription breaks the wildcard rules",
        });
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

/// The part of a filter that topics are matched against: `$share/{group}/{filter}`
/// (MQTT 5 shared subscriptions, also accepted by Mosquitto for 3.1.1) matches
/// like `{filter}`.
pub(crate) fn match_part(filter: &str) -> &str {
    filter
        .strip_prefix("$share/")
        .and_then(|rest| rest.split_once('/'))
        .map_or(filter, |(_, inner)| inner)
}

/// Filters and their holders, indexed with Paho's `TopicMatcher` so that an
/// incoming topic finds its filters without a scan of every filter. A node
/// holds the filters that match alike (`a/#` and `$share/g/a/#`).
#[derive(Debug)]
pub(crate) struct Index<H> {
    matcher: TopicMatcher<HashMap<String, Entry<H>>>,
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
    fn entry_mut(&mut self, filter: &str) -> Option<&mut Entry<H>> {
        self.matcher.get_mut(match_part(filter))?.get_mut(filter)
    }

    /// Adds (or updates) `holder` on `filter`.
    pub fn add(&mut self, filter: &str, holder: H, qos: QoS) -> Change {
        self.by_holder
            .entry(holder.clone())
            .or_default()
            .insert(filter.to_string());
        let key = match_part(filter);
        if self.matcher.get(key).is_none() {
            self.matcher.insert(key, HashMap::new());
        }
        let node = self.matcher.get_mut(key).expect("node inserted above");
        let entry = node.entry(filter.to_string()).or_insert_with(|| Entry {
            holders: HashMap::new(),
            granted: None,
        });
        entry.holders.insert(holder, qos);
        match entry.granted {
            Some(granted) if granted >= entry.wanted() => Change::AlreadyGranted(granted),
            _ => Change::SubscribeAt(entry.wanted()),
        }
    }

    /// Removes `holder` from `filter`; `None` when it did not hold it.
    pub fn remove(&mut self, filter: &str, holder: &H) -> Option<Change> {
        let entry = self.entry_mut(filter)?;
        entry.holders.remove(holder)?;
        let now_empty = entry.holders.is_empty();
        if let Some(set) = self.by_holder.get_mut(holder) {
            set.remove(filter);
            if set.is_empty() {
                self.by_holder.remove(holder);
            }
        }
        if !now_empty {
            return Some(Change::Nothing);
        }
        let key = match_part(filter);
        if let Some(node) = self.matcher.get_mut(key) {
            node.remove(filter);
            if node.is_empty() {
                self.matcher.remove(key);
            }
        }
        Some(Change::Unsubscribe)
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
        let holders: Vec<H> = match self.entry_mut(filter) {
            Some(e) => e.holders.keys().cloned().collect(),
            None => return,
        };
        for h in holders {
            self.remove(filter, &h);
        }
    }

    /// Records the QoS the broker granted for `filter`.
    pub fn set_granted(&mut self, filter: &str, granted: Option<QoS>) {
        if let Some(entry) = self.entry_mut(filter) {
            entry.granted = granted;
        }
    }

    /// Forgets every grant (the connection was lost).
    pub fn clear_grants(&mut self) {
        for (_, node) in self.matcher.iter_mut() {
            node.values_mut().for_each(|e| e.granted = None);
        }
    }

    /// Whether `holder` holds any filter.
    pub fn holds(&self, holder: &H) -> bool {
        self.by_holder.contains_key(holder)
    }

    /// Every holder known to the index.
    pub fn holders(&self) -> impl Iterator<Item = &H> {
        self.by_holder.keys()
    }

    /// Every filter with its entry.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &Entry<H>)> {
        self.matcher
            .iter()
            .flat_map(|(_, node)| node.iter().map(|(f, e)| (f.as_str(), e)))
    }

    /// The distinct holders of every filter that matches `topic`: each once,
    /// however many of its filters match.
    pub fn holders_matching(&self, topic: &str) -> HashSet<&H> {
        self.matcher
            .matches(topic)
            .flat_map(|(_, node)| node.values())
            .flat_map(|entry| entry.holders.keys())
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
        assert!(idx.holds(&3));
        assert_eq!(idx.remove_holder(&3), vec!["a/#".to_string()]);
        assert!(!idx.holds(&3));
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
    fn shared_subscriptions_validate_and_match_like_their_filter() {
        for ok in ["$share/g/a/#", "$share/workers/+/jobs"] {
            assert!(validate_filter(ok).is_ok(), "{ok}");
        }
        for bad in [
            "$share/",
            "$share/g",
            "$share//a",
            "$share/g+/a",
            "$share/g/a/#/b",
        ] {
            assert!(validate_filter(bad).is_err(), "{bad:?}");
        }
        let mut idx = Index::default();
        idx.add("$share/g/jobs/#", 1, QoS::AtMostOnce);
        idx.add("jobs/#", 2, QoS::AtMostOnce);
        let mut got: Vec<_> = idx
            .holders_matching("jobs/7")
            .into_iter()
            .copied()
            .collect();
        got.sort();
        assert_eq!(got, vec![1, 2]);
        assert_eq!(idx.remove("$share/g/jobs/#", &1), Some(Change::Unsubscribe));
        assert_eq!(
            idx.entries().map(|(f, _)| f).collect::<Vec<_>>(),
            ["jobs/#"]
        );
    }

    #[test]
    fn leading_wildcards_do_not_match_dollar_topics() {
        let mut idx = Index::default();
        idx.add("#", 1, QoS::AtMostOnce);
        idx.add("+/x", 2, QoS::AtMostOnce);
        assert!(idx.holders_matching("$SYS/x").is_empty());
    }
}
