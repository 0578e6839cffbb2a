//! [`RecorderError`]: what can go wrong opening, writing or reading the history.

/// Everything that can go wrong in the recorder.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecorderError {
    /// The database URL names no backend the recorder knows.
    #[error("invalid history database {url:?}: {reason}")]
    Url {
        /// The URL as given (without its password).
        url: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// The data folder (or the SQLite file's folder) could not be created.
    #[error("cannot create the history folder {path}: {source}")]
    DataDir {
        /// The folder.
        path: std::path::PathBuf,
        /// What the file system said.
        source: std::io::Error,
    },
    /// A recorded filter or a query's filter breaks the MQTT rules.
    #[error(transparent)]
    Filter(#[from] crate::MqttError),
    /// A paging cursor that this recorder did not hand out.
    #[error("invalid history cursor {0:?}: expected TS_ID, two integers")]
    Cursor(String),
    /// The schema migrations failed.
    #[error("history database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database refused or failed a statement, or cannot be reached.
    #[error("history database: {0}")]
    Database(#[from] sqlx::Error),
}

/// `Result` with a [`RecorderError`].
pub type Result<T, E = RecorderError> = std::result::Result<T, E>;
