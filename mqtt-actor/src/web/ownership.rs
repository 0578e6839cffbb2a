//! Who owns the server-side subscriptions that web clients asked for
//! (`POST /api/subscriptions`), and how many each may own: plain state, no
//! I/O. The HTTP handlers and the bridge's recheck ask it, then tell the
//! `MqttActor` what it says to release.
//!
//! A filter may have several owners (users, or `None` for anonymous
//! clients, who count as one owner); the server holds it while one is left,
//! or for ever when the application held it before any web client asked
//! (one it subscribes itself). Each owner may own `per_owner` of them, and
//! all owners together `total`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};

/// Who asked for a server-side subscription: a user, or `None` for an
/// anonymous client.
pub(crate) type Owner = Option<String>;

/// Why a server-side subscription cannot be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OverLimit {
    /// The owner already owns this many.
    PerOwner(usize),
    /// All owners together already own this many.
    Total(usize),
}

/// What [`Ownership::add`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Added {
    /// The owner already owned it: nothing changed.
    Already,
    /// The owner owns it now, beside others or the application.
    Joined,
    /// The owner is its first: whether the application held it before is
    /// for the caller to find out ([`Ownership::held_by_app`]).
    First,
}

/// Why [`Ownership::remove`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NotRemoved {
    /// No web client owns it.
    Unowned,
    /// Others own it, and the one asking is not an administrator.
    NotOwner,
}

#[derive(Debug, Default)]
struct Entry {
    owners: BTreeSet<Owner>,
    /// The application held the filter before any web client asked: it
    /// stays held when they all let go.
    app: bool,
}

#[derive(Debug, Default)]
struct Book {
    filters: BTreeMap<String, Entry>,
    per_owner: HashMap<Owner, usize>,
    total: usize,
}

impl Book {
    fn drop_owner(&mut self, owner: &Owner) {
        if let Some(n) = self.per_owner.get_mut(owner) {
            *n -= 1;
            if *n == 0 {
                self.per_owner.remove(owner);
            }
        }
        self.total -= 1;
    }

    /// Forgets `filter` when nobody owns it; whether the server should let
    /// go of it then.
    fn settle(&mut self, filter: &str) -> bool {
        match self.filters.get(filter) {
            Some(entry) if entry.owners.is_empty() => {
                let app = entry.app;
                self.filters.remove(filter);
                !app
            }
            _ => false,
        }
    }
}

/// The owners of the server-side subscriptions web clients asked for.
#[derive(Debug)]
pub(crate) struct Ownership {
    max_per_owner: usize,
    max_total: usize,
    book: Mutex<Book>,
}

impl Ownership {
    /// Each owner may own `per_owner` subscriptions, all together `total`.
    pub fn new(per_owner: usize, total: usize) -> Self {
        Ownership {
            max_per_owner: per_owner,
            max_total: total,
            book: Mutex::new(Book::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Book> {
        // Every step leaves the book consistent.
        self.book.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes `owner` an owner of `filter`, within the limits.
    pub fn add(&self, owner: &Owner, filter: &str) -> Result<Added, OverLimit> {
        let mut book = self.lock();
        let entry = book.filters.get(filter);
        if entry.is_some_and(|e| e.owners.contains(owner)) {
            return Ok(Added::Already);
        }
        let first = entry.is_none();
        if book.per_owner.get(owner).copied().unwrap_or(0) >= self.max_per_owner {
            return Err(OverLimit::PerOwner(self.max_per_owner));
        }
        if book.total >= self.max_total {
            return Err(OverLimit::Total(self.max_total));
        }
        let entry = book.filters.entry(filter.to_string()).or_default();
        entry.owners.insert(owner.clone());
        *book.per_owner.entry(owner.clone()).or_default() += 1;
        book.total += 1;
        Ok(if first { Added::First } else { Added::Joined })
    }

    /// The application held `filter` before its first owner asked.
    pub fn held_by_app(&self, filter: &str) {
        if let Some(entry) = self.lock().filters.get_mut(filter) {
            entry.app = true;
        }
    }

    /// Takes back an [`Ownership::add`] whose subscribe failed.
    pub fn undo(&self, owner: &Owner, filter: &str) {
        let mut book = self.lock();
        let removed = book
            .filters
            .get_mut(filter)
            .is_some_and(|e| e.owners.remove(owner));
        if removed {
            book.drop_owner(owner);
            book.settle(filter);
        }
    }

    /// `owner` lets go of `filter`; an administrator (`admin`) removes every
    /// owner of it. `Ok(true)` when the server should let go of it.
    pub fn remove(&self, owner: &Owner, filter: &str, admin: bool) -> Result<bool, NotRemoved> {
        let mut book = self.lock();
        let Some(entry) = book.filters.get_mut(filter) else {
            return Err(NotRemoved::Unowned);
        };
        let gone: Vec<Owner> = if entry.owners.remove(owner) {
            vec![owner.clone()]
        } else if admin {
            std::mem::take(&mut entry.owners).into_iter().collect()
        } else {
            return Err(NotRemoved::NotOwner);
        };
        for owner in &gone {
            book.drop_owner(owner);
        }
        Ok(book.settle(filter))
    }

    /// Keeps only the ownerships `keep` allows (a user removed, a read grant
    /// taken away); the filters the server should let go of.
    pub fn retain(&self, mut keep: impl FnMut(&Owner, &str) -> bool) -> Vec<String> {
        let mut book = self.lock();
        let mut lost = Vec::new();
        for (filter, entry) in book.filters.iter_mut() {
            entry.owners.retain(|owner| {
                let kept = keep(owner, filter);
                if !kept {
                    lost.push(owner.clone());
                }
                kept
            });
        }
        for owner in &lost {
            book.drop_owner(owner);
        }
        let emptied: Vec<String> = book
            .filters
            .iter()
            .filter(|(_, e)| e.owners.is_empty())
            .map(|(f, _)| f.clone())
            .collect();
        emptied.into_iter().filter(|f| book.settle(f)).collect()
    }

    /// The owners of `filter`, users by name (`None`: anonymous clients).
    pub fn owners(&self, filter: &str) -> Vec<Owner> {
        self.lock()
            .filters
            .get(filter)
            .map(|e| e.owners.iter().cloned().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> Owner {
        Some(name.to_string())
    }

    #[test]
    fn each_owner_and_all_together_are_bounded() {
        let book = Ownership::new(2, 3);
        assert_eq!(book.add(&user("a"), "x"), Ok(Added::First));
        assert_eq!(book.add(&user("a"), "x"), Ok(Added::Already));
        assert_eq!(book.add(&user("a"), "y"), Ok(Added::First));
        assert_eq!(book.add(&user("a"), "z"), Err(OverLimit::PerOwner(2)));
        assert_eq!(book.add(&user("b"), "x"), Ok(Added::Joined));
        assert_eq!(book.add(&None, "w"), Err(OverLimit::Total(3)));
        book.undo(&user("b"), "x");
        assert_eq!(book.add(&None, "w"), Ok(Added::First));
        assert_eq!(book.owners("x"), [user("a")]);
    }

    #[test]
    fn only_an_owner_or_an_administrator_removes_and_the_last_releases() {
        let book = Ownership::new(10, 10);
        book.add(&user("a"), "x").unwrap();
        book.add(&user("b"), "x").unwrap();
        assert_eq!(
            book.remove(&user("c"), "x", false),
            Err(NotRemoved::NotOwner)
        );
        assert_eq!(book.remove(&user("c"), "y", true), Err(NotRemoved::Unowned));
        assert_eq!(
            book.remove(&user("a"), "x", false),
            Ok(false),
            "b still owns it"
        );
        assert_eq!(book.remove(&user("b"), "x", false), Ok(true));
        book.add(&user("a"), "x").unwrap();
        book.add(&user("b"), "x").unwrap();
        assert_eq!(book.remove(&user("c"), "x", true), Ok(true));
        assert_eq!(book.add(&user("a"), "x"), Ok(Added::First), "counts freed");
    }

    #[test]
    fn a_filter_the_application_held_first_stays_held() {
        let book = Ownership::new(10, 10);
        assert_eq!(book.add(&user("a"), "x"), Ok(Added::First));
        book.held_by_app("x");
        assert_eq!(book.remove(&user("a"), "x", false), Ok(false));
        assert_eq!(book.add(&user("a"), "x"), Ok(Added::First), "asked again");
        book.held_by_app("x");
        assert!(book.retain(|_, _| false).is_empty());
    }

    #[test]
    fn ownerships_that_no_longer_hold_are_dropped_and_their_filters_released() {
        let book = Ownership::new(1, 10);
        book.add(&user("gone"), "x").unwrap();
        book.add(&user("stays"), "x").unwrap();
        book.add(&user("reader"), "secret").unwrap();
        let released = book.retain(|owner, filter| {
            owner.as_deref() == Some("stays") || (owner == &user("reader") && filter != "secret")
        });
        assert_eq!(released, ["secret"]);
        assert_eq!(book.owners("x"), [user("stays")]);
        assert_eq!(
            book.add(&user("reader"), "y"),
            Ok(Added::First),
            "its count freed"
        );
    }
}
