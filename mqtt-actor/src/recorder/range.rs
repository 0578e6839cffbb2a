//! The words of a history range: a [`Cursor`] (where a page ends) and the
//! time range a query covers. Below both the store and the queries, which
//! share them.

use std::fmt;
use std::str::FromStr;

use super::error::{RecorderError, Result};

/// Where a page ends: the time and id of its last (oldest) message. Its text
/// form (`{ts_ms}_{id}`, from `Display`, read back by `FromStr`) goes into URLs
/// as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cursor {
    /// The message's time, milliseconds since the Unix epoch.
    pub ts_ms: i64,
    /// The message's row id.
    pub id: i64,
}

impl Cursor {
    /// After every message: the first page.
    pub(crate) const END: Cursor = Cursor {
        ts_ms: i64::MAX,
        id: i64::MAX,
    };
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}", self.ts_ms, self.id)
    }
}

impl FromStr for Cursor {
    type Err = RecorderError;
    fn from_str(s: &str) -> Result<Cursor> {
        let bad = || RecorderError::Cursor(s.to_string());
        let (ts, id) = s.split_once('_').ok_or_else(bad)?;
        Ok(Cursor {
            ts_ms: ts.parse().map_err(|_| bad())?,
            id: id.parse().map_err(|_| bad())?,
        })
    }
}

/// A time range in milliseconds since the Unix epoch: `from_ms` included,
/// `to_ms` excluded.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TimeRange {
    pub from_ms: i64,
    pub to_ms: i64,
}
