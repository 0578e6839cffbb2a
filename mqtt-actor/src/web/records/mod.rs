//! What the bridge keeps of the messages under the server's own
//! subscriptions (`POST /api/subscriptions`, and whatever else feeds
//! [`Records::record`]): the last value per topic (`/api/topics`), the last
//! messages per topic (`/api/history`) and the retained messages
//! (`/api/retained`). Each is bounded on its own; the messages themselves are
//! shared between them.

pub(crate) mod cache;
pub(crate) mod history;
pub(crate) mod retained;
#[cfg(feature = "history")]
pub(crate) mod stored;

use std::sync::Arc;

use crate::web::config::BridgeConfig;
use crate::MqttMessage;

use self::cache::TopicCache;
use self::history::History;
use self::retained::RetainedBook;

/// The records of the server's own messages: feed it from the `MqttActor`'s
/// message handler, and give it to the bridge
/// ([`BridgeBuilder::records`](crate::web::BridgeBuilder::records)).
///
/// ```no_run
/// # fn demo(config: mqtt_actor::MqttConfig) -> Result<(), mqtt_actor::MqttError> {
/// use mqtt_actor::web::{BridgeConfig, Records};
/// let records = Records::new(&BridgeConfig::default());
/// let recorder = records.clone();
/// let mqtt = mqtt_actor::MqttActor::builder(config)
///     .on_message(move |_, msg| recorder.record(msg))
///     .start()?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Records {
    /// Last value per topic.
    pub(crate) cache: TopicCache,
    /// Last messages per topic.
    pub(crate) history: History,
    /// Retained messages.
    pub(crate) retained: RetainedBook,
    /// The database history, when one is recorded: `/api/history` answers
    /// from it instead of `history`.
    #[cfg(feature = "history")]
    pub(crate) recorder: std::sync::OnceLock<crate::recorder::Recorder>,
}

impl Records {
    /// Empty records, bounded as `config` says (`topic_cache_*`,
    /// `history_*`).
    pub fn new(config: &BridgeConfig) -> Arc<Self> {
        Arc::new(Records {
            cache: TopicCache::new(config.topic_cache_size, config.topic_cache_bytes),
            history: History::new(config.history_per_topic, config.history_bytes),
            retained: RetainedBook::new(config.topic_cache_size, config.topic_cache_bytes),
            #[cfg(feature = "history")]
            recorder: std::sync::OnceLock::new(),
        })
    }

    /// Answers `/api/history` from `recorder` from now on (the v2 form
    /// and the v2.1 range form); the in-memory history is then not asked.
    /// The first recorder given stays: `false` when one was already set.
    #[cfg(feature = "history")]
    pub fn set_recorder(&self, recorder: crate::recorder::Recorder) -> bool {
        self.recorder.set(recorder).is_ok()
    }

    /// Records a message of the server's own subscriptions in each.
    pub fn record(&self, msg: &MqttMessage) {
        self.cache.record(msg);
        self.history.record(msg);
        self.retained.record(msg);
    }
}
