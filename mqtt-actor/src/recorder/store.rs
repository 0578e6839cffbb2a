//! The database: connecting (SQLite or PostgreSQL), the schema migrations,
//! and every statement the recorder runs. The SQL is written once for both
//! backends (`$N` parameters work in both); [`Db`] holds the typed pool of
//! one or the other, and `on_pool!` runs the same code against either.

use std::borrow::Cow;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use futures::future::BoxFuture;
use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row};

pub(crate) use super::config::redact;

use super::config::RecorderConfig;
use super::error::{RecorderError, Result};
use super::range::{Cursor, TimeRange};

/// The most rows of one INSERT statement: 5 parameters a row stays under
/// SQLite's 32,766 and PostgreSQL's 65,535 parameters.
const INSERT_CHUNK: usize = 1_000;

/// Connections per pool: the writer, retention and a few queries at once.
const POOL_SIZE: u32 = 4;

/// The key of PostgreSQL's advisory lock that lets one instance at a time
/// trim by size (two would each delete the same excess).
const TRIM_LOCK: i64 = 0x6d71_7474_6869_7374; // "mqtthist"

/// A pool of SQLite or PostgreSQL connections.
#[derive(Clone, Debug)]
pub(crate) enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the pool and `$DB` to the database type.
macro_rules! on_pool {
    ($db:expr, $pool:ident, $DB:ident => $body:expr) => {
        match $db {
            Db::Sqlite($pool) => {
                #[allow(dead_code)]
                type $DB = sqlx::Sqlite;
                $body
            }
            Db::Postgres($pool) => {
                #[allow(dead_code)]
                type $DB = sqlx::Postgres;
                $body
            }
        }
    };
}

/// One message as the writer hands it to the database.
pub(crate) struct NewRow<'a> {
    pub topic_id: i64,
    pub ts_ms: i64,
    pub payload: &'a [u8],
    pub qos: i16,
    pub retain: bool,
}

/// One message as read back.
pub(crate) struct StoredRow {
    pub id: i64,
    pub topic_id: i64,
    pub ts_ms: i64,
    pub payload: Vec<u8>,
    pub qos: i16,
    pub retain: bool,
}

/// The migrations compiled into the library, one list per SQL dialect.
#[derive(Debug)]
struct Embedded(&'static [(i64, &'static str, &'static str)]);

const SQLITE_MIGRATIONS: Embedded = Embedded(&[(
    1,
    "messages",
    include_str!("migrations/sqlite/0001_messages.sql"),
)]);

const POSTGRES_MIGRATIONS: Embedded = Embedded(&[(
    1,
    "messages",
    include_str!("migrations/postgres/0001_messages.sql"),
)]);

impl<'s> MigrationSource<'s> for Embedded {
    fn resolve(self) -> BoxFuture<'s, std::result::Result<Vec<Migration>, BoxDynError>> {
        Box::pin(async move {
            Ok(self
                .0
                .iter()
                .map(|&(version, description, sql)| {
                    Migration::new(
                        version,
                        Cow::Borrowed(description),
                        MigrationType::Simple,
                        Cow::Borrowed(sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

fn create_dir(path: &Path) -> Result<()> {
    if path.as_os_str().is_empty() {
        return Ok(());
    }
    std::fs::create_dir_all(path).map_err(|source| RecorderError::DataDir {
        path: path.to_path_buf(),
        source,
    })
}

impl Db {
    /// Connects to the configured database (creating the SQLite file and its
    /// folder) and runs the migrations.
    pub async fn open(config: &RecorderConfig) -> Result<Db> {
        let invalid = |url: &str, reason: String| RecorderError::Url {
            url: redact(url),
            reason,
        };
        let db = match config.database_url() {
            None => {
                create_dir(&config.data_dir)?;
                let options = SqliteConnectOptions::new().filename(config.default_sqlite_path());
                Db::sqlite(options, config.connect_timeout).await?
            }
            Some(url) if url.starts_with("sqlite:") => {
                let options =
                    SqliteConnectOptions::from_str(url).map_err(|e| invalid(url, e.to_string()))?;
                if let Some(parent) = options.get_filename().parent() {
                    create_dir(parent)?;
                }
                Db::sqlite(options, config.connect_timeout).await?
            }
            Some(url) if url.starts_with("postgres:") || url.starts_with("postgresql:") => {
                let options =
                    PgConnectOptions::from_str(url).map_err(|e| invalid(url, e.to_string()))?;
                let pool = PgPoolOptions::new()
                    .max_connections(POOL_SIZE)
                    .acquire_timeout(config.connect_timeout)
                    .connect_with(options)
                    .await?;
                Migrator::new(POSTGRES_MIGRATIONS).await?.run(&pool).await?;
                Db::Postgres(pool)
            }
            Some(url) => {
                return Err(invalid(
                    url,
                    "expected sqlite://PATH or postgres://USER@HOST:PORT/DATABASE".into(),
                ))
            }
        };
        Ok(db)
    }

    async fn sqlite(options: SqliteConnectOptions, timeout: Duration) -> Result<Db> {
        // WAL: readers never wait for the writer; NORMAL: no fsync per
        // commit (a power cut may lose the last batches, never corrupt).
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            // sqlx's default, said here because retention depends on it:
            // a message whose topic was pruned since the writer cached its
            // id is refused (and written again under a fresh id), never
            // stored pointing at no topic.
            .foreign_keys(true)
            .busy_timeout(timeout);
        let pool = SqlitePoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(timeout)
            .connect_with(options)
            .await?;
        Migrator::new(SQLITE_MIGRATIONS).await?.run(&pool).await?;
        Ok(Db::Sqlite(pool))
    }

    /// Whether this is PostgreSQL (for logs).
    pub fn backend(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "SQLite",
            Db::Postgres(_) => "PostgreSQL",
        }
    }

    /// Closes every connection.
    pub async fn close(&self) {
        on_pool!(self, pool, DB => pool.close().await)
    }

    /// The id of `topic`, inserted when new (in a statement of its own, so
    /// that two instances adding one topic never wait on each other's batch).
    pub async fn topic_id(&self, topic: &str) -> Result<i64> {
        on_pool!(self, pool, DB => {
            sqlx::query("INSERT INTO topics (name) VALUES ($1) ON CONFLICT (name) DO NOTHING")
                .bind(topic)
                .execute(pool)
                .await?;
            let id: i64 = sqlx::query_scalar("SELECT id FROM topics WHERE name = $1")
                .bind(topic)
                .fetch_one(pool)
                .await?;
            Ok(id)
        })
    }

    /// Writes `rows` in one transaction.
    pub async fn insert(&self, rows: &[NewRow<'_>]) -> Result<()> {
        on_pool!(self, pool, DB => {
            let mut tx = pool.begin().await?;
            for chunk in rows.chunks(INSERT_CHUNK) {
                let mut insert = QueryBuilder::<DB>::new(
                    "INSERT INTO messages (topic_id, ts_ms, payload, qos, retain) ",
                );
                insert.push_values(chunk, |mut row, m| {
                    row.push_bind(m.topic_id)
                        .push_bind(m.ts_ms)
                        .push_bind(m.payload)
                        .push_bind(m.qos)
                        .push_bind(m.retain);
                });
                insert.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Deletes the messages older than `cutoff_ms`; how many.
    pub async fn delete_older_than(&self, cutoff_ms: i64) -> Result<u64> {
        on_pool!(self, pool, DB => {
            let done = sqlx::query("DELETE FROM messages WHERE ts_ms < $1")
                .bind(cutoff_ms)
                .execute(pool)
                .await?;
            Ok(done.rows_affected())
        })
    }

    /// Deletes the oldest messages while the messages take more than
    /// `max_bytes` (see [`super::size::rows_over`]); how many. On
    /// PostgreSQL one instance at a time does it; the others skip.
    pub async fn trim_to(&self, max_bytes: u64) -> Result<u64> {
        on_pool!(self, pool, DB => {
            let mut tx = pool.begin().await?;
            if matches!(self, Db::Postgres(_)) {
                let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
                    .bind(TRIM_LOCK)
                    .fetch_one(&mut *tx)
                    .await?;
                if !locked {
                    return Ok(0);
                }
            }
            let usage = sqlx::query(
                "SELECT COUNT(*) AS rows, COALESCE(SUM(LENGTH(payload)), 0) AS bytes FROM messages",
            )
            .fetch_one(&mut *tx)
            .await?;
            // PostgreSQL's SUM of lengths is NUMERIC-free BIGINT; SQLite's an INTEGER.
            let rows: i64 = usage.try_get("rows")?;
            let bytes: i64 = usage.try_get("bytes")?;
            let excess = super::size::rows_over(rows as u64, bytes as u64, max_bytes);
            if excess == 0 {
                return Ok(0);
            }
            let done = sqlx::query(
                "DELETE FROM messages WHERE id IN \
                 (SELECT id FROM messages ORDER BY ts_ms, id LIMIT $1)",
            )
            .bind(excess as i64)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(done.rows_affected())
        })
    }

    /// Deletes the topics no message refers to any more (their messages
    /// all deleted by retention); how many. One statement, each topic an
    /// index probe (`messages_topic_time` starts with `topic_id`).
    ///
    /// A message written meanwhile for such a topic is never lost: on
    /// PostgreSQL the foreign key makes this statement wait for its
    /// transaction and then fail (the caller skips pruning for this pass),
    /// or makes the message's insert fail, and the writer looks its topic up
    /// again (inserting it anew); on SQLite one writer at a time, the same
    /// refusal. Ids are never reused (`BIGSERIAL`, `AUTOINCREMENT`), so a
    /// stale id never names another topic.
    pub async fn prune_topics(&self) -> Result<u64> {
        on_pool!(self, pool, DB => {
            let done = sqlx::query(
                "DELETE FROM topics WHERE NOT EXISTS \
                 (SELECT 1 FROM messages WHERE messages.topic_id = topics.id)",
            )
            .execute(pool)
            .await?;
            Ok(done.rows_affected())
        })
    }

    /// The topics whose name starts with `prefix` (a literal prefix ending in
    /// `/`, or empty), plus the topic `parent` itself when given (`a/#` also
    /// matches `a`).
    pub async fn topics_under(
        &self,
        prefix: &str,
        parent: Option<&str>,
    ) -> Result<Vec<(i64, String)>> {
        let upper = prefix_upper_bound(prefix);
        on_pool!(self, pool, DB => {
            let rows = sqlx::query(
                "SELECT id, name FROM topics \
                 WHERE (name >= $1 AND ($2 IS NULL OR name < $2)) OR name = $3",
            )
            .bind(prefix)
            .bind(upper.as_deref())
            .bind(parent)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| Ok((r.try_get("id")?, r.try_get("name")?)))
                .collect()
        })
    }

    /// The id of the topic named `name`, if it was ever recorded.
    pub async fn find_topic(&self, name: &str) -> Result<Option<i64>> {
        on_pool!(self, pool, DB => {
            Ok(sqlx::query_scalar("SELECT id FROM topics WHERE name = $1")
                .bind(name)
                .fetch_optional(pool)
                .await?)
        })
    }

    /// The messages of `topic_ids` in `range`, before `cursor`, newest
    /// first, at most `limit`.
    pub async fn messages(
        &self,
        topic_ids: &[i64],
        range: TimeRange,
        before: Option<Cursor>,
        limit: usize,
    ) -> Result<Vec<StoredRow>> {
        let before = before.unwrap_or(Cursor::END);
        on_pool!(self, pool, DB => {
            let mut q = QueryBuilder::<DB>::new(
                "SELECT id, topic_id, ts_ms, payload, qos, retain FROM messages WHERE ",
            );
            if let [one] = topic_ids {
                q.push("topic_id = ").push_bind(*one);
            } else {
                // Ids come from the topics table: integers, never text.
                let ids: Vec<String> = topic_ids.iter().map(i64::to_string).collect();
                q.push(format!("topic_id IN ({})", ids.join(",")));
            }
            q.push(" AND ts_ms >= ").push_bind(range.from_ms);
            q.push(" AND ts_ms < ").push_bind(range.to_ms);
            q.push(" AND (ts_ms < ").push_bind(before.ts_ms);
            q.push(" OR (ts_ms = ").push_bind(before.ts_ms);
            q.push(" AND id < ").push_bind(before.id);
            q.push(")) ORDER BY ts_ms DESC, id DESC LIMIT ");
            q.push_bind(limit as i64);
            let rows = q.build().fetch_all(pool).await?;
            rows.iter()
                .map(|r| {
                    Ok(StoredRow {
                        id: r.try_get("id")?,
                        topic_id: r.try_get("topic_id")?,
                        ts_ms: r.try_get("ts_ms")?,
                        payload: r.try_get("payload")?,
                        qos: r.try_get("qos")?,
                        retain: r.try_get("retain")?,
                    })
                })
                .collect()
        })
    }

    /// How many messages are stored (for tests and the benchmark).
    pub async fn count(&self) -> Result<u64> {
        on_pool!(self, pool, DB => {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM messages")
                .fetch_one(pool)
                .await?;
            Ok(n as u64)
        })
    }

    /// How many topics are stored (for tests).
    pub async fn count_topics(&self) -> Result<u64> {
        on_pool!(self, pool, DB => {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM topics")
                .fetch_one(pool)
                .await?;
            Ok(n as u64)
        })
    }
}

/// The first name after every name that starts with `prefix`, when
/// `prefix` ends in `/` (the next byte is `0`); `None` for the empty prefix.
fn prefix_upper_bound(prefix: &str) -> Option<String> {
    prefix.strip_suffix('/').map(|head| format!("{head}0"))
}

/// Whether `e` is a failure of the connection or a transient refusal (the
/// writer retries the batch) rather than the database refusing the rows (it
/// gives up on them after a few tries).
pub(crate) fn is_transient(e: &RecorderError) -> bool {
    let RecorderError::Database(e) = e else {
        return false;
    };
    match e {
        sqlx::Error::Database(db) => match db.code() {
            // PostgreSQL: connection exception, operator intervention (shut
            // down), insufficient resources, serialization failure / deadlock.
            Some(code) if code.len() == 5 => {
                matches!(&code[..2], "08" | "57" | "53" | "40")
            }
            // SQLite: BUSY, LOCKED, IOERR, FULL, CANTOPEN (and extended codes).
            Some(code) => code
                .parse::<i32>()
                .map(|c| matches!(c & 0xff, 5 | 6 | 10 | 13 | 14))
                .unwrap_or(true),
            None => true,
        },
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_range_ends_before_the_next_sibling() {
        assert_eq!(prefix_upper_bound("a/b/").as_deref(), Some("a/b0"));
        assert_eq!(prefix_upper_bound(""), None);
        assert!("a/b/c" < "a/b0" && "a/b/\u{10ffff}" < "a/b0" && "a/b0" < "a/b0/x");
    }

    #[test]
    fn passwords_stay_out_of_errors() {
        assert_eq!(
            redact("postgres://app:s3cret@db:5432/h"),
            "postgres://app:***@db:5432/h"
        );
        assert_eq!(redact("sqlite:///var/h.db"), "sqlite:///var/h.db");
    }
}
