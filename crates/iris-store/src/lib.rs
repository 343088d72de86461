//! The storage backends of Iris. One implementation of [`iris_core::Store`] serves both databases
//! through sqlx's `Any` driver: the SQL is shared, and the few places where SQLite and PostgreSQL
//! differ (transaction start, JSON access, string functions) live in [`dialect::Dialect`].

mod abandon;
mod accounts_sql;
mod cycles_sql;
mod dialect;
mod events_sql;
mod filter_sql;
mod folded_sql;
mod listing_sql;
mod membership_sql;
mod oauth_sql;
mod operators_sql;
mod resources_sql;
mod rows;
mod sql_store;
mod store_metrics;
mod tables;
mod tenancy_sql;
mod wal_sync;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use iris_core::Store;

pub use dialect::Backend;
pub use sql_store::SqlStore;
pub use store_metrics::{
    GROUP_COMMIT_WRITES_PER_FLUSH, WRITES_PER_FLUSH_BUCKETS, describe_metrics,
};

/// Connection-pool settings.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// Maximum connections for reads (PostgreSQL: for everything).
    pub max_connections: u32,
    /// How long a request waits for a free connection before failing.
    pub acquire_timeout: Duration,
    /// Whether a SQLite database file that does not exist yet is created. Only starting a server
    /// and migrating should create one: for other commands a missing file is a mistyped path.
    pub create_if_missing: bool,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            max_connections: 8,
            acquire_timeout: Duration::from_secs(10),
            create_if_missing: true,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("unsupported database URL '{0}': use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    #[error("the SQLite database {} does not exist", .0.display())]
    MissingDatabase(PathBuf),
    #[error("cannot open the database: {0}")]
    Connect(#[from] sqlx::Error),
    #[error("cannot apply migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// A migration that was pending when the database was opened, and is applied now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedMigration {
    pub version: i64,
    pub description: String,
}

impl std::fmt::Display for AppliedMigration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.version, self.description)
    }
}

/// Opens the database at `url` and applies any pending migrations (logging each one).
pub async fn connect(url: &str, config: &PoolConfig) -> Result<Arc<dyn Store>, ConnectError> {
    Ok(open_and_migrate(url, config).await?.0)
}

/// Opens the database at `url`, applies any pending migrations and says which ones it applied.
pub async fn migrate(
    url: &str,
    config: &PoolConfig,
) -> Result<Vec<AppliedMigration>, ConnectError> {
    Ok(open_and_migrate(url, config).await?.1)
}

async fn open_and_migrate(
    url: &str,
    config: &PoolConfig,
) -> Result<(Arc<dyn Store>, Vec<AppliedMigration>), ConnectError> {
    let store = SqlStore::connect(url, config).await?;
    let applied = store.migrate().await?;
    for migration in &applied {
        tracing::info!(version = migration.version, description = %migration.description, "applied migration");
    }
    Ok((Arc::new(store), applied))
}
