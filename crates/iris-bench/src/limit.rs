//! The limit server: bare axum handlers on the same paths as Iris, each doing exactly the database
//! work of its workload and nothing else — no authentication, no SCIM parsing or validation, no
//! rendering (fixed response bodies). Same engine, same durability, same table shapes as Iris:
//! SQLite in WAL mode with `synchronous=FULL`, one writer connection and a reader pool; PostgreSQL
//! with its default (durable) commit.
//!
//! It runs in this process on a runtime of its own (threads named `limit-…`), so its CPU time can
//! be told apart from the load generator's.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Executor, Row};

use crate::data::{self, LIST_SCHEMA, SEED_TIME};
use crate::procstat::CpuSource;

/// Which database the limit server (and its twin Iris) runs on.
#[derive(Debug, Clone)]
pub enum Engine {
    Sqlite { path: PathBuf, full_sync: bool },
    Postgres { url: String },
}

const SQLITE_SCHEMA: &str = r#"
CREATE TABLE tenants (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, created TEXT NOT NULL, disabled_at TEXT) STRICT;
CREATE TABLE users (
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE, id TEXT NOT NULL,
    user_name_lower TEXT NOT NULL, external_id TEXT, display_name_lower TEXT, active INTEGER,
    created TEXT NOT NULL, last_modified TEXT NOT NULL, version INTEGER NOT NULL,
    doc TEXT NOT NULL CHECK (json_valid(doc)), search_doc TEXT NOT NULL CHECK (json_valid(search_doc)),
    PRIMARY KEY (tenant_id, id)) STRICT;
CREATE UNIQUE INDEX users_user_name ON users (tenant_id, user_name_lower);
CREATE INDEX users_external_id ON users (tenant_id, external_id);
CREATE INDEX users_display_name ON users (tenant_id, display_name_lower);
CREATE TABLE groups (
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE, id TEXT NOT NULL,
    display_name TEXT NOT NULL, display_name_lower TEXT NOT NULL, external_id TEXT,
    created TEXT NOT NULL, last_modified TEXT NOT NULL, version INTEGER NOT NULL,
    doc TEXT NOT NULL CHECK (json_valid(doc)), search_doc TEXT NOT NULL CHECK (json_valid(search_doc)),
    PRIMARY KEY (tenant_id, id)) STRICT;
CREATE UNIQUE INDEX groups_display_name ON groups (tenant_id, display_name_lower);
CREATE TABLE group_members (
    tenant_id TEXT NOT NULL, group_id TEXT NOT NULL, member_id TEXT NOT NULL,
    member_type TEXT NOT NULL CHECK (member_type IN ('User', 'Group')),
    PRIMARY KEY (tenant_id, group_id, member_id),
    FOREIGN KEY (tenant_id, group_id) REFERENCES groups (tenant_id, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX group_members_member ON group_members (tenant_id, member_id);
"#;

const POSTGRES_SCHEMA: &str = r#"
CREATE TABLE tenants (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, created TEXT NOT NULL, disabled_at TEXT);
CREATE TABLE users (
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE, id TEXT NOT NULL,
    user_name_lower TEXT NOT NULL, external_id TEXT, display_name_lower TEXT, active BOOLEAN,
    created TEXT NOT NULL, last_modified TEXT NOT NULL, version BIGINT NOT NULL,
    doc TEXT NOT NULL, search_doc JSONB NOT NULL,
    PRIMARY KEY (tenant_id, id));
CREATE UNIQUE INDEX users_user_name ON users (tenant_id, user_name_lower);
CREATE INDEX users_external_id ON users (tenant_id, external_id);
CREATE INDEX users_display_name ON users (tenant_id, display_name_lower);
CREATE TABLE groups (
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE, id TEXT NOT NULL,
    display_name TEXT NOT NULL, display_name_lower TEXT NOT NULL, external_id TEXT,
    created TEXT NOT NULL, last_modified TEXT NOT NULL, version BIGINT NOT NULL,
    doc TEXT NOT NULL, search_doc JSONB NOT NULL,
    PRIMARY KEY (tenant_id, id));
CREATE UNIQUE INDEX groups_display_name ON groups (tenant_id, display_name_lower);
CREATE TABLE group_members (
    tenant_id TEXT NOT NULL, group_id TEXT NOT NULL, member_id TEXT NOT NULL,
    member_type TEXT NOT NULL CHECK (member_type IN ('User', 'Group')),
    PRIMARY KEY (tenant_id, group_id, member_id),
    FOREIGN KEY (tenant_id, group_id) REFERENCES groups (tenant_id, id) ON DELETE CASCADE);
CREATE INDEX group_members_member ON group_members (tenant_id, member_id);
"#;

#[derive(Clone)]
enum Db {
    Sqlite {
        reader: SqlitePool,
        writer: SqlitePool,
    },
    Postgres(PgPool),
}

fn sqlite_options(path: &std::path::Path, full_sync: bool) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(if full_sync {
            SqliteSynchronous::Full
        } else {
            SqliteSynchronous::Normal
        })
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5))
        .thread_name(|id| format!("limit-sqlite-{id}"))
}

/// Iris's pool size (`db_max_connections` default).
const READ_CONNECTIONS: u32 = 8;

async fn open(engine: &Engine) -> Result<Db> {
    match engine {
        Engine::Sqlite { path, full_sync } => {
            let options = sqlite_options(path, *full_sync);
            let writer = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .connect_with(options.clone())
                .await
                .context("opening the limit writer")?;
            let reader = SqlitePoolOptions::new()
                .max_connections(READ_CONNECTIONS)
                .connect_with(options)
                .await
                .context("opening the limit readers")?;
            Ok(Db::Sqlite { reader, writer })
        }
        Engine::Postgres { url } => Ok(Db::Postgres(
            PgPoolOptions::new()
                .max_connections(READ_CONNECTIONS)
                .connect(url)
                .await
                .context("opening the limit PostgreSQL pool")?,
        )),
    }
}

/// A user row of the limit database, as Iris would store it (document and shadow columns).
struct UserRow {
    id: String,
    user_name_lower: String,
    doc: String,
}

/// What the limit database holds before its server starts.
pub struct LimitSeed<'a> {
    /// `(tenant, users)`: the tenant's first `users` users, as `iris import` gets them.
    pub tenants: Vec<(&'a data::TenantRef, usize)>,
    /// `(tenant, group id, display name, member indexes)`.
    pub groups: Vec<(&'a data::TenantRef, String, String, std::ops::Range<u64>)>,
}

/// Creates the schema and bulk-loads the seed (big transactions: this is setup, not measured).
pub async fn prepare(engine: &Engine, seed: &LimitSeed<'_>) -> Result<()> {
    let db = match engine {
        Engine::Sqlite { path, .. } => {
            let options = sqlite_options(path, false);
            Db::Sqlite {
                reader: SqlitePool::connect_with(options.clone()).await?,
                writer: SqlitePool::connect_with(options).await?,
            }
        }
        Engine::Postgres { .. } => open(engine).await?,
    };
    match &db {
        Db::Sqlite { writer, .. } => {
            writer
                .execute(SQLITE_SCHEMA)
                .await
                .context("limit schema")?;
        }
        Db::Postgres(pool) => {
            pool.execute(POSTGRES_SCHEMA)
                .await
                .context("limit schema")?;
        }
    }
    for (tenant, users) in &seed.tenants {
        exec(
            &db,
            "INSERT INTO tenants (id, name, created) VALUES ($1, $1, $2)",
            &[&tenant.name, SEED_TIME],
        )
        .await?;
        let rows = (0..*users as u64).map(|i| {
            let name = data::user_name(&tenant.name, i);
            let mut doc = data::entra_user(&name, i);
            if let Some(o) = doc.as_object_mut() {
                o.remove("meta");
            }
            UserRow {
                id: data::user_id(tenant.index, i),
                user_name_lower: name.to_lowercase(),
                doc: doc.to_string(),
            }
        });
        insert_users(&db, &tenant.name, rows).await?;
    }
    for (tenant, group_id, display_name, members) in &seed.groups {
        let doc = serde_json::json!({
            "schemas": [data::GROUP_SCHEMA], "displayName": display_name
        })
        .to_string();
        let sql = match &db {
            Db::Sqlite { .. } => {
                "INSERT INTO groups (tenant_id, id, display_name, display_name_lower, created, last_modified, version, doc, search_doc) \
                 VALUES ($1, $2, $3, $4, $5, $5, 1, $6, $6)"
            }
            Db::Postgres(_) => {
                "INSERT INTO groups (tenant_id, id, display_name, display_name_lower, created, last_modified, version, doc, search_doc) \
                 VALUES ($1, $2, $3, $4, $5, $5, 1, $6, $6::jsonb)"
            }
        };
        exec(
            &db,
            sql,
            &[
                &tenant.name,
                group_id,
                display_name,
                &display_name.to_lowercase(),
                SEED_TIME,
                &doc,
            ],
        )
        .await?;
        let ids: Vec<String> = members
            .clone()
            .map(|i| data::user_id(tenant.index, i))
            .collect();
        for chunk in ids.chunks(5_000) {
            match &db {
                Db::Sqlite { writer, .. } => {
                    let mut tx = writer.begin().await?;
                    member_rows_insert_sqlite(&mut tx, &tenant.name, group_id, chunk).await?;
                    tx.commit().await?;
                }
                Db::Postgres(pool) => {
                    let mut tx = pool.begin().await?;
                    member_rows_insert_pg(&mut tx, &tenant.name, group_id, chunk).await?;
                    tx.commit().await?;
                }
            }
        }
    }
    match db {
        Db::Sqlite { reader, writer } => {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&writer)
                .await?;
            sqlx::query("ANALYZE").execute(&writer).await?;
            writer.close().await;
            reader.close().await;
        }
        Db::Postgres(pool) => {
            sqlx::query("ANALYZE").execute(&pool).await?;
            pool.close().await;
        }
    }
    Ok(())
}

async fn exec(db: &Db, sql: &str, binds: &[&str]) -> Result<()> {
    match db {
        Db::Sqlite { writer, .. } => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()));
            for b in binds {
                q = q.bind(b.to_string());
            }
            q.execute(writer).await?;
        }
        Db::Postgres(pool) => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()));
            for b in binds {
                q = q.bind(b.to_string());
            }
            q.execute(pool).await?;
        }
    }
    Ok(())
}

const USER_INSERT_COLUMNS: &str = "INSERT INTO users (tenant_id, id, user_name_lower, external_id, display_name_lower, active, created, last_modified, version, doc, search_doc) VALUES ";

async fn insert_users(db: &Db, tenant: &str, rows: impl Iterator<Item = UserRow>) -> Result<()> {
    let rows: Vec<UserRow> = rows.collect();
    let jsonb = matches!(db, Db::Postgres(_));
    for chunk in rows.chunks(2_000) {
        // Multi-row INSERTs of 200 rows per statement inside one transaction per chunk.
        let mut statements = Vec::new();
        for part in chunk.chunks(200) {
            let mut sql = String::from(USER_INSERT_COLUMNS);
            for (i, _) in part.iter().enumerate() {
                let n = i * 4;
                if i > 0 {
                    sql.push(',');
                }
                let search = if jsonb {
                    format!("${}::jsonb", n + 4)
                } else {
                    format!("${}", n + 4)
                };
                sql.push_str(&format!(
                    "($1, ${}, ${}, ${}, NULL, TRUE, '{SEED_TIME}', '{SEED_TIME}', 1, ${}, {search})",
                    n + 2,
                    n + 3,
                    n + 5,
                    n + 4
                ));
            }
            statements.push((sql, part));
        }
        macro_rules! run {
            ($pool:expr) => {{
                let mut tx = $pool.begin().await?;
                for (sql, part) in &statements {
                    let mut q =
                        sqlx::query(sqlx::AssertSqlSafe(sql.clone())).bind(tenant.to_owned());
                    for r in part.iter() {
                        q = q
                            .bind(r.id.clone())
                            .bind(r.user_name_lower.clone())
                            .bind(r.doc.clone())
                            .bind(None::<String>);
                    }
                    q.execute(&mut *tx).await.context("seeding limit users")?;
                }
                tx.commit().await?;
            }};
        }
        match db {
            Db::Sqlite { writer, .. } => run!(writer),
            Db::Postgres(pool) => run!(pool),
        }
    }
    Ok(())
}

/// `(sql, binds)` of multi-row membership INSERTs, 250 rows per statement.
fn member_insert_sql(rows: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO group_members (tenant_id, group_id, member_id, member_type) VALUES ",
    );
    for i in 0..rows {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str(&format!("($1, $2, ${}, 'User')", i + 3));
    }
    sql.push_str(" ON CONFLICT DO NOTHING");
    sql
}

fn member_delete_sql(rows: usize) -> String {
    let mut sql = String::from(
        "DELETE FROM group_members WHERE tenant_id = $1 AND group_id = $2 AND member_id IN (",
    );
    for i in 0..rows {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str(&format!("${}", i + 3));
    }
    sql.push(')');
    sql
}

const MEMBER_CHUNK: usize = 250;

macro_rules! member_batch {
    ($name:ident, $db:ty, $sql:ident) => {
        async fn $name(
            tx: &mut sqlx::Transaction<'static, $db>,
            tenant: &str,
            group: &str,
            ids: &[String],
        ) -> Result<u64> {
            let mut affected = 0;
            for chunk in ids.chunks(MEMBER_CHUNK) {
                let mut q = sqlx::query(sqlx::AssertSqlSafe($sql(chunk.len())))
                    .bind(tenant.to_owned())
                    .bind(group.to_owned());
                for id in chunk {
                    q = q.bind(id.clone());
                }
                affected += q.execute(&mut **tx).await?.rows_affected();
            }
            Ok(affected)
        }
    };
}

member_batch!(member_rows_insert_sqlite, sqlx::Sqlite, member_insert_sql);
member_batch!(member_rows_delete_sqlite, sqlx::Sqlite, member_delete_sql);
member_batch!(member_rows_insert_pg, sqlx::Postgres, member_insert_sql);
member_batch!(member_rows_delete_pg, sqlx::Postgres, member_delete_sql);

struct LimitState {
    db: Db,
    hit: Bytes,
    miss: Bytes,
    user: Bytes,
    public: String,
}

type St = State<Arc<LimitState>>;

const SCIM_JSON: HeaderValue = HeaderValue::from_static("application/scim+json");

fn scim(status: StatusCode, body: Bytes) -> Response {
    (status, [(header::CONTENT_TYPE, SCIM_JSON)], body).into_response()
}

fn failure(e: impl std::fmt::Display) -> Response {
    (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()
}

/// `userName` from Entra's `filter=userName+eq+%22…%22`, lowercased.
fn filter_user_name(query: &str) -> Option<String> {
    let raw = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("filter="))?
        .replace('+', " ");
    let decoded = percent_encoding::percent_decode_str(&raw)
        .decode_utf8()
        .ok()?;
    let start = decoded.find('"')?;
    let end = decoded.rfind('"')?;
    (end > start).then(|| decoded[start + 1..end].to_lowercase())
}

fn query_int(query: &str, key: &str) -> Option<i64> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        k.eq_ignore_ascii_case(key).then(|| v.parse().ok())?
    })
}

async fn users_get(State(st): St, Path(tenant): Path<String>, RawQuery(q): RawQuery) -> Response {
    let q = q.unwrap_or_default();
    if let Some(name) = filter_user_name(&q) {
        const SQL: &str = "SELECT id, doc FROM users WHERE tenant_id = $1 AND user_name_lower = $2";
        let found = match &st.db {
            Db::Sqlite { reader, .. } => sqlx::query(SQL)
                .bind(tenant)
                .bind(name)
                .fetch_optional(reader)
                .await
                .map(|r| r.is_some()),
            Db::Postgres(pool) => sqlx::query(SQL)
                .bind(tenant)
                .bind(name)
                .fetch_optional(pool)
                .await
                .map(|r| r.is_some()),
        };
        return match found {
            Ok(true) => scim(StatusCode::OK, st.hit.clone()),
            Ok(false) => scim(StatusCode::OK, st.miss.clone()),
            Err(e) => failure(e),
        };
    }
    let start = query_int(&q, "startIndex").unwrap_or(1).max(1);
    let count = query_int(&q, "count").unwrap_or(100).clamp(0, 1000);
    const SQL: &str = "SELECT doc FROM users WHERE tenant_id = $1 ORDER BY id LIMIT $2 OFFSET $3";
    let docs: Result<Vec<String>, sqlx::Error> = match &st.db {
        Db::Sqlite { reader, .. } => sqlx::query(SQL)
            .bind(tenant)
            .bind(count)
            .bind(start - 1)
            .fetch_all(reader)
            .await
            .and_then(|rows| rows.iter().map(|r| r.try_get::<String, _>(0)).collect()),
        Db::Postgres(pool) => sqlx::query(SQL)
            .bind(tenant)
            .bind(count)
            .bind(start - 1)
            .fetch_all(pool)
            .await
            .and_then(|rows| rows.iter().map(|r| r.try_get::<String, _>(0)).collect()),
    };
    match docs {
        Ok(docs) => {
            let mut body = format!(
                "{{\"schemas\":[\"{LIST_SCHEMA}\"],\"startIndex\":{start},\"itemsPerPage\":{},\"Resources\":[",
                docs.len()
            );
            for (i, d) in docs.iter().enumerate() {
                if i > 0 {
                    body.push(',');
                }
                body.push_str(d);
            }
            body.push_str("]}");
            scim(StatusCode::OK, Bytes::from(body))
        }
        Err(e) => failure(e),
    }
}

async fn users_post(State(st): St, Path(tenant): Path<String>, body: Bytes) -> Response {
    let Ok(doc) = std::str::from_utf8(&body) else {
        return (StatusCode::BAD_REQUEST, "not UTF-8").into_response();
    };
    let id = uuid::Uuid::now_v7().to_string();
    let result = match &st.db {
        Db::Sqlite { writer, .. } => {
            sqlx::query(
                "INSERT INTO users (tenant_id, id, user_name_lower, active, created, last_modified, version, doc, search_doc) \
                 VALUES ($1, $2, $2, TRUE, $3, $3, 1, $4, $4)",
            )
            .bind(tenant.clone())
            .bind(id.clone())
            .bind(SEED_TIME)
            .bind(doc)
            .execute(writer)
            .await
            .map(|r| r.rows_affected())
        }
        Db::Postgres(pool) => {
            sqlx::query(
                "INSERT INTO users (tenant_id, id, user_name_lower, active, created, last_modified, version, doc, search_doc) \
                 VALUES ($1, $2, $2, TRUE, $3, $3, 1, $4, $4::jsonb)",
            )
            .bind(tenant.clone())
            .bind(id.clone())
            .bind(SEED_TIME)
            .bind(doc)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        }
    };
    match result {
        Ok(_) => {
            let mut response = scim(StatusCode::CREATED, st.user.clone());
            if let Ok(v) =
                HeaderValue::from_str(&format!("{}/scim/v2/{tenant}/Users/{id}", st.public))
            {
                response.headers_mut().insert(header::LOCATION, v);
            }
            response
        }
        Err(e) => failure(e),
    }
}

async fn users_patch(State(st): St, Path((tenant, id)): Path<(String, String)>) -> Response {
    let result = match &st.db {
        Db::Sqlite { writer, .. } => {
            sqlx::query(
                "UPDATE users SET doc = $3, search_doc = $3, last_modified = $4, version = version + 1 \
                 WHERE tenant_id = $1 AND id = $2",
            )
            .bind(tenant)
            .bind(id)
            .bind(std::str::from_utf8(&st.user).unwrap_or("{}"))
            .bind(SEED_TIME)
            .execute(writer)
            .await
            .map(|r| r.rows_affected())
        }
        Db::Postgres(pool) => {
            sqlx::query(
                "UPDATE users SET doc = $3, search_doc = $3::jsonb, last_modified = $4, version = version + 1 \
                 WHERE tenant_id = $1 AND id = $2",
            )
            .bind(tenant)
            .bind(id)
            .bind(std::str::from_utf8(&st.user).unwrap_or("{}"))
            .bind(SEED_TIME)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        }
    };
    match result {
        Ok(1) => scim(StatusCode::OK, st.user.clone()),
        Ok(_) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => failure(e),
    }
}

async fn users_delete(State(st): St, Path((tenant, id)): Path<(String, String)>) -> Response {
    const SQL: &str = "DELETE FROM users WHERE tenant_id = $1 AND id = $2";
    let result = match &st.db {
        Db::Sqlite { writer, .. } => sqlx::query(SQL)
            .bind(tenant)
            .bind(id)
            .execute(writer)
            .await
            .map(|r| r.rows_affected()),
        Db::Postgres(pool) => sqlx::query(SQL)
            .bind(tenant)
            .bind(id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()),
    };
    match result {
        Ok(1) => StatusCode::NO_CONTENT.into_response(),
        Ok(_) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => failure(e),
    }
}

async fn groups_get(State(st): St, Path((tenant, id)): Path<(String, String)>) -> Response {
    const SQL: &str = "SELECT doc FROM groups WHERE tenant_id = $1 AND id = $2";
    let doc: Result<Option<String>, sqlx::Error> = match &st.db {
        Db::Sqlite { reader, .. } => sqlx::query(SQL)
            .bind(tenant)
            .bind(id)
            .fetch_optional(reader)
            .await
            .and_then(|r| r.map(|r| r.try_get(0)).transpose()),
        Db::Postgres(pool) => sqlx::query(SQL)
            .bind(tenant)
            .bind(id)
            .fetch_optional(pool)
            .await
            .and_then(|r| r.map(|r| r.try_get(0)).transpose()),
    };
    match doc {
        Ok(Some(doc)) => scim(StatusCode::OK, Bytes::from(doc)),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => failure(e),
    }
}

#[derive(Deserialize)]
struct PatchRequest<'a> {
    #[serde(rename = "Operations", borrow)]
    operations: Vec<PatchOp<'a>>,
}

#[derive(Deserialize)]
struct PatchOp<'a> {
    op: &'a str,
    #[serde(default)]
    path: Option<String>,
    #[serde(default, borrow)]
    value: Option<Vec<MemberValue<'a>>>,
}

#[derive(Deserialize)]
struct MemberValue<'a> {
    value: &'a str,
}

/// Membership changes of a PATCH: the ids to add and the ids to remove. Only the minimal
/// extraction the database work needs (no SCIM validation).
fn member_changes(body: &[u8]) -> Result<(Vec<String>, Vec<String>)> {
    let request: PatchRequest<'_> = serde_json::from_slice(body)?;
    let (mut add, mut remove) = (Vec::new(), Vec::new());
    for op in request.operations {
        let ids: Vec<String> = match (&op.value, &op.path) {
            (Some(values), _) => values.iter().map(|v| v.value.to_owned()).collect(),
            (None, Some(path)) => {
                let start = path.find('"').ok_or_else(|| anyhow!("no member in path"))?;
                let end = path
                    .rfind('"')
                    .ok_or_else(|| anyhow!("no member in path"))?;
                vec![path.get(start + 1..end).unwrap_or_default().to_owned()]
            }
            (None, None) => Vec::new(),
        };
        if op.op.eq_ignore_ascii_case("remove") {
            remove.extend(ids);
        } else {
            add.extend(ids);
        }
    }
    Ok((add, remove))
}

async fn groups_patch(
    State(st): St,
    Path((tenant, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let Ok((add, remove)) = member_changes(&body) else {
        return (StatusCode::BAD_REQUEST, "bad PATCH").into_response();
    };
    let result: Result<()> = async {
        match &st.db {
            Db::Sqlite { writer, .. } => {
                let mut tx = writer.begin().await?;
                member_rows_insert_sqlite(&mut tx, &tenant, &id, &add).await?;
                member_rows_delete_sqlite(&mut tx, &tenant, &id, &remove).await?;
                tx.commit().await?;
            }
            Db::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                member_rows_insert_pg(&mut tx, &tenant, &id, &add).await?;
                member_rows_delete_pg(&mut tx, &tenant, &id, &remove).await?;
                tx.commit().await?;
            }
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => failure(e),
    }
}

fn fixed_user() -> Bytes {
    let mut doc = data::entra_user("user000042@big.example.com", 42);
    if let Some(o) = doc.as_object_mut() {
        o.remove("meta");
        o.insert("id".into(), data::user_id(0, 42).into());
    }
    data::body(&doc)
}

fn router(state: Arc<LimitState>) -> Router {
    Router::new()
        .route("/scim/v2/{tenant}/Users", get(users_get).post(users_post))
        .route(
            "/scim/v2/{tenant}/Users/{id}",
            axum::routing::patch(users_patch).delete(users_delete),
        )
        .route(
            "/scim/v2/{tenant}/Groups/{id}",
            get(groups_get).patch(groups_patch),
        )
        .route("/healthz", get(|| async { "ok" }))
        .with_state(state)
}

/// A running limit server.
pub struct LimitServer {
    pub addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<()>>>,
}

impl LimitServer {
    /// Starts on 127.0.0.1, port 0, on a two-thread runtime of its own (like Iris's default
    /// runtime on this two-core machine).
    pub fn start(engine: Engine) -> Result<Self> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<SocketAddr>>();
        let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("limit-main".into())
            .spawn(move || -> Result<()> {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("limit-rt")
                    .enable_all()
                    .build()?;
                runtime.block_on(async move {
                    let setup = async {
                        let db = open(&engine).await?;
                        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                        let addr = listener.local_addr()?;
                        let user = fixed_user();
                        let hit = Bytes::from(format!(
                            "{{\"schemas\":[\"{LIST_SCHEMA}\"],\"totalResults\":1,\"startIndex\":1,\"itemsPerPage\":1,\"Resources\":[{}]}}",
                            String::from_utf8_lossy(&user)
                        ));
                        let miss = Bytes::from(format!(
                            "{{\"schemas\":[\"{LIST_SCHEMA}\"],\"totalResults\":0,\"startIndex\":1,\"itemsPerPage\":0,\"Resources\":[]}}"
                        ));
                        let state = Arc::new(LimitState {
                            db,
                            hit,
                            miss,
                            user,
                            public: format!("http://{addr}"),
                        });
                        Ok::<_, anyhow::Error>((listener, addr, state))
                    };
                    let (listener, addr, state) = match setup.await {
                        Ok(v) => v,
                        Err(e) => {
                            let _ = ready_tx.send(Err(anyhow!("{e:#}")));
                            return Err(e);
                        }
                    };
                    let _ = ready_tx.send(Ok(addr));
                    let db = state.db.clone();
                    axum::serve(listener, router(state))
                        .with_graceful_shutdown(async {
                            let _ = shutdown_rx.await;
                        })
                        .await?;
                    match db {
                        Db::Sqlite { reader, writer } => {
                            writer.close().await;
                            reader.close().await;
                        }
                        Db::Postgres(pool) => pool.close().await,
                    }
                    Ok(())
                })
            })?;
        let addr = ready_rx
            .recv_timeout(Duration::from_secs(60))
            .context("the limit server did not start")??;
        Ok(Self {
            addr,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        })
    }

    pub fn cpu_source() -> CpuSource {
        CpuSource::OwnThreads("limit-".into())
    }

    pub fn stop(mut self) -> Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            t.join()
                .map_err(|_| anyhow!("the limit server thread panicked"))??;
        }
        Ok(())
    }
}

impl Drop for LimitServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Creates a fresh PostgreSQL database and returns its URL.
pub async fn create_pg_database(admin_url: &str, name: &str) -> Result<String> {
    let pool = PgPool::connect(admin_url)
        .await
        .with_context(|| format!("connecting to PostgreSQL at {admin_url}"))?;
    pool.execute(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .await?;
    pool.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await?;
    pool.close().await;
    let base = admin_url
        .rsplit_once('/')
        .map_or(admin_url, |(base, _)| base);
    Ok(format!("{base}/{name}"))
}

/// `ANALYZE` of a PostgreSQL database (between seeding steps).
pub async fn analyze_pg(url: &str) -> Result<()> {
    let pool = PgPool::connect(url).await?;
    pool.execute("ANALYZE").await?;
    pool.close().await;
    Ok(())
}

pub async fn drop_pg_database(admin_url: &str, name: &str) -> Result<()> {
    let pool = PgPool::connect(admin_url).await?;
    pool.execute(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .await?;
    pool.close().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entra_filters_decode() {
        let q = "filter=userName+eq+%22User000001%40big.example.com%22";
        assert_eq!(
            filter_user_name(q).as_deref(),
            Some("user000001@big.example.com")
        );
        assert_eq!(query_int("startIndex=501&count=100", "count"), Some(100));
    }

    #[test]
    fn member_patches_parse() -> Result<()> {
        let add = data::group_members_patch("Add", &["a".into(), "b".into()]);
        assert_eq!(
            member_changes(&add)?,
            (vec!["a".into(), "b".into()], vec![])
        );
        let remove = data::group_member_remove_flag("c");
        assert_eq!(member_changes(&remove)?, (vec![], vec!["c".into()]));
        Ok(())
    }
}
