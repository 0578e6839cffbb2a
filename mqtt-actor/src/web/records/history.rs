//! The last messages of each topic under the server's own subscriptions,
//! behind `GET /api/history`.
//!
//! Bounded per topic (`HISTORY_PER_TOPIC`: past it, the topic's oldest
//! message goes) and in all (`HISTORY_BYTES` of topics and payloads, plus
//! [`MESSAGE_COST`] per message so that empty messages are bounded too: past
//! it, the oldest messages of all topics go). Like the topic cache, it is
//! recorded into by the `MqttActor`'s handler under its lock, so nothing
//! under the lock copies a payload: it keeps the messages themselves (shared,
//! one reference), and [`History::last`] encodes rows after releasing it.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use crate::MqttMessage;
use serde::Serialize;

use super::cache::now_ms;
use crate::web::protocol::{Encoding, MessageView};

/// Bytes counted for each kept message on top of its topic and payload: the
/// bookkeeping of one message (its shared record, its place in the queues).
pub const MESSAGE_COST: usize = 128;

/// One message of `GET /api/history`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryEntry {
    /// The topic.
    pub topic: String,
    /// The payload (text or base64).
    pub payload: String,
    /// Its encoding.
    pub encoding: Encoding,
    /// QoS it arrived with.
    pub qos: crate::QoS,
    /// Retain flag it arrived with.
    pub retain: bool,
    /// When it arrived, ms since the Unix epoch.
    pub ts_ms: u64,
}

#[derive(Debug, Clone)]
struct Kept {
    msg: MqttMessage,
    ts_ms: u64,
    /// Arrival order among all topics, the key of [`Inner::order`].
    seq: u64,
}

fn cost(msg: &MqttMessage) -> usize {
    msg.topic().len() + msg.payload().len() + MESSAGE_COST
}

#[derive(Debug, Default)]
struct Inner {
    topics: HashMap<Arc<str>, VecDeque<Kept>>,
    /// Every kept message's topic by arrival, so the oldest of all is found
    /// without a walk over the topics.
    order: BTreeMap<u64, Arc<str>>,
    /// [`cost`] of every kept message.
    bytes: usize,
    seq: u64,
}

impl Inner {
    /// Drops the oldest message of all; false when there is none.
    fn drop_oldest(&mut self) -> bool {
        let Some((seq, topic)) = self.order.pop_first() else {
            return false;
        };
        if let Some(queue) = self.topics.get_mut(&topic) {
            // A topic's queue is in arrival order, so its front is the oldest.
            if let Some(kept) = queue.pop_front() {
                debug_assert_eq!(kept.seq, seq);
                self.bytes -= cost(&kept.msg);
            }
            if queue.is_empty() {
                self.topics.remove(&topic);
            }
        }
        true
    }
}

/// At most `per_topic` messages of each topic and `max_bytes` in all.
#[derive(Debug)]
pub struct History {
    per_topic: usize,
    max_bytes: usize,
    inner: Mutex<Inner>,
}

impl History {
    /// An empty history keeping `per_topic` messages of each topic and
    /// `max_bytes` in all (either zero: nothing is kept).
    pub fn new(per_topic: usize, max_bytes: usize) -> Self {
        History {
            per_topic,
            max_bytes,
            inner: Mutex::default(),
        }
    }

    /// The most messages `last` answers for a topic.
    pub fn per_topic(&self) -> usize {
        self.per_topic
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("history lock")
    }

    /// Adds `msg` to its topic's history.
    pub fn record(&self, msg: &MqttMessage) {
        let added = cost(msg);
        if self.per_topic == 0 || added > self.max_bytes {
            // Kept, it would push out every other message.
            return;
        }
        let ts_ms = now_ms();
        let mut inner = self.lock();
        inner.seq += 1;
        let seq = inner.seq;
        let topic: Arc<str> = match inner.topics.get_key_value(msg.topic()) {
            Some((topic, _)) => topic.clone(),
            None => Arc::from(msg.topic()),
        };
        let queue = inner.topics.entry(topic.clone()).or_default();
        queue.push_back(Kept {
            msg: msg.clone(),
            ts_ms,
            seq,
        });
        let over = (queue.len() > self.per_topic)
            .then(|| queue.pop_front())
            .flatten();
        inner.order.insert(seq, topic);
        inner.bytes += added;
        if let Some(old) = over {
            inner.order.remove(&old.seq);
            inner.bytes -= cost(&old.msg);
        }
        while inner.bytes > self.max_bytes && inner.drop_oldest() {}
    }

    /// The last `limit` messages of `topic`, oldest first (at most
    /// [`History::per_topic`]); none for a topic never seen. The lock is held
    /// only to take the messages; their payloads are encoded after.
    pub fn last(&self, topic: &str, limit: usize) -> Vec<HistoryEntry> {
        let kept: Vec<Kept> = {
            let inner = self.lock();
            let Some(queue) = inner.topics.get(topic) else {
                return Vec::new();
            };
            let skip = queue.len().saturating_sub(limit);
            queue.iter().skip(skip).cloned().collect()
        };
        kept.iter().map(Kept::entry).collect()
    }

    /// Topics and messages kept, and their bytes.
    #[cfg(test)]
    fn size(&self) -> (usize, usize, usize) {
        let inner = self.lock();
        let messages = inner.topics.values().map(VecDeque::len).sum();
        assert_eq!(messages, inner.order.len(), "every message is in the order");
        (inner.topics.len(), messages, inner.bytes)
    }
}

impl Kept {
    fn entry(&self) -> HistoryEntry {
        let view = MessageView::of(&self.msg);
        HistoryEntry {
            topic: view.topic.to_string(),
            payload: view.payload,
            encoding: view.encoding,
            qos: view.qos,
            retain: view.retain,
            ts_ms: self.ts_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::QoS;

    fn m(t: &str, p: &str) -> MqttMessage {
        MqttMessage::new(t, p.to_string(), QoS::AtMostOnce, false)
    }

    fn payloads(history: &History, topic: &str, limit: usize) -> Vec<String> {
        history
            .last(topic, limit)
            .into_iter()
            .map(|e| e.payload)
            .collect()
    }

    #[test]
    fn keeps_the_last_messages_of_each_topic_oldest_first() {
        let history = History::new(3, 1 << 20);
        for p in ["1", "2", "3", "4"] {
            history.record(&m("a", p));
        }
        history.record(&m("b", "x"));
        assert_eq!(payloads(&history, "a", 100), ["2", "3", "4"]);
        assert_eq!(payloads(&history, "a", 2), ["3", "4"], "the newest two");
        assert_eq!(payloads(&history, "a", 0), Vec::<String>::new());
        assert_eq!(payloads(&history, "b", 100), ["x"]);
        assert!(history.last("c", 100).is_empty());
        assert_eq!(history.size().1, 4);
        let entry = &history.last("b", 1)[0];
        assert_eq!((entry.topic.as_str(), entry.retain), ("b", false));
        assert!(entry.ts_ms > 0);
    }

    #[test]
    fn past_its_bytes_the_oldest_messages_of_all_topics_go() {
        let one = cost(&m("a", "12345"));
        let history = History::new(100, 3 * one);
        history.record(&m("a", "12345"));
        history.record(&m("b", "12345"));
        history.record(&m("a", "67890"));
        assert_eq!(history.size(), (2, 3, 3 * one));
        history.record(&m("c", "12345"));
        assert_eq!(payloads(&history, "a", 100), ["67890"], "a's first went");
        history.record(&m("c", "67890"));
        assert!(
            history.last("b", 100).is_empty(),
            "b is gone with its message"
        );
        assert_eq!(history.size(), (2, 3, 3 * one));
        let huge = "x".repeat(3 * one);
        history.record(&m("d", &huge));
        assert_eq!(
            history.size().1,
            3,
            "a message over the whole bound is not kept"
        );
    }

    #[test]
    fn empty_messages_are_bounded_by_their_cost() {
        let history = History::new(1000, 10 * MESSAGE_COST + 10);
        for i in 0..100 {
            history.record(&m(&format!("t{i}"), ""));
        }
        let (topics, messages, bytes) = history.size();
        assert!(messages <= 10 && topics == messages, "{messages}");
        assert!(bytes <= 10 * MESSAGE_COST + 10);
        assert!(History::new(0, 1 << 20).last("t", 10).is_empty());
    }
}
