//! The filters one WebSocket session holds, and those it asked for that the
//! broker has not answered yet: both count against `WS_MAX_FILTERS`, so a
//! burst of subscribes sent before any answer cannot pass the limit.

use std::collections::{HashMap, HashSet};

/// A session's filters, held and pending. Plain state: the session asks the
/// `MqttActor` and tells the book what came of it.
#[derive(Debug, Default)]
pub(crate) struct FilterBook {
    held: HashSet<String>,
    /// Subscribes sent and not answered, per filter (a client may send the
    /// same one twice before the first answer).
    pending: HashMap<String, usize>,
}

impl FilterBook {
    /// Filters held or pending, each counted once.
    pub fn count(&self) -> usize {
        self.held.len()
            + self
                .pending
                .keys()
                .filter(|f| !self.held.contains(*f))
                .count()
    }

    /// Whether the session holds or asked for any filter.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty() && self.pending.is_empty()
    }

    /// Notes a subscribe to `filter` about to be sent, unless it would make
    /// more than `max` filters; `Err(max)` then, and nothing changes.
    pub fn reserve(&mut self, filter: &str, max: usize) -> Result<(), usize> {
        if !self.knows(filter) && self.count() >= max {
            return Err(max);
        }
        *self.pending.entry(filter.to_string()).or_default() += 1;
        Ok(())
    }

    /// The broker answered a subscribe to `filter`: held when `granted`.
    pub fn answered(&mut self, filter: &str, granted: bool) {
        if let Some(n) = self.pending.get_mut(filter) {
            *n -= 1;
            if *n == 0 {
                self.pending.remove(filter);
            }
        }
        if granted {
            self.held.insert(filter.to_string());
        }
    }

    /// Whether the session holds `filter` or asked for it.
    pub fn knows(&self, filter: &str) -> bool {
        self.held.contains(filter) || self.pending.contains_key(filter)
    }

    /// Stops holding `filter`; `false` if it was not held.
    pub fn release(&mut self, filter: &str) -> bool {
        self.held.remove(filter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_subscribes_count_against_the_limit() {
        let mut book = FilterBook::default();
        assert_eq!(book.reserve("a", 2), Ok(()));
        assert_eq!(book.reserve("b", 2), Ok(()));
        assert_eq!(book.reserve("c", 2), Err(2), "two pending fill the book");
        assert_eq!(
            book.reserve("a", 2),
            Ok(()),
            "the same filter again is no new one"
        );
        book.answered("a", true);
        book.answered("a", true);
        book.answered("b", false);
        assert_eq!(book.count(), 1);
        assert_eq!(
            book.reserve("c", 2),
            Ok(()),
            "a refused one frees its place"
        );
        assert!(book.release("a"));
        assert!(!book.release("a"));
        assert!(book.knows("c") && !book.knows("a"));
        book.answered("c", true);
        assert_eq!(book.count(), 1);
        assert!(!book.is_empty());
    }
}
