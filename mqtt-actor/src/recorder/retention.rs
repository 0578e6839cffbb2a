//! Retention: a background task deletes messages older than
//! [`RecorderConfig::retention`](super::RecorderConfig::retention), then the
//! oldest messages while they take more than
//! [`RecorderConfig::max_bytes`](super::RecorderConfig::max_bytes).
//!
//! Size is approximate: the sum of the payloads plus [`ROW_OVERHEAD`](super::ROW_OVERHEAD) bytes
//! per message, not the database's files (which keep and reuse the space
//! they once had). Topic names are stored once each and not counted.
//!
//! After the messages, each pass deletes the topics no message refers to
//! any more, so that topics that come and go (device or session ids in
//! topic names) do not fill the `topics` table. A pass whose pruning fails
//! (on PostgreSQL, a message written meanwhile for one of those topics by
//! another instance) skips it, logged; the next pass tries again.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

use super::error::Result;
use super::store::Db;
use super::writer::Counters;

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The oldest time kept when messages are kept for `retention`.
pub(crate) fn cutoff_ms(now_ms: i64, retention: Duration) -> i64 {
    now_ms.saturating_sub(i64::try_from(retention.as_millis()).unwrap_or(i64::MAX))
}

/// One pass: messages by age, then by size, then the topics left without
/// messages; how many messages it deleted.
pub(crate) async fn enforce(
    db: &Db,
    counters: &Counters,
    retention: Duration,
    max_bytes: u64,
) -> Result<u64> {
    let old = db.delete_older_than(cutoff_ms(now_ms(), retention)).await?;
    counters.deleted.fetch_add(old, Relaxed);
    let over = db.trim_to(max_bytes).await?;
    counters.deleted.fetch_add(over, Relaxed);
    let topics = prune(db).await;
    counters.deleted_topics.fetch_add(topics, Relaxed);
    if old + over + topics > 0 {
        log::info!(
            "history: retention deleted {old} message(s) older than {retention:?}, {over} past \
             {max_bytes} bytes, and {topics} topic(s) left without messages"
        );
    }
    Ok(old + over)
}

/// Deletes the topics without messages; how many. A failure skips the
/// pruning for this pass only: it never stops retention or the writer.
async fn prune(db: &Db) -> u64 {
    match db.prune_topics().await {
        Ok(n) => n,
        Err(e) => {
            log::warn!(
                "history: retention kept the topics without messages this time (a message \
                 for one of them may have been written meanwhile): {e}"
            );
            0
        }
    }
}

/// Runs [`enforce`] every `every` until `stop` turns true.
pub(crate) async fn run(
    db: Db,
    counters: Arc<Counters>,
    retention: Duration,
    max_bytes: u64,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
        if let Err(e) = enforce(&db, &counters, retention, max_bytes).await {
            log::warn!("history: retention failed, tried again in {every:?}: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cutoff_never_overflows() {
        assert_eq!(cutoff_ms(10_000, Duration::from_secs(3)), 7_000);
        assert_eq!(cutoff_ms(0, Duration::MAX), -i64::MAX);
    }
}
