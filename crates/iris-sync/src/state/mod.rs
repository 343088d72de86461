//! The engine's state in Iris's database (SQLite or PostgreSQL): jobs, what each job last wrote
//! for every object it manages (target id, source hash, mapped values), escrows, and the
//! provisioning log. The tables are iris-sync's own (`sync_*`), created by its own migrations,
//! recorded in `_iris_sync_migrations` so they never mix with the store's.

use std::collections::HashMap;
use std::str::FromStr;

use iris_scim::provisioning_log::{self, Record};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::expr::Value;
use crate::mapping::Mapped;
use crate::source::ObjectKind;

const MIGRATIONS_TABLE: &str = "_iris_sync_migrations";

/// Provisioning-log records kept per job (the oldest go first, after each cycle).
pub const LOG_KEEP: i64 = 1_000_000;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database URL {0} (expected sqlite://… or postgres://…)")]
    UnsupportedUrl(String),
    #[error("no sync job named {0:?}")]
    NoJob(String),
    #[error("a sync job named {0:?} exists already")]
    JobExists(String),
    #[error("stored data is damaged: {0}")]
    Corrupt(String),
}

pub type StateResult<T> = Result<T, StateError>;

/// What the job last wrote to the target for one object.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectState {
    pub target_id: String,
    pub source_hash: String,
    pub modified: Option<String>,
    pub mapped: Mapped,
    /// Groups: the target ids of the members written.
    pub members: Vec<String>,
    /// Whether the object was in scope and enabled when last written.
    pub active: bool,
}

/// What a cycle needs to decide whether an object changed, without its mapped values.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectSummary {
    pub target_id: String,
    pub source_hash: String,
    pub modified: Option<String>,
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Escrow {
    pub kind: ObjectKind,
    pub source_id: String,
    pub attempts: i64,
    pub first_failed: String,
    pub last_failed: String,
    pub error_code: String,
    pub error: String,
}

/// The stored job row.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRow {
    pub name: String,
    pub definition: String,
    pub status: String,
    pub quarantine_reason: Option<String>,
    pub quarantine_detail: Option<String>,
    pub quarantined_at: Option<String>,
    pub watermark: Option<String>,
    pub last_cycle_id: Option<String>,
    pub last_cycle_kind: Option<String>,
    pub last_started: Option<String>,
    pub last_finished: Option<String>,
    pub last_summary: Option<String>,
    pub created: String,
}

/// One change to the state, applied in batches (one transaction per batch).
#[derive(Debug, Clone)]
pub enum Write {
    Object {
        kind: ObjectKind,
        source_id: String,
        state: ObjectState,
    },
    Forget {
        kind: ObjectKind,
        source_id: String,
    },
    Escrow {
        kind: ObjectKind,
        source_id: String,
        error_code: String,
        error: String,
    },
    ClearEscrow {
        kind: ObjectKind,
        source_id: String,
    },
    Log(Box<Record>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Engine {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct StateStore {
    pool: AnyPool,
    engine: Engine,
}

pub fn now() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default()
}

fn kind_of(s: &str) -> StateResult<ObjectKind> {
    ObjectKind::parse(s).ok_or_else(|| StateError::Corrupt(format!("object kind {s:?}")))
}

impl StateStore {
    /// Connects to Iris's database and applies iris-sync's migrations.
    pub async fn connect(url: &str) -> StateResult<Self> {
        sqlx::any::install_default_drivers();
        let lower = url.to_ascii_lowercase();
        let (engine, pool) = if lower.starts_with("sqlite:") {
            let url = if url.contains("mode=") {
                url.to_owned()
            } else if url.contains('?') {
                format!("{url}&mode=rwc")
            } else {
                format!("{url}?mode=rwc")
            };
            let options = AnyConnectOptions::from_str(&url)?;
            // One connection: SQLite has one writer anyway, and `iris serve` shares the file.
            let pool = AnyPoolOptions::new()
                .max_connections(1)
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        for pragma in [
                            "PRAGMA journal_mode = WAL",
                            "PRAGMA synchronous = NORMAL",
                            "PRAGMA foreign_keys = ON",
                            "PRAGMA busy_timeout = 30000",
                        ] {
                            conn.execute(pragma).await?;
                        }
                        Ok(())
                    })
                })
                .connect_with(options)
                .await?;
            (Engine::Sqlite, pool)
        } else if lower.starts_with("postgres:") || lower.starts_with("postgresql:") {
            let pool = AnyPoolOptions::new()
                .max_connections(4)
                .connect(url)
                .await?;
            (Engine::Postgres, pool)
        } else {
            return Err(StateError::UnsupportedUrl(url.to_owned()));
        };
        let mut migrator = match engine {
            Engine::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            Engine::Postgres => sqlx::migrate!("./migrations/postgres"),
        };
        migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
        migrator.run(&pool).await?;
        Ok(Self { pool, engine })
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    // ---- jobs ----

    pub async fn create_job(&self, name: &str, definition: &str) -> StateResult<()> {
        let result = sqlx::query(
            "INSERT INTO sync_jobs (name, definition, status, created) VALUES ($1, $2, 'idle', $3)",
        )
        .bind(name)
        .bind(definition)
        .bind(now())
        .execute(&self.pool)
        .await;
        match result {
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(StateError::JobExists(name.to_owned()))
            }
            other => other.map(|_| ()).map_err(Into::into),
        }
    }

    pub async fn replace_definition(&self, name: &str, definition: &str) -> StateResult<()> {
        let r = sqlx::query("UPDATE sync_jobs SET definition = $1 WHERE name = $2")
            .bind(definition)
            .bind(name)
            .execute(&self.pool)
            .await?;
        if r.rows_affected() == 0 {
            return Err(StateError::NoJob(name.to_owned()));
        }
        Ok(())
    }

    pub async fn delete_job(&self, name: &str) -> StateResult<()> {
        let mut tx = self.pool.begin().await?;
        for table in ["sync_log", "sync_escrows", "sync_objects"] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE job = $1"
            )))
            .bind(name)
            .execute(&mut *tx)
            .await?;
        }
        let r = sqlx::query("DELETE FROM sync_jobs WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        if r.rows_affected() == 0 {
            return Err(StateError::NoJob(name.to_owned()));
        }
        tx.commit().await?;
        Ok(())
    }

    fn job_row(row: &AnyRow) -> StateResult<JobRow> {
        Ok(JobRow {
            name: row.try_get("name")?,
            definition: row.try_get("definition")?,
            status: row.try_get("status")?,
            quarantine_reason: row.try_get("quarantine_reason")?,
            quarantine_detail: row.try_get("quarantine_detail")?,
            quarantined_at: row.try_get("quarantined_at")?,
            watermark: row.try_get("watermark")?,
            last_cycle_id: row.try_get("last_cycle_id")?,
            last_cycle_kind: row.try_get("last_cycle_kind")?,
            last_started: row.try_get("last_started")?,
            last_finished: row.try_get("last_finished")?,
            last_summary: row.try_get("last_summary")?,
            created: row.try_get("created")?,
        })
    }

    pub async fn job(&self, name: &str) -> StateResult<JobRow> {
        let row = sqlx::query("SELECT * FROM sync_jobs WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StateError::NoJob(name.to_owned()))?;
        Self::job_row(&row)
    }

    pub async fn jobs(&self) -> StateResult<Vec<JobRow>> {
        let rows = sqlx::query("SELECT * FROM sync_jobs ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(Self::job_row).collect()
    }

    pub async fn start_cycle(&self, name: &str, cycle_id: &str, kind: &str) -> StateResult<()> {
        sqlx::query(
            "UPDATE sync_jobs SET status = CASE WHEN status = 'quarantined' THEN status ELSE 'running' END, \
             last_cycle_id = $1, last_cycle_kind = $2, last_started = $3 WHERE name = $4",
        )
        .bind(cycle_id)
        .bind(kind)
        .bind(now())
        .bind(name)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Ends a cycle: its summary, the new watermark, and quarantine set or cleared.
    pub async fn finish_cycle(
        &self,
        name: &str,
        summary: &str,
        watermark: Option<&str>,
        quarantine: Option<(&str, &str)>,
    ) -> StateResult<()> {
        let (status, reason, detail, at) = match quarantine {
            Some((reason, detail)) => ("quarantined", Some(reason), Some(detail), Some(now())),
            None => ("idle", None, None, None),
        };
        sqlx::query(
            "UPDATE sync_jobs SET status = $1, quarantine_reason = $2, quarantine_detail = $3, \
             quarantined_at = CASE WHEN $4 IS NULL THEN NULL ELSE COALESCE(quarantined_at, $4) END, \
             watermark = COALESCE($5, watermark), last_finished = $6, last_summary = $7 WHERE name = $8",
        )
        .bind(status)
        .bind(reason)
        .bind(detail)
        .bind(at)
        .bind(watermark)
        .bind(now())
        .bind(summary)
        .bind(name)
        .execute(&self.pool)
        .await?;
        self.prune_log(name, LOG_KEEP).await
    }

    /// Keeps the newest `keep` log records of the job.
    pub async fn prune_log(&self, job: &str, keep: i64) -> StateResult<()> {
        sqlx::query(
            "DELETE FROM sync_log WHERE job = $1 AND seq <= \
             (SELECT seq FROM sync_log WHERE job = $1 ORDER BY seq DESC LIMIT 1 OFFSET $2)",
        )
        .bind(job)
        .bind(keep)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets the watermark, escrows and quarantine (Entra's "Restart provisioning"); the
    /// objects the job created stay known, so nothing is created twice.
    pub async fn restart(&self, name: &str) -> StateResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM sync_escrows WHERE job = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE sync_objects SET source_hash = '', modified = NULL WHERE job = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        let r = sqlx::query(
            "UPDATE sync_jobs SET status = 'idle', quarantine_reason = NULL, quarantine_detail = NULL, \
             quarantined_at = NULL, watermark = NULL WHERE name = $1",
        )
        .bind(name)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() == 0 {
            return Err(StateError::NoJob(name.to_owned()));
        }
        tx.commit().await?;
        Ok(())
    }

    // ---- objects ----

    pub async fn objects(
        &self,
        job: &str,
        kind: ObjectKind,
    ) -> StateResult<HashMap<String, ObjectState>> {
        let rows = sqlx::query(
            "SELECT source_id, target_id, source_hash, modified, mapped, members, active \
             FROM sync_objects WHERE job = $1 AND kind = $2",
        )
        .bind(job)
        .bind(kind.as_str())
        .fetch_all(&self.pool)
        .await?;
        let mut out = HashMap::with_capacity(rows.len());
        for row in rows {
            out.insert(row.try_get("source_id")?, object_state(&row)?);
        }
        Ok(out)
    }

    /// Every object's summary: the cheap index an incremental cycle compares the source with.
    pub async fn object_index(
        &self,
        job: &str,
        kind: ObjectKind,
    ) -> StateResult<HashMap<String, ObjectSummary>> {
        let rows = sqlx::query(
            "SELECT source_id, target_id, source_hash, modified, active \
             FROM sync_objects WHERE job = $1 AND kind = $2",
        )
        .bind(job)
        .bind(kind.as_str())
        .fetch_all(&self.pool)
        .await?;
        let mut out = HashMap::with_capacity(rows.len());
        for row in rows {
            let active: i64 = row.try_get("active")?;
            out.insert(
                row.try_get("source_id")?,
                ObjectSummary {
                    target_id: row.try_get("target_id")?,
                    source_hash: row.try_get("source_hash")?,
                    modified: row.try_get("modified")?,
                    active: active != 0,
                },
            );
        }
        Ok(out)
    }

    /// One object's full state.
    pub async fn object(
        &self,
        job: &str,
        kind: ObjectKind,
        source_id: &str,
    ) -> StateResult<Option<ObjectState>> {
        let row = sqlx::query(
            "SELECT target_id, source_hash, modified, mapped, members, active \
             FROM sync_objects WHERE job = $1 AND kind = $2 AND source_id = $3",
        )
        .bind(job)
        .bind(kind.as_str())
        .bind(source_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| object_state(&r)).transpose()
    }

    pub async fn object_count(&self, job: &str, kind: ObjectKind) -> StateResult<i64> {
        let row =
            sqlx::query("SELECT COUNT(*) AS n FROM sync_objects WHERE job = $1 AND kind = $2")
                .bind(job)
                .bind(kind.as_str())
                .fetch_one(&self.pool)
                .await?;
        Ok(row.try_get("n")?)
    }

    /// Applies writes in one transaction. Objects are written as their final state in the batch
    /// (several writes of one object keep the last), in multi-row statements, so a batch holds
    /// the database's write lock (which `iris serve` shares on SQLite) as briefly as possible.
    pub async fn apply(&self, job: &str, cycle_id: &str, writes: &[Write]) -> StateResult<()> {
        const ROWS: usize = 100;
        if writes.is_empty() {
            return Ok(());
        }
        let mut order: Vec<(ObjectKind, &str)> = Vec::new();
        let mut last: HashMap<(ObjectKind, &str), Option<&ObjectState>> = HashMap::new();
        let mut logs: Vec<&Record> = Vec::new();
        let mut escrows: Vec<&Write> = Vec::new();
        for w in writes {
            match w {
                Write::Object {
                    kind,
                    source_id,
                    state,
                } => {
                    let key = (*kind, source_id.as_str());
                    if last.insert(key, Some(state)).is_none() {
                        order.push(key);
                    }
                }
                Write::Forget { kind, source_id } => {
                    let key = (*kind, source_id.as_str());
                    if last.insert(key, None).is_none() {
                        order.push(key);
                    }
                }
                Write::Log(record) => logs.push(record),
                Write::Escrow { .. } | Write::ClearEscrow { .. } => escrows.push(w),
            }
        }
        let stamp = now();
        let mut tx = self.pool.begin().await?;
        let mut upserts: Vec<(ObjectKind, &str, &ObjectState)> = Vec::new();
        for key in &order {
            match last.get(key).copied().flatten() {
                Some(state) => upserts.push((key.0, key.1, state)),
                None => {
                    sqlx::query(
                        "DELETE FROM sync_objects WHERE job = $1 AND kind = $2 AND source_id = $3",
                    )
                    .bind(job)
                    .bind(key.0.as_str())
                    .bind(key.1)
                    .execute(&mut *tx)
                    .await?;
                }
            }
        }
        for chunk in upserts.chunks(ROWS) {
            let mut sql = String::from(
                "INSERT INTO sync_objects (job, kind, source_id, target_id, source_hash, modified, mapped, members, active, updated) VALUES ",
            );
            for i in 0..chunk.len() {
                let b = i * 10;
                if i > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!(
                    "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 5,
                    b + 6,
                    b + 7,
                    b + 8,
                    b + 9,
                    b + 10
                ));
            }
            sql.push_str(
                " ON CONFLICT (job, kind, source_id) DO UPDATE SET target_id = excluded.target_id, \
                 source_hash = excluded.source_hash, modified = excluded.modified, mapped = excluded.mapped, \
                 members = excluded.members, active = excluded.active, updated = excluded.updated",
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (kind, source_id, state) in chunk {
                let mapped = serde_json::to_string(&state.mapped)
                    .map_err(|e| StateError::Corrupt(e.to_string()))?;
                let members = (*kind == ObjectKind::Group)
                    .then(|| serde_json::to_string(&state.members).unwrap_or_default());
                query = query
                    .bind(job)
                    .bind(kind.as_str())
                    .bind(*source_id)
                    .bind(state.target_id.clone())
                    .bind(state.source_hash.clone())
                    .bind(state.modified.clone())
                    .bind(mapped)
                    .bind(members)
                    .bind(i64::from(state.active))
                    .bind(stamp.clone());
            }
            query.execute(&mut *tx).await?;
        }
        for w in escrows {
            match w {
                Write::Escrow {
                    kind,
                    source_id,
                    error_code,
                    error,
                } => {
                    sqlx::query(
                        "INSERT INTO sync_escrows (job, kind, source_id, attempts, first_failed, last_failed, error_code, error) \
                         VALUES ($1, $2, $3, 1, $4, $4, $5, $6) \
                         ON CONFLICT (job, kind, source_id) DO UPDATE SET attempts = sync_escrows.attempts + 1, \
                         last_failed = excluded.last_failed, error_code = excluded.error_code, error = excluded.error",
                    )
                    .bind(job)
                    .bind(kind.as_str())
                    .bind(source_id)
                    .bind(&stamp)
                    .bind(error_code)
                    .bind(error)
                    .execute(&mut *tx)
                    .await?;
                }
                Write::ClearEscrow { kind, source_id } => {
                    sqlx::query(
                        "DELETE FROM sync_escrows WHERE job = $1 AND kind = $2 AND source_id = $3",
                    )
                    .bind(job)
                    .bind(kind.as_str())
                    .bind(source_id)
                    .execute(&mut *tx)
                    .await?;
                }
                _ => {}
            }
        }
        for chunk in logs.chunks(ROWS) {
            let mut sql =
                String::from("INSERT INTO sync_log (job, cycle_id, status, record) VALUES ");
            for i in 0..chunk.len() {
                let b = i * 4;
                if i > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!("(${}, ${}, ${}, ${})", b + 1, b + 2, b + 3, b + 4));
            }
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for record in chunk {
                query = query
                    .bind(job)
                    .bind(cycle_id)
                    .bind(record.status.as_str())
                    .bind(provisioning_log::csv_record(record));
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn escrows(&self, job: &str) -> StateResult<Vec<Escrow>> {
        let rows = sqlx::query(
            "SELECT kind, source_id, attempts, first_failed, last_failed, error_code, error \
             FROM sync_escrows WHERE job = $1 ORDER BY kind, source_id",
        )
        .bind(job)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Escrow {
                    kind: kind_of(&r.try_get::<String, _>("kind")?)?,
                    source_id: r.try_get("source_id")?,
                    attempts: r.try_get("attempts")?,
                    first_failed: r.try_get("first_failed")?,
                    last_failed: r.try_get("last_failed")?,
                    error_code: r.try_get("error_code")?,
                    error: r.try_get("error")?,
                })
            })
            .collect()
    }

    /// The newest `limit` log records (oldest first), optionally of one cycle only.
    pub async fn log(
        &self,
        job: &str,
        cycle: Option<&str>,
        limit: i64,
    ) -> StateResult<Vec<Record>> {
        let rows = sqlx::query(
            "SELECT record FROM sync_log WHERE job = $1 AND ($2 IS NULL OR cycle_id = $2) \
             ORDER BY seq DESC LIMIT $3",
        )
        .bind(job)
        .bind(cycle)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut text = provisioning_log::csv_header();
        for row in rows.iter().rev() {
            text.push_str(&row.try_get::<String, _>("record")?);
        }
        provisioning_log::parse_csv(&text).map_err(|e| StateError::Corrupt(e.to_string()))
    }

    pub fn is_postgres(&self) -> bool {
        self.engine == Engine::Postgres
    }
}

fn object_state(row: &AnyRow) -> StateResult<ObjectState> {
    let mapped: String = row.try_get("mapped")?;
    let mapped: Mapped = serde_json::from_str(&mapped)
        .map_err(|e| StateError::Corrupt(format!("mapped values: {e}")))?;
    let members: Option<String> = row.try_get("members")?;
    let members = match members {
        Some(m) => {
            serde_json::from_str(&m).map_err(|e| StateError::Corrupt(format!("members: {e}")))?
        }
        None => vec![],
    };
    let active: i64 = row.try_get("active")?;
    Ok(ObjectState {
        target_id: row.try_get("target_id")?,
        source_hash: row.try_get("source_hash")?,
        modified: row.try_get("modified")?,
        mapped,
        members,
        active: active != 0,
    })
}

/// The `active` mapped value as written (for the Enable/Disable actions of the log).
pub fn mapped_active(mapped: &Mapped) -> Option<bool> {
    mapped.get("active").map(Value::is_true)
}

#[cfg(test)]
mod tests {
    use iris_scim::provisioning_log::{Action, Status};

    use super::*;

    fn state(target: &str, hash: &str) -> ObjectState {
        ObjectState {
            target_id: target.into(),
            source_hash: hash.into(),
            modified: None,
            mapped: [("userName".to_owned(), Value::Str(format!("{target}@x")))].into(),
            members: vec![],
            active: true,
        }
    }

    fn record(n: usize) -> Record {
        Record {
            date: OffsetDateTime::now_utc(),
            id: format!("r{n}"),
            request_id: String::new(),
            job_id: "j".into(),
            cycle_id: "c".into(),
            change_id: String::new(),
            action: Action::Create,
            source_system: String::new(),
            target_system: String::new(),
            source_identity: String::new(),
            source_identity_id: format!("s{n}"),
            target_identity: String::new(),
            target_identity_id: String::new(),
            status: Status::Success,
            error_code: String::new(),
            error_description: String::new(),
            duration_ms: 1,
            modified_properties: vec![],
        }
    }

    #[tokio::test]
    async fn a_batch_keeps_each_objects_last_write_and_every_log_record_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("iris.db").display());
        let store = StateStore::connect(&url).await.unwrap();
        store.create_job("j", "{}").await.unwrap();
        let mut writes = Vec::new();
        // 250 objects (three statements), one written twice, one written then forgotten.
        for i in 0..250 {
            writes.push(Write::Object {
                kind: ObjectKind::User,
                source_id: format!("s{i}"),
                state: state(&format!("t{i}"), "h1"),
            });
            writes.push(Write::Log(Box::new(record(i))));
        }
        writes.push(Write::Object {
            kind: ObjectKind::User,
            source_id: "s7".into(),
            state: state("t7", "h2"),
        });
        writes.push(Write::Forget {
            kind: ObjectKind::User,
            source_id: "s8".into(),
        });
        store.apply("j", "c", &writes).await.unwrap();
        let objects = store.objects("j", ObjectKind::User).await.unwrap();
        assert_eq!(objects.len(), 249);
        assert_eq!(objects["s7"].source_hash, "h2");
        assert!(!objects.contains_key("s8"));
        assert_eq!(objects["s9"], state("t9", "h1"));
        let index = store.object_index("j", ObjectKind::User).await.unwrap();
        assert_eq!(index["s9"].target_id, "t9");
        let log = store.log("j", None, 1000).await.unwrap();
        assert_eq!(log.len(), 250);
        assert_eq!(log[0].id, "r0");
        assert_eq!(log[249].id, "r249");
        assert_eq!(store.log("j", Some("other"), 10).await.unwrap().len(), 0);
        store.prune_log("j", 100).await.unwrap();
        let log = store.log("j", None, 1000).await.unwrap();
        assert_eq!(log.len(), 100, "the newest are kept");
        assert_eq!(log[0].id, "r150");
        // A second connection finds the migrations applied, in their own table.
        store.close().await;
        let again = StateStore::connect(&url).await.unwrap();
        assert_eq!(
            again.object_count("j", ObjectKind::User).await.unwrap(),
            249
        );
    }
}
