//! The broker plan: which broker subscriptions serve the held filters.
//!
//! Brokers differ on overlapping subscriptions: Mosquitto with MQTT 3.1.1
//! sends one PUBLISH per client, but Mosquitto with MQTT 5 and rumqttd send
//! one per matching subscription, so a client holding `d/#` and `d/+` would
//! get a message on `d/x` twice, and could not tell a copy from a second
//! publish of the same payload. The plan keeps **no two broker subscriptions
//! that overlap** (no topic matches both), so every broker sends each message
//! once, whatever its version:
//!
//! - Held filters that overlap, directly or through others, form a *group*,
//!   served by one broker subscription: the [`join`] of its members, which
//!   covers each of them (`d/#` for `d/#` and `d/+`; `+/#` for `a/#` and
//!   `+/b`). A group of one filter is served by the filter itself.
//! - A filter that overlaps no other is its own group, so in the common case
//!   the broker sees exactly the filters that are held.
//! - The join may be wider than the union of its members (`+/#` also matches
//!   `c/d`): the broker sends those messages, and the actor, which routes
//!   by the held filters, hands them to nobody.
//! - Shared subscriptions (`$share/...`) are never joined: the broker hands
//!   each of their messages to one member of the share group, which a wider
//!   filter would not do.
//!
//! When a filter leaves, its group is split again into the groups its
//! remaining members form. Plain state, no I/O: [`Plan::add`] and
//! [`Plan::remove`] say which broker filters are created and retired, and the
//! actor's `subscriptions.rs` subscribes and unsubscribes accordingly.

use std::collections::{HashMap, HashSet};

use crate::topic::{is_shared, join, Trie};

/// Broker filters created and retired by one change of the plan.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Changes {
    /// Broker filters that must now be subscribed.
    pub created: Vec<String>,
    /// Broker filters that no longer serve anything, once the created ones are
    /// in place.
    pub retired: Vec<String>,
}

/// The groups of held filters and the broker filter serving each.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// The broker filters that are not shared, for overlap queries.
    trie: Trie<String>,
    /// Broker filter → the held filters it serves.
    groups: HashMap<String, HashSet<String>>,
    /// Held filter → the broker filter serving it.
    group_of: HashMap<String, String>,
}

impl Plan {
    /// The broker filter serving `filter`.
    pub fn broker_filter(&self, filter: &str) -> Option<&str> {
        self.group_of.get(filter).map(String::as_str)
    }

    /// Every broker filter with the held filters it serves.
    pub fn groups(&self) -> impl Iterator<Item = (&str, &HashSet<String>)> {
        self.groups.iter().map(|(j, m)| (j.as_str(), m))
    }

    /// The held filters `broker_filter` serves.
    pub fn members(&self, broker_filter: &str) -> Option<&HashSet<String>> {
        self.groups.get(broker_filter)
    }

    /// Calls `f` with every broker filter of the plan that overlaps `filter`
    /// (shared ones only when `filter` is the same).
    pub fn for_each_overlap(&self, filter: &str, mut f: impl FnMut(&str)) {
        if is_shared(filter) {
            if self.groups.contains_key(filter) {
                f(filter);
            }
            return;
        }
        self.trie.for_each_overlap(filter, |j| f(j));
    }

    /// Whether `broker_filter` is in the plan.
    pub fn contains(&self, broker_filter: &str) -> bool {
        self.groups.contains_key(broker_filter)
    }

    /// Takes in a newly held filter: it joins the groups it overlaps.
    pub fn add(&mut self, filter: &str) -> Changes {
        if self.group_of.contains_key(filter) {
            return Changes::default();
        }
        if is_shared(filter) {
            self.group_of.insert(filter.to_string(), filter.to_string());
            self.groups
                .insert(filter.to_string(), HashSet::from([filter.to_string()]));
            return Changes {
                created: vec![filter.to_string()],
                retired: Vec::new(),
            };
        }
        // Each join may overlap more groups: widen until it overlaps none
        // besides the ones already taken in.
        let mut joined = filter.to_string();
        let mut merged: Vec<String> = Vec::new();
        loop {
            let mut found: Vec<String> = Vec::new();
            self.trie.for_each_overlap(&joined, |j| {
                if !merged.contains(j) && !found.contains(j) {
                    found.push(j.clone());
                }
            });
            if found.is_empty() {
                break;
            }
            for j in found {
                joined = join(&joined, &j);
                merged.push(j);
            }
        }
        let mut members = HashSet::from([filter.to_string()]);
        for j in &merged {
            self.trie.remove(j);
            members.extend(self.groups.remove(j).unwrap_or_default());
        }
        self.insert_group(joined.clone(), members);
        let existed = merged.contains(&joined);
        Changes {
            created: if existed {
                Vec::new()
            } else {
                vec![joined.clone()]
            },
            retired: merged.into_iter().filter(|j| *j != joined).collect(),
        }
    }

    fn insert_group(&mut self, broker_filter: String, members: HashSet<String>) {
        for m in &members {
            self.group_of.insert(m.clone(), broker_filter.clone());
        }
        *self.trie.get_or_insert_with(&broker_filter, String::new) = broker_filter.clone();
        self.groups.insert(broker_filter, members);
    }

    /// Lets go of a filter nobody holds any more: its group shrinks, and
    /// splits when the filter was what joined its parts.
    pub fn remove(&mut self, filter: &str) -> Changes {
        let Some(j) = self.group_of.remove(filter) else {
            return Changes::default();
        };
        let Some(members) = self.groups.get_mut(&j) else {
            return Changes::default();
        };
        members.remove(filter);
        if members.is_empty() {
            self.groups.remove(&j);
            if !is_shared(&j) {
                self.trie.remove(&j);
            }
            return Changes {
                created: Vec::new(),
                retired: vec![j],
            };
        }
        if members.contains(&j) {
            // A member is the join itself: the group cannot narrow.
            return Changes::default();
        }
        let mut parts = Plan::default();
        let mut sorted: Vec<&String> = members.iter().collect();
        sorted.sort();
        for m in sorted {
            parts.add(m);
        }
        if parts.groups.len() == 1 && parts.groups.contains_key(&j) {
            return Changes::default();
        }
        let members = self.groups.remove(&j).unwrap_or_default();
        self.trie.remove(&j);
        for m in &members {
            self.group_of.remove(m);
        }
        let mut created = Vec::new();
        for (part, part_members) in parts.groups {
            created.push(part.clone());
            self.insert_group(part, part_members);
        }
        created.sort();
        Changes {
            created,
            retired: vec![j],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changes(created: &[&str], retired: &[&str]) -> Changes {
        Changes {
            created: created.iter().map(|s| s.to_string()).collect(),
            retired: retired.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn broker_filters(plan: &Plan) -> Vec<&str> {
        let mut v: Vec<&str> = plan.groups().map(|(j, _)| j).collect();
        v.sort();
        v
    }

    #[test]
    fn filters_that_overlap_nothing_are_their_own_broker_subscription() {
        let mut p = Plan::default();
        assert_eq!(p.add("a/b"), changes(&["a/b"], &[]));
        assert_eq!(p.add("a/c"), changes(&["a/c"], &[]));
        assert_eq!(p.add("a/b"), Changes::default(), "already in");
        assert_eq!(broker_filters(&p), ["a/b", "a/c"]);
        assert_eq!(p.remove("a/b"), changes(&[], &["a/b"]));
        assert_eq!(p.remove("a/b"), Changes::default());
    }

    #[test]
    fn a_covered_filter_rides_on_the_filter_that_covers_it() {
        let mut p = Plan::default();
        p.add("d/#");
        assert_eq!(p.add("d/+"), Changes::default());
        assert_eq!(p.broker_filter("d/+"), Some("d/#"));
        assert_eq!(p.remove("d/#"), changes(&["d/+"], &["d/#"]));
        assert_eq!(broker_filters(&p), ["d/+"]);
    }

    #[test]
    fn a_covering_filter_takes_over_the_ones_it_covers() {
        let mut p = Plan::default();
        p.add("d/+");
        p.add("d/x/y");
        p.add("e");
        let mut c = p.add("d/#");
        c.retired.sort();
        assert_eq!(c, changes(&["d/#"], &["d/+", "d/x/y"]));
        assert_eq!(broker_filters(&p), ["d/#", "e"]);
        assert_eq!(p.remove("d/x/y"), Changes::default(), "d/# itself is held");
    }

    #[test]
    fn partly_overlapping_filters_are_joined_and_split_again() {
        let mut p = Plan::default();
        p.add("a/#");
        p.add("c/d");
        let mut c = p.add("+/b");
        c.retired.sort();
        assert_eq!(
            c,
            changes(&["+/#"], &["a/#", "c/d"]),
            "+/# overlaps c/d too"
        );
        assert_eq!(broker_filters(&p), ["+/#"]);
        assert_eq!(p.remove("+/b"), changes(&["a/#", "c/d"], &["+/#"]));
        assert_eq!(p.broker_filter("c/d"), Some("c/d"));
    }

    #[test]
    fn shared_and_dollar_filters_stay_apart() {
        let mut p = Plan::default();
        p.add("#");
        assert_eq!(p.add("$SYS/x"), changes(&["$SYS/x"], &[]));
        assert_eq!(p.add("$share/g/a"), changes(&["$share/g/a"], &[]));
        assert_eq!(broker_filters(&p), ["#", "$SYS/x", "$share/g/a"]);
        assert_eq!(p.remove("$share/g/a"), changes(&[], &["$share/g/a"]));
    }

    #[test]
    fn no_two_broker_filters_ever_overlap() {
        let filters = [
            "a/b", "a/+", "+/b", "a/#", "c", "c/+/e", "+/d/e", "$SYS/#", "x/y/z", "+/+/z", "#",
        ];
        let mut p = Plan::default();
        let check = |p: &Plan| {
            let js = broker_filters(p);
            for (i, a) in js.iter().enumerate() {
                for b in &js[i + 1..] {
                    assert!(!crate::topic::overlaps(a, b), "{a} and {b} overlap: {js:?}");
                }
            }
            for (j, members) in p.groups() {
                for m in members {
                    assert_eq!(join(j, m), j, "{j} covers {m}");
                }
            }
        };
        for f in filters {
            p.add(f);
            check(&p);
        }
        for f in filters.iter().rev() {
            p.remove(f);
            check(&p);
        }
        assert!(p.groups.is_empty() && p.group_of.is_empty());
        assert_eq!(p.trie.node_count(), 0);
    }
}
