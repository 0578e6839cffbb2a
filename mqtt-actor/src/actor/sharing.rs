//! A shared subscription (`$share/GROUP/FILTER`) next to an ordinary filter
//! that overlaps it, on one connection: a broker sends the client one copy
//! of a message per client (MQTT 3.1.1; Mosquitto folds the shared copy into
//! the ordinary one) or one per matching subscription (MQTT 5), and neither
//! says which subscription a copy came for. So the holders of the shared
//! filter also get the ordinary filter's copies, on every instance, and
//! "once per cluster" no longer holds. The actor cannot tell the copies
//! apart; it says so once per shared filter, and the README shows the cure:
//! shared subscriptions on an `MqttActor` of their own.

use super::MqttActor;
use crate::handlers::LogLevel;
use crate::topic::match_part;

/// Whether `filter` is a shared subscription.
fn is_shared(filter: &str) -> bool {
    filter.starts_with("$share/")
}

/// Whether some topic matches both filters (shared ones by their filter part).
pub(crate) fn overlap(a: &str, b: &str) -> bool {
    let (mut a, mut b) = (match_part(a).split('/'), match_part(b).split('/'));
    loop {
        match (a.next(), b.next()) {
            (Some("#"), _) | (_, Some("#")) | (None, None) => return true,
            (None, Some(_)) | (Some(_), None) => return false,
            (Some(x), Some(y)) if x != y && x != "+" && y != "+" => return false,
            _ => {}
        }
    }
}

impl MqttActor {
    /// Warns (once per shared filter) when `filter` and another filter held
    /// on this connection are a shared and an ordinary one that overlap.
    pub(super) fn warn_if_shares_mix(&mut self, filter: &str) {
        let clash = self
            .index
            .entries()
            .map(|(f, _)| f)
            .filter(|f| is_shared(f) != is_shared(filter) && overlap(f, filter))
            .map(|f| {
                if is_shared(f) {
                    (f.to_string(), filter.to_string())
                } else {
                    (filter.to_string(), f.to_string())
                }
            })
            .find(|(shared, _)| !self.mixed_shares_warned.contains(shared));
        let Some((shared, ordinary)) = clash else {
            return;
        };
        self.log(
            LogLevel::Warning,
            &format!(
                "client {}: the shared subscription {shared:?} and {ordinary:?} are held on one \
                 connection; the broker does not say which of them a message is for, so the \
                 handlers of {shared:?} also get the messages of {ordinary:?} and run on every \
                 instance: hold shared subscriptions on an MqttActor of their own",
                self.client_id
            ),
        );
        self.mixed_shares_warned.insert(shared);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_overlap_when_one_topic_matches_both() {
        for (a, b) in [
            ("$share/w/jobs/#", "jobs/#"),
            ("$share/w/jobs/#", "jobs"),
            ("$share/w/jobs/+/x", "jobs/a/+"),
            ("#", "$share/w/a/b"),
            ("a/+/c", "a/b/c"),
        ] {
            assert!(overlap(a, b) && overlap(b, a), "{a} and {b}");
        }
        for (a, b) in [
            ("$share/w/jobs/#", "news/#"),
            ("a/+", "a/b/c"),
            ("a/b", "a/c"),
            ("$share/w/jobs/x", "jobs/y"),
        ] {
            assert!(!overlap(a, b) && !overlap(b, a), "{a} and {b}");
        }
    }
}
