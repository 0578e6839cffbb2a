//! Two clients with one client id: the broker takes the session over from
//! whichever connected first, that one reconnects and takes it back, and so
//! on. This watch sees the pattern (the broker ending established
//! connections twice within [`WINDOW`]) so that the actor can say so plainly.
//! Plain state, no I/O.

use std::time::{Duration, Instant};

/// Two losses of an established connection this close together look like
/// another client with the same id; a broker that restarts does not come
/// back and fail again this fast.
pub(crate) const WINDOW: Duration = Duration::from_secs(10);

/// The warning is repeated at most this often while the pattern lasts.
const REPEAT: Duration = Duration::from_secs(60);

/// Recent losses of an established connection.
#[derive(Debug, Default)]
pub(crate) struct TakeoverWatch {
    last_loss: Option<Instant>,
    last_warning: Option<Instant>,
}

impl TakeoverWatch {
    /// An established connection ended at `now`; `explicit` when the broker
    /// said the session was taken over (MQTT 5). Answers whether to warn
    /// about a duplicate client id now.
    pub fn lost(&mut self, now: Instant, explicit: bool) -> bool {
        let previous = self.last_loss.replace(now);
        let twice =
            explicit || previous.is_some_and(|p| now.saturating_duration_since(p) <= WINDOW);
        let quiet = match self.last_warning {
            Some(w) => now.saturating_duration_since(w) >= REPEAT,
            None => true,
        };
        if twice && quiet {
            self.last_warning = Some(now);
            return true;
        }
        false
    }
}

/// Whether a reason for losing the connection says outright that another
/// client took the session (MQTT 5 reason code 0x8E, "Session taken over").
pub(crate) fn says_taken_over(reason: &str) -> bool {
    reason.to_ascii_lowercase().contains("taken over")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn two_losses_within_the_window_warn_once_a_minute() {
        let t0 = Instant::now();
        let mut w = TakeoverWatch::default();
        assert!(!w.lost(t0, false), "one loss is a network fault");
        assert!(
            w.lost(t0 + s(2), false),
            "the second within the window warns"
        );
        assert!(!w.lost(t0 + s(4), false), "not again at once");
        assert!(!w.lost(t0 + s(70), false), "a lone loss after a pause");
        assert!(
            w.lost(t0 + s(72), false),
            "the pattern again, a minute later: warn again"
        );
    }

    #[test]
    fn losses_far_apart_do_not_warn() {
        let t0 = Instant::now();
        let mut w = TakeoverWatch::default();
        assert!(!w.lost(t0, false));
        assert!(!w.lost(t0 + WINDOW + s(1), false));
        assert!(!w.lost(t0 + 2 * WINDOW + s(2), false));
    }

    #[test]
    fn the_brokers_own_word_warns_at_the_first_loss_but_not_every_time() {
        let t0 = Instant::now();
        let mut w = TakeoverWatch::default();
        assert!(w.lost(t0, true));
        assert!(!w.lost(t0 + s(1), true));
    }

    #[test]
    fn the_mqtt5_reason_is_recognised() {
        assert!(says_taken_over(
            "broker sent DISCONNECT: Session taken over"
        ));
        assert!(!says_taken_over("connection lost"));
    }
}
