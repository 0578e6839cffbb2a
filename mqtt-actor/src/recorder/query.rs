//! Reading the history: [`HistoryQuery`] (a filter, a time range, a page
//! size, a cursor, and the caller's access rule), the [`Page`] it answers
//! with, and how a filter becomes the topic ids it covers.
//!
//! Paging is newest first, by `(ts_ms, id)`: a [`Cursor`] names the last
//! message of a page, and the next page starts strictly before it. Ids only
//! grow, so messages recorded while a client pages appear above the first
//! page, never inside the pages it has yet to read.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

use super::error::Result;
use super::range::TimeRange;
use super::store::{Db, StoredRow};

pub use super::range::Cursor;
use crate::{MqttError, QoS};

/// The page size when none is asked for.
pub const DEFAULT_LIMIT: usize = 100;
/// The largest page a query answers with, whatever it asks for.
pub const MAX_LIMIT: usize = 10_000;

/// The caller's rule of which topics may be read.
type Allow = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// A question to the history: the messages of the topics matching `filter`,
/// newest first.
///
/// ```
/// use mqtt_actor::recorder::HistoryQuery;
///
/// let q = HistoryQuery::new("plant/+/temperature")
///     .from_ms(1_700_000_000_000)
///     .limit(500)
///     // The caller's ACL: a filter over allowed and forbidden topics
///     // answers with the allowed ones only.
///     .allow(|topic| !topic.starts_with("plant/secret/"));
/// assert_eq!(q.filter(), "plant/+/temperature");
/// ```
#[derive(Clone)]
pub struct HistoryQuery {
    filter: String,
    range: TimeRange,
    limit: usize,
    before: Option<Cursor>,
    allow: Option<Allow>,
}

impl fmt::Debug for HistoryQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HistoryQuery")
            .field("filter", &self.filter)
            .field("range", &self.range)
            .field("limit", &self.limit)
            .field("before", &self.before)
            .field("allow", &self.allow.is_some())
            .finish()
    }
}

impl HistoryQuery {
    /// The messages of the topics matching `filter` (`+` and `#` allowed),
    /// at any time, the newest [`DEFAULT_LIMIT`] first.
    pub fn new(filter: impl Into<String>) -> Self {
        HistoryQuery {
            filter: filter.into(),
            range: TimeRange {
                from_ms: i64::MIN,
                to_ms: i64::MAX,
            },
            limit: DEFAULT_LIMIT,
            before: None,
            allow: None,
        }
    }

    /// Only messages recorded at or after `ms` (milliseconds since the epoch).
    pub fn from_ms(mut self, ms: i64) -> Self {
        self.range.from_ms = ms;
        self
    }

    /// Only messages recorded before `ms` (milliseconds since the epoch).
    pub fn to_ms(mut self, ms: i64) -> Self {
        self.range.to_ms = ms;
        self
    }

    /// At most `n` messages (between 1 and [`MAX_LIMIT`]).
    pub fn limit(mut self, n: usize) -> Self {
        self.limit = n.clamp(1, MAX_LIMIT);
        self
    }

    /// The page after the one that ended at `cursor` (its
    /// [`Page::next_cursor`]).
    pub fn before(mut self, cursor: Cursor) -> Self {
        self.before = Some(cursor);
        self
    }

    /// Only topics for which `allowed` says yes (the caller's ACL, asked
    /// once per matching topic).
    pub fn allow(mut self, allowed: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        self.allow = Some(Arc::new(allowed));
        self
    }

    /// The filter asked about.
    pub fn filter(&self) -> &str {
        &self.filter
    }
}

/// A recorded message, as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredMessage {
    /// Its topic.
    pub topic: String,
    /// Its payload, as received (the caller encodes it: text or base64).
    pub payload: Bytes,
    /// The QoS it was received with.
    pub qos: QoS,
    /// Whether it was a retained message.
    pub retain: bool,
    /// When the recorder received it, milliseconds since the Unix epoch.
    pub ts_ms: i64,
    /// Its place in the history, for paging.
    pub cursor: Cursor,
}

/// One page of a history query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Page {
    /// The messages, newest first.
    pub messages: Vec<StoredMessage>,
    /// Where to continue ([`HistoryQuery::before`]); `None` on the last page.
    pub next_cursor: Option<Cursor>,
    /// How many recorded topics the query read: those matching its filter
    /// that [`HistoryQuery::allow`] let through, whatever the time range.
    /// Zero tells "nothing of this filter may be read" from "nothing in
    /// this range".
    pub topics: usize,
}

/// Whether `topic` matches `filter`, with the rule that a filter starting
/// with a wildcard does not match topics starting with `$`.
pub(crate) fn matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && filter.starts_with(['+', '#']) {
        return false;
    }
    paho_mqtt::topic_matcher::topic_matches(filter, topic)
}

/// How the topics table is searched for `filter`: the literal levels before
/// its first wildcard (as a prefix ending in `/`), and the topic that a
/// trailing `/#` also matches.
fn search_keys(filter: &str) -> (String, Option<String>) {
    let levels: Vec<&str> = filter.split('/').collect();
    let literal = levels
        .iter()
        .take_while(|l| **l != "+" && **l != "#")
        .count();
    let prefix: String = levels[..literal].iter().map(|l| format!("{l}/")).collect();
    let parent = (literal + 1 == levels.len() && levels[literal] == "#" && literal > 0)
        .then(|| levels[..literal].join("/"));
    (prefix, parent)
}

/// The topics that `query` reads: matching its filter and allowed.
async fn resolve(db: &Db, query: &HistoryQuery) -> Result<HashMap<i64, String>> {
    let filter = query.filter.as_str();
    crate::validate_filter(filter)?;
    if filter.starts_with("$share/") {
        return Err(MqttError::InvalidFilter {
            filter: filter.to_string(),
            reason: "a history query takes a filter without $share/".to_string(),
        }
        .into());
    }
    let candidates = if filter.contains(['+', '#']) {
        let (prefix, parent) = search_keys(filter);
        db.topics_under(&prefix, parent.as_deref()).await?
    } else {
        let id = db.find_topic(filter).await?;
        id.map(|id| (id, filter.to_string())).into_iter().collect()
    };
    Ok(candidates
        .into_iter()
        .filter(|(_, name)| matches(filter, name))
        .filter(|(_, name)| match &query.allow {
            Some(allow) => allow(name),
            None => true,
        })
        .collect())
}

/// Answers `query`.
pub(crate) async fn run(db: &Db, query: &HistoryQuery) -> Result<Page> {
    let topics = resolve(db, query).await?;
    if topics.is_empty() {
        return Ok(Page::default());
    }
    let mut ids: Vec<i64> = topics.keys().copied().collect();
    ids.sort_unstable();
    let mut rows = db
        .messages(&ids, query.range, query.before, query.limit + 1)
        .await?;
    let more = rows.len() > query.limit;
    rows.truncate(query.limit);
    let messages: Vec<StoredMessage> = rows
        .into_iter()
        .map(|row| to_message(row, &topics))
        .collect();
    let next_cursor = more.then(|| messages.last().map(|m| m.cursor)).flatten();
    Ok(Page {
        messages,
        next_cursor,
        topics: topics.len(),
    })
}

fn to_message(row: StoredRow, topics: &HashMap<i64, String>) -> StoredMessage {
    StoredMessage {
        topic: topics.get(&row.topic_id).cloned().unwrap_or_default(),
        payload: Bytes::from(row.payload),
        // Rows come from the writer, which stores 0, 1 or 2.
        qos: QoS::try_from(i64::from(row.qos)).unwrap_or_default(),
        retain: row.retain,
        ts_ms: row.ts_ms,
        cursor: Cursor {
            ts_ms: row.ts_ms,
            id: row.id,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_is_searched_by_its_literal_levels() {
        let keys = |f| search_keys(f);
        assert_eq!(keys("a/b/+/c"), ("a/b/".into(), None));
        assert_eq!(keys("a/#"), ("a/".into(), Some("a".into())));
        assert_eq!(keys("a/+/#"), ("a/".into(), None));
        assert_eq!(keys("#"), ("".into(), None));
        assert_eq!(keys("+/x"), ("".into(), None));
        assert_eq!(keys("/+"), ("/".into(), None));
    }

    #[test]
    fn wildcards_at_the_start_do_not_match_dollar_topics() {
        assert!(matches("a/+", "a/b"));
        assert!(matches("a/#", "a"));
        assert!(!matches("#", "$SYS/load"));
        assert!(!matches("+/load", "$SYS/load"));
        assert!(matches("$SYS/#", "$SYS/load"));
    }

    #[test]
    fn cursors_read_back_what_they_print() {
        let c = Cursor {
            ts_ms: 1_700_000_000_123,
            id: 42,
        };
        assert_eq!(c.to_string().parse::<Cursor>().ok(), Some(c));
        assert!("42".parse::<Cursor>().is_err());
        assert!("a_b".parse::<Cursor>().is_err());
    }

    #[test]
    fn page_sizes_are_bounded() {
        assert_eq!(HistoryQuery::new("a").limit(0).limit, 1);
        assert_eq!(HistoryQuery::new("a").limit(1 << 40).limit, MAX_LIMIT);
    }
}
