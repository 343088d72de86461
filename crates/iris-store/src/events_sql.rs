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

pub(crate) const EVENT_COLUMN_NAMES: &str =
    "tenant_id, id, resource_id, identity_lower, operation, status, record";
pub(crate) const EVENT_COLUMNS: usize = 7;

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
        Bind::Text(text(&e.resource_id)),
        Bind::Text(text(&e.identity.to_lowercase())),
        Bind::Text(e.operation.as_str().to_owned()),
        Bind::Int(i64::from(e.status)),
        // JSON escapes control characters, NUL included: any text can be stored as it is.
        Bind::Text(json(e)?),
    ])
}

/// Events bound for their `INSERT`, serialised before the writer is taken (a create's event
/// carries every attribute, so its JSON is no small part of the write).
pub(crate) struct EncodedEvents {
    pub(crate) rows: usize,
    pub(crate) binds: Vec<Bind>,
}

impl EncodedEvents {
    pub(crate) fn encode(
        scope: &TenantScope,
        events: &[ProvisioningEvent],
    ) -> Result<Self, StoreError> {
        let mut binds = Vec::with_capacity(events.len() * EVENT_COLUMNS);
        for event in events {
            binds.extend(binds_of(scope, event)?);
        }
        Ok(Self {
            rows: events.len(),
            binds,
        })
    }
}

/// `INSERT INTO provisioning_events … VALUES …` of `rows` events, placeholders numbered from
/// `first`.
pub(crate) fn events_insert_sql(rows: usize, first: usize) -> String {
    format!(
        "INSERT INTO provisioning_events ({EVENT_COLUMN_NAMES}) VALUES {}",
        events_values_sql(rows, first)
    )
}

/// `(…), (…)`: the value rows of `rows` events, placeholders numbered from `first`.
pub(crate) fn events_values_sql(rows: usize, first: usize) -> String {
    (0..rows)
        .map(|i| {
            format!(
                "({})",
                placeholders(first + i * EVENT_COLUMNS, EVENT_COLUMNS)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The INSERT of `rows` events. Nearly every write records one or two events, so those
/// statements are built once.
fn insert_sql(rows: usize) -> std::borrow::Cow<'static, str> {
    static ONE_OR_TWO: std::sync::LazyLock<[String; 2]> =
        std::sync::LazyLock::new(|| [events_insert_sql(1, 1), events_insert_sql(2, 1)]);
    match rows {
        1 | 2 => std::borrow::Cow::Borrowed(ONE_OR_TWO[rows - 1].as_str()),
        n => std::borrow::Cow::Owned(events_insert_sql(n, 1)),
    }
}

impl SqlStore {
    /// Writes `events` inside `tx`.
    pub(crate) async fn insert_events(
        &self,
        tx: &mut AnyConnection,
        scope: &TenantScope,
        events: &[ProvisioningEvent],
    ) -> Result<(), StoreError> {
        let encoded = EncodedEvents::encode(scope, events)?;
        self.insert_encoded_events(tx, encoded).await
    }

    /// Writes events encoded beforehand inside `tx`, in statements of at most
    /// [`ROWS_PER_INSERT`] rows.
    pub(crate) async fn insert_encoded_events(
        &self,
        tx: &mut AnyConnection,
        encoded: EncodedEvents,
    ) -> Result<(), StoreError> {
        let EncodedEvents { rows, mut binds } = encoded;
        let mut remaining = rows;
        while remaining > 0 {
            let chunk = remaining.min(ROWS_PER_INSERT);
            let rest = binds.split_off(chunk * EVENT_COLUMNS);
            let query = match insert_sql(chunk) {
                std::borrow::Cow::Borrowed(sql) => sqlx::query(sql),
                std::borrow::Cow::Owned(sql) => sqlx::query(AssertSqlSafe(sql)),
            };
            bind_all(query, std::mem::replace(&mut binds, rest))
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            remaining -= chunk;
        }
        // Counted when written into the transaction: every caller commits right after, so only
        // a commit that fails would make the count run ahead.
        self.metrics.events_written(rows);
        Ok(())
    }
}

fn event_from_row(row: &AnyRow) -> Result<ProvisioningEvent, StoreError> {
    let record: String = row.try_get("record").map_err(db_error)?;
    serde_json::from_str(&record)
        .map_err(|e| StoreError::Database(format!("stored event is not an event: {e}")))
}

/// The history of a name no resource has any more: every resource the log recorded under it, as
/// a subquery (a name can have been created and deleted any number of times, so its former ids
/// are never bound one by one). `$1` is the tenant.
fn former_ids_sql(name: &str) -> String {
    format!(
        "SELECT resource_id FROM provisioning_events \
         WHERE tenant_id = $1 AND identity_lower = {name} AND resource_id <> ''"
    )
}

impl SqlStore {
    /// The ids a history lookup names directly: `resource` itself (an id, maybe of a deleted
    /// resource) and the user and the group named so now (names are unique per kind, so at most
    /// three ids). Empty past `resource` when no resource has that name any more: the lookup then
    /// searches the tenant's events for the name ([`former_ids_sql`]).
    async fn resource_ids_named(
        &self,
        scope: &TenantScope,
        resource: &str,
    ) -> Result<(Vec<String>, bool), StoreError> {
        let name = text(&resource.to_lowercase());
        let current = sqlx::query(
            "SELECT id FROM users WHERE tenant_id = $1 AND user_name_lower = $2 \
             UNION SELECT id FROM groups WHERE tenant_id = $1 AND display_name_lower = $2",
        )
        .bind(scope.tenant_id().to_owned())
        .bind(name)
        .fetch_all(&self.reader)
        .await
        .map_err(db_error)?;
        let mut ids = vec![text(resource)];
        for row in &current {
            ids.push(row.try_get("id").map_err(db_error)?);
        }
        ids.sort();
        ids.dedup();
        Ok((ids, current.is_empty()))
    }
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
            let (ids, renamed_or_gone) = self.resource_ids_named(scope, resource).await?;
            let listed: Vec<String> = ids
                .into_iter()
                .map(|id| param(&mut binds, Bind::Text(id)))
                .collect();
            let name = param(&mut binds, Bind::Text(text(&resource.to_lowercase())));
            let former = if renamed_or_gone {
                format!(" OR resource_id IN ({})", former_ids_sql(&name))
            } else {
                String::new()
            };
            // The resource's events by id, and refusals that named no resource but this name
            // (a refused create), which the resource index finds under the empty id.
            conditions.push(format!(
                "(resource_id IN ({}){former} OR (resource_id = '' AND identity_lower = {name}))",
                listed.join(", ")
            ));
        }
        if !query.operations.is_empty() {
            // Each operation once, however often the query names it.
            let distinct: std::collections::BTreeSet<&str> =
                query.operations.iter().map(|op| op.as_str()).collect();
            let listed: Vec<String> = distinct
                .into_iter()
                .map(|op| param(&mut binds, Bind::Text(op.to_owned())))
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
            "SELECT record FROM provisioning_events WHERE {} ORDER BY id {order} LIMIT {limit}",
            conditions.join(" AND ")
        );
        let rows = bind_all(sqlx::query(AssertSqlSafe(sql)), binds)
            .fetch_all(&self.reader)
            .await
            .map_err(db_error)?;
        rows.iter().map(event_from_row).collect()
    }

    async fn event(
        &self,
        scope: &TenantScope,
        id: &str,
    ) -> Result<Option<ProvisioningEvent>, StoreError> {
        let row =
            sqlx::query("SELECT record FROM provisioning_events WHERE tenant_id = $1 AND id = $2")
                .bind(scope.tenant_id().to_owned())
                .bind(id.to_owned())
                .fetch_optional(&self.reader)
                .await
                .map_err(db_error)?;
        row.as_ref().map(event_from_row).transpose()
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
