//! The logins ended by signing out, kept until they would have expired
//! anyway, so that a copy of a signed-out cookie stops working with the
//! original.
//!
//! Bounded: at most `capacity` sign-outs are kept. At the bound the sign-out
//! that would expire first is dropped, and in its place every login ending
//! no later than it is refused (a watermark): that sign-out still holds, and
//! so does every other; the price is that the logins made before it, signed
//! out or not, end early and their users sign in again. A login made after
//! the watermark is never affected. Nothing is ever un-revoked.
//!
//! Time is passed in (`now`), so tests drive the clock.

use std::collections::{BTreeSet, HashMap};
use std::time::SystemTime;

/// The default bound.
pub const CAPACITY: usize = 10_000;

/// Signed-out logins by id and end; see the module docs.
#[derive(Debug)]
pub struct SignOuts {
    capacity: usize,
    by_id: HashMap<String, SystemTime>,
    /// The same entries in the order they expire, to forget and drop from
    /// the front without scanning.
    by_end: BTreeSet<(SystemTime, String)>,
    /// Every login ending at or before this (end, then id) is refused: the
    /// last sign-out dropped at the bound.
    watermark: Option<(SystemTime, String)>,
}

impl Default for SignOuts {
    fn default() -> Self {
        SignOuts::new(CAPACITY)
    }
}

impl SignOuts {
    /// Keeps at most `capacity` sign-outs (at least one).
    pub fn new(capacity: usize) -> SignOuts {
        SignOuts {
            capacity: capacity.max(1),
            by_id: HashMap::new(),
            by_end: BTreeSet::new(),
            watermark: None,
        }
    }

    /// Ends the login `id`, which would end at `expires`.
    pub fn sign_out(&mut self, id: &str, expires: SystemTime, now: SystemTime) {
        self.forget_expired(now);
        if expires <= now || self.by_id.contains_key(id) {
            return;
        }
        while self.by_id.len() >= self.capacity {
            let Some(first) = self.by_end.pop_first() else {
                break;
            };
            self.by_id.remove(&first.1);
            log::warn!(
                "{} sign-outs kept: logins ending before the oldest one end now too",
                self.capacity
            );
            if self.watermark.as_ref().is_none_or(|w| *w < first) {
                self.watermark = Some(first);
            }
        }
        self.by_id.insert(id.to_string(), expires);
        self.by_end.insert((expires, id.to_string()));
    }

    /// Whether the login `id`, ending at `expires`, was signed out (or is
    /// under the watermark).
    pub fn contains(&self, id: &str, expires: SystemTime) -> bool {
        if self.by_id.contains_key(id) {
            return true;
        }
        self.watermark
            .as_ref()
            .is_some_and(|(end, last)| (expires, id) <= (*end, last.as_str()))
    }

    #[cfg(test)]
    /// How many sign-outs are kept.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Drops what expired by `now`: those logins are refused for their end.
    fn forget_expired(&mut self, now: SystemTime) {
        while let Some(first) = self.by_end.first() {
            if first.0 > now {
                break;
            }
            if let Some(first) = self.by_end.pop_first() {
                self.by_id.remove(&first.1);
            }
        }
        if self.watermark.as_ref().is_some_and(|(end, _)| *end <= now) {
            self.watermark = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(t0: SystemTime, secs: u64) -> SystemTime {
        t0 + Duration::from_secs(secs)
    }

    #[test]
    fn a_sign_out_is_kept_until_the_login_would_have_expired() {
        let mut outs = SignOuts::default();
        let t0 = SystemTime::now();
        outs.sign_out("a", at(t0, 60), t0);
        assert!(outs.contains("a", at(t0, 60)));
        assert!(!outs.contains("b", at(t0, 60)));
        // Another sign-out after the end forgets it.
        outs.sign_out("b", at(t0, 200), at(t0, 61));
        assert_eq!(outs.len(), 1);
        // An already expired login is not kept.
        outs.sign_out("c", at(t0, 10), at(t0, 61));
        assert_eq!(outs.len(), 1);
    }

    #[test]
    fn at_the_bound_the_first_to_expire_goes_and_older_logins_end_with_it() {
        let mut outs = SignOuts::new(3);
        let t0 = SystemTime::now();
        for (id, end) in [("b", 20), ("c", 30), ("d", 40), ("e", 50)] {
            outs.sign_out(id, at(t0, end), t0);
            assert!(outs.len() <= 3);
        }
        // b was dropped, yet still refused, as is every older login.
        for (id, end) in [("b", 20), ("c", 30), ("d", 40), ("e", 50), ("a", 10)] {
            assert!(outs.contains(id, at(t0, end)), "{id}");
        }
        // Logins ending after b's end, not signed out, go on.
        assert!(!outs.contains("f", at(t0, 21)));
        assert!(!outs.contains("g", at(t0, 60)));
        // Once b would have expired, the watermark goes too.
        outs.sign_out("h", at(t0, 100), at(t0, 45));
        assert_eq!(outs.len(), 2);
        assert!(!outs.contains("a", at(t0, 10)));
        assert!(outs.contains("e", at(t0, 50)));
        assert!(outs.contains("h", at(t0, 100)));
    }

    #[test]
    fn a_flood_of_sign_outs_never_grows_past_the_bound() {
        let mut outs = SignOuts::new(100);
        let t0 = SystemTime::now();
        for i in 0..10_000u64 {
            outs.sign_out(&i.to_string(), at(t0, 1000 + i), t0);
            assert!(outs.len() <= 100);
            assert!(outs.by_end.len() <= 100);
        }
        assert!(outs.contains("0", at(t0, 1000)));
        assert!(outs.contains("9899", at(t0, 1000 + 9899)));
        assert!(!outs.contains("new", at(t0, 20_000)));
    }
}
