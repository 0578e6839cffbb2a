//! The recorder (cargo feature `history`): messages under chosen filters
//! written to SQLite or PostgreSQL, kept for a time and up to a size, and
//! read back by topic filter and time range, newest first, page by page.
//!
//! - **Off the message path.** [`Recorder::record`] only offers the message
//!   to a bounded queue and never waits; a writer task writes batches, one
//!   transaction each. When the database is slow or down, the writer keeps
//!   its batch and retries with back-off while the queue fills; past the
//!   queue, messages are counted as not recorded and logged
//!   ([`RecorderStats`]). The policy is at the top of `writer.rs`.
//! - **Several instances, one history.** [`Recorder::start_feed`] subscribes
//!   to the recorded filters as shared subscriptions (`$share/history/...`),
//!   so that instances recording into one PostgreSQL database record each
//!   message once, and every instance reads the same history.
//! - **Retention** by age and by approximate size, in the background
//!   ([`RecorderConfig::retention`], [`RecorderConfig::max_bytes`]); the
//!   topics left without messages are deleted too.
//! - **Queries**: [`Recorder::history`] with a [`HistoryQuery`]: a filter
//!   (`+`/`#` answer several topics), a time range, a page size, a
//!   [`Cursor`], and the caller's access rule per topic.
//!
//! The schema is migrated at start-up ([`Recorder::open`]). SQLite runs in
//! WAL mode, in a file created with its folder (by default
//! `history.db` in [`RecorderConfig::data_dir`]).
//!
//! ```no_run
//! use mqtt_actor::recorder::{HistoryQuery, Recorder, RecorderConfig};
//! use mqtt_actor::MqttConfig;
//!
//! #[actix::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let mut config = RecorderConfig::default();
//!     config.database = std::env::var("HISTORY_DATABASE_URL").ok(); // None: SQLite
//!     config.filters = vec!["plant/#".into()];
//!     let recorder = Recorder::open(config).await?;
//!     // A broker connection of its own, subscribed to $share/history/plant/#.
//!     let _feed = recorder.start_feed(&MqttConfig::from_env()?)?;
//!
//!     let page = recorder
//!         .history(&HistoryQuery::new("plant/+/temperature").limit(100))
//!         .await?;
//!     for m in &page.messages {
//!         println!("{} {} {:?}", m.ts_ms, m.topic, m.payload);
//!     }
//!     if let Some(cursor) = page.next_cursor {
//!         let older = HistoryQuery::new("plant/+/temperature").before(cursor);
//!         recorder.history(&older).await?;
//!     }
//!     println!("{:?}", recorder.stats());
//!     recorder.close().await;
//!     Ok(())
//! }
//! ```
//!
//! Without a broker, messages can be recorded by hand:
//!
//! ```
//! use mqtt_actor::recorder::{HistoryQuery, Recorder, RecorderConfig};
//! use mqtt_actor::{MqttMessage, QoS};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), mqtt_actor::recorder::RecorderError> {
//! # let dir = std::env::temp_dir().join(format!("mqtt-actor-doc-{}", std::process::id()));
//! let mut config = RecorderConfig::default();
//! config.data_dir = dir.clone();
//! let recorder = Recorder::open(config).await?;
//! recorder.record(&MqttMessage::new("line/3/state", "running", QoS::AtLeastOnce, false));
//! recorder.close().await; // writes what is queued
//!
//! let mut config = RecorderConfig::default(); // a restart: the history is still there
//! config.data_dir = dir.clone();
//! let recorder = Recorder::open(config).await?;
//! let page = recorder.history(&HistoryQuery::new("line/#")).await?;
//! assert_eq!(page.messages[0].payload, "running");
//! # recorder.close().await;
//! # std::fs::remove_dir_all(dir).ok();
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//!
//! - `config.rs`: [`RecorderConfig`].
//! - `writer.rs`: the bounded queue, the writer task and its policy, [`RecorderStats`].
//! - `store.rs`: connecting, migrations (`migrations/sqlite/`, `migrations/postgres/`),
//!   every SQL statement.
//! - `retention.rs`: deleting by age and by size, and the topics left without messages.
//! - `query.rs`: [`HistoryQuery`], [`Page`], [`Cursor`].
//! - `feed.rs`: subscribing an [`MqttActor`](crate::MqttActor) for the recorder.
//! - `error.rs`: [`RecorderError`].

mod config;
mod error;
mod feed;
mod query;
mod range;
mod retention;
mod size;
mod store;
mod writer;

use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::shared_filter;
pub use config::{default_data_dir, parse_age, parse_bytes, redact, RecorderConfig};
pub use error::{RecorderError, Result};
pub use query::{Cursor, HistoryQuery, Page, StoredMessage, DEFAULT_LIMIT, MAX_LIMIT};
pub use size::ROW_OVERHEAD;
pub use writer::{RecorderStats, WARN_EVERY};

use crate::{MqttError, MqttMessage};
use store::Db;
use writer::{Counters, Entry, Queue, Writer};

/// Records messages into a database and answers history queries. Cloning
/// is cheap; every clone feeds and reads the same recorder.
#[derive(Clone)]
pub struct Recorder {
    inner: Arc<Inner>,
}

struct Inner {
    config: RecorderConfig,
    db: Db,
    queue: Queue,
    counters: Arc<Counters>,
    /// Turned true by [`Recorder::close`]; dropping it (the last clone gone)
    /// stops the tasks too.
    stop: watch::Sender<bool>,
    /// The writer and retention tasks, awaited by [`Recorder::close`].
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("backend", &self.inner.db.backend())
            .field("stats", &self.stats())
            .finish()
    }
}

fn validate(config: &RecorderConfig) -> Result<()> {
    for filter in &config.filters {
        crate::validate_filter(filter)?;
        if filter.starts_with("$share/") {
            return Err(MqttError::InvalidFilter {
                filter: filter.clone(),
                reason: "record the filter itself: the share group is a setting of its own"
                    .to_string(),
            }
            .into());
        }
    }
    if let Some(group) = &config.share_group {
        crate::validate_filter(&shared_filter(Some(group), "x"))?;
        if group.contains('/') {
            return Err(MqttError::InvalidFilter {
                filter: group.clone(),
                reason: "a share group must be a non-empty name without '/' or wildcards"
                    .to_string(),
            }
            .into());
        }
    }
    Ok(())
}

impl Recorder {
    /// Checks `config`, connects to its database (creating the SQLite file),
    /// runs the schema migrations and starts the writer and retention tasks
    /// (on the current Tokio runtime, which actix's is).
    pub async fn open(config: RecorderConfig) -> Result<Recorder> {
        validate(&config)?;
        let db = Db::open(&config).await?;
        let counters = Arc::new(Counters::default());
        let (queue, rx) = Queue::new(config.queue_capacity, config.queue_bytes, counters.clone());
        let (stop, stopped) = watch::channel(false);
        let writer = Writer {
            db: db.clone(),
            rx,
            counters: counters.clone(),
            batch_size: config.batch_size.max(1),
            topics: Default::default(),
        };
        let tasks = vec![
            tokio::spawn(writer.run(stopped.clone())),
            tokio::spawn(retention::run(
                db.clone(),
                counters.clone(),
                config.retention,
                config.max_bytes,
                config.retention_interval,
                stopped,
            )),
        ];
        log::info!(
            "history: recording {:?} into {}",
            config.filters,
            db.backend()
        );
        Ok(Recorder {
            inner: Arc::new(Inner {
                config,
                db,
                queue,
                counters,
                stop,
                tasks: Mutex::new(tasks),
            }),
        })
    }

    /// Queues `msg` for writing, stamped with the time now; never waits.
    /// `false` when it will not be recorded (queue full or recorder closed:
    /// counted in [`RecorderStats::dropped`] and logged).
    pub fn record(&self, msg: &MqttMessage) -> bool {
        self.record_at(msg, retention::now_ms())
    }

    /// Like [`record`](Self::record), stamped `ts_ms` (milliseconds since
    /// the epoch): for imports, and for tests of retention.
    pub fn record_at(&self, msg: &MqttMessage, ts_ms: i64) -> bool {
        self.inner.queue.offer(Entry {
            msg: msg.clone(),
            ts_ms,
        })
    }

    /// The counters, for `/metrics`.
    pub fn stats(&self) -> RecorderStats {
        let c = &self.inner.counters;
        RecorderStats {
            recorded: c.recorded.load(Relaxed),
            batches: c.batches.load(Relaxed),
            failed_writes: c.failed_writes.load(Relaxed),
            dropped: c.dropped.load(Relaxed),
            discarded: c.discarded.load(Relaxed),
            pending: self.inner.queue.len() as u64 + c.in_batch.load(Relaxed),
            deleted: c.deleted.load(Relaxed),
            deleted_topics: c.deleted_topics.load(Relaxed),
            writing: c.failing.load(Relaxed) == 0,
        }
    }

    /// One page of the history `query` asks for. The caller applies its
    /// access rule with [`HistoryQuery::allow`].
    pub async fn history(&self, query: &HistoryQuery) -> Result<Page> {
        query::run(&self.inner.db, query).await
    }

    /// How many messages the database holds (all instances' together).
    pub async fn count(&self) -> Result<u64> {
        self.inner.db.count().await
    }

    /// How many topics the database holds (all instances' together): those
    /// with messages, until retention's next pass deletes the others.
    pub async fn count_topics(&self) -> Result<u64> {
        self.inner.db.count_topics().await
    }

    /// Runs retention now (it also runs every
    /// [`RecorderConfig::retention_interval`]); how many messages it deleted.
    pub async fn enforce_retention(&self) -> Result<u64> {
        let c = &self.inner.config;
        retention::enforce(
            &self.inner.db,
            &self.inner.counters,
            c.retention,
            c.max_bytes,
        )
        .await
    }

    /// The settings it was opened with.
    pub fn config(&self) -> &RecorderConfig {
        &self.inner.config
    }

    /// `"SQLite"` or `"PostgreSQL"`.
    pub fn backend(&self) -> &'static str {
        self.inner.db.backend()
    }

    /// Stops taking messages, writes those queued (a few tries each batch;
    /// what cannot be written is counted in [`RecorderStats::discarded`]),
    /// stops retention and closes the database. Queries fail afterwards.
    pub async fn close(&self) {
        self.inner.stop.send_replace(true);
        let tasks =
            std::mem::take(&mut *self.inner.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        for task in tasks {
            if let Err(e) = task.await {
                log::error!("history: a recorder task failed: {e}");
            }
        }
        self.inner.db.close().await;
    }
}
