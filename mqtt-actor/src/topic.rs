//! Topic and filter validation (MQTT 3.1.1 / 5 rules), how filters relate
//! (overlapping, [`join`]), the [`Trie`] of filters and the [`Index`] of who
//! holds which filter.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

use crate::error::{MqttError, Result};
use crate::qos::QoS;
use crate::strings;

const MAX_TOPIC_LEN: usize = 65535;

/// Checks a topic name used for publishing: not empty, no wildcards, none
/// of the characters MQTT forbids (NUL, control characters, non-characters),
/// at most 65535 bytes.
pub fn validate_topic(topic: &str) -> Result<()> {
    let fail = |reason: &str| {
        Err(MqttError::InvalidTopic {
            topic: topic.to_string(),
            reason: reason.to_string(),
        })
    };
    if topic.is_empty() {
        return fail("a topic must not be empty");
    }
    if topic.len() > MAX_TOPIC_LEN {
        return fail("a topic must not be longer than 65535 bytes");
    }
    if let Some(reason) = strings::check(topic) {
        return fail(&format!("a topic {reason}"));
    }
    if topic.contains(['+', '#']) {
        return fail("wildcards '+' and '#' are only allowed in subscription filters");
    }
    Ok(())
}

/// Checks a topic filter used for subscribing: not empty, none of the
/// characters MQTT forbids (NUL, control characters, non-characters), at
/// most 65535 bytes, `+` and `#` only as whole levels, `#` only last.
pub fn validate_filter(filter: &str) -> Result<()> {
    let fail = |reason: &str| {
        Err(MqttError::InvalidFilter {
            filter: filter.to_string(),
            reason: reason.to_string(),
        })
    };
    if filter.is_empty() {
        return fail("a filter must not be empty");
    }
    if filter.len() > MAX_TOPIC_LEN {
        return fail("a filter must not be longer than 65535 bytes");
    }
    if let Some(reason) = strings::check(filter) {
        return fail(&format!("a filter {reason}"));
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
            reason: "the filter of a shared subscription breaks the wildcard rules".into(),
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

/// The part of a filter that topics are matched against: `$share/{group}/{filter}`
/// (MQTT 5 shared subscriptions, also accepted by Mosquitto for 3.1.1) matches
/// like `{filter}`.
pub(crate) fn match_part(filter: &str) -> &str {
    filter
        .strip_prefix("$share/")
        .and_then(|rest| rest.split_once('/'))
        .map_or(filter, |(_, inner)| inner)
}

/// Whether a shared subscription (`$share/...`): the broker hands its messages
/// to one member of the group, so it is never merged with other filters.
pub(crate) fn is_shared(filter: &str) -> bool {
    filter.starts_with("$share/")
}

/// Whether some topic matches both filters (valid, not shared). A leading
/// wildcard does not match a topic that starts with `$`. The trie's
/// [`Trie::for_each_overlap`] walks by the same rules; this is its reference.
#[cfg(test)]
pub(crate) fn overlaps(a: &str, b: &str) -> bool {
    let (mut a, mut b) = (a.split('/'), b.split('/'));
    let mut first = true;
    loop {
        let dollar = |l: Option<&str>| first && l.is_some_and(|l| l.starts_with('$'));
        match (a.next(), b.next()) {
            (Some("#"), other) | (other, Some("#")) => return !dollar(other),
            (None, None) => return true,
            (None, Some(_)) | (Some(_), None) => return false,
            (Some("+"), Some(other)) | (Some(other), Some("+")) => {
                if dollar(Some(other)) {
                    return false;
                }
            }
            (Some(x), Some(y)) if x == y => {}
            _ => return false,
        }
        first = false;
    }
}

/// The narrowest filter, level by level, that matches every topic either
/// overlapping filter matches: equal levels stay, differing ones become `+`,
/// and a `#` or a difference in depth ends it with `#`. When one filter covers
/// the other, the join is that filter.
pub(crate) fn join(a: &str, b: &str) -> String {
    let (mut a, mut b) = (a.split('/'), b.split('/'));
    let mut out: Vec<&str> = Vec::new();
    loop {
        match (a.next(), b.next()) {
            (None, None) => break,
            (Some(x), Some(y)) if x != "#" && y != "#" => out.push(if x == y { x } else { "+" }),
            _ => {
                out.push("#");
                break;
            }
        }
    }
    out.join("/")
}

/// The children of a trie node: a short list while there are few (most
/// nodes have one), a map once there are many.
#[derive(Debug)]
enum Children {
    Few(Vec<usize>),
    Many(HashMap<Box<str>, usize>),
}

/// Children kept in a list before they move to a map.
const FEW_CHILDREN: usize = 8;

#[derive(Debug)]
struct Node<V> {
    parent: usize,
    /// This node's level, the key its parent finds it by.
    level: Box<str>,
    children: Children,
    value: Option<V>,
}

/// A trie of topic filters, one node per level. Nodes live in a slab and are
/// freed as soon as they hold no value and have no children, so a filter
/// costs memory only while it is stored. Every walk is a loop with its own
/// stack: a filter or topic of 60,000 levels does not recurse 60,000 deep.
#[derive(Debug)]
pub(crate) struct Trie<V> {
    nodes: Vec<Option<Node<V>>>,
    free: Vec<usize>,
}

const ROOT: usize = 0;

impl<V> Default for Trie<V> {
    fn default() -> Self {
        Trie {
            nodes: vec![Some(Node {
                parent: ROOT,
                level: "".into(),
                children: Children::Few(Vec::new()),
                value: None,
            })],
            free: Vec::new(),
        }
    }
}

impl<V> Trie<V> {
    fn node(&self, n: usize) -> &Node<V> {
        self.nodes[n].as_ref().expect("a live node")
    }

    fn node_mut(&mut self, n: usize) -> &mut Node<V> {
        self.nodes[n].as_mut().expect("a live node")
    }

    /// Nodes in use besides the root (for tests of pruning).
    #[cfg(test)]
    pub fn node_count(&self) -> usize {
        self.nodes.len() - self.free.len() - 1
    }

    fn child(&self, n: usize, level: &str) -> Option<usize> {
        match &self.node(n).children {
            Children::Few(list) => list
                .iter()
                .copied()
                .find(|&c| &*self.node(c).level == level),
            Children::Many(map) => map.get(level).copied(),
        }
    }

    fn children(&self, n: usize) -> impl Iterator<Item = usize> + '_ {
        let (few, many) = match &self.node(n).children {
            Children::Few(list) => (Some(list.iter().copied()), None),
            Children::Many(map) => (None, Some(map.values().copied())),
        };
        few.into_iter().flatten().chain(many.into_iter().flatten())
    }

    fn add_child(&mut self, n: usize, level: &str) -> usize {
        let node = Node {
            parent: n,
            level: level.into(),
            children: Children::Few(Vec::new()),
            value: None,
        };
        let c = match self.free.pop() {
            Some(slot) => {
                self.nodes[slot] = Some(node);
                slot
            }
            None => {
                self.nodes.push(Some(node));
                self.nodes.len() - 1
            }
        };
        let grown = match &mut self.node_mut(n).children {
            Children::Few(list) if list.len() < FEW_CHILDREN => {
                list.push(c);
                None
            }
            Children::Few(list) => Some(std::mem::take(list)),
            Children::Many(map) => {
                map.insert(level.into(), c);
                None
            }
        };
        if let Some(list) = grown {
            let mut map: HashMap<Box<str>, usize> = list
                .into_iter()
                .map(|k| (self.node(k).level.clone(), k))
                .collect();
            map.insert(level.into(), c);
            self.node_mut(n).children = Children::Many(map);
        }
        c
    }

    fn find(&self, key: &str) -> Option<usize> {
        key.split('/')
            .try_fold(ROOT, |n, level| self.child(n, level))
    }

    /// The value stored under `key`.
    pub fn get(&self, key: &str) -> Option<&V> {
        self.node(self.find(key)?).value.as_ref()
    }

    /// The value stored under `key`, to change it.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        let n = self.find(key)?;
        self.node_mut(n).value.as_mut()
    }

    /// The value under `key`, stored first with `make` if there is none.
    pub fn get_or_insert_with(&mut self, key: &str, make: impl FnOnce() -> V) -> &mut V {
        let mut n = ROOT;
        for level in key.split('/') {
            n = match self.child(n, level) {
                Some(c) => c,
                None => self.add_child(n, level),
            };
        }
        self.node_mut(n).value.get_or_insert_with(make)
    }

    /// Takes the value under `key` out, and frees the nodes nothing needs any more.
    pub fn remove(&mut self, key: &str) -> Option<V> {
        let n = self.find(key)?;
        let value = self.node_mut(n).value.take();
        self.prune(n);
        value
    }

    /// Frees `n` and its ancestors for as long as they hold nothing.
    fn prune(&mut self, mut n: usize) {
        while n != ROOT {
            let node = self.node(n);
            let empty = node.value.is_none()
                && match &node.children {
                    Children::Few(list) => list.is_empty(),
                    Children::Many(map) => map.is_empty(),
                };
            if !empty {
                return;
            }
            let node = self.nodes[n].take().expect("a live node");
            self.free.push(n);
            match &mut self.node_mut(node.parent).children {
                Children::Few(list) => list.retain(|&c| c != n),
                Children::Many(map) => {
                    map.remove(&node.level);
                }
            }
            n = node.parent;
        }
    }

    /// Every value, in no particular order.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.nodes.iter().flatten().filter_map(|n| n.value.as_ref())
    }

    /// Calls `f` with the value of every stored filter that matches `topic`.
    pub fn for_each_match<'a>(&'a self, topic: &str, mut f: impl FnMut(&'a V)) {
        let levels: Vec<&str> = topic.split('/').collect();
        let dollar = levels[0].starts_with('$');
        let mut stack = vec![(ROOT, 0)];
        while let Some((n, depth)) = stack.pop() {
            let wild_ok = depth > 0 || !dollar;
            if wild_ok {
                if let Some(v) = self.child(n, "#").and_then(|c| self.node(c).value.as_ref()) {
                    f(v);
                }
            }
            let Some(level) = levels.get(depth) else {
                if let Some(v) = &self.node(n).value {
                    f(v);
                }
                continue;
            };
            // A topic has no wildcards; should a broker send one, its level
            // is not looked up twice.
            if *level != "#" {
                if let Some(c) = self.child(n, level) {
                    stack.push((c, depth + 1));
                }
            }
            if wild_ok && *level != "+" {
                if let Some(c) = self.child(n, "+") {
                    stack.push((c, depth + 1));
                }
            }
        }
    }

    /// Calls `f` with the value of every stored filter that [`overlaps`]
    /// `filter` (a valid filter, not shared).
    pub fn for_each_overlap<'a>(&'a self, filter: &str, mut f: impl FnMut(&'a V)) {
        let levels: Vec<&str> = filter.split('/').collect();
        let dollar = |n: usize| self.node(n).level.starts_with('$');
        let mut stack = vec![(ROOT, 0)];
        while let Some((n, depth)) = stack.pop() {
            let level = levels.get(depth).copied();
            let first = depth == 0;
            if let Some(v) = self.child(n, "#").and_then(|c| self.node(c).value.as_ref()) {
                if !(first && level.is_some_and(|l| l.starts_with('$'))) {
                    f(v);
                }
            }
            match level {
                None => {
                    if let Some(v) = &self.node(n).value {
                        f(v);
                    }
                }
                Some("#") => {
                    // Everything below this node, and the node itself.
                    if let Some(v) = &self.node(n).value {
                        f(v);
                    }
                    let mut below: Vec<usize> = self
                        .children(n)
                        .filter(|&c| &*self.node(c).level != "#" && !(first && dollar(c)))
                        .collect();
                    while let Some(c) = below.pop() {
                        if let Some(v) = &self.node(c).value {
                            f(v);
                        }
                        below.extend(self.children(c));
                    }
                }
                Some("+") => {
                    for c in self.children(n) {
                        if &*self.node(c).level != "#" && !(first && dollar(c)) {
                            stack.push((c, depth + 1));
                        }
                    }
                }
                Some(literal) => {
                    if let Some(c) = self.child(n, literal) {
                        stack.push((c, depth + 1));
                    }
                    if !(first && literal.starts_with('$')) {
                        if let Some(c) = self.child(n, "+") {
                            stack.push((c, depth + 1));
                        }
                    }
                }
            }
        }
    }
}

/// One holder's hold on a filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hold {
    /// The QoS it asked for.
    pub qos: QoS,
    /// `Some(attempt)` while the SUBSCRIBE made for it has not been
    /// acknowledged; `None` once the broker granted it.
    pub pending: Option<u64>,
}

/// One filter and who holds it.
#[derive(Debug)]
pub(crate) struct Entry<H> {
    pub holders: HashMap<H, Hold>,
}

impl<H> Entry<H> {
    /// The QoS to ask the broker for: the highest any holder wants.
    pub fn wanted(&self) -> QoS {
        self.holders
            .values()
            .map(|h| h.qos)
            .max()
            .unwrap_or(QoS::AtMostOnce)
    }
}

/// Filters and their holders, in a [`Trie`] so that an incoming topic finds
/// its filters without a scan of every filter. A trie node holds the filters
/// that match alike (`a/#` and `$share/g/a/#`).
#[derive(Debug)]
pub(crate) struct Index<H> {
    trie: Trie<HashMap<String, Entry<H>>>,
    by_holder: HashMap<H, HashSet<String>>,
}

impl<H: Clone + Eq + Hash> Default for Index<H> {
    fn default() -> Self {
        Index {
            trie: Trie::default(),
            by_holder: HashMap::new(),
        }
    }
}

impl<H: Clone + Eq + Hash> Index<H> {
    /// The entry of `filter`.
    pub fn entry(&self, filter: &str) -> Option<&Entry<H>> {
        self.trie.get(match_part(filter))?.get(filter)
    }

    /// The entry of `filter`, to change it.
    pub fn entry_mut(&mut self, filter: &str) -> Option<&mut Entry<H>> {
        self.trie.get_mut(match_part(filter))?.get_mut(filter)
    }

    /// Adds (or updates) `holder`'s hold on `filter`. Answers whether the
    /// filter is new to the index.
    pub fn add(&mut self, filter: &str, holder: H, hold: Hold) -> bool {
        self.by_holder
            .entry(holder.clone())
            .or_default()
            .insert(filter.to_string());
        let node = self
            .trie
            .get_or_insert_with(match_part(filter), HashMap::new);
        let mut new = false;
        let entry = node.entry(filter.to_string()).or_insert_with(|| {
            new = true;
            Entry {
                holders: HashMap::new(),
            }
        });
        entry.holders.insert(holder, hold);
        new
    }

    /// Removes `holder` from `filter`: `None` when it did not hold it, else
    /// whether the filter is left without holders (and is gone from the index).
    pub fn remove(&mut self, filter: &str, holder: &H) -> Option<bool> {
        let entry = self.entry_mut(filter)?;
        entry.holders.remove(holder)?;
        let now_empty = entry.holders.is_empty();
        if let Some(set) = self.by_holder.get_mut(holder) {
            set.remove(filter);
            if set.is_empty() {
                self.by_holder.remove(holder);
            }
        }
        if now_empty {
            let key = match_part(filter);
            if let Some(node) = self.trie.get_mut(key) {
                node.remove(filter);
                if node.is_empty() {
                    self.trie.remove(key);
                }
            }
        }
        Some(now_empty)
    }

    /// Removes `holder` from every filter; answers the filters nobody holds any more.
    pub fn remove_holder(&mut self, holder: &H) -> Vec<String> {
        let filters = self.by_holder.get(holder).cloned().unwrap_or_default();
        filters
            .into_iter()
            .filter(|f| self.remove(f, holder) == Some(true))
            .collect()
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
        self.trie
            .values()
            .flat_map(|node| node.iter().map(|(f, e)| (f.as_str(), e)))
    }

    /// Calls `f` with every filter that matches `topic` and its entry.
    pub fn for_each_match<'a>(&'a self, topic: &str, mut f: impl FnMut(&'a str, &'a Entry<H>)) {
        self.trie.for_each_match(topic, |node| {
            node.iter().for_each(|(filter, e)| f(filter, e));
        });
    }

    /// The distinct holders of every filter that matches `topic`: each once,
    /// however many of its filters match.
    #[cfg(test)]
    pub fn holders_matching(&self, topic: &str) -> HashSet<&H> {
        let mut out = HashSet::new();
        self.for_each_match(topic, |_, e| out.extend(e.holders.keys()));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(qos: QoS) -> Hold {
        Hold { qos, pending: None }
    }

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
    fn overlapping_filters_are_recognised_and_joined() {
        let cases = [
            ("a/#", "+/b", true, "+/#"),
            ("d/#", "d/+", true, "d/#"),
            ("a/b", "a/b", true, "a/b"),
            ("a/b", "a/c", false, "a/+"),
            ("a", "a/#", true, "a/#"),
            ("a/+", "a", false, "a/#"),
            ("+/+/c", "a/#", true, "+/#"),
            ("#", "$SYS/x", false, "#"),
            ("+/x", "$SYS/x", false, "+/x"),
            ("$SYS/#", "$SYS/x", true, "$SYS/#"),
            ("s/+/t", "s/x/t", true, "s/+/t"),
        ];
        for (a, b, overlap, joined) in cases {
            assert_eq!(overlaps(a, b), overlap, "{a} / {b}");
            assert_eq!(overlaps(b, a), overlap, "{b} / {a}");
            if overlap {
                assert_eq!(join(a, b), joined, "{a} v {b}");
                assert_eq!(join(b, a), joined, "{b} v {a}");
            }
        }
    }

    /// The trie's overlap walk agrees with [`overlaps`] on every pair.
    #[test]
    fn the_overlap_walk_finds_what_overlaps_finds() {
        let filters = [
            "a", "a/b", "a/+", "a/#", "+", "+/b", "+/#", "#", "$SYS/x", "$SYS/#", "b/c/d", "+/+/d",
            "a/b/c", "/", "/a", "+/", "a//b",
        ];
        let mut trie = Trie::default();
        for f in filters {
            *trie.get_or_insert_with(f, String::new) = f.to_string();
        }
        for probe in filters {
            let mut got: Vec<&str> = Vec::new();
            trie.for_each_overlap(probe, |v| got.push(v));
            got.sort();
            got.dedup();
            let mut want: Vec<&str> = filters
                .iter()
                .copied()
                .filter(|f| overlaps(probe, f))
                .collect();
            want.sort();
            assert_eq!(got, want, "filters overlapping {probe}");
        }
    }

    /// The trie's match walk agrees with Paho's `topic_matches`.
    #[test]
    fn the_match_walk_finds_what_paho_matches() {
        let filters = [
            "a", "a/b", "a/+", "a/#", "+", "+/b", "+/#", "#", "$SYS/x", "$SYS/#", "/", "+/",
            "a//b", "a/+/#",
        ];
        let mut trie = Trie::default();
        for f in filters {
            *trie.get_or_insert_with(f, String::new) = f.to_string();
        }
        for topic in [
            "a", "a/b", "a/b/c", "b", "$SYS/x", "$SYS", "/", "a//b", "x/b",
        ] {
            let mut got: Vec<&str> = Vec::new();
            trie.for_each_match(topic, |v| got.push(v));
            got.sort();
            let mut want: Vec<&str> = filters
                .iter()
                .copied()
                .filter(|f| paho_mqtt::topic_matcher::topic_matches(f, topic))
                .collect();
            want.sort();
            assert_eq!(got, want, "filters matching {topic}");
        }
    }

    #[test]
    fn removing_the_last_holder_frees_every_node() {
        let mut idx = Index::default();
        idx.add("a/b/c", 1, held(QoS::AtMostOnce));
        idx.add("a/b/d", 2, held(QoS::AtMostOnce));
        idx.add("$share/g/a/#", 1, held(QoS::AtMostOnce));
        idx.add("x/+/y/#", 3, held(QoS::AtMostOnce));
        assert!(idx.trie.node_count() > 0);
        assert_eq!(idx.remove("a/b/c", &1), Some(true));
        assert_eq!(idx.remove_holder(&1), vec!["$share/g/a/#".to_string()]);
        idx.remove_holder(&2);
        idx.remove_holder(&3);
        assert_eq!(idx.entries().count(), 0);
        assert_eq!(idx.trie.node_count(), 0, "no node outlives its filters");
        assert!(!idx.holds(&1));
    }

    #[test]
    fn a_filter_of_60000_levels_is_matched_and_removed_without_recursion() {
        let filter = format!("d{}", "/".repeat(60_000));
        let topic = filter.clone();
        let wild = format!("d{}/#", "/+".repeat(59_999));
        // A thread with a small stack: a walk that recursed per level would overflow it.
        std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || {
                let mut idx = Index::default();
                idx.add(&filter, 1, held(QoS::AtMostOnce));
                idx.add(&wild, 2, held(QoS::AtMostOnce));
                let mut got: Vec<_> = idx.holders_matching(&topic).into_iter().copied().collect();
                got.sort();
                assert_eq!(got, [1, 2]);
                let mut overlapping = 0;
                idx.trie.for_each_overlap(&wild, |_| overlapping += 1);
                assert_eq!(overlapping, 2);
                assert_eq!(idx.remove(&filter, &1), Some(true));
                assert_eq!(idx.remove(&wild, &2), Some(true));
                assert_eq!(idx.trie.node_count(), 0);
                drop(idx);
            })
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    fn many_children_move_to_a_map_and_back_out() {
        let mut trie = Trie::default();
        for i in 0..100 {
            *trie.get_or_insert_with(&format!("s/{i}"), || 0) = i;
        }
        let mut got = 0;
        trie.for_each_match("s/42", |v| got = *v);
        assert_eq!(got, 42);
        for i in 0..100 {
            assert_eq!(trie.remove(&format!("s/{i}")), Some(i));
        }
        assert_eq!(trie.node_count(), 0);
    }

    #[test]
    fn overlapping_filters_yield_each_holder_once() {
        let mut idx = Index::default();
        idx.add("s/#", 1, held(QoS::AtMostOnce));
        idx.add("s/+/t", 1, held(QoS::AtMostOnce));
        idx.add("s/x/t", 2, held(QoS::AtMostOnce));
        idx.add("other", 3, held(QoS::AtMostOnce));
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
        idx.add("$share/g/jobs/#", 1, held(QoS::AtMostOnce));
        idx.add("jobs/#", 2, held(QoS::AtMostOnce));
        let mut got: Vec<_> = idx
            .holders_matching("jobs/7")
            .into_iter()
            .copied()
            .collect();
        got.sort();
        assert_eq!(got, vec![1, 2]);
        assert_eq!(idx.remove("$share/g/jobs/#", &1), Some(true));
        assert_eq!(
            idx.entries().map(|(f, _)| f).collect::<Vec<_>>(),
            ["jobs/#"]
        );
    }

    #[test]
    fn leading_wildcards_do_not_match_dollar_topics() {
        let mut idx = Index::default();
        idx.add("#", 1, held(QoS::AtMostOnce));
        idx.add("+/x", 2, held(QoS::AtMostOnce));
        assert!(idx.holders_matching("$SYS/x").is_empty());
    }
}
