//! The one [`Store`] implementation, over sqlx's `Any` driver.
//!
//! SQLite gets a single-connection writer pool (writes queue in-process instead of fighting over
//! SQLite's lock) and a reader pool; both use WAL with `synchronous=FULL`, so a committed write is
//! on disk before Iris acknowledges it. PostgreSQL uses one pool and its default durable commit.

use std::collections::HashSet;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use std::time::Duration;

use async_trait::async_trait;
use iris_core::StoreError;
use iris_core::store::{PoolStats, Store};
use sqlx::AnyPool;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Executor, Row};

use crate::dialect::{Backend, Dialect};
use crate::rows::db_error;
use crate::store_metrics::StoreMetrics;
use crate::wal_sync::WalSync;
use crate::{AppliedMigration, ConnectError, PoolConfig};

pub struct SqlStore {
    pub(crate) backend: Backend,
    pub(crate) reader: AnyPool,
    pub(crate) writer: AnyPool,
    /// SQLite group commit: writes are made durable by a shared WAL flush (see `wal_sync`).
    wal: Option<Arc<WalSync>>,
    pub(crate) metrics: StoreMetrics,
}

/// Makes `sqlite://iris.db` create the file on first start when `create` allows it, and refuse
/// to open a missing one otherwise. A URL that names its own `mode=` keeps it.
fn sqlite_url(url: &str, create: bool) -> String {
    let mode = if create { "mode=rwc" } else { "mode=rw" };
    if url.contains("mode=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&{mode}")
    } else {
        format!("{url}?{mode}")
    }
}

/// The file a SQLite URL without its own `mode=` opens, unless it is an in-memory database.
fn sqlite_file(url: &str) -> Result<Option<PathBuf>, sqlx::Error> {
    let database = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    if url.contains("mode=") || database.split('?').next() == Some(":memory:") {
        return Ok(None);
    }
    // sqlx's own parsing, so the path is the one SQLite will open (percent-decoded).
    let options = SqliteConnectOptions::from_str(url)?;
    Ok(Some(options.get_filename().to_path_buf()))
}

/// Statements are not logged: sqlx would log each one whole (a multi-row INSERT is hundreds of
/// kilobytes on one line) and slow ones at WARN. Slow statements are the database's to report
/// (PostgreSQL's `log_min_duration_statement`).
fn without_statement_logs(options: AnyConnectOptions) -> AnyConnectOptions {
    options.disable_statement_logging()
}

/// Per-connection settings. WAL lets readers run beside the writer. `synchronous=FULL` syncs the
/// WAL at every commit; the writer uses `NORMAL` when the group commit of [`WalSync`] flushes for
/// it before any write is acknowledged. Foreign keys enforce the cascades.
async fn sqlite_pragmas(
    conn: &mut sqlx::AnyConnection,
    group_commit: bool,
) -> Result<(), sqlx::Error> {
    let synchronous = if group_commit {
        "PRAGMA synchronous = NORMAL"
    } else {
        "PRAGMA synchronous = FULL"
    };
    for pragma in [
        "PRAGMA journal_mode = WAL",
        synchronous,
        "PRAGMA foreign_keys = ON",
        "PRAGMA busy_timeout = 5000",
    ] {
        conn.execute(pragma).await?;
    }
    Ok(())
}

async fn writer_is_in_wal_mode(writer: &AnyPool) -> Result<bool, sqlx::Error> {
    let mode: String = sqlx::query("PRAGMA journal_mode")
        .fetch_one(writer)
        .await?
        .try_get(0)?;
    Ok(mode.eq_ignore_ascii_case("wal"))
}

impl SqlStore {
    pub async fn connect(url: &str, config: &PoolConfig) -> Result<Self, ConnectError> {
        sqlx::any::install_default_drivers();
        let backend =
            Backend::from_url(url).ok_or_else(|| ConnectError::UnsupportedUrl(url.to_owned()))?;
        let pool_options = || {
            AnyPoolOptions::new()
                .acquire_timeout(config.acquire_timeout)
                .max_connections(config.max_connections)
        };
        match backend {
            Backend::Sqlite => {
                if !config.create_if_missing
                    && let Some(path) = sqlite_file(url)?
                    && !path.exists()
                {
                    return Err(ConnectError::MissingDatabase(path));
                }
                let options = without_statement_logs(AnyConnectOptions::from_str(&sqlite_url(
                    url,
                    config.create_if_missing,
                ))?);
                let mut wal = WalSync::for_url(url);
                // The writer leaves flushing to the group commit when there is a file to flush;
                // should WAL mode be unavailable, every commit syncs itself again.
                let group_commit = Arc::new(AtomicBool::new(wal.is_some()));
                let writer_sync = group_commit.clone();
                let writer = pool_options()
                    .max_connections(1)
                    .min_connections(1)
                    .max_lifetime(None)
                    .idle_timeout(None)
                    .test_before_acquire(false)
                    .after_connect(move |conn, _| {
                        let normal = writer_sync.load(Ordering::SeqCst);
                        Box::pin(async move { sqlite_pragmas(conn, normal).await })
                    })
                    .connect_with(options.clone())
                    .await?;
                if wal.is_some() && !writer_is_in_wal_mode(&writer).await? {
                    group_commit.store(false, Ordering::SeqCst);
                    sqlx::query("PRAGMA synchronous = FULL")
                        .execute(&writer)
                        .await?;
                    wal = None;
                }
                // A local file cannot go away under an open connection, so the ping sqlx would
                // send before handing out each connection is a wasted thread round trip.
                let reader = pool_options()
                    .test_before_acquire(false)
                    .after_connect(|conn, _| {
                        Box::pin(async move { sqlite_pragmas(conn, false).await })
                    })
                    .connect_with(options)
                    .await?;
                Ok(Self {
                    backend,
                    reader,
                    writer,
                    wal,
                    metrics: StoreMetrics::register("writer"),
                })
            }
            Backend::Postgres => {
                let options = without_statement_logs(AnyConnectOptions::from_str(url)?);
                let pool = pool_options().connect_with(options).await?;
                Ok(Self {
                    backend,
                    reader: pool.clone(),
                    writer: pool,
                    wal: None,
                    metrics: StoreMetrics::register("main"),
                })
            }
        }
    }

    /// Applies pending migrations and returns those that were pending. PostgreSQL serialises
    /// concurrent migrators with an advisory lock; SQLite has none, so when two processes open a
    /// new file at once the loser's migration transaction fails and is retried, by which time it
    /// finds the winner's work applied. (Another process may apply some of the pending
    /// migrations meanwhile; they are reported all the same: they were pending, and now they are
    /// applied.)
    pub async fn migrate(&self) -> Result<Vec<AppliedMigration>, sqlx::migrate::MigrateError> {
        let migrator = match self.backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
        };
        let pending = self.pending_migrations(&migrator).await?;
        let mut attempt = 0;
        loop {
            match migrator.run(&self.writer).await {
                Err(
                    sqlx::migrate::MigrateError::Execute(e)
                    | sqlx::migrate::MigrateError::ExecuteMigration(e, _),
                ) if self.backend == Backend::Sqlite && attempt < 10 => {
                    attempt += 1;
                    tracing::debug!(error = %e, attempt, "migration raced with another process; retrying");
                    tokio::time::sleep(std::time::Duration::from_millis(50 * attempt)).await;
                }
                Ok(()) => {
                    // Migrations commit on the writer too: flush them like any other write.
                    self.durable().await.map_err(|e| {
                        sqlx::migrate::MigrateError::Execute(sqlx::Error::Protocol(e.to_string()))
                    })?;
                    return Ok(pending);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The migrations of `migrator` that the database has not applied yet.
    async fn pending_migrations(
        &self,
        migrator: &sqlx::migrate::Migrator,
    ) -> Result<Vec<AppliedMigration>, sqlx::migrate::MigrateError> {
        use sqlx::migrate::Migrate;
        let mut conn = self.writer.acquire().await?;
        // Under the migrators' lock: concurrent `CREATE TABLE IF NOT EXISTS` of the migrations
        // table collide on PostgreSQL.
        conn.lock().await?;
        let listed = match conn.ensure_migrations_table(&migrator.table_name).await {
            Ok(()) => conn.list_applied_migrations(&migrator.table_name).await,
            Err(e) => Err(e),
        };
        conn.unlock().await?;
        let applied: HashSet<i64> = listed?.into_iter().map(|m| m.version).collect();
        Ok(migrator
            .iter()
            .filter(|m| m.migration_type.is_up_migration() && !applied.contains(&m.version))
            .map(|m| AppliedMigration {
                version: m.version,
                description: m.description.to_string(),
            })
            .collect())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }

    /// Commits a write transaction and returns once it is durable.
    pub(crate) async fn commit(
        &self,
        tx: sqlx::Transaction<'static, sqlx::Any>,
    ) -> Result<(), StoreError> {
        tx.commit().await.map_err(db_error)?;
        self.durable().await
    }

    /// Returns once every write this store committed so far is on disk: a no-op where each commit
    /// syncs itself (PostgreSQL, SQLite without group commit).
    pub(crate) async fn durable(&self) -> Result<(), StoreError> {
        match &self.wal {
            Some(wal) => wal.sync_through_now().await,
            None => Ok(()),
        }
    }

    /// WAL flushes performed by the group commit (SQLite), for tests and diagnostics.
    pub fn group_commit_flushes(&self) -> Option<u64> {
        self.wal.as_ref().map(|w| w.flushes())
    }

    pub(crate) async fn begin_write(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        let asked = std::time::Instant::now();
        let begin = crate::abandon::begin_statement(self.backend.begin_write());
        let tx = self
            .writer
            .begin_with(sqlx::AssertSqlSafe(begin))
            .await
            .map_err(db_error)?;
        self.metrics.write_acquired(asked.elapsed());
        Ok(tx)
    }

    /// A writer connection for one statement that is atomic on its own (PostgreSQL's folded
    /// writes), its wait counted like a transaction's.
    pub(crate) async fn acquire_writer(
        &self,
    ) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, StoreError> {
        let asked = std::time::Instant::now();
        let conn = self.writer.acquire().await.map_err(db_error)?;
        self.metrics.write_acquired(asked.elapsed());
        Ok(conn)
    }

    /// Runs a write transaction until it does not lose to a concurrent one (a deadlock or a
    /// serialisation failure on PostgreSQL, a busy database on SQLite), a bounded number of
    /// times with a short randomised backoff. `attempt` must do the whole transaction, so every
    /// run starts from what is committed.
    pub(crate) async fn retrying<T, Attempt>(
        &self,
        mut attempt: impl FnMut() -> Attempt,
    ) -> Result<T, StoreError>
    where
        Attempt: Future<Output = Result<T, StoreError>>,
    {
        // A write abandoned by its request (client gone, deadline passed) must not keep waiting
        // for locks on PostgreSQL while holding others: see `abandon`.
        let name = (self.backend == Backend::Postgres).then(crate::abandon::new_name);
        let guard = name
            .clone()
            .map(|name| crate::abandon::CancelOnDrop::arm(&self.writer, name));
        let mut lost = 0;
        let outcome = loop {
            let outcome = match &name {
                Some(name) => crate::abandon::named(name, attempt()).await,
                None => attempt().await,
            };
            match outcome {
                Err(StoreError::Busy(cause)) if lost + 1 < WRITE_ATTEMPTS => {
                    lost += 1;
                    tracing::debug!(%cause, lost, "a write lost to a concurrent one; retrying");
                    tokio::time::sleep(backoff(lost)).await;
                }
                other => break other,
            }
        };
        if let Some(guard) = guard {
            guard.disarm();
        }
        outcome
    }

    pub(crate) fn begin_read_statement(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "BEGIN",
            // One snapshot for the count and the page.
            Backend::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        }
    }
}

/// How many times a write transaction runs before a lost race is reported as busy.
const WRITE_ATTEMPTS: u32 = 6;

/// Up to 2, 4, 8… ms, randomised so two losers do not meet again in lockstep.
fn backoff(lost: u32) -> Duration {
    let ceiling = 1u64 << lost.min(8);
    Duration::from_micros(rand::random_range(500..=ceiling * 1000))
}

#[async_trait]
impl Store for SqlStore {
    fn backend_name(&self) -> &'static str {
        self.backend.name()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.reader)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn refresh_statistics(&self) -> Result<(), StoreError> {
        let statement = match self.backend {
            Backend::Sqlite => "PRAGMA optimize",
            Backend::Postgres => "ANALYZE",
        };
        sqlx::query(statement)
            .execute(&self.writer)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    fn pool_stats(&self) -> Vec<PoolStats> {
        let stats = |name: &'static str, pool: &AnyPool| PoolStats {
            pool: name,
            size: pool.size(),
            idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
            max: pool.options().get_max_connections(),
        };
        match self.backend {
            Backend::Sqlite => vec![stats("reader", &self.reader), stats("writer", &self.writer)],
            Backend::Postgres => vec![stats("main", &self.reader)],
        }
    }
}
