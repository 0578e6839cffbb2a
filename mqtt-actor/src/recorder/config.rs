//! [`RecorderConfig`]: where the history is kept, what is recorded, how long
//! it is kept and how the writer batches.

use std::path::PathBuf;
use std::time::Duration;

/// The settings of a [`Recorder`](super::Recorder).
///
/// ```
/// use mqtt_actor::recorder::RecorderConfig;
/// use std::time::Duration;
///
/// let mut config = RecorderConfig::default();
/// config.filters = vec!["plant/+/line/#".into()];
/// config.retention = Duration::from_secs(30 * 24 * 3600);
/// assert_eq!(config.database_url(), None);
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct RecorderConfig {
    /// `sqlite://PATH` or `postgres://USER@HOST:PORT/DB`. `None`: a SQLite
    /// file `history.db` in [`data_dir`](Self::data_dir).
    pub database: Option<String>,
    /// Where the default SQLite file is created (with its parent folders).
    /// Default: `$XDG_DATA_HOME/mqtt-actor`, else `$HOME/.local/share/mqtt-actor`,
    /// else `./data`.
    pub data_dir: PathBuf,
    /// The filters recorded (`+` and `#` allowed, no `$share/` prefix: the
    /// recorder adds it with [`share_group`](Self::share_group)).
    pub filters: Vec<String>,
    /// The share group of the recorder's subscriptions: instances that record
    /// into one database use the same group, so the broker hands each message
    /// to one of them. `None`: ordinary subscriptions (one instance only).
    /// Default: `Some("history")`.
    pub share_group: Option<String>,
    /// Messages older than this are deleted. Default: 7 days.
    pub retention: Duration,
    /// The approximate size the messages may take: past it, the oldest are
    /// deleted. Counted as the sum of the payloads plus
    /// [`ROW_OVERHEAD`](super::ROW_OVERHEAD) bytes per message (ids, time,
    /// index entries); the database file itself keeps the space it once
    /// had and reuses it. Default: 1 GiB.
    pub max_bytes: u64,
    /// How often retention runs. Default: one minute.
    pub retention_interval: Duration,
    /// Messages waiting for the writer; past it, messages are not recorded
    /// (counted in [`RecorderStats::dropped`](super::RecorderStats::dropped)
    /// and logged). Default: 100,000.
    pub queue_capacity: usize,
    /// The most bytes (topics and payloads) waiting for the writer: with
    /// large payloads this bound acts before
    /// [`queue_capacity`](Self::queue_capacity), so that a database outage
    /// costs at most this much memory. Default: 64 MiB.
    pub queue_bytes: u64,
    /// The most messages written in one transaction. Default: 1,000.
    pub batch_size: usize,
    /// How long a write or a query waits for a database connection before it
    /// fails (the writer then retries with back-off). Default: 5 s.
    pub connect_timeout: Duration,
}

impl Default for RecorderConfig {
    fn default() -> Self {
        RecorderConfig {
            database: None,
            data_dir: default_data_dir(),
            filters: Vec::new(),
            share_group: Some("history".into()),
            retention: Duration::from_secs(7 * 24 * 3600),
            max_bytes: 1 << 30,
            retention_interval: Duration::from_secs(60),
            queue_capacity: 100_000,
            queue_bytes: 64 << 20,
            batch_size: 1_000,
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// The database URL shows without its password.
impl std::fmt::Debug for RecorderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecorderConfig")
            .field("database", &self.database.as_deref().map(redact))
            .field("data_dir", &self.data_dir)
            .field("filters", &self.filters)
            .field("share_group", &self.share_group)
            .field("retention", &self.retention)
            .field("max_bytes", &self.max_bytes)
            .field("retention_interval", &self.retention_interval)
            .field("queue_capacity", &self.queue_capacity)
            .field("queue_bytes", &self.queue_bytes)
            .field("batch_size", &self.batch_size)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

impl RecorderConfig {
    /// The database URL as set, or `None` for the default SQLite file.
    pub fn database_url(&self) -> Option<&str> {
        self.database.as_deref()
    }

    /// The default SQLite file: `history.db` in [`data_dir`](Self::data_dir).
    pub fn default_sqlite_path(&self) -> PathBuf {
        self.data_dir.join("history.db")
    }
}

/// The per-user data folder: `$XDG_DATA_HOME/mqtt-actor`, else
/// `$HOME/.local/share/mqtt-actor`, else `./data`.
pub fn default_data_dir() -> PathBuf {
    let from_env = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(xdg) = from_env("XDG_DATA_HOME") {
        xdg.join("mqtt-actor")
    } else if let Some(home) = from_env("HOME") {
        home.join(".local/share/mqtt-actor")
    } else {
        PathBuf::from("data")
    }
}

/// `url` with its password replaced, for error messages and logs.
///
/// ```
/// assert_eq!(
///     mqtt_actor::recorder::redact("postgres://app:s3cret@db/h"),
///     "postgres://app:***@db/h"
/// );
/// ```
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((user, host)) => {
            let user = user.split_once(':').map_or(user, |(name, _)| name);
            format!("{scheme}://{user}:***@{host}")
        }
        None => url.to_string(),
    }
}

/// Reads an age such as `7d`, `12h`, `30m`, `90s` or `2w` (a whole number
/// and one unit: `s`, `m`, `h`, `d`, `w`), for a retention setting.
///
/// ```
/// use mqtt_actor::recorder::parse_age;
/// use std::time::Duration;
/// assert_eq!(parse_age("7d"), Ok(Duration::from_secs(7 * 24 * 3600)));
/// assert!(parse_age("seven days").unwrap_err().contains("7d"));
/// ```
pub fn parse_age(text: &str) -> Result<Duration, String> {
    let bad = || {
        format!("{text:?} is not an age: expected a number and a unit, e.g. 90s, 30m, 12h, 7d, 2w")
    };
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = t.split_at(split);
    let number: u64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit.trim() {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 24 * 3600,
        "w" => 7 * 24 * 3600,
        _ => return Err(bad()),
    };
    match number.checked_mul(seconds) {
        Some(0) => Err(format!("{text:?}: an age of zero would keep nothing")),
        Some(s) => Ok(Duration::from_secs(s)),
        None => Err(bad()),
    }
}

/// Reads a size such as `1GiB`, `500MB`, `64KiB` or `1000000` (bytes), for a
/// size bound. `KB`/`MB`/`GB`/`TB` are powers of 1000, `KiB`/`MiB`/`GiB`/`TiB`
/// powers of 1024; case does not matter.
///
/// ```
/// use mqtt_actor::recorder::parse_bytes;
/// assert_eq!(parse_bytes("1GiB"), Ok(1 << 30));
/// assert_eq!(parse_bytes("500MB"), Ok(500_000_000));
/// assert!(parse_bytes("lots").unwrap_err().contains("1GiB"));
/// ```
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let bad = || {
        format!("{text:?} is not a size: expected bytes or a number and a unit, e.g. 500MB, 1GiB")
    };
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: u64 = number.parse().map_err(|_| bad())?;
    let unit = unit.trim().to_ascii_lowercase();
    let factor: u64 = match unit.as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        _ => return Err(bad()),
    };
    match number.checked_mul(factor) {
        Some(0) => Err(format!("{text:?}: a size of zero would keep nothing")),
        Some(bytes) => Ok(bytes),
        None => Err(bad()),
    }
}

/// The subscription of `filter` for the share group `group` (none: the
/// filter itself).
///
/// ```
/// use mqtt_actor::recorder::shared_filter;
/// assert_eq!(shared_filter(Some("history"), "plant/#"), "$share/history/plant/#");
/// assert_eq!(shared_filter(None, "plant/#"), "plant/#");
/// ```
pub fn shared_filter(group: Option<&str>, filter: &str) -> String {
    match group {
        Some(group) => format!("$share/{group}/{filter}"),
        None => filter.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_take_one_unit_and_refuse_zero_and_junk() {
        assert_eq!(parse_age("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_age(" 30m "), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_age("2w"), Ok(Duration::from_secs(14 * 24 * 3600)));
        for bad in [
            "",
            "7",
            "d",
            "7x",
            "-1d",
            "1.5d",
            "0d",
            "99999999999999999w",
        ] {
            assert!(parse_age(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn sizes_take_decimal_and_binary_units() {
        assert_eq!(parse_bytes("1000"), Ok(1000));
        assert_eq!(parse_bytes("64KiB"), Ok(65536));
        assert_eq!(parse_bytes("2 gb"), Ok(2_000_000_000));
        for bad in ["", "MB", "1.5GB", "0", "10 apples", "99999999999TiB"] {
            assert!(parse_bytes(bad).is_err(), "{bad:?}");
        }
    }
}
