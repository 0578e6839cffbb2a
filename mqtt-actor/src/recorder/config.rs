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
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RecorderConfig {
    /// `sqlite://PATH` or `postgres://USER@HOST:PORT/DB`. `None`: a SQLite
    /// file `history.sqlite` in [`data_dir`](Self::data_dir).
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
            batch_size: 1_000,
            connect_timeout: Duration::from_secs(5),
        }
    }
}

impl RecorderConfig {
    /// The database URL as set, or `None` for the default SQLite file.
    pub fn database_url(&self) -> Option<&str> {
        self.database.as_deref()
    }

    /// The default SQLite file: `history.sqlite` in [`data_dir`](Self::data_dir).
    pub fn default_sqlite_path(&self) -> PathBuf {
        self.data_dir.join("history.sqlite")
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
