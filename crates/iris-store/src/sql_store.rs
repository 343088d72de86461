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

use async_trait::async_trait;
use iris_core::StoreError;
use iris_core::rejections::RejectedRequest;
use iris_core::store::{
    DirectGroup, GroupMutation, GroupWrite, Imported, Inserted, ListPage, ListQuery, Member,
    Modified, Mutation, PageStart, ResourceRecord, SortKey, SortOrder, Store, TenantId, TenantRow,
    TokenRow, UserWrite,
};
use iris_scim::ScimError;
use iris_scim::patch::MemberRef;
use iris_scim::resource::Document;
use serde_json::Value;
use sqlx::AnyPool;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AssertSqlSafe, ConnectOptions, Executor, Row};

use crate::dialect::{Backend, Dialect};
use crate::filter_sql::{Bind, Compiler, Target, is_point_lookup, sort_expression};
use crate::wal_sync::WalSync;
use crate::{AppliedMigration, ConnectError, PoolConfig};

pub struct SqlStore {
    pub(crate) backend: Backend,
    pub(crate) reader: AnyPool,
    writer: AnyPool,
    /// SQLite group commit: writes are made durable by a shared WAL flush (see `wal_sync`).
    wal: Option<Arc<WalSync>>,
}

pub(crate) type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

pub(crate) fn db_error(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict,
        _ => StoreError::Database(e.to_string()),
    }
}

pub(crate) fn bind_all<'q>(mut query: AnyQuery<'q>, binds: &[Bind]) -> AnyQuery<'q> {
    for b in binds {
        query = match b {
            Bind::Text(s) => query.bind(s.clone()),
            Bind::OptText(s) => query.bind(s.clone()),
            Bind::Int(i) => query.bind(*i),
            Bind::Float(f) => query.bind(*f),
            Bind::Bool(v) => query.bind(*v),
        };
    }
    query
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
        self.writer
            .begin_with(self.backend.begin_write())
            .await
            .map_err(db_error)
    }

    fn begin_read_statement(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "BEGIN",
            // One snapshot for the count and the page.
            Backend::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        }
    }
}

fn tenant_from_row(row: &AnyRow, prefix: &str) -> Result<TenantRow, sqlx::Error> {
    Ok(TenantRow {
        id: TenantId::from_row(row.try_get(format!("{prefix}id").as_str())?),
        name: row.try_get(format!("{prefix}name").as_str())?,
        created: row.try_get(format!("{prefix}created").as_str())?,
        disabled_at: row.try_get(format!("{prefix}disabled_at").as_str())?,
    })
}

fn token_from_row(row: &AnyRow) -> Result<TokenRow, sqlx::Error> {
    Ok(TokenRow {
        id: row.try_get("id")?,
        tenant_id: TenantId::from_row(row.try_get("tenant_id")?),
        label: row.try_get("label")?,
        secret_hash: row.try_get("secret_hash")?,
        created: row.try_get("created")?,
        last_used: row.try_get("last_used")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

pub(crate) fn record_from_row(row: &AnyRow) -> Result<ResourceRecord, StoreError> {
    let doc_text: String = row.try_get("doc").map_err(db_error)?;
    let doc: Document = serde_json::from_str(&doc_text)
        .map_err(|e| StoreError::Database(format!("stored document is not JSON: {e}")))?;
    Ok(ResourceRecord {
        id: row.try_get("id").map_err(db_error)?,
        doc,
        created: row.try_get("created").map_err(db_error)?,
        last_modified: row.try_get("last_modified").map_err(db_error)?,
        version: row.try_get("version").map_err(db_error)?,
    })
}

pub(crate) fn json_text(doc: &impl serde::Serialize) -> Result<String, StoreError> {
    serde_json::to_string(doc).map_err(|e| StoreError::Database(e.to_string()))
}

const TOKEN_COLUMNS: &str = "id, tenant_id, label, secret_hash, created, last_used, revoked_at";
const RECORD_COLUMNS: &str = "u.id, u.doc, u.created, u.last_modified, u.version";

/// The columns [`record_from_row`] reads, for the table aliased `alias`.
pub(crate) fn record_columns(alias: &str) -> String {
    format!("{alias}.id, {alias}.doc, {alias}.created, {alias}.last_modified, {alias}.version")
}

impl SqlStore {
    /// Inserts a user with the given metadata, with its side rows, in one transaction.
    async fn insert_user_row(
        &self,
        tenant: &TenantId,
        user: &UserWrite,
        created: &str,
        version: i64,
    ) -> Result<ResourceRecord, StoreError> {
        let mut tx = self.begin_write().await?;
        self.insert_user_in(&mut tx, tenant, user, created, version)
            .await?;
        self.commit(tx).await?;
        Ok(ResourceRecord {
            id: user.id.clone(),
            doc: user.doc.clone(),
            created: created.to_owned(),
            last_modified: user.now.clone(),
            version,
        })
    }

    /// Inserts a user row and its side rows inside `tx`.
    async fn insert_user_in(
        &self,
        tx: &mut sqlx::AnyConnection,
        tenant: &TenantId,
        user: &UserWrite,
        created: &str,
        version: i64,
    ) -> Result<(), StoreError> {
        let doc = json_text(&user.doc)?;
        let search = json_text(&user.shadow.search_doc)?;
        let sql = format!(
            "INSERT INTO users (tenant_id, id, user_name_lower, external_id, display_name_lower, active, \
             created, last_modified, version, doc, search_doc) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, {})",
            self.backend.json_param(11)
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(tenant.as_str().to_owned())
            .bind(user.id.clone())
            .bind(user.shadow.user_name_lower.clone())
            .bind(user.shadow.external_id.clone())
            .bind(user.shadow.display_name_lower.clone())
            .bind(user.shadow.active)
            .bind(created.to_owned())
            .bind(user.now.clone())
            .bind(version)
            .bind(doc)
            .bind(search)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        self.write_values(tx, tenant, user, false).await
    }

    /// Rewrites the side-table rows of one user inside `tx`.
    async fn write_values(
        &self,
        tx: &mut sqlx::AnyConnection,
        tenant: &TenantId,
        user: &UserWrite,
        replace: bool,
    ) -> Result<(), StoreError> {
        if replace {
            sqlx::query("DELETE FROM user_values WHERE tenant_id = $1 AND user_id = $2")
                .bind(tenant.as_str().to_owned())
                .bind(user.id.clone())
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        if user.shadow.values.is_empty() {
            return Ok(());
        }
        let mut sql = String::from(
            "INSERT INTO user_values (tenant_id, user_id, attribute, type_lower, is_primary, value_lower) VALUES ",
        );
        let mut binds = Vec::new();
        for (i, v) in user.shadow.values.iter().enumerate() {
            let n = i * 6;
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!(
                "(${}, ${}, ${}, ${}, ${}, ${})",
                n + 1,
                n + 2,
                n + 3,
                n + 4,
                n + 5,
                n + 6
            ));
            binds.push(Bind::Text(tenant.as_str().to_owned()));
            binds.push(Bind::Text(user.id.clone()));
            binds.push(Bind::Text(v.attribute.to_owned()));
            binds.push(Bind::OptText(v.type_lower.clone()));
            binds.push(Bind::Bool(v.primary));
            binds.push(Bind::Text(v.value_lower.clone()));
        }
        bind_all(sqlx::query(AssertSqlSafe(sql)), &binds)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    /// After an UPDATE/DELETE guarded by a version touched no row: was the row gone, or newer?
    pub(crate) async fn missing_or_stale(
        &self,
        target: Target,
        tenant: &TenantId,
        id: &str,
    ) -> StoreError {
        let found = match target {
            Target::Users => self.user(tenant, id).await,
            Target::Groups => self.group(tenant, id).await,
        };
        match found {
            Ok(Some(_)) => StoreError::VersionMismatch,
            Ok(None) => StoreError::NotFound,
            Err(e) => e,
        }
    }

    /// One page of a filtered, ordered list of users or groups, with the total, read in one
    /// snapshot.
    pub(crate) async fn list_records(
        &self,
        target: Target,
        tenant: &TenantId,
        query: &ListQuery<'_>,
    ) -> Result<ListPage, StoreError> {
        let alias = target.alias();
        let table = target.table();
        let mut compiler = Compiler::new(self.backend, target, 2);
        let condition = query.filter.map(|f| compiler.condition(f));
        let mut binds = vec![Bind::Text(tenant.as_str().to_owned())];
        binds.append(&mut compiler.binds);
        let where_clause = match &condition {
            Some(c) => format!("{alias}.tenant_id = $1 AND {c}"),
            None => format!("{alias}.tenant_id = $1"),
        };

        let order = SortOrdering::new(self.backend, target, query);
        if let (PageStart::Index(start_index), Some(filter)) = (query.start, query.filter)
            && query.count > 0
            && is_point_lookup(target, filter)
        {
            let offset = start_index.saturating_sub(1);
            if let Some(page) = self
                .point_lookup(target, &where_clause, &binds, &order, query.count, offset)
                .await?
            {
                return Ok(page);
            }
        }

        let mut tx = self
            .reader
            .begin_with(self.begin_read_statement())
            .await
            .map_err(db_error)?;
        let count_sql = format!("SELECT COUNT(*) AS n FROM {table} {alias} WHERE {where_clause}");
        let total: i64 = bind_all(sqlx::query(AssertSqlSafe(count_sql)), &binds)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_error)?
            .try_get("n")
            .map_err(db_error)?;
        let total = total.max(0) as u64;

        let mut page = ListPage {
            total,
            records: Vec::new(),
            edges: None,
            more: false,
            memberships: None,
        };
        let limit = |n: u64| Bind::Int(n.min(i64::MAX as u64) as i64);
        match query.start {
            PageStart::Index(start_index) => {
                let offset = start_index.saturating_sub(1);
                if query.count > 0 && offset < total {
                    let n = binds.len();
                    let sql = format!(
                        "SELECT {} FROM {table} {alias} WHERE {where_clause} ORDER BY {} LIMIT ${} OFFSET ${}",
                        record_columns(alias),
                        order.order_by(false),
                        n + 1,
                        n + 2
                    );
                    binds.push(limit(query.count));
                    binds.push(limit(offset));
                    let rows = bind_all(sqlx::query(AssertSqlSafe(sql)), &binds)
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(db_error)?;
                    page.records = rows.iter().map(record_from_row).collect::<Result<_, _>>()?;
                }
            }
            PageStart::After(_) | PageStart::Before(_) if query.count > 0 => {
                let (key, backward) = match query.start {
                    PageStart::Before(key) => (Some(key), true),
                    PageStart::After(key) => (key, false),
                    PageStart::Index(_) => (None, false),
                };
                let mut clause = where_clause.clone();
                if let Some(key) = key {
                    clause = format!("{clause} AND {}", order.beyond(key, backward, &mut binds));
                }
                let n = binds.len();
                let sql = format!(
                    "SELECT {}, {} AS sort_key FROM {table} {alias} WHERE {clause} ORDER BY {} LIMIT ${}",
                    record_columns(alias),
                    order.key_expression(),
                    order.order_by(backward),
                    n + 1,
                );
                // One row more than asked tells whether another page follows.
                binds.push(limit(query.count.saturating_add(1)));
                let mut rows = bind_all(sqlx::query(AssertSqlSafe(sql)), &binds)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db_error)?;
                page.more = rows.len() as u64 > query.count;
                rows.truncate(query.count as usize);
                if backward {
                    rows.reverse();
                }
                let keys = rows
                    .iter()
                    .map(|row| order.key_of(row))
                    .collect::<Result<Vec<_>, _>>()?;
                if let (Some(first), Some(last)) = (keys.first(), keys.last()) {
                    page.edges = Some((first.clone(), last.clone()));
                }
                page.records = rows.iter().map(record_from_row).collect::<Result<_, _>>()?;
            }
            PageStart::After(_) | PageStart::Before(_) => {}
        }
        tx.commit().await.map_err(db_error)?;
        Ok(page)
    }
}

impl SqlStore {
    /// A list whose filter selects a few rows through an index, read and counted by one statement
    /// outside any explicit transaction (a statement is its own snapshot): the matching queries
    /// Entra sends for every user, at one database round trip. `None` when the page is empty
    /// past the first row, where the total needs its own count.
    async fn point_lookup(
        &self,
        target: Target,
        where_clause: &str,
        binds: &[Bind],
        order: &SortOrdering,
        count: u64,
        offset: u64,
    ) -> Result<Option<ListPage>, StoreError> {
        let alias = target.alias();
        let n = binds.len();
        let with_groups = target == Target::Users;
        let member_of = if with_groups {
            format!(", {} AS member_of", self.backend.member_of_json(alias))
        } else {
            String::new()
        };
        let sql = format!(
            "SELECT {}{member_of}, COUNT(*) OVER () AS total FROM {} {alias} WHERE {where_clause} ORDER BY {} LIMIT ${} OFFSET ${}",
            record_columns(alias),
            target.table(),
            order.order_by(false),
            n + 1,
            n + 2
        );
        let mut binds = binds.to_vec();
        binds.push(Bind::Int(count.min(i64::MAX as u64) as i64));
        binds.push(Bind::Int(offset.min(i64::MAX as u64) as i64));
        let rows = bind_all(sqlx::query(AssertSqlSafe(sql)), &binds)
            .fetch_all(&self.reader)
            .await
            .map_err(db_error)?;
        let total = match rows.first() {
            Some(row) => row.try_get::<i64, _>("total").map_err(db_error)?.max(0) as u64,
            None if offset == 0 => 0,
            None => return Ok(None),
        };
        let memberships = if with_groups {
            let mut all = Vec::new();
            for row in &rows {
                all.extend(member_of_row(row)?);
            }
            Some(all)
        } else {
            None
        };
        Ok(Some(ListPage {
            total,
            records: rows.iter().map(record_from_row).collect::<Result<_, _>>()?,
            edges: None,
            more: false,
            memberships,
        }))
    }
}

/// The direct groups of a user row read with [`Dialect::member_of_json`] as `member_of`, in the
/// order [`Store::direct_groups`] gives: by display name (lowercased), then id.
fn member_of_row(row: &AnyRow) -> Result<Vec<DirectGroup>, StoreError> {
    let member_id: String = row.try_get("id").map_err(db_error)?;
    let text: String = row.try_get("member_of").map_err(db_error)?;
    let pairs: Vec<(String, String)> = serde_json::from_str(&text)
        .map_err(|e| StoreError::Database(format!("memberships are not JSON pairs: {e}")))?;
    let mut groups: Vec<DirectGroup> = pairs
        .into_iter()
        .map(|(group_id, display_name)| DirectGroup {
            member_id: member_id.clone(),
            group_id,
            display_name,
        })
        .collect();
    groups.sort_by_cached_key(|g| (g.display_name.to_lowercase(), g.group_id.clone()));
    Ok(groups)
}

/// The order of a list (RFC 7644 §3.4.2.3) and the keyset conditions that continue it. Rows
/// without the sort attribute come last in both directions, the same on both engines; the id
/// breaks ties, so the order is total and a keyset page never repeats or skips a row.
struct SortOrdering {
    alias: &'static str,
    /// The sort attribute's expression, if there is one.
    sort: Option<String>,
    descending: bool,
}

impl SortOrdering {
    fn new(backend: Backend, target: Target, query: &ListQuery<'_>) -> Self {
        Self {
            alias: target.alias(),
            sort: query
                .sort_by
                .map(|attr| sort_expression(backend, target, attr)),
            descending: query.sort_order == SortOrder::Descending,
        }
    }

    /// ORDER BY for reading forwards, or (for a backward keyset page) in exact reverse.
    fn order_by(&self, reversed: bool) -> String {
        let (asc, desc) = if reversed {
            ("DESC", "ASC")
        } else {
            ("ASC", "DESC")
        };
        let id = format!("{}.id {asc}", self.alias);
        match &self.sort {
            Some(expr) => {
                let direction = if self.descending { desc } else { asc };
                format!(
                    "CASE WHEN {expr} IS NULL THEN 1 ELSE 0 END {asc}, {expr} {direction}, {id}"
                )
            }
            None => id,
        }
    }

    /// The expression whose value the keys record.
    fn key_expression(&self) -> String {
        self.sort.clone().unwrap_or_else(|| "NULL".to_owned())
    }

    /// The condition selecting rows strictly after `key` (or, `backward`, strictly before it).
    fn beyond(&self, key: &SortKey, backward: bool, binds: &mut Vec<Bind>) -> String {
        let alias = self.alias;
        binds.push(Bind::Text(key.id.clone()));
        let id_param = binds.len();
        let id_beyond = if backward {
            format!("{alias}.id < ${id_param}")
        } else {
            format!("{alias}.id > ${id_param}")
        };
        let Some(expr) = &self.sort else {
            return id_beyond;
        };
        let value = key.value.as_ref().and_then(bind_for_key);
        match (value, backward) {
            // The key lies among the rows without a value, which come last.
            (None, false) => format!("({expr} IS NULL AND {id_beyond})"),
            (None, true) => format!("({expr} IS NOT NULL OR {id_beyond})"),
            (Some(bind), _) => {
                binds.push(bind);
                let v = binds.len();
                let later = if self.descending != backward {
                    "<"
                } else {
                    ">"
                };
                let within = format!(
                    "({expr} IS NOT NULL AND ({expr} {later} ${v} OR ({expr} = ${v} AND {id_beyond})))"
                );
                if backward {
                    within
                } else {
                    format!("({within} OR {expr} IS NULL)")
                }
            }
        }
    }

    /// The key of a row read with [`Self::key_expression`] as `sort_key`.
    fn key_of(&self, row: &AnyRow) -> Result<SortKey, StoreError> {
        let id: String = row.try_get("id").map_err(db_error)?;
        let value = if self.sort.is_some() {
            Some(sort_key_value(row))
        } else {
            None
        };
        Ok(SortKey { value, id })
    }
}

/// The sort value of a row as JSON; its SQL type depends on the attribute and the engine.
fn sort_key_value(row: &AnyRow) -> Value {
    if let Ok(v) = row.try_get::<Option<String>, _>("sort_key") {
        return v.map_or(Value::Null, Value::String);
    }
    if let Ok(Some(v)) = row.try_get::<Option<i64>, _>("sort_key") {
        return Value::from(v);
    }
    if let Ok(Some(v)) = row.try_get::<Option<f64>, _>("sort_key") {
        return Value::from(v);
    }
    if let Ok(Some(v)) = row.try_get::<Option<bool>, _>("sort_key") {
        return Value::Bool(v);
    }
    Value::Null
}

/// The bind for a key value read back from a cursor; `None` for JSON null (no value).
fn bind_for_key(value: &Value) -> Option<Bind> {
    match value {
        Value::String(s) => Some(Bind::Text(s.clone())),
        Value::Bool(b) => Some(Bind::Bool(*b)),
        Value::Number(n) => Some(
            n.as_i64()
                .map_or_else(|| Bind::Float(n.as_f64().unwrap_or_default()), Bind::Int),
        ),
        _ => None,
    }
}

/// The record of `current` after `user` was written over it at `version`.
fn updated(current: ResourceRecord, user: UserWrite, version: i64) -> Modified {
    Modified::Updated(ResourceRecord {
        id: current.id,
        doc: user.doc,
        created: current.created,
        last_modified: user.now,
        version,
    })
}

/// Conditional writes tried before [`SqlStore::modify_user_locked`] takes the row lock.
const OPTIMISTIC_ATTEMPTS: usize = 3;

impl SqlStore {
    /// PATCH and PUT of a user: the current version is read without a lock, the mutation runs
    /// outside any transaction, and one conditional `UPDATE … WHERE version = ?` writes the result
    /// (one statement holding the writer instead of a transaction of four). If another write got
    /// there first, the whole step is repeated on the new version; after a few such losses, or when
    /// the side-table rows must be rewritten too, the row-locked path does the work instead.
    async fn modify_user_optimistically(
        &self,
        tenant: &TenantId,
        id: &str,
        mutate: Mutation<'_>,
    ) -> Result<Modified, StoreError> {
        for _ in 0..OPTIMISTIC_ATTEMPTS {
            let current = self.user(tenant, id).await?.ok_or(StoreError::NotFound)?;
            let user = match mutate(&current) {
                Err(rejected) => return Ok(Modified::Rejected(rejected)),
                Ok(None) => return Ok(Modified::Unchanged(current)),
                Ok(Some(user)) => user,
            };
            if user.rewrite_values {
                break;
            }
            if let Some(version) = self
                .update_user_at_version(&self.writer, tenant, &current, &user)
                .await?
            {
                self.durable().await?;
                return Ok(updated(current, user, version));
            }
        }
        self.modify_user_locked(tenant, id, mutate).await
    }

    /// Writes `user` over `current` if the row is still at `current.version`; its new version, or
    /// `None` if it changed or went away meanwhile.
    async fn update_user_at_version<'e>(
        &self,
        executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
        tenant: &TenantId,
        current: &ResourceRecord,
        user: &UserWrite,
    ) -> Result<Option<i64>, StoreError> {
        let update = format!(
            "UPDATE users SET user_name_lower = $3, external_id = $4, display_name_lower = $5, active = $6, \
             last_modified = $7, version = version + 1, doc = $8, search_doc = {} \
             WHERE tenant_id = $1 AND id = $2 AND version = $10 RETURNING version",
            self.backend.json_param(9)
        );
        let row = sqlx::query(AssertSqlSafe(update))
            .bind(tenant.as_str().to_owned())
            .bind(current.id.clone())
            .bind(user.shadow.user_name_lower.clone())
            .bind(user.shadow.external_id.clone())
            .bind(user.shadow.display_name_lower.clone())
            .bind(user.shadow.active)
            .bind(user.now.clone())
            .bind(json_text(&user.doc)?)
            .bind(json_text(&user.shadow.search_doc)?)
            .bind(current.version)
            .fetch_optional(executor)
            .await
            .map_err(db_error)?;
        row.map(|r| r.try_get::<i64, _>("version").map_err(db_error))
            .transpose()
    }

    /// Read-modify-write under the row's write lock (`FOR UPDATE`; SQLite's `BEGIN IMMEDIATE`):
    /// the mutation sees the current version and nothing can change it before the write.
    async fn modify_user_locked(
        &self,
        tenant: &TenantId,
        id: &str,
        mutate: Mutation<'_>,
    ) -> Result<Modified, StoreError> {
        let select = format!(
            "SELECT {RECORD_COLUMNS} FROM users u WHERE u.tenant_id = $1 AND u.id = $2{}",
            self.backend.lock_row()
        );
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(AssertSqlSafe(select))
            .bind(tenant.as_str().to_owned())
            .bind(id.to_owned())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
        let current = row
            .as_ref()
            .map(record_from_row)
            .transpose()?
            .ok_or(StoreError::NotFound)?;
        let user = match mutate(&current) {
            Err(rejected) => return Ok(Modified::Rejected(rejected)),
            Ok(None) => return Ok(Modified::Unchanged(current)),
            Ok(Some(user)) => user,
        };
        // The row is locked, so it is still at the version just read.
        let version = self
            .update_user_at_version(&mut *tx, tenant, &current, &user)
            .await?
            .ok_or_else(|| StoreError::Database("a locked user row changed".into()))?;
        if user.rewrite_values {
            self.write_values(&mut tx, tenant, &user, true).await?;
        }
        self.commit(tx).await?;
        Ok(updated(current, user, version))
    }
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

    async fn insert_rejected_request(
        &self,
        tenant: &TenantId,
        request: &RejectedRequest,
        keep: u32,
    ) -> Result<(), StoreError> {
        self.insert_rejected_row(tenant, request, keep).await
    }

    async fn rejected_requests(
        &self,
        tenant: &TenantId,
        limit: u32,
    ) -> Result<Vec<RejectedRequest>, StoreError> {
        self.rejected_rows(tenant, limit).await
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

    async fn insert_tenant(&self, tenant: &TenantRow) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO tenants (id, name, created, disabled_at) VALUES ($1, $2, $3, $4)")
            .bind(tenant.id.as_str().to_owned())
            .bind(tenant.name.clone())
            .bind(tenant.created.clone())
            .bind(tenant.disabled_at.clone())
            .execute(&self.writer)
            .await
            .map_err(db_error)?;
        self.durable().await?;
        Ok(())
    }

    async fn tenants(&self) -> Result<Vec<TenantRow>, StoreError> {
        let rows = sqlx::query("SELECT id, name, created, disabled_at FROM tenants ORDER BY name")
            .fetch_all(&self.reader)
            .await
            .map_err(db_error)?;
        rows.iter()
            .map(|r| tenant_from_row(r, "").map_err(db_error))
            .collect()
    }

    async fn tenant_by_name(&self, name: &str) -> Result<Option<TenantRow>, StoreError> {
        let row = sqlx::query("SELECT id, name, created, disabled_at FROM tenants WHERE name = $1")
            .bind(name.to_owned())
            .fetch_optional(&self.reader)
            .await
            .map_err(db_error)?;
        row.map(|r| tenant_from_row(&r, "").map_err(db_error))
            .transpose()
    }

    async fn set_tenant_disabled(
        &self,
        tenant: &TenantId,
        disabled_at: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE tenants SET disabled_at = $2 WHERE id = $1")
            .bind(tenant.as_str().to_owned())
            .bind(disabled_at.map(str::to_owned))
            .execute(&self.writer)
            .await
            .map_err(db_error)?;
        self.durable().await?;
        Ok(())
    }

    async fn delete_tenant(&self, tenant: &TenantId) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        for sql in [
            "DELETE FROM rejected_requests WHERE tenant_id = $1",
            "DELETE FROM group_members WHERE tenant_id = $1",
            "DELETE FROM groups WHERE tenant_id = $1",
            "DELETE FROM user_values WHERE tenant_id = $1",
            "DELETE FROM users WHERE tenant_id = $1",
            "DELETE FROM tokens WHERE tenant_id = $1",
            "DELETE FROM tenants WHERE id = $1",
        ] {
            sqlx::query(sql)
                .bind(tenant.as_str().to_owned())
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        self.commit(tx).await?;
        Ok(())
    }

    async fn insert_token(&self, token: &TokenRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO tokens (id, tenant_id, label, secret_hash, created, last_used, revoked_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(token.id.clone())
        .bind(token.tenant_id.as_str().to_owned())
        .bind(token.label.clone())
        .bind(token.secret_hash.clone())
        .bind(token.created.clone())
        .bind(token.last_used.clone())
        .bind(token.revoked_at.clone())
        .execute(&self.writer)
        .await
        .map_err(db_error)?;
        self.durable().await?;
        Ok(())
    }

    async fn tokens(&self, tenant: &TenantId) -> Result<Vec<TokenRow>, StoreError> {
        let sql =
            format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE tenant_id = $1 ORDER BY created, id");
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(tenant.as_str().to_owned())
            .fetch_all(&self.reader)
            .await
            .map_err(db_error)?;
        rows.iter()
            .map(|r| token_from_row(r).map_err(db_error))
            .collect()
    }

    async fn revoke_token(&self, token_id: &str, at: &str) -> Result<bool, StoreError> {
        let done =
            sqlx::query("UPDATE tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
                .bind(token_id.to_owned())
                .bind(at.to_owned())
                .execute(&self.writer)
                .await
                .map_err(db_error)?;
        self.durable().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn token_with_tenant(
        &self,
        token_id: &str,
    ) -> Result<Option<(TokenRow, TenantRow)>, StoreError> {
        let row = sqlx::query(
            "SELECT t.id, t.tenant_id, t.label, t.secret_hash, t.created, t.last_used, t.revoked_at, \
                    n.id AS tenant_id2, n.name AS tenant_name, n.created AS tenant_created, \
                    n.disabled_at AS tenant_disabled_at \
             FROM tokens t JOIN tenants n ON n.id = t.tenant_id WHERE t.id = $1",
        )
        .bind(token_id.to_owned())
        .fetch_optional(&self.reader)
        .await
        .map_err(db_error)?;
        let Some(row) = row else { return Ok(None) };
        let token = token_from_row(&row).map_err(db_error)?;
        let tenant = TenantRow {
            id: TenantId::from_row(row.try_get("tenant_id2").map_err(db_error)?),
            name: row.try_get("tenant_name").map_err(db_error)?,
            created: row.try_get("tenant_created").map_err(db_error)?,
            disabled_at: row.try_get("tenant_disabled_at").map_err(db_error)?,
        };
        Ok(Some((token, tenant)))
    }

    async fn touch_token(&self, token_id: &str, at: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE tokens SET last_used = $2 WHERE id = $1")
            .bind(token_id.to_owned())
            .bind(at.to_owned())
            .execute(&self.writer)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn insert_user(
        &self,
        tenant: &TenantId,
        user: &UserWrite,
    ) -> Result<ResourceRecord, StoreError> {
        self.insert_user_row(tenant, user, &user.now, 1).await
    }

    async fn import_user(
        &self,
        tenant: &TenantId,
        user: &UserWrite,
        created: &str,
        version: i64,
    ) -> Result<ResourceRecord, StoreError> {
        self.insert_user_row(tenant, user, created, version).await
    }

    async fn user(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<ResourceRecord>, StoreError> {
        let sql =
            format!("SELECT {RECORD_COLUMNS} FROM users u WHERE u.tenant_id = $1 AND u.id = $2");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(tenant.as_str().to_owned())
            .bind(id.to_owned())
            .fetch_optional(&self.reader)
            .await
            .map_err(db_error)?;
        row.as_ref().map(record_from_row).transpose()
    }

    async fn modify_user(
        &self,
        tenant: &TenantId,
        id: &str,
        mutate: Mutation<'_>,
    ) -> Result<Modified, StoreError> {
        self.modify_user_optimistically(tenant, id, mutate).await
    }

    async fn delete_user(
        &self,
        tenant: &TenantId,
        id: &str,
        expected_version: Option<i64>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        // The user row first: on PostgreSQL that waits for any transaction that is making this
        // user a member (it holds the row with FOR KEY SHARE), so the membership rows deleted
        // next include the ones it wrote.
        let done = match expected_version {
            Some(v) => {
                sqlx::query("DELETE FROM users WHERE tenant_id = $1 AND id = $2 AND version = $3")
                    .bind(tenant.as_str().to_owned())
                    .bind(id.to_owned())
                    .bind(v)
            }
            None => sqlx::query("DELETE FROM users WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.as_str().to_owned())
                .bind(id.to_owned()),
        }
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        if done.rows_affected() == 0 {
            drop(tx);
            return Err(self.missing_or_stale(Target::Users, tenant, id).await);
        }
        // Side rows and memberships explicitly: the foreign-key cascade covers user_values only
        // where foreign keys are enforced, and memberships have no foreign key on the member.
        for sql in [
            "DELETE FROM user_values WHERE tenant_id = $1 AND user_id = $2",
            "DELETE FROM group_members WHERE tenant_id = $1 AND member_id = $2",
        ] {
            sqlx::query(sql)
                .bind(tenant.as_str().to_owned())
                .bind(id.to_owned())
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        self.commit(tx).await?;
        Ok(())
    }

    async fn list_users(
        &self,
        tenant: &TenantId,
        query: &ListQuery<'_>,
    ) -> Result<ListPage, StoreError> {
        self.list_records(Target::Users, tenant, query).await
    }

    async fn import_users(
        &self,
        tenant: &TenantId,
        users: &[Imported<UserWrite>],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        for user in users {
            self.insert_user_in(&mut tx, tenant, &user.write, &user.created, user.version)
                .await?;
        }
        self.commit(tx).await
    }

    async fn insert_group(
        &self,
        tenant: &TenantId,
        group: &GroupWrite,
        members: &[MemberRef],
    ) -> Result<Inserted, StoreError> {
        self.insert_group_with_members(tenant, group, members).await
    }

    async fn import_group(
        &self,
        tenant: &TenantId,
        group: &Imported<GroupWrite>,
    ) -> Result<ResourceRecord, StoreError> {
        self.import_group_row(tenant, group).await
    }

    async fn import_members(
        &self,
        tenant: &TenantId,
        group_id: &str,
        members: &[MemberRef],
    ) -> Result<Option<ScimError>, StoreError> {
        self.add_members_unversioned(tenant, group_id, members)
            .await
    }

    async fn group(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<ResourceRecord>, StoreError> {
        self.group_row(tenant, id).await
    }

    async fn modify_group(
        &self,
        tenant: &TenantId,
        id: &str,
        mutate: GroupMutation<'_>,
    ) -> Result<Modified, StoreError> {
        self.modify_group_row(tenant, id, mutate).await
    }

    async fn delete_group(
        &self,
        tenant: &TenantId,
        id: &str,
        expected_version: Option<i64>,
    ) -> Result<(), StoreError> {
        self.delete_group_row(tenant, id, expected_version).await
    }

    async fn list_groups(
        &self,
        tenant: &TenantId,
        query: &ListQuery<'_>,
    ) -> Result<ListPage, StoreError> {
        self.list_records(Target::Groups, tenant, query).await
    }

    async fn group_members(
        &self,
        tenant: &TenantId,
        group_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Member>, StoreError> {
        self.member_page(tenant, group_id, after, limit).await
    }

    async fn direct_groups(
        &self,
        tenant: &TenantId,
        member_ids: &[String],
    ) -> Result<Vec<DirectGroup>, StoreError> {
        self.direct_groups_of(tenant, member_ids).await
    }
}
