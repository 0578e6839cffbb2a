//! The bounded last-value cache behind `GET /api/topics`: the newest message per
//! topic under the server's own subscriptions.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use mqtt_actor::MqttMessage;
use serde::Serialize;

use crate::protocol::{Encoding, MessageView};

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
    pub qos: mqtt_actor::QoS,
    /// Last retain flag.
    pub retain: bool,
    /// Messages seen on the topic.
    pub count: u64,
    /// When the last one arrived, ms since the Unix epoch.
    pub last_seen_ms: u64,
}

/// At most `capacity` topics; a new topic past that evicts the least recently seen.
#[derive(Debug)]
pub struct TopicCache {
    capacity: usize,
    topics: HashMap<String, TopicEntry>,
}

impl TopicCache {
    /// An empty cache for `capacity` topics.
    pub fn new(capacity: usize) -> Self {
        TopicCache {
            capacity,
            topics: HashMap::new(),
        }
    }

    /// Records `msg` as its topic's last value.
    pub fn record(&mut self, msg: &MqttMessage) {
        if self.capacity == 0 {
            return;
        }
        let view = MessageView::of(msg);
        let now = now_ms();
        if let Some(e) = self.topics.get_mut(msg.topic()) {
            e.payload = view.payload;
            e.encoding = view.encoding;
            e.qos = view.qos;
            e.retain = view.retain;
            e.count += 1;
            e.last_seen_ms = now;
            return;
        }
        if self.topics.len() >= self.capacity {
            self.evict_oldest();
        }
        self.topics.insert(
            msg.topic().to_string(),
            TopicEntry {
                topic: msg.topic().to_string(),
                payload: view.payload,
                encoding: view.encoding,
                qos: view.qos,
                retain: view.retain,
                count: 1,
                last_seen_ms: now,
            },
        );
    }

    fn evict_oldest(&mut self) {
        let oldest = self
            .topics
            .values()
            .min_by_key(|e| e.last_seen_ms)
            .map(|e| e.topic.clone());
        if let Some(topic) = oldest {
            self.topics.remove(&topic);
        }
    }

    /// Every entry, sorted by topic.
    pub fn entries(&self) -> Vec<TopicEntry> {
        let mut list: Vec<TopicEntry> = self.topics.values().cloned().collect();
        list.sort_by(|a, b| a.topic.cmp(&b.topic));
        list
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqtt_actor::QoS;

    #[test]
    fn keeps_the_last_value_and_count_and_stays_bounded() {
        let mut cache = TopicCache::new(2);
        let m = |t: &str, p: &str| MqttMessage::new(t, p.to_string(), QoS::AtMostOnce, false);
        cache.record(&m("a", "1"));
        cache.record(&m("a", "2"));
        cache.record(&m("b", "x"));
        let a = &cache.entries()[0];
        assert_eq!((a.payload.as_str(), a.count), ("2", 2));
        cache.record(&m("c", "y"));
        assert_eq!(cache.entries().len(), 2);
    }
}
