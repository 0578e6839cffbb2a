//! What one client's outbox still lets in while some of its filters are
//! being released ([`Releases`]).
//!
//! The `MqttActor` pushes a client's messages straight into its outbox, on
//! its own thread, for every filter the client holds *at the actor*. When the
//! client lets go of a filter (it unsubscribed, or the access rules revoked
//! it), the `Unsubscribe` waits in the actor's mailbox behind whatever the
//! actor is doing, and until the actor handles it, messages of that filter
//! keep coming. The client has been told it no longer holds the filter (for
//! a revocation, that it may no longer read it), so from the moment the
//! release starts until the actor has confirmed it, the outbox lets in only
//! messages that match a filter the client still holds or asked for; the
//! others are not the client's loss, and are dropped without a `lagged`.
//! With no release pending, nothing is checked: one comparison per message.

use std::collections::BTreeSet;

use paho_mqtt::topic_matcher::topic_matches;

/// A client's filters as its outbox knows them, and the releases of them
/// that the `MqttActor` has not confirmed. Plain state: the outbox keeps it
/// under its lock, so that a release starts atomically with the pushes.
#[derive(Debug, Default)]
pub(crate) struct Releases {
    /// The filters the client holds or asked for at the `MqttActor`: what
    /// a message must match to get in while a release is pending.
    held: BTreeSet<String>,
    /// Releases sent to the `MqttActor` and not answered yet.
    pending: usize,
}

impl Releases {
    /// The client holds `filter`, or is about to ask the `MqttActor` for it
    /// (its messages may come before the answer).
    pub fn hold(&mut self, filter: &str) {
        if !self.held.contains(filter) {
            self.held.insert(filter.to_string());
        }
    }

    /// The client no longer holds `filter`, and the `MqttActor` sends
    /// nothing more for it (a refused subscribe, a filter the broker lost).
    pub fn forget(&mut self, filter: &str) {
        self.held.remove(filter);
    }

    /// The client lets go of `filter` and the `MqttActor` is about to be
    /// told: until it confirms ([`Releases::confirmed`]), only messages of
    /// the filters still held get in.
    pub fn release(&mut self, filter: &str) {
        self.held.remove(filter);
        self.pending += 1;
    }

    /// The `MqttActor` handled one of the releases: it sends nothing more
    /// for that filter. Once every release is, all messages get in again.
    pub fn confirmed(&mut self) {
        self.pending = self.pending.saturating_sub(1);
    }

    /// Whether a message on `topic` may enter the outbox.
    #[inline]
    pub fn admits(&self, topic: &str) -> bool {
        self.pending == 0 || self.held.iter().any(|f| topic_matches(f, topic))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn while_a_release_is_pending_only_the_filters_still_held_get_in() {
        let mut releases = Releases::default();
        releases.hold("plant/open/#");
        releases.hold("plant/secret/#");
        assert!(releases.admits("plant/secret/a"));
        releases.release("plant/secret/#");
        assert!(!releases.admits("plant/secret/a"), "released");
        assert!(releases.admits("plant/open/a"), "still held");
        assert!(!releases.admits("elsewhere"));
        releases.confirmed();
        assert!(
            releases.admits("plant/secret/a"),
            "nothing is checked once the actor confirmed"
        );
    }

    #[test]
    fn a_message_under_an_overlapping_filter_still_held_gets_in() {
        let mut releases = Releases::default();
        releases.hold("plant/#");
        releases.hold("plant/secret/+");
        releases.release("plant/secret/+");
        assert!(releases.admits("plant/secret/a"), "plant/# still holds it");
    }

    #[test]
    fn the_restriction_lasts_until_every_release_is_confirmed() {
        let mut releases = Releases::default();
        releases.hold("a");
        releases.hold("b");
        releases.hold("c");
        releases.release("a");
        releases.release("b");
        releases.confirmed();
        assert!(!releases.admits("a"));
        assert!(!releases.admits("b"));
        assert!(releases.admits("c"));
        releases.confirmed();
        releases.confirmed();
        assert!(
            releases.admits("a"),
            "one confirmation too many is harmless"
        );
    }

    #[test]
    fn a_filter_subscribed_again_gets_in_at_once() {
        let mut releases = Releases::default();
        releases.hold("a/#");
        releases.release("a/#");
        assert!(!releases.admits("a/x"));
        releases.hold("a/#");
        assert!(
            releases.admits("a/x"),
            "asked for again: its messages count"
        );
        releases.forget("a/#");
        assert!(!releases.admits("a/x"), "refused: not held");
    }

    #[test]
    fn a_leading_wildcard_does_not_hold_dollar_topics() {
        let mut releases = Releases::default();
        releases.hold("#");
        releases.hold("$SYS/x");
        releases.release("$SYS/x");
        assert!(!releases.admits("$SYS/x"));
        assert!(releases.admits("a"));
    }
}
