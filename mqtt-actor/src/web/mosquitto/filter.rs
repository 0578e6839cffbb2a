//! Relations between MQTT topic filters that access decisions need beyond
//! "does this filter match this topic" (`paho_mqtt::topic_matches`): whether one
//! filter covers every topic another can match, whether two filters share a
//! topic, and splitting `$share/GROUP/FILTER`.
//!
//! Every function here takes filters that already passed
//! [`crate::validate_filter`]; on other input the answer is unspecified
//! (but never a panic).
//!
//! MQTT's rules that make this more than string work:
//! - `#` matches its parent level too: `a/#` matches `a`.
//! - `+` matches exactly one level, including an empty one: `a/+` matches `a/`.
//! - A filter whose first level is `+` or `#` matches no topic whose first level
//!   starts with `$` (`#` does not see `$SYS/...`).

/// The `GROUP` and `FILTER` of a shared subscription `$share/GROUP/FILTER`, or
/// `None` for an ordinary filter.
pub fn split_shared(filter: &str) -> Option<(&str, &str)> {
    filter.strip_prefix("$share/")?.split_once('/')
}

/// True when every topic that `inner` matches is also matched by `outer`, so a
/// client allowed `outer` may hold `inner`: `plant/line1/#` covers
/// `plant/line1/+/temp` but not `plant/#`.
///
/// Shared subscriptions are compared as plain strings level by level; callers
/// decide separately what a `$share` filter needs ([`split_shared`]).
pub fn covers(outer: &str, inner: &str) -> bool {
    // `+` and `#` as the first level never reach `$` topics, so they cannot
    // cover a filter that starts with a `$` level.
    let inner_first = first_level(inner);
    if is_wildcard(first_level(outer)) && inner_first.starts_with('$') {
        return false;
    }
    // A whole-filter `#` matches every topic, all of which have at least one
    // level, so `+/#` covers it as well as `#` does.
    if inner == "#" && outer == "+/#" {
        return true;
    }
    let mut outer = outer.split('/');
    let mut inner = inner.split('/');
    loop {
        match (outer.next(), inner.next()) {
            // `#` takes everything from here on, the parent level included.
            (Some("#"), _) => return true,
            // Below the first level, `#` matches its parent, which nothing
            // but `#` (the case above) covers.
            (_, Some("#")) => return false,
            (Some("+"), Some(_)) => {}
            (Some(o), Some(i)) if o == i => {}
            (None, None) => return true,
            // `inner` ended: `outer` covers its parent only through a final `#`.
            (Some(o), None) => return o == "#" && outer.next().is_none(),
            _ => return false,
        }
    }
}

/// True when some topic is matched by both filters: a client may not hold
/// `b` when a line denies it `a` and the two overlap.
pub fn overlaps(a: &str, b: &str) -> bool {
    let (a_first, b_first) = (first_level(a), first_level(b));
    // A wildcard first level never meets a `$` topic, which is the only kind a
    // `$` first level can match.
    if (is_wildcard(a_first) && b_first.starts_with('$'))
        || (is_wildcard(b_first) && a_first.starts_with('$'))
    {
        return false;
    }
    let mut a = a.split('/');
    let mut b = b.split('/');
    loop {
        match (a.next(), b.next()) {
            (Some("#"), _) | (_, Some("#")) => return true,
            (None, None) => return true,
            (Some("+"), Some(_)) | (Some(_), Some("+")) => {}
            (Some(x), Some(y)) if x == y => {}
            // One ended: the other still matches that parent if it goes on
            // with exactly `#`.
            (None, Some(rest)) => return rest == "#",
            (Some(rest), None) => return rest == "#",
            _ => return false,
        }
    }
}

fn first_level(filter: &str) -> &str {
    filter.split('/').next().unwrap_or(filter)
}

fn is_wildcard(level: &str) -> bool {
    level == "+" || level == "#"
}

#[cfg(test)]
mod tests {
    use super::*;
    use paho_mqtt::topic_matcher::topic_matches;

    #[test]
    fn a_multi_level_wildcard_covers_what_lies_below_it() {
        assert!(covers("plant/line1/#", "plant/line1/+/temp"));
        assert!(covers("plant/line1/#", "plant/line1/#"));
        assert!(covers("plant/line1/#", "plant/line1"));
        assert!(covers("plant/line1/#", "plant/line1/a/b/c"));
        assert!(covers("#", "plant/#"));
        assert!(covers("#", "+"));
        assert!(covers("#", "#"));
        // Every topic has a first level, so `+/#` matches all that `#` does.
        assert!(covers("+/#", "#"));
        assert!(!covers("+/+/#", "#"));
        assert!(!covers("a/+/#", "a/#"));
    }

    #[test]
    fn a_narrower_filter_never_covers_a_wider_one() {
        assert!(!covers("plant/line1/#", "plant/#"));
        assert!(!covers("plant/line1/#", "plant/+/temp"));
        assert!(!covers("plant/line1/#", "#"));
        assert!(!covers("plant/+/temp", "plant/#"));
        assert!(!covers("plant/+", "plant/+/+"));
        assert!(!covers("plant/+/#", "plant"));
        assert!(!covers("plant/+/#", "plant/#"));
        assert!(!covers("a/b", "a/+"));
        assert!(!covers("a/b", "a/b/c"));
        assert!(!covers("a/b/c", "a/b"));
    }

    #[test]
    fn a_single_level_wildcard_covers_any_one_level() {
        assert!(covers("plant/+/temp", "plant/line1/temp"));
        assert!(covers("plant/+/temp", "plant/+/temp"));
        assert!(covers("plant/+/temp", "plant//temp"));
        assert!(covers("+/+", "a/+"));
        assert!(!covers("plant/+/temp", "plant/line1/temp/x"));
        assert!(!covers("plant/+/temp", "plant/temp"));
        assert!(covers("+/#", "a"));
    }

    #[test]
    fn dollar_topics_are_covered_only_by_filters_that_name_them() {
        assert!(!covers("#", "$SYS/#"));
        assert!(!covers("#", "$SYS/broker/uptime"));
        assert!(!covers("+/#", "$SYS/broker"));
        assert!(!covers("+/broker", "$SYS/broker"));
        assert!(covers("$SYS/#", "$SYS/broker/+"));
        assert!(covers("$SYS/+/uptime", "$SYS/broker/uptime"));
        // A `$` below the first level is an ordinary name.
        assert!(covers("a/#", "a/$b"));
        assert!(covers("a/+", "a/$b"));
    }

    #[test]
    fn shared_filters_compare_as_their_whole_text() {
        assert!(covers("$share/g/a/#", "$share/g/a/b"));
        assert!(!covers("#", "$share/g/a"));
        assert!(!covers("a/#", "$share/g/a/b"));
        assert_eq!(split_shared("$share/g/a/#"), Some(("g", "a/#")));
        assert_eq!(split_shared("a/#"), None);
        assert_eq!(split_shared("$shared/g/a"), None);
    }

    #[test]
    fn overlapping_filters_share_a_topic() {
        assert!(overlaps("plant/#", "plant/line1/temp"));
        assert!(overlaps("plant/+/temp", "plant/line1/+"));
        assert!(overlaps("plant/secret", "plant/+"));
        assert!(overlaps("plant/secret", "+/secret"));
        assert!(overlaps("a/#", "a"));
        assert!(overlaps("a", "a/#"));
        assert!(overlaps("#", "+/+/+"));
        assert!(overlaps("$SYS/#", "$SYS/+"));
        assert!(!overlaps("plant/secret", "plant/public"));
        assert!(!overlaps("plant/+", "plant/a/b"));
        assert!(!overlaps("a/+/#", "a"));
        assert!(!overlaps("#", "$SYS/#"));
        assert!(!overlaps("$SYS/x", "+/x"));
        assert!(!overlaps("a/b", "a/b/c"));
    }

    /// Filters of up to three levels over a small alphabet, for the exhaustive
    /// checks below.
    fn filters() -> Vec<String> {
        let levels = ["a", "b", "$x", "", "+", "#"];
        let mut out = Vec::new();
        let mut frontier: Vec<Vec<&str>> = vec![vec![]];
        for _ in 0..3 {
            let mut next = Vec::new();
            for prefix in &frontier {
                if prefix.last() == Some(&"#") {
                    continue;
                }
                for level in levels {
                    let mut f = prefix.clone();
                    f.push(level);
                    out.push(f.join("/"));
                    next.push(f);
                }
            }
            frontier = next;
        }
        out
    }

    /// Topics of up to four levels, one more than any filter, over the filters'
    /// names plus one name no filter uses; enough to find a topic that tells
    /// two such filters apart when there is one.
    fn topics() -> Vec<String> {
        let levels = ["a", "b", "$x", "", "z"];
        let mut out = Vec::new();
        let mut frontier: Vec<Vec<&str>> = vec![vec![]];
        for _ in 0..4 {
            let mut next = Vec::new();
            for prefix in &frontier {
                for level in levels {
                    let mut t = prefix.clone();
                    t.push(level);
                    out.push(t.join("/"));
                    next.push(t);
                }
            }
            frontier = next;
        }
        out
    }

    #[test]
    fn covers_agrees_with_matching_on_every_small_filter_pair() {
        let filters = filters();
        let topics = topics();
        let matched: Vec<Vec<bool>> = filters
            .iter()
            .map(|f| topics.iter().map(|t| topic_matches(f, t)).collect())
            .collect();
        for (i, outer) in filters.iter().enumerate() {
            for (j, inner) in filters.iter().enumerate() {
                let expected = (0..topics.len()).all(|k| !matched[j][k] || matched[i][k]);
                assert_eq!(
                    covers(outer, inner),
                    expected,
                    "covers({outer:?}, {inner:?})"
                );
            }
        }
    }

    #[test]
    fn overlaps_agrees_with_matching_on_every_small_filter_pair() {
        let filters = filters();
        let topics = topics();
        let matched: Vec<Vec<bool>> = filters
            .iter()
            .map(|f| topics.iter().map(|t| topic_matches(f, t)).collect())
            .collect();
        for (i, a) in filters.iter().enumerate() {
            for (j, b) in filters.iter().enumerate() {
                let expected = (0..topics.len()).any(|k| matched[i][k] && matched[j][k]);
                assert_eq!(overlaps(a, b), expected, "overlaps({a:?}, {b:?})");
            }
        }
    }

    #[test]
    fn covering_a_topic_is_matching_it() {
        for filter in filters() {
            for topic in topics() {
                assert_eq!(
                    covers(&filter, &topic),
                    topic_matches(&filter, &topic),
                    "{filter:?} / {topic:?}"
                );
            }
        }
    }
}
