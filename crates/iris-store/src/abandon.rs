//! Stopping the database work of an abandoned request. When a client hangs up or the request
//! deadline passes, the request's future is dropped. sqlx then rolls the transaction back, but on
//! PostgreSQL only once the statement in flight has finished: a statement waiting for a row lock
//! would go on waiting, holding every lock its transaction took (a group's row while it waits for
//! a member's). So each PostgreSQL write transaction is named (`SET LOCAL application_name`, in
//! the same round trip as its `BEGIN`), and a write dropped before it finished cancels the
//! backend running under its name from another connection. SQLite needs nothing: its statements
//! do not wait on other transactions for longer than `busy_timeout`, and the rollback runs right
//! after the statement in flight.

use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::AnyPool;

tokio::task_local! {
    /// The name of the write transaction the current attempt opens.
    static WRITE_NAME: String;
}

/// Transactions named by this process so far (names are unique per process and database).
static NAMED: AtomicU64 = AtomicU64::new(0);

/// A fresh transaction name: `iris-w-<process id>-<sequence>`, ASCII only, so it can be inlined
/// into the statement that sets it.
pub(crate) fn new_name() -> String {
    format!(
        "iris-w-{}-{}",
        std::process::id(),
        NAMED.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs `attempt` with `name` as the name of the write transaction it opens.
pub(crate) async fn named<T>(name: &str, attempt: impl Future<Output = T>) -> T {
    WRITE_NAME.scope(name.to_owned(), attempt).await
}

/// `begin`, followed by naming the transaction when the current attempt has a name.
pub(crate) fn begin_statement(begin: &'static str) -> String {
    match WRITE_NAME.try_with(Clone::clone) {
        Ok(name) => format!("{begin}; SET LOCAL application_name = '{name}'"),
        Err(_) => begin.to_owned(),
    }
}

/// Armed while a named write runs: dropped armed, it cancels the statement the write's backend
/// is running. Disarmed when the write returns.
pub(crate) struct CancelOnDrop {
    pool: AnyPool,
    name: Option<String>,
}

impl CancelOnDrop {
    pub(crate) fn arm(pool: &AnyPool, name: String) -> Self {
        Self {
            pool: pool.clone(),
            name: Some(name),
        }
    }

    pub(crate) fn disarm(mut self) {
        self.name = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        let (Some(name), Ok(runtime)) = (self.name.take(), tokio::runtime::Handle::try_current())
        else {
            return;
        };
        let pool = self.pool.clone();
        runtime.spawn(async move {
            let cancelled = sqlx::query(
                "SELECT pg_cancel_backend(pid) FROM pg_stat_activity \
                 WHERE datname = current_database() AND application_name = $1",
            )
            .bind(name.clone())
            .fetch_all(&pool)
            .await;
            match cancelled {
                Ok(rows) if !rows.is_empty() => {
                    tracing::info!(transaction = %name, "cancelled the statement of an abandoned write");
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(transaction = %name, error = %e, "could not cancel an abandoned write");
                }
            }
        });
    }
}
