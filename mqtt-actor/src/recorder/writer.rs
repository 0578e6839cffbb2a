//! The writer: the bounded queue between the message path and the database,
//! and the task that empties it in batches.
//!
//! Policy: [`Queue::offer`] never waits. A full queue (by count, or by the
//! bytes of its topics and payloads) refuses the message,
//! which is counted ([`RecorderStats::dropped`]) and logged at most every
//! [`WARN_EVERY`]. The writer takes up to `batch_size` queued messages and
//! writes them in one transaction. A batch that fails for want of the
//! database (connection lost, server shutting down, busy) is kept and
//! retried with back-off while the queue fills; once the database answers
//! again the writer catches up with the queue. A batch the database refuses
//! outright is written again row by row, and only the rows it refuses are
//! given up ([`RecorderStats::discarded`], logged as errors).
//!
//! Topic ids are cached, at most [`TOPIC_CACHE_MAX`] of them. A write that
//! fails forgets the ids of its batch's topics, so that its retry looks them
//! up again: retention (of this instance or another) may have deleted a
//! topic whose messages were all gone, and its cached id refers to nothing.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use super::error::Result;
use super::store::{is_transient, Db, NewRow};
use crate::MqttMessage;

/// The least time between two warnings about a full queue.
pub const WARN_EVERY: Duration = Duration::from_secs(10);

/// The back-off of the writer's retries.
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);

/// Tries of a batch the database refuses before it is written row by row.
const REFUSALS_BEFORE_SPLIT: u32 = 2;

/// The most topic ids a writer keeps in memory. Topics that come and go
/// (device or session ids in topic names) would otherwise grow the cache
/// without end; past the bound the least recently used half goes, and a
/// topic still in use costs one lookup to come back.
pub(crate) const TOPIC_CACHE_MAX: usize = 10_000;

/// One message waiting to be written, with the time it was received.
pub(crate) struct Entry {
    pub msg: MqttMessage,
    pub ts_ms: i64,
}

/// What the recorder did so far, from [`Recorder::stats`](super::Recorder::stats).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecorderStats {
    /// Messages written (committed).
    pub recorded: u64,
    /// Transactions committed.
    pub batches: u64,
    /// Writes that failed (each failed try of a batch; the batch is retried).
    pub failed_writes: u64,
    /// Messages not recorded because the queue was full (the database was
    /// slow or down for longer than the queue lasts) or the recorder was closed.
    pub dropped: u64,
    /// Messages not recorded because the database refused them, or could
    /// not be reached when the recorder was closed.
    pub discarded: u64,
    /// Messages waiting: queued, or in the batch being written or retried.
    pub pending: u64,
    /// Messages deleted by retention.
    pub deleted: u64,
    /// Topics deleted by retention: no message referred to them any more.
    pub deleted_topics: u64,
    /// Whether the last write succeeded (false while the database is down).
    pub writing: bool,
}

/// The counters behind [`RecorderStats`], shared by the queue, the writer
/// and retention.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub recorded: AtomicU64,
    pub batches: AtomicU64,
    pub failed_writes: AtomicU64,
    pub dropped: AtomicU64,
    pub discarded: AtomicU64,
    pub deleted: AtomicU64,
    pub deleted_topics: AtomicU64,
    /// The size of the batch the writer holds (taken from the queue, not
    /// yet committed).
    pub in_batch: AtomicU64,
    /// 1 after a failed write, 0 after a good one.
    pub failing: AtomicU64,
    /// Bytes of topics and payloads in the queue (not in the batch).
    pub queued_bytes: AtomicU64,
}

impl Entry {
    /// What it counts against the queue's bytes.
    pub fn bytes(&self) -> u64 {
        (self.msg.topic().len() + self.msg.payload().len()) as u64
    }
}

/// Takes `entries`' bytes off the queue's count, once they left it.
fn dequeued(counters: &Counters, entries: &[Entry]) {
    let bytes: u64 = entries.iter().map(Entry::bytes).sum();
    counters.queued_bytes.fetch_sub(bytes, Relaxed);
}

/// The sending side: the message path's only contact with the recorder.
pub(crate) struct Queue {
    tx: mpsc::Sender<Entry>,
    /// The bound of [`Counters::queued_bytes`].
    max_bytes: u64,
    counters: Arc<Counters>,
    /// Refusals not yet told in a warning, and when the last one was.
    untold: AtomicU64,
    last_warn_ms: AtomicU64,
    started: Instant,
}

impl Queue {
    pub fn new(
        capacity: usize,
        max_bytes: u64,
        counters: Arc<Counters>,
    ) -> (Queue, mpsc::Receiver<Entry>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let queue = Queue {
            tx,
            max_bytes,
            counters,
            untold: AtomicU64::new(0),
            last_warn_ms: AtomicU64::new(0),
            started: Instant::now(),
        };
        (queue, rx)
    }

    /// Queues `entry` without waiting; `false` (counted and logged) when the
    /// queue is full or closed.
    pub fn offer(&self, entry: Entry) -> bool {
        let bytes = entry.bytes();
        let queued = &self.counters.queued_bytes;
        // The first message always fits, however large: the bound is on
        // what waits behind it.
        let room = queued.load(Relaxed) == 0 || queued.load(Relaxed) + bytes <= self.max_bytes;
        if room {
            queued.fetch_add(bytes, Relaxed);
            if self.tx.try_send(entry).is_ok() {
                return true;
            }
            queued.fetch_sub(bytes, Relaxed);
        }
        self.counters.dropped.fetch_add(1, Relaxed);
        self.untold.fetch_add(1, Relaxed);
        // Milliseconds since start, plus one: 0 means "never warned".
        let now = self.started.elapsed().as_millis() as u64 + 1;
        let last = self.last_warn_ms.load(Relaxed);
        let due = last == 0 || now >= last + WARN_EVERY.as_millis() as u64;
        if due
            && self
                .last_warn_ms
                .compare_exchange(last, now, Relaxed, Relaxed)
                .is_ok()
        {
            log::warn!(
                "history: the recorder's queue is full or closed: {} message(s) not recorded \
                 since the last warning ({} in all)",
                self.untold.swap(0, Relaxed),
                self.counters.dropped.load(Relaxed)
            );
        }
        false
    }

    /// Messages in the queue.
    pub fn len(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }
}

/// Exponential back-off between retries, a pure struct.
#[derive(Debug)]
pub(crate) struct Backoff {
    next: Duration,
}

impl Backoff {
    pub fn new() -> Self {
        Backoff { next: RETRY_FIRST }
    }

    /// The wait before the next try, doubling up to the maximum.
    pub fn fail(&mut self) -> Duration {
        let wait = self.next;
        self.next = (self.next * 2).min(RETRY_MAX);
        wait
    }

    pub fn reset(&mut self) {
        self.next = RETRY_FIRST;
    }
}

/// Topic ids by name, at most [`TOPIC_CACHE_MAX`], a pure struct: two
/// generations, the recent and the older; a hit in the older moves the
/// topic to the recent one, and when the recent one is full the older is
/// dropped (the topics not used since the previous turn).
#[derive(Debug, Default)]
pub(crate) struct TopicCache {
    recent: HashMap<String, i64>,
    older: HashMap<String, i64>,
}

impl TopicCache {
    /// The cached id of `topic`.
    pub fn get(&mut self, topic: &str) -> Option<i64> {
        if let Some(&id) = self.recent.get(topic) {
            return Some(id);
        }
        let (name, id) = self.older.remove_entry(topic)?;
        self.insert(name, id);
        Some(id)
    }

    /// Caches `topic`'s id; when the recent generation is full it becomes
    /// the older one, and the older one is dropped.
    pub fn insert(&mut self, topic: String, id: i64) {
        if self.recent.len() >= TOPIC_CACHE_MAX / 2 {
            self.older = std::mem::take(&mut self.recent);
        }
        self.recent.insert(topic, id);
    }

    /// Drops `topic`'s id: the next write looks it up again.
    pub fn forget(&mut self, topic: &str) {
        self.recent.remove(topic);
        self.older.remove(topic);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.recent.len() + self.older.len()
    }
}

/// The writer task's state.
pub(crate) struct Writer {
    pub db: Db,
    pub rx: mpsc::Receiver<Entry>,
    pub counters: Arc<Counters>,
    pub batch_size: usize,
    /// Topic ids already known: most messages need no lookup.
    pub topics: TopicCache,
}

impl Writer {
    /// Writes batches until `stop` turns true, then writes what is queued
    /// (trying each batch a few times) and returns.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let mut batch = Vec::with_capacity(self.batch_size);
        let mut backoff = Backoff::new();
        let mut refusals = 0;
        loop {
            if batch.is_empty() {
                tokio::select! {
                    n = self.rx.recv_many(&mut batch, self.batch_size) => if n == 0 { break },
                    _ = stop.changed() => break,
                }
                dequeued(&self.counters, &batch);
                self.counters.in_batch.store(batch.len() as u64, Relaxed);
            }
            match self.write(&batch).await {
                Ok(()) => {
                    self.committed(batch.len());
                    batch.clear();
                    backoff.reset();
                    refusals = 0;
                }
                Err(e) if is_transient(&e) => {
                    let wait = backoff.fail();
                    self.failed(&e, batch.len(), wait);
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = stop.changed() => break,
                    }
                }
                Err(e) => {
                    refusals += 1;
                    self.failed(&e, batch.len(), Duration::ZERO);
                    if refusals >= REFUSALS_BEFORE_SPLIT {
                        self.write_each(&batch).await;
                        batch.clear();
                        // Also when every row was refused (nothing committed).
                        self.counters.in_batch.store(0, Relaxed);
                        refusals = 0;
                    }
                }
            }
        }
        self.drain(batch).await;
    }

    /// After `stop`: refuses new messages, writes what was queued, and
    /// counts what could not be written.
    async fn drain(&mut self, mut batch: Vec<Entry>) {
        self.rx.close();
        while let Ok(entry) = self.rx.try_recv() {
            dequeued(&self.counters, std::slice::from_ref(&entry));
            batch.push(entry);
        }
        let mut backoff = Backoff::new();
        for chunk in batch.chunks(self.batch_size.max(1)) {
            let mut tries = 0;
            loop {
                match self.write(chunk).await {
                    Ok(()) => {
                        self.committed(chunk.len());
                        break;
                    }
                    Err(e) if tries < 3 => {
                        tries += 1;
                        let wait = backoff.fail();
                        self.failed(&e, chunk.len(), wait);
                        tokio::time::sleep(wait).await;
                    }
                    Err(e) => {
                        self.counters.failed_writes.fetch_add(1, Relaxed);
                        self.counters
                            .discarded
                            .fetch_add(chunk.len() as u64, Relaxed);
                        log::error!(
                            "history: {} message(s) not recorded at shutdown: {e}",
                            chunk.len()
                        );
                        break;
                    }
                }
            }
        }
        self.counters.in_batch.store(0, Relaxed);
    }

    /// Writes `batch` in one transaction. On failure its topics' cached ids
    /// are dropped: one of them may have been pruned by retention, and
    /// the next try looks them up again (inserting the topic anew).
    async fn write(&mut self, batch: &[Entry]) -> Result<()> {
        let written = self.write_with_cached_ids(batch).await;
        if written.is_err() {
            for entry in batch {
                self.topics.forget(entry.msg.topic());
            }
        }
        written
    }

    async fn write_with_cached_ids(&mut self, batch: &[Entry]) -> Result<()> {
        let mut rows = Vec::with_capacity(batch.len());
        for entry in batch {
            let topic = entry.msg.topic();
            let topic_id = match self.topics.get(topic) {
                Some(id) => id,
                None => {
                    let id = self.db.topic_id(topic).await?;
                    self.topics.insert(topic.to_string(), id);
                    id
                }
            };
            rows.push(NewRow {
                topic_id,
                ts_ms: entry.ts_ms,
                payload: entry.msg.payload(),
                qos: i16::from(u8::from(entry.msg.qos())),
                retain: entry.msg.retain(),
            });
        }
        self.db.insert(&rows).await
    }

    /// Writes a batch the database refused one row at a time, giving up on
    /// the rows it refuses.
    async fn write_each(&mut self, batch: &[Entry]) {
        for entry in batch {
            match self.write(std::slice::from_ref(entry)).await {
                Ok(()) => self.committed(1),
                Err(e) => {
                    self.counters.failed_writes.fetch_add(1, Relaxed);
                    self.counters.discarded.fetch_add(1, Relaxed);
                    log::error!(
                        "history: the database refused a message on {:?}, not recorded: {e}",
                        entry.msg.topic()
                    );
                }
            }
        }
    }

    fn committed(&self, rows: usize) {
        let c = &self.counters;
        c.recorded.fetch_add(rows as u64, Relaxed);
        c.batches.fetch_add(1, Relaxed);
        c.in_batch.store(0, Relaxed);
        if c.failing.swap(0, Relaxed) == 1 {
            log::info!("history: writing to the database again");
        }
    }

    fn failed(&self, e: &super::error::RecorderError, rows: usize, retry_in: Duration) {
        let c = &self.counters;
        c.failed_writes.fetch_add(1, Relaxed);
        let first = c.failing.swap(1, Relaxed) == 0;
        // One warning when writes start failing, then one per long wait.
        if first || retry_in == RETRY_MAX {
            log::warn!(
                "history: writing {rows} message(s) failed, {} queued, retrying in {retry_in:?}: {e}",
                self.rx.len()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::QoS;

    #[test]
    fn the_back_off_doubles_up_to_its_maximum_and_resets() {
        let mut b = Backoff::new();
        assert_eq!(b.fail(), RETRY_FIRST);
        assert_eq!(b.fail(), RETRY_FIRST * 2);
        for _ in 0..20 {
            b.fail();
        }
        assert_eq!(b.fail(), RETRY_MAX);
        b.reset();
        assert_eq!(b.fail(), RETRY_FIRST);
    }

    #[test]
    fn the_topic_cache_stays_bounded_and_keeps_the_topics_in_use() {
        let mut cache = TopicCache::default();
        cache.insert("in/use".to_string(), -1);
        for i in 0..5 * TOPIC_CACHE_MAX as i64 {
            cache.insert(format!("device/{i}"), i);
            assert!(cache.len() <= TOPIC_CACHE_MAX);
            if i % 1_000 == 0 {
                assert_eq!(cache.get("in/use"), Some(-1), "after {i} others");
            }
        }
        assert!(cache.len() > TOPIC_CACHE_MAX / 2, "the recent half kept");
        assert_eq!(cache.get("device/0"), None, "the unused topics went");
        let last = 5 * TOPIC_CACHE_MAX as i64 - 1;
        assert_eq!(cache.get(&format!("device/{last}")), Some(last));
        cache.forget("in/use");
        assert_eq!(cache.get("in/use"), None);
    }

    #[test]
    fn a_full_queue_refuses_and_counts_without_waiting() {
        let counters = Arc::new(Counters::default());
        let (queue, _rx) = Queue::new(2, u64::MAX, counters.clone());
        let entry = || Entry {
            msg: MqttMessage::new("a", "x", QoS::AtMostOnce, false),
            ts_ms: 0,
        };
        assert!(queue.offer(entry()));
        assert!(queue.offer(entry()));
        assert!(!queue.offer(entry()));
        assert!(!queue.offer(entry()));
        assert_eq!(counters.dropped.load(Relaxed), 2);
        assert_eq!(queue.len(), 2);
    }

    #[test]
    fn the_queue_refuses_past_its_bytes_but_always_takes_a_first_message() {
        let counters = Arc::new(Counters::default());
        let (queue, mut rx) = Queue::new(100, 10, counters.clone());
        let entry = |payload: &str| Entry {
            msg: MqttMessage::new("t", payload.to_string(), QoS::AtMostOnce, false),
            ts_ms: 0,
        };
        assert!(queue.offer(entry(&"x".repeat(50))), "alone, it fits");
        assert!(!queue.offer(entry("abc")), "behind 51 bytes, 4 more do not");
        let taken = rx.try_recv().expect("one queued");
        dequeued(&counters, std::slice::from_ref(&taken));
        assert!(queue.offer(entry("abc")));
        assert!(queue.offer(entry("abcde")), "4 + 6 bytes: exactly 10");
        assert!(!queue.offer(entry("")));
        assert_eq!(counters.dropped.load(Relaxed), 2);
    }
}
