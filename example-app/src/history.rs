//! The history flags (`--record`, `HISTORY_*`, `DATA_DIR`) and the
//! recorder they make: what is recorded, where, and for how long. The
//! recorder itself is the library's (`mqtt_actor::recorder`).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use mqtt_actor::recorder::{
    default_data_dir, parse_age, parse_bytes, redact, Recorder, RecorderConfig, RecorderError,
};

/// What the app records into its history database, and where.
#[derive(Clone, clap::Args)]
pub struct HistoryArgs {
    /// A filter whose messages are recorded in the history database
    /// (`/api/history`); repeat the flag, or separate filters with commas in
    /// the variable. The recorder subscribes `$share/history/FILTER` on a
    /// broker connection of its own, so several instances on one database
    /// record each message once.
    #[arg(
        long = "record",
        env = "HISTORY_RECORD",
        value_name = "FILTER",
        value_delimiter = ',',
        default_value = "#"
    )]
    pub record: Vec<String>,
    /// Record nothing: `/api/history` then answers from the last messages
    /// kept in memory (`HISTORY_PER_TOPIC`), and has no range form.
    #[arg(long = "no-record", env = "HISTORY_NO_RECORD", value_parser = clap::builder::BoolishValueParser::new())]
    pub no_record: bool,
    /// The history database: `sqlite://PATH` or
    /// `postgres://USER:PASSWORD@HOST:PORT/DATABASE` (several instances
    /// share one PostgreSQL) [default: sqlite://DATA_DIR/history.db].
    #[arg(
        long = "history-database-url",
        env = "HISTORY_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// Where the app keeps its data (the default history database), created
    /// at start [default: $XDG_DATA_HOME/mqtt-actor, else
    /// ~/.local/share/mqtt-actor].
    #[arg(long = "data-dir", env = "DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Recorded messages older than this are deleted (90s, 30m, 12h, 7d, 2w).
    #[arg(
        long = "history-retention",
        env = "HISTORY_RETENTION",
        value_name = "AGE",
        default_value = "7d",
        value_parser = parse_age
    )]
    pub retention: Duration,
    /// The most the recorded messages may take (payloads plus 64 bytes
    /// each; 500MB, 1GiB); past it the oldest are deleted.
    #[arg(
        long = "history-max-bytes",
        env = "HISTORY_MAX_BYTES",
        value_name = "SIZE",
        default_value = "1GiB",
        value_parser = parse_bytes
    )]
    pub max_bytes: u64,
    /// Messages that may wait for the history database (while it is slow or
    /// down); past it, messages are not recorded: counted in `/metrics`
    /// (`history_dropped_total`) and logged. Browsers get them all the same.
    #[arg(
        long = "history-queue",
        env = "HISTORY_QUEUE",
        value_name = "MESSAGES",
        default_value_t = 100_000
    )]
    pub queue: usize,
    /// Bytes of topics and payloads that may wait for the history database
    /// (64MiB, 1GiB): with large payloads this bound acts first.
    #[arg(
        long = "history-queue-bytes",
        env = "HISTORY_QUEUE_BYTES",
        value_name = "SIZE",
        default_value = "64MiB",
        value_parser = parse_bytes
    )]
    pub queue_max_bytes: u64,
}

/// The database URL shows without its password.
impl fmt::Debug for HistoryArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HistoryArgs")
            .field("record", &self.record)
            .field("no_record", &self.no_record)
            .field("database_url", &self.database_url.as_deref().map(redact))
            .field("data_dir", &self.data_dir)
            .field("retention", &self.retention)
            .field("max_bytes", &self.max_bytes)
            .field("queue", &self.queue)
            .field("queue_max_bytes", &self.queue_max_bytes)
            .finish()
    }
}

impl HistoryArgs {
    /// The filters recorded; none with `--no-record` or an empty list.
    pub fn filters(&self) -> Vec<String> {
        if self.no_record {
            return Vec::new();
        }
        let given = self.record.iter().map(|f| f.trim());
        given.filter(|f| !f.is_empty()).map(String::from).collect()
    }

    /// The data folder: `--data-dir`, else the per-user default.
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir.clone().unwrap_or_else(default_data_dir)
    }

    /// The recorder's settings; `None` when nothing is recorded.
    pub fn recorder_config(&self) -> Option<RecorderConfig> {
        let filters = self.filters();
        if filters.is_empty() {
            return None;
        }
        let mut config = RecorderConfig::default();
        config.filters = filters;
        config.database = self.database_url.clone().filter(|u| !u.trim().is_empty());
        config.data_dir = self.data_dir();
        config.retention = self.retention;
        config.max_bytes = self.max_bytes;
        config.queue_capacity = self.queue.max(1);
        config.queue_bytes = self.queue_max_bytes;
        Some(config)
    }

    /// Opens the recorder (creating the data folder, migrating the schema);
    /// `None` when nothing is recorded. The error names the setting at fault.
    pub async fn open(&self) -> Result<Option<Recorder>, String> {
        let Some(config) = self.recorder_config() else {
            return Ok(None);
        };
        match Recorder::open(config).await {
            Ok(recorder) => Ok(Some(recorder)),
            Err(e @ RecorderError::DataDir { .. }) => Err(format!("{e} (DATA_DIR, --data-dir)")),
            Err(e @ RecorderError::Filter(_)) => Err(format!("{e} (HISTORY_RECORD, --record)")),
            Err(e) => Err(format!(
                "{e} (HISTORY_DATABASE_URL, --history-database-url)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::Settings;
    use clap::Parser;

    #[test]
    fn everything_is_recorded_by_default_for_a_week_up_to_a_gib() {
        let s = Settings::default();
        let c = s.history.recorder_config().expect("recording by default");
        assert_eq!(c.filters, ["#"]);
        assert_eq!(c.database, None, "SQLite in the data folder");
        assert_eq!(c.retention, std::time::Duration::from_secs(7 * 24 * 3600));
        assert_eq!(c.max_bytes, 1 << 30);
    }

    #[test]
    fn history_flags_reach_the_recorder_and_can_switch_it_off() {
        let s = Settings::parse_from([
            "app",
            "--record",
            "plant/#",
            "--record",
            "line/+/state",
            "--history-database-url",
            "postgres://app:s3cret@db/h",
            "--data-dir",
            "/var/lib/app",
            "--history-retention",
            "12h",
            "--history-max-bytes",
            "500MB",
        ]);
        let c = s.history.recorder_config().expect("recording");
        assert_eq!(c.filters, ["plant/#", "line/+/state"]);
        assert_eq!(c.data_dir, std::path::PathBuf::from("/var/lib/app"));
        assert_eq!(c.retention.as_secs(), 12 * 3600);
        assert_eq!(c.max_bytes, 500_000_000);
        let shown = format!("{s:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        let s = Settings::parse_from(["app", "--record", "a/#,b/#"]);
        assert_eq!(s.history.filters(), ["a/#", "b/#"]);
        let s = Settings::parse_from(["app", "--no-record"]);
        assert!(s.history.recorder_config().is_none());
        let s = Settings::parse_from(["app", "--record", ""]);
        assert!(s.history.recorder_config().is_none(), "an empty list");
    }

    #[test]
    fn bad_ages_and_sizes_are_refused_naming_the_flag() {
        let err = Settings::try_parse_from(["app", "--history-retention", "a week"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--history-retention") && err.contains("7d"),
            "{err}"
        );
        let err = Settings::try_parse_from(["app", "--history-max-bytes", "big"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("--history-max-bytes"), "{err}");
    }
}
