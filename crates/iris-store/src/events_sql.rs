//! The provisioning log in SQL: events written inside the transaction of the change they record
//! (or alone, for refused requests), read back by tenant with filters, and purged in batches.

use async_trait::async_trait;
use iris_core::StoreError;
use iris_core::provisioning::{
    ActivitySegment, Cycle, CycleSettings, EventQuery, ProvisioningEvent,
};
use iris_core::store::{RecordStore, TenantScope};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use crate::filter_sql::Bind;
use crate::rows::{bind_all, db_error, placeholders};
use crate::sql_store::SqlStore;

const COLUMNS: &str = "tenant_id, id, at, request_id, client, method, operation, resource_type, \
     resource_id, identity, identity_lower, status, scim_type, detail, changes, members, quirks, body";
const WIDTH: usize = 18;

/// Rows per INSERT: well below both engines' bind limits.
const ROWS_PER_INSERT: usize = 200;

fn json(value: &impl serde::Serialize) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Database(e.to_string()))
}

/// PostgreSQL refuses NUL in text; a client can put one in a path or a body. Kept visible, as
/// the error details write it.
fn text(s: &str) -> String {
    iris_core::provisioning::storable(s)
}

fn binds_of(scope: &TenantScope, e: &ProvisioningEvent) -> Result<Vec<Bind>, StoreError> {
    Ok(vec![
        Bind::Text(scope.tenant_id().to_owned()),
        Bind::Text(e.id.clone()),
        Bind::Text(e.at.clone()),
        Bind::Text(text(&e.request_id)),
        Bind::Text(e.client.as_str().to_owned()),
        Bind::Text(text(&e.method)),
        Bind::Text(e.operation.as_str().to_owned()),
        Bind::Text(e.resource_type.name().to_owned()),
        Bind::Text(text(&e.resource_id)),
        Bind::Text(text(&e.identity)),
        Bind::Text(text(&e.identity.to_lowercase())),
        Bind::Int(i64::from(e.status)),
        Bind::OptText(e.scim_type.clone()),
        Bind::OptText(e.detail.as_deref().map(text)),
        Bind::Text(text(&json(&e.changes)?)),
        Bind::OptText(e.members.as_ref().map(json).transpose()?),
        Bind::Text(json(&e.quirks)?),
        Bind::OptText(e.body.as_deref().map(text)),
    ])
}

impl SqlStore {
    /// Writes `events` inside `tx`.
    pub(crate) async fn insert_events(
        &self,
        tx: &mut AnyConnection,
        scope: &TenantScope,
        events: &[ProvisioningEvent],
    ) -> Result<(), StoreError> {
        for chunk in events.chunks(ROWS_PER_INSERT) {
            let rows: Vec<String> = (0..chunk.len())
                .map(|i| format!("({})", placeholders(i * WIDTH + 1, WIDTH)))
                .collect();
            let sql = format!(
                "INSERT INTO provisioning_events ({COLUMNS}) VALUES {}",
                rows.join(", ")
            );
            let mut binds = Vec::with_capacity(chunk.len() * WIDTH);
            for event in chunk {
                binds.extend(binds_of(scope, event)?);
            }
            bind_all(sqlx::query(AssertSqlSafe(sql)), &binds)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        // Counted when written into the transaction: every caller commits right after, so only
        // a commit that fails would make the count run ahead.
        self.metrics.events_written(events.len());
        Ok(())
    }
}

fn decode<T: serde::de::DeserializeOwned>(name: &str, raw: &str) -> Result<T, StoreError> {
    serde_json::from_str(raw).map_err(|e| StoreError::Database(format!("stored {name}: {e}")))
}

fn event_from_row(row: &AnyRow) -> Result<ProvisioningEvent, StoreError> {
    let get = |name: &str| -> Result<String, StoreError> { row.try_get(name).map_err(db_error) };
    let opt =
        |name: &str| -> Result<Option<String>, StoreError> { row.try_get(name).map_err(db_error) };
    let parse = |what: &str, raw: &str| StoreError::Database(format!("stored {what} '{raw}'"));
    let client = get("client")?;
    let operation = get("operation")?;
    let resource_type = get("resource_type")?;
    let status: i64 = row.try_get("status").map_err(db_error)?;
    Ok(ProvisioningEvent {
        id: get("id")?,
        at: get("at")?,
        request_id: get("request_id")?,
        client: iris_core::provisioning::Client::parse(&client)
            .ok_or_else(|| parse("client", &client))?,
        method: get("method")?,
        operation: iris_core::provisioning::Operation::parse(&operation)
            .ok_or_else(|| parse("operation", &operation))?,
        resource_type: iris_core::ResourceKind::from_name(&resource_type)
            .ok_or_else(|| parse("resource type", &resource_type))?,
        resource_id: get("resource_id")?,
        identity: get("identity")?,
        status: u16::try_from(status).unwrap_or_default(),
        scim_type: opt("scim_type")?,
        detail: opt("detail")?,
        changes: decode("changes", &get("changes")?)?,
        members: opt("members")?.map(|m| decode("members", &m)).transpose()?,
        quirks: decode("quirks", &get("quirks")?)?,
        body: opt("body")?,
    })
}

#[async_trait]
impl RecordStore for SqlStore {
    async fn record_events(
        &self,
        scope: &TenantScope,
        events: &[ProvisioningEvent],
    ) -> Result<(), StoreError> {
        self.retrying(|| async {
            let mut tx = self.begin_write().await?;
            self.insert_events(&mut tx, scope, events).await?;
            self.commit(tx).await
        })
        .await
    }

    async fn events(
        &self,
        scope: &TenantScope,
        query: &EventQuery,
    ) -> Result<Vec<ProvisioningEvent>, StoreError> {
        let mut conditions = vec!["tenant_id = $1".to_owned()];
        let mut binds = vec![Bind::Text(scope.tenant_id().to_owned())];
        let param = |binds: &mut Vec<Bind>, bind: Bind| {
            binds.push(bind);
            format!("${}", binds.len())
        };
        if let Some(after) = &query.after_id {
            let p = param(&mut binds, Bind::Text(after.clone()));
            conditions.push(format!("id > {p}"));
        }
        if let Some(before) = &query.before_id {
            let p = param(&mut binds, Bind::Text(before.clone()));
            conditions.push(format!("id < {p}"));
        }
        if let Some(resource) = &query.resource {
            let id = param(&mut binds, Bind::Text(text(resource)));
            let name = param(&mut binds, Bind::Text(text(&resource.to_lowercase())));
            // By id, by the name its events recorded, and every event of a resource that was
            // ever recorded under that name (so a renamed user's history stays whole).
            conditions.push(format!(
                "(resource_id = {id} OR identity_lower = {name} OR (resource_id <> '' AND resource_id IN \
                 (SELECT n.resource_id FROM provisioning_events n WHERE n.tenant_id = $1 AND n.identity_lower = {name})))"
            ));
        }
        if !query.operations.is_empty() {
            let listed: Vec<String> = query
                .operations
                .iter()
                .map(|op| param(&mut binds, Bind::Text(op.as_str().to_owned())))
                .collect();
            conditions.push(format!("operation IN ({})", listed.join(", ")));
        }
        if let Some(status) = query.status {
            let (low, high) = status.range();
            let low = param(&mut binds, Bind::Int(i64::from(low)));
            let high = param(&mut binds, Bind::Int(i64::from(high)));
            conditions.push(format!("status BETWEEN {low} AND {high}"));
        }
        let order = if query.newest_first { "DESC" } else { "ASC" };
        let limit = param(&mut binds, Bind::Int(i64::from(query.limit)));
        let sql = format!(
            "SELECT {COLUMNS} FROM provisioning_events WHERE {} ORDER BY id {order} LIMIT {limit}",
            conditions.join(" AND ")
        );
        let rows = bind_all(sqlx::query(AssertSqlSafe(sql)), &binds)
            .fetch_all(&self.reader)
            .await
            .map_err(db_error)?;
        rows.iter().map(event_from_row).collect()
    }

    async fn purge_events(
        &self,
        scope: &TenantScope,
        before_id: &str,
        batch: u32,
    ) -> Result<u64, StoreError> {
        self.retrying(|| async {
            let mut tx = self.begin_write().await?;
            let done = sqlx::query(
                "DELETE FROM provisioning_events WHERE tenant_id = $1 AND id IN (\
                 SELECT id FROM provisioning_events WHERE tenant_id = $1 AND id < $2 ORDER BY id LIMIT $3)",
            )
            .bind(scope.tenant_id().to_owned())
            .bind(before_id.to_owned())
            .bind(i64::from(batch))
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
            self.commit(tx).await?;
            self.metrics.events_purged(done.rows_affected());
            Ok(done.rows_affected())
        })
        .await
    }

    async fn record_activity(
        &self,
        scope: &TenantScope,
        segments: &[ActivitySegment],
        settings: &CycleSettings,
    ) -> Result<(), StoreError> {
        self.retrying(|| self.record_activity_once(scope, segments, settings))
            .await
    }

    async fn cycles(
        &self,
        scope: &TenantScope,
        before: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Cycle>, StoreError> {
        self.cycle_page(scope, before, limit).await
    }
}
