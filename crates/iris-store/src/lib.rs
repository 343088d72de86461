//! The storage backends of Iris. One implementation of [`iris_core::Store`] serves both databases
//! through sqlx's `Any` driver: the SQL is shared, and the few places where SQLite and PostgreSQL
//! differ (transaction start, JSON access, string functions) live in [`dialect::Dialect`].

mod cycles_sql;
mod dialect;
mod events_sql;
mod filter_sql;
mod listing_sql;
mod membership_sql;
mod operators_sql;
mod resources_sql;
mod rows;
mod sql_store;
mod store_metrics;
mod tables;
mod tenancy_sql;
mod wal_sync;

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
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            max_connections: 8,
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("unsupported database URL '{0}': use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    #[error("cannot open the database: {0}")]
    Connect(#[from] sqlx::Error),
    #[error("cannot apply migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Opens the database at `url` and applies any pending migrations.
pub async fn connect(url: &str, config: &PoolConfig) -> Result<Arc<dyn Store>, ConnectError> {
    let store = SqlStore::connect(url, config).await?;
    store.migrate().await?;
    Ok(Arc::new(store))
}
