//! How the history's size is reckoned: each message's payload plus
//! [`ROW_OVERHEAD`] bytes, and how many of the oldest messages to delete to
//! get under a bound. Below the store and the retention task, which share it.

/// Bytes counted per message besides its payload: its ids, time, QoS and
/// retain flag, and its entries in the two indexes.
pub const ROW_OVERHEAD: u64 = 64;

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
}
