//! The bounded last-value cache behind `GET /api/topics`: the newest message per
//! topic under the server's own subscriptions.
//!
//! Bounded in topics (`TOPIC_CACHE_SIZE`) and in bytes of topic and payload
//! (`TOPIC_CACHE_BYTES`); past either, the least recently seen topics go. The
//! `MqttActor`'s handler records into it under its lock, so nothing under that
//! lock copies a payload: the cache keeps the message itself (shared, one
//! reference), and [`TopicCache::entries`] takes references under the lock and
//! encodes the rows after releasing it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::MqttMessage;
use serde::Serialize;

use crate::web::protocol::{Encoding, MessageView};

/// One topic's row of `/api/topics`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopicEntry {
    /// The topic.
    pub topic: String,
    /// Last payload (text or base64).
    pub payload: String,
    /// Its encoding.
    pub encoding: Encoding,
    /// Last QoS.
    pub qos: crate::QoS,
    /// Last retain flag.
    pub retain: bool,
    /// Messages seen on the topic.
    pub count: u64,
    /// When the last one arrived, ms since the Unix epoch.
    pub last_seen_ms: u64,
}

/// What the cache keeps of a topic.
#[derive(Debug, Clone)]
struct Slot {
    last: MqttMessage,
    count: u64,
    last_seen_ms: u64,
    /// Order of the last record, for eviction (milliseconds tie too often).
    seq: u64,
}

impl Slot {
    fn bytes(&self) -> usize {
        self.last.topic().len() + self.last.payload().len()
    }
}

#[derive(Debug, Default)]
struct Inner {
    topics: HashMap<String, Slot>,
    /// Topic and payload bytes of every slot.
    bytes: usize,
    seq: u64,
}

/// At most `max_topics` topics and `max_bytes` of topics and payloads.
#[derive(Debug)]
pub struct TopicCache {
    max_topics: usize,
    max_bytes: usize,
    inner: Mutex<Inner>,
}

impl TopicCache {
    /// An empty cache for `max_topics` topics and `max_bytes` bytes.
    pub fn new(max_topics: usize, max_bytes: usize) -> Self {
        TopicCache {
            max_topics,
            max_bytes,
            inner: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("topic cache lock")
    }

    /// Records `msg` as its topic's last value.
    pub fn record(&self, msg: &MqttMessage) {
        if self.max_topics == 0 {
            return;
        }
        let now = now_ms();
        let added = msg.topic().len() + msg.payload().len();
        let mut inner = self.lock();
        if added > self.max_bytes {
            // Kept, it would push out every other topic: forget the topic instead.
            if let Some(slot) = inner.topics.remove(msg.topic()) {
                inner.bytes -= slot.bytes();
            }
            return;
        }
        inner.seq += 1;
        let seq = inner.seq;
        let removed = match inner.topics.get_mut(msg.topic()) {
            Some(slot) => {
                let old = slot.bytes();
                slot.last = msg.clone();
                slot.count += 1;
                slot.last_seen_ms = now;
                slot.seq = seq;
                old
            }
            None => {
                if inner.topics.len() >= self.max_topics {
                    evict_oldest(&mut inner);
                }
                let slot = Slot {
                    last: msg.clone(),
                    count: 1,
                    last_seen_ms: now,
                    seq,
                };
                inner.topics.insert(msg.topic().to_string(), slot);
                0
            }
        };
        inner.bytes = inner.bytes + added - removed;
        while inner.bytes > self.max_bytes && !inner.topics.is_empty() {
            evict_oldest(&mut inner);
        }
    }

    /// Every entry, sorted by topic. The lock is held only to take the
    /// messages; their payloads are encoded after.
    pub fn entries(&self) -> Vec<TopicEntry> {
        self.entries_where(|_| true)
    }

    /// The entries whose topic `keep` accepts, sorted by topic; the lock is
    /// held as for [`TopicCache::entries`].
    pub fn entries_where(&self, keep: impl Fn(&str) -> bool) -> Vec<TopicEntry> {
        let slots: Vec<Slot> = self
            .lock()
            .topics
            .iter()
            .filter(|(topic, _)| keep(topic))
            .map(|(_, slot)| slot.clone())
            .collect();
        let mut list: Vec<TopicEntry> = slots.iter().map(Slot::entry).collect();
        list.sort_by(|a, b| a.topic.cmp(&b.topic));
        list
    }

    /// Forgets `topic`.
    pub fn forget(&self, topic: &str) {
        let mut inner = self.lock();
        if let Some(slot) = inner.topics.remove(topic) {
            inner.bytes -= slot.bytes();
        }
    }

    /// Topics kept and their bytes.
    #[cfg(test)]
    fn size(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.topics.len(), inner.bytes)
    }
}

impl Slot {
    fn entry(&self) -> TopicEntry {
        let view = MessageView::of(&self.last);
        TopicEntry {
            topic: self.last.topic().to_string(),
            payload: view.payload,
            encoding: view.encoding,
            qos: view.qos,
            retain: view.retain,
            count: self.count,
            last_seen_ms: self.last_seen_ms,
        }
    }
}

fn evict_oldest(inner: &mut Inner) {
    let oldest = inner
        .topics
        .iter()
        .min_by_key(|(_, slot)| slot.seq)
        .map(|(topic, _)| topic.clone());
    if let Some(slot) = oldest.and_then(|topic| inner.topics.remove(&topic)) {
        inner.bytes -= slot.bytes();
    }
}

/// Now, in ms since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::QoS;

    fn m(t: &str, p: &str) -> MqttMessage {
        MqttMessage::new(t, p.to_string(), QoS::AtMostOnce, false)
    }

    #[test]
    fn keeps_the_last_value_and_count_and_stays_bounded() {
        let cache = TopicCache::new(2, 1 << 20);
        cache.record(&m("a", "1"));
        cache.record(&m("a", "2"));
        cache.record(&m("b", "x"));
        let a = &cache.entries()[0];
        assert_eq!((a.payload.as_str(), a.count), ("2", 2));
        cache.record(&m("c", "y"));
        let topics: Vec<String> = cache.entries().into_iter().map(|e| e.topic).collect();
        assert_eq!(topics, ["b", "c"], "the least recently seen went");
    }

    #[test]
    fn past_its_bytes_the_least_recently_seen_topics_go() {
        let cache = TopicCache::new(100, 20);
        cache.record(&m("a", "123456789"));
        cache.record(&m("b", "123456789"));
        assert_eq!(cache.size(), (2, 20));
        cache.record(&m("a", "1234"));
        assert_eq!(cache.size(), (2, 15), "a smaller value frees its bytes");
        cache.record(&m("c", "123456789"));
        assert_eq!(cache.size(), (2, 15), "b was the least recently seen");
        assert_eq!(cache.entries()[0].topic, "a");
        cache.record(&m("d", &"x".repeat(100)));
        assert_eq!(
            cache.size(),
            (2, 15),
            "a value over the whole bound is not kept"
        );
        cache.record(&m("a", &"x".repeat(100)));
        assert_eq!(cache.size(), (1, 10), "nor is the old value of its topic");
        cache.forget("c");
        cache.forget("c");
        assert_eq!(cache.size(), (0, 0));
    }

    #[test]
    fn entries_where_takes_only_the_topics_asked_for() {
        let cache = TopicCache::new(10, 1 << 20);
        for t in ["a/1", "b/1", "a/2"] {
            cache.record(&m(t, "x"));
        }
        let topics: Vec<String> = cache
            .entries_where(|t| t.starts_with("a/"))
            .into_iter()
            .map(|e| e.topic)
            .collect();
        assert_eq!(topics, ["a/1", "a/2"]);
    }
}
