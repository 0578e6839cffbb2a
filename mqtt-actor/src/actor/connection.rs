//! The connection's bookkeeping: up or down, stopping or not, and the wait
//! before the next attempt. Plain state, no I/O: the methods only change the
//! state and say what the actor should do; `lifecycle.rs` does it.

use std::time::Duration;

/// Doublings of the reconnect delay counted at most; past this the maximum
/// delay applies anyway, and the multiplication cannot overflow.
const MAX_DOUBLINGS: u32 = 16;

/// Connection state of one client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Connection {
    connected: bool,
    /// Whether any connection ever succeeded: the next one is then a reconnect.
    ever_connected: bool,
    /// Set by `Disconnect`: no attempt is made any more.
    stopping: bool,
    /// Failed attempts since the last success; sets the back-off.
    attempt: u32,
    min_delay: Duration,
    max_delay: Duration,
}

impl Connection {
    /// Not connected yet; retries wait `min_delay`, doubling up to `max_delay`.
    pub fn new(min_delay: Duration, max_delay: Duration) -> Self {
        Connection {
            connected: false,
            ever_connected: false,
            stopping: false,
            attempt: 0,
            min_delay,
            max_delay,
        }
    }

    /// Connected right now.
    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// Whether a connection attempt may start (not after `Disconnect`).
    pub fn may_connect(&self) -> bool {
        !self.stopping
    }

    /// An attempt failed or the connection was lost: the wait before the next
    /// attempt, or `None` when none is due (stopping, or connected meanwhile).
    pub fn retry(&mut self) -> Option<Duration> {
        if self.stopping || self.connected {
            return None;
        }
        let delay = self
            .min_delay
            .saturating_mul(2u32.saturating_pow(self.attempt.min(MAX_DOUBLINGS)))
            .min(self.max_delay);
        self.attempt = self.attempt.saturating_add(1);
        Some(delay)
    }

    /// The connection came up. Answers whether it is a reconnect.
    pub fn up(&mut self) -> bool {
        let reconnect = self.ever_connected;
        self.connected = true;
        self.ever_connected = true;
        self.attempt = 0;
        reconnect
    }

    /// The connection went down. Answers whether it was up (a second notice of
    /// the same loss changes nothing).
    pub fn lost(&mut self) -> bool {
        std::mem::replace(&mut self.connected, false)
    }

    /// `Disconnect` was asked for: no more attempts.
    pub fn stop(&mut self) {
        self.stopping = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn the_delay_doubles_from_the_minimum_up_to_the_maximum() {
        let mut c = Connection::new(ms(100), ms(1000));
        let delays: Vec<_> = (0..6).map(|_| c.retry().unwrap()).collect();
        assert_eq!(
            delays,
            [ms(100), ms(200), ms(400), ms(800), ms(1000), ms(1000)]
        );
    }

    #[test]
    fn many_failures_neither_overflow_nor_pass_the_maximum() {
        let mut c = Connection::new(Duration::from_secs(3600), Duration::from_secs(7200));
        for _ in 0..100 {
            assert!(c.retry().unwrap() <= Duration::from_secs(7200));
        }
    }

    #[test]
    fn a_success_resets_the_delay_and_the_next_one_is_a_reconnect() {
        let mut c = Connection::new(ms(100), ms(1000));
        c.retry();
        c.retry();
        assert!(!c.up(), "the first connection is not a reconnect");
        assert!(c.is_connected());
        assert_eq!(c.retry(), None, "no retry while connected");
        assert!(c.lost());
        assert!(!c.lost(), "a second notice of the same loss is ignored");
        assert_eq!(c.retry(), Some(ms(100)));
        assert!(c.up(), "then it is a reconnect");
    }

    #[test]
    fn after_stop_nothing_is_retried() {
        let mut c = Connection::new(ms(100), ms(1000));
        assert!(c.may_connect());
        c.stop();
        assert!(!c.may_connect());
        assert_eq!(c.retry(), None);
    }
}
