//! Retention: a background task deletes messages older than
//! [`RecorderConfig::retention`](super::RecorderConfig::retention), then the
//! oldest messages while they take more than
//! [`RecorderConfig::max_bytes`](super::RecorderConfig::max_bytes).
//!
//! Size is approximate: the sum of the payloads plus [`ROW_OVERHEAD`] bytes
//! per message, not the database's files (which keep and reuse the space
//! they once had). Topic names are stored once each and not counted.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

use super::error::Result;
use super::store::Db;
use super::writer::Counters;

/// Bytes counted per message besides its payload: its ids, time, QoS and
/// retain flag, and its entries in the two indexes.
pub const ROW_OVERHEAD: u64 = 64;

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// How many of the oldest of `rows` messages (with `payload_bytes` of
/// payload in all) to delete so that they take at most `max_bytes`; the
/// average message size stands for the oldest ones'.
pub(crate) fn rows_over(rows: u64, payload_bytes: u64, max_bytes: u64) -> u64 {
    let total = payload_bytes + rows * ROW_OVERHEAD;
    if rows == 0 || total <= max_bytes {
        return 0;
    }
    let average = total.div_ceil(rows).max(1);
    (total - max_bytes).div_ceil(average).min(rows)
}

/// The oldest time kept when messages are kept for `retention`.
pub(crate) fn cutoff_ms(now_ms: i64, retention: Duration) -> i64 {
    now_ms.saturating_sub(i64::try_from(retention.as_millis()).unwrap_or(i64::MAX))
}

/// One pass: by age, then by size; how many messages it deleted.
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
    if old + over > 0 {
        log::info!(
            "history: retention deleted {old} message(s) older than {retention:?} and {over} past {max_bytes} bytes"
        );
    }
    Ok(old + over)
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
    fn nothing_is_deleted_under_the_limit() {
        assert_eq!(rows_over(0, 0, 0), 0);
        assert_eq!(rows_over(10, 100, 10 * ROW_OVERHEAD + 100), 0);
    }

    #[test]
    fn the_excess_is_deleted_in_average_messages() {
        // 100 messages of 36 bytes: 100 bytes each with the overhead.
        assert_eq!(rows_over(100, 3_600, 5_000), 50);
        assert_eq!(rows_over(100, 3_600, 4_999), 51);
        assert_eq!(rows_over(100, 3_600, 0), 100);
    }

    #[test]
    fn the_cutoff_never_overflows() {
        assert_eq!(cutoff_ms(10_000, Duration::from_secs(3)), 7_000);
        assert_eq!(cutoff_ms(0, Duration::MAX), -i64::MAX);
    }
}
