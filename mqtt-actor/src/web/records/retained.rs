//! The retained messages the server has seen under its own subscriptions,
//! behind `GET /api/retained`.
//!
//! What "seen" can mean: a broker sends a filter's retained messages with the
//! retain flag set only in answer to a SUBSCRIBE (and after every reconnect,
//! when the subscriptions are made again); a message published while the
//! subscription stands comes with the flag cleared, whether it was published
//! retained or not (MQTT 3.1.1, and MQTT 5 without "retain as published").
//! So the book records messages that arrive with the flag set, and forgets a
//! topic when an empty message arrives on it, with or without the flag: an
//! empty retained publish is how a retained message is cleared, and it
//! reaches standing subscriptions without the flag. A new retained value
//! published while the subscription stands shows only after the next
//! SUBSCRIBE of it. Bounded like the topic cache (`TOPIC_CACHE_SIZE` topics,
//! `TOPIC_CACHE_BYTES`), which keeps the entries.

use crate::MqttMessage;
use paho_mqtt::topic_matcher::topic_matches;
use serde::Serialize;

use super::cache::TopicCache;
use crate::web::protocol::Encoding;

/// One row of `GET /api/retained`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RetainedEntry {
    /// The topic.
    pub topic: String,
    /// The retained payload (text or base64).
    pub payload: String,
    /// Its encoding.
    pub encoding: Encoding,
    /// QoS it arrived with.
    pub qos: crate::QoS,
    /// When it last arrived, ms since the Unix epoch.
    pub last_seen_ms: u64,
}

/// The retained message last seen per topic.
#[derive(Debug)]
pub struct RetainedBook(TopicCache);

impl RetainedBook {
    /// An empty book of at most `max_topics` topics and `max_bytes` of topics
    /// and payloads.
    pub fn new(max_topics: usize, max_bytes: usize) -> Self {
        RetainedBook(TopicCache::new(max_topics, max_bytes))
    }

    /// Notes `msg`: a retained value, a cleared one (empty), or neither.
    pub fn record(&self, msg: &MqttMessage) {
        if msg.payload().is_empty() {
            self.0.forget(msg.topic());
        } else if msg.retain() {
            self.0.record(msg);
        }
    }

    /// Forgets the retained message of `topic` (the server cleared it).
    pub fn forget(&self, topic: &str) {
        self.0.forget(topic);
    }

    /// The retained messages under `filter`, sorted by topic.
    pub fn matching(&self, filter: &str) -> Vec<RetainedEntry> {
        self.0
            .entries_where(|topic| topic_matches(filter, topic))
            .into_iter()
            .map(|e| RetainedEntry {
                topic: e.topic,
                payload: e.payload,
                encoding: e.encoding,
                qos: e.qos,
                last_seen_ms: e.last_seen_ms,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::QoS;

    fn m(t: &str, p: &str, retain: bool) -> MqttMessage {
        MqttMessage::new(t, p.to_string(), QoS::AtLeastOnce, retain)
    }

    fn topics(book: &RetainedBook, filter: &str) -> Vec<String> {
        book.matching(filter).into_iter().map(|e| e.topic).collect()
    }

    #[test]
    fn retained_messages_are_kept_until_an_empty_one_clears_them() {
        let book = RetainedBook::new(100, 1 << 20);
        book.record(&m("a/1", "one", true));
        book.record(&m("a/2", "two", true));
        book.record(&m("a/3", "live", false));
        book.record(&m("$SYS/x", "sys", true));
        assert_eq!(topics(&book, "a/#"), ["a/1", "a/2"]);
        assert_eq!(topics(&book, "#"), ["a/1", "a/2"], "`#` skips `$` topics");
        assert_eq!(topics(&book, "$SYS/#"), ["$SYS/x"]);
        let entry = &book.matching("a/1")[0];
        assert_eq!(
            (entry.payload.as_str(), entry.qos),
            ("one", QoS::AtLeastOnce)
        );
        book.record(&m("a/1", "", false));
        assert_eq!(topics(&book, "a/#"), ["a/2"], "cleared, flag or not");
        book.record(&m("a/2", "newer", false));
        assert_eq!(book.matching("a/2")[0].payload, "two");
        book.forget("a/2");
        assert!(book.matching("#").is_empty());
    }
}
