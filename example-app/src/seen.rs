//! What the server keeps of the messages under its own subscriptions
//! (`POST /api/subscriptions` and `--handle`): the last value per topic
//! (`/api/topics`), the last messages per topic (`/api/history`) and the
//! retained messages (`/api/retained`). Each is bounded on its own; the
//! messages themselves are shared between them.

use mqtt_actor::MqttMessage;

use crate::cache::TopicCache;
use crate::history::History;
use crate::retained::RetainedBook;
use crate::settings::Settings;

/// The three records of the server's own messages.
#[derive(Debug)]
pub struct Seen {
    /// Last value per topic.
    pub cache: TopicCache,
    /// Last messages per topic.
    pub history: History,
    /// Retained messages.
    pub retained: RetainedBook,
}

impl Seen {
    /// Empty records, bounded as `settings` say.
    pub fn new(settings: &Settings) -> Self {
        Seen {
            cache: TopicCache::new(settings.topic_cache_size, settings.topic_cache_bytes),
            history: History::new(settings.history_per_topic, settings.history_bytes),
            retained: RetainedBook::new(settings.topic_cache_size, settings.topic_cache_bytes),
        }
    }

    /// Records a message of the server's own subscriptions in each.
    pub fn record(&self, msg: &MqttMessage) {
        self.cache.record(msg);
        self.history.record(msg);
        self.retained.record(msg);
    }
}
