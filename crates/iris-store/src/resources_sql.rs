//! Resources of every kind in SQL: the row with its document and shadow columns, a user's
//! side-table rows, and the membership changes that commit with them. Which table and columns a
//! kind has comes from [`KindTable`]; the statements are the same for every kind.

use async_trait::async_trait;
use iris_core::StoreError;
use iris_core::provisioning::{ProvisioningEvent, settle_members};
use iris_core::store::{
    Change, Describe, Imported, Inserted, ListPage, ListQuery, MembershipChange, Modified,
    Mutation, ResourceRecord, ResourceStore, ResourceWrite, TenantScope,
};
use iris_scim::patch::MemberRef;
use iris_scim::schema::ResourceKind;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use crate::dialect::{Backend, Dialect};
use crate::events_sql::EncodedEvents;
use crate::filter_sql::Bind;
use crate::folded_sql::{
    self, MAX_FOLDED_EVENTS, MAX_FOLDED_VALUES, VALUE_COLUMN_NAMES, VALUE_COLUMNS,
};
use crate::membership_sql::users_among;
use crate::rows::{CHUNK, bind_all, db_error, record_columns, record_from_row};
use crate::sql_store::SqlStore;
use crate::tables::KindTable;

/// Conditional writes tried before a modification takes the row lock.
const OPTIMISTIC_ATTEMPTS: usize = 3;

/// The record of `current` after `change` was written over it at `version`.
fn updated(current: ResourceRecord, change: Change, version: i64) -> Modified {
    Modified::Updated(ResourceRecord {
        id: current.id,
        doc: change.write.map_or(current.doc, |w| w.doc),
        created: current.created,
        last_modified: change.now,
        version,
    })
}

impl SqlStore {
    /// Inserts one resource row and its side rows inside `tx`.
    async fn insert_row(
        &self,
        tx: &mut AnyConnection,
        scope: &TenantScope,
        kind: ResourceKind,
        write: &ResourceWrite,
        created: &str,
        version: i64,
    ) -> Result<(), StoreError> {
        let binds = kind.row_binds(scope.tenant_id(), write, created, version)?;
        bind_all(sqlx::query(kind.insert_sql(self.backend)), binds)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        self.write_values(tx, scope, write, false).await
    }

    /// Writes the side-table rows of one resource inside `tx` (replacing the stored ones).
    async fn write_values(
        &self,
        tx: &mut AnyConnection,
        scope: &TenantScope,
        write: &ResourceWrite,
        replace: bool,
    ) -> Result<(), StoreError> {
        if replace {
            sqlx::query("DELETE FROM user_values WHERE tenant_id = $1 AND user_id = $2")
                .bind(scope.tenant_id().to_owned())
                .bind(write.id.clone())
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        for rows in write.shadow.values.chunks(CHUNK) {
            let placeholders: Vec<String> = (0..rows.len())
                .map(|i| {
                    format!(
                        "({})",
                        self.backend
                            .sequential_placeholders(i * VALUE_COLUMNS + 1, VALUE_COLUMNS)
                    )
                })
                .collect();
            let sql = format!(
                "INSERT INTO user_values ({VALUE_COLUMN_NAMES}) VALUES {}",
                placeholders.join(", ")
            );
            bind_all(
                sqlx::query(AssertSqlSafe(sql)),
                value_binds(scope, write, rows),
            )
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        Ok(())
    }

    /// Writes `write` over `current` if the row is still at `current.version`; its new version,
    /// or `None` if it changed or went away meanwhile.
    async fn update_at_version<'e>(
        &self,
        executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
        scope: &TenantScope,
        kind: ResourceKind,
        current: &ResourceRecord,
        write: &ResourceWrite,
    ) -> Result<Option<i64>, StoreError> {
        let binds = kind.update_binds(scope.tenant_id(), write, current.version)?;
        let row = bind_all(sqlx::query(kind.update_sql(self.backend)), binds)
            .fetch_optional(executor)
            .await
            .map_err(db_error)?;
        row.map(|r| r.try_get::<i64, _>("version").map_err(db_error))
            .transpose()
    }

    /// Read-modify-write under the row's write lock (`FOR UPDATE`; SQLite's `BEGIN IMMEDIATE`):
    /// the mutation sees the current version and nothing can change it before the write. What
    /// the optimistic path cannot do goes here: side rows, memberships, and lost races.
    async fn modify_locked(
        &self,
        scope: &TenantScope,
        kind: ResourceKind,
        id: &str,
        mutate: Mutation<'_>,
        precomputed: Option<(i64, Change)>,
    ) -> Result<Modified, StoreError> {
        let alias = kind.alias();
        let select = format!(
            "SELECT {} FROM {} {alias} WHERE {alias}.tenant_id = $1 AND {alias}.id = $2{}",
            record_columns(alias),
            kind.table(),
            self.backend.lock_row()
        );
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(AssertSqlSafe(select))
            .bind(scope.tenant_id().to_owned())
            .bind(id.to_owned())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
        let current = row
            .as_ref()
            .map(record_from_row)
            .transpose()?
            .ok_or(StoreError::NotFound)?;
        // A record at the version the change was computed from is that record: the change holds.
        let reusable = precomputed.filter(|(version, _)| *version == current.version);
        let change = match reusable {
            Some((_, change)) => change,
            None => match mutate(&current) {
                Err(rejected) => return Ok(Modified::Rejected(rejected)),
                Ok(None) => return Ok(Modified::Unchanged(current)),
                Ok(Some(change)) => change,
            },
        };
        let mut events = change.events.clone();
        let rows_changed = if change.members.is_empty() {
            0
        } else {
            match self
                .apply_membership(&mut tx, scope, id, &change.members, Some(&change.now))
                .await?
            {
                Err(rejected) => return Ok(Modified::Rejected(rejected)),
                Ok(applied) => {
                    settle_members(&mut events, applied.added, applied.removed);
                    applied.rows_changed
                }
            }
        };
        let version = match &change.write {
            Some(write) => {
                // The row is locked, so it is still at the version just read.
                let version = self
                    .update_at_version(&mut *tx, scope, kind, &current, write)
                    .await?
                    .ok_or_else(|| StoreError::Database("a locked row changed".into()))?;
                if write.rewrite_values {
                    self.write_values(&mut tx, scope, write, true).await?;
                }
                version
            }
            // Adding present members or removing absent ones: nothing to record.
            None if rows_changed == 0 => return Ok(Modified::Unchanged(current)),
            None => {
                let sql = format!(
                    "UPDATE {} SET last_modified = $3, version = version + 1 \
                     WHERE tenant_id = $1 AND id = $2 RETURNING version",
                    kind.table()
                );
                sqlx::query(AssertSqlSafe(sql))
                    .bind(scope.tenant_id().to_owned())
                    .bind(id.to_owned())
                    .bind(change.now.clone())
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_error)?
                    .try_get("version")
                    .map_err(db_error)?
            }
        };
        self.insert_events(&mut tx, scope, &events).await?;
        self.commit(tx).await?;
        Ok(updated(current, change, version))
    }

    /// The optimistic write: `write` over `current` if the row is still at its version, with
    /// its side rows and the change's events, in one trip (see `folded_sql`). `None` if another
    /// write got there first (nothing written).
    async fn write_unlocked(
        &self,
        scope: &TenantScope,
        kind: ResourceKind,
        current: &ResourceRecord,
        write: &ResourceWrite,
        events: EncodedEvents,
    ) -> Result<Option<i64>, StoreError> {
        let values = if write.rewrite_values {
            write.shadow.values.as_slice()
        } else {
            &[]
        };
        let sql = folded_sql::update(
            self.backend,
            kind,
            write.rewrite_values,
            values.len(),
            events.rows,
        );
        let mut binds = kind.update_binds(scope.tenant_id(), write, current.version)?;
        binds.extend(value_binds(scope, write, values));
        let rows = events.rows;
        binds.extend(events.binds);
        let query = bind_all(sqlx::query(sql), binds);
        let version = match self.backend {
            // One statement, atomic without a transaction.
            Backend::Postgres => {
                let mut writer = self.acquire_writer().await?;
                let row = query.fetch_optional(&mut *writer).await.map_err(db_error)?;
                let Some(row) = row else { return Ok(None) };
                row.try_get::<i64, _>("version").map_err(db_error)?
            }
            // Every statement of the batch runs (`fetch_all`); one that finds the row moved on
            // rolls back with the transaction, dropped unfinished.
            Backend::Sqlite => {
                let mut tx = self.begin_write().await?;
                let found = query.fetch_all(&mut *tx).await.map_err(db_error)?;
                let Some(row) = found.first() else {
                    return Ok(None);
                };
                let version = row.try_get::<i64, _>("version").map_err(db_error)?;
                self.commit(tx).await?;
                version
            }
        };
        self.metrics.events_written(rows);
        Ok(Some(version))
    }

    /// A create with its side rows and events in one trip (see `folded_sql`).
    async fn insert_folded(
        &self,
        scope: &TenantScope,
        kind: ResourceKind,
        write: &ResourceWrite,
        events: EncodedEvents,
    ) -> Result<(), StoreError> {
        let values = write.shadow.values.as_slice();
        let sql = folded_sql::insert(self.backend, kind, values.len(), events.rows);
        let mut binds = kind.row_binds(scope.tenant_id(), write, &write.now, 1)?;
        binds.extend(value_binds(scope, write, values));
        let rows = events.rows;
        binds.extend(events.binds);
        let query = bind_all(sqlx::query(sql), binds);
        match self.backend {
            Backend::Postgres => {
                let mut writer = self.acquire_writer().await?;
                query.execute(&mut *writer).await.map_err(db_error)?;
            }
            Backend::Sqlite => {
                let mut tx = self.begin_write().await?;
                query.execute(&mut *tx).await.map_err(db_error)?;
                self.commit(tx).await?;
            }
        }
        self.metrics.events_written(rows);
        Ok(())
    }

    async fn insert_once(
        &self,
        scope: &TenantScope,
        kind: ResourceKind,
        write: &ResourceWrite,
        members: &[MemberRef],
        events: &[ProvisioningEvent],
    ) -> Result<Inserted, StoreError> {
        let created = ResourceRecord {
            id: write.id.clone(),
            doc: write.doc.clone(),
            created: write.now.clone(),
            last_modified: write.now.clone(),
            version: 1,
        };
        if members.is_empty()
            && write.shadow.values.len() <= MAX_FOLDED_VALUES
            && events.len() <= MAX_FOLDED_EVENTS
        {
            let encoded = EncodedEvents::encode(scope, events)?;
            self.insert_folded(scope, kind, write, encoded).await?;
            return Ok(Inserted::Created(created));
        }
        let mut tx = self.begin_write().await?;
        self.insert_row(&mut tx, scope, kind, write, &write.now, 1)
            .await?;
        let mut events = events.to_vec();
        if !members.is_empty() {
            let change = MembershipChange::exactly(members.to_vec(), false);
            match self
                .apply_membership(&mut tx, scope, &write.id, &change, Some(&write.now))
                .await?
            {
                Err(rejected) => return Ok(Inserted::Rejected(rejected)),
                Ok(applied) => settle_members(&mut events, applied.added, applied.removed),
            }
        }
        self.insert_events(&mut tx, scope, &events).await?;
        self.commit(tx).await?;
        Ok(Inserted::Created(created))
    }

    async fn import_once(
        &self,
        scope: &TenantScope,
        kind: ResourceKind,
        resources: &[Imported],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        for r in resources {
            self.insert_row(&mut tx, scope, kind, &r.write, &r.created, r.version)
                .await?;
        }
        self.commit(tx).await
    }

    /// After a DELETE guarded by a version touched no row: was the row gone, or newer?
    async fn missing_or_stale(
        &self,
        scope: &TenantScope,
        kind: ResourceKind,
        id: &str,
    ) -> StoreError {
        match self.get(scope, kind, id).await {
            Ok(Some(_)) => StoreError::VersionMismatch,
            Ok(None) => StoreError::NotFound,
            Err(e) => e,
        }
    }

    /// Deletes the resource row (only at `expected_version`, when given): the record that was
    /// there, if it was.
    async fn delete_row(
        &self,
        tx: &mut AnyConnection,
        scope: &TenantScope,
        kind: ResourceKind,
        id: &str,
        expected_version: Option<i64>,
    ) -> Result<Option<ResourceRecord>, StoreError> {
        let table = kind.table();
        let returning = "RETURNING id, doc, created, last_modified, version";
        let sql = match expected_version {
            Some(_) => format!(
                "DELETE FROM {table} WHERE tenant_id = $1 AND id = $2 AND version = $3 {returning}"
            ),
            None => format!("DELETE FROM {table} WHERE tenant_id = $1 AND id = $2 {returning}"),
        };
        let mut query = sqlx::query(AssertSqlSafe(sql))
            .bind(scope.tenant_id().to_owned())
            .bind(id.to_owned());
        if let Some(v) = expected_version {
            query = query.bind(v);
        }
        let row = query.fetch_optional(&mut *tx).await.map_err(db_error)?;
        row.as_ref().map(record_from_row).transpose()
    }

    /// One delete transaction: the resource, its side rows, its members (a group) and its
    /// memberships in groups, with new versions for the users and groups whose `groups` or
    /// `members` that changes.
    async fn delete_once(
        &self,
        scope: &TenantScope,
        kind: ResourceKind,
        id: &str,
        expected_version: Option<i64>,
        describe: Describe<'_>,
    ) -> Result<(), StoreError> {
        let now = iris_core::clock::now();
        let mut tx = self.begin_write().await?;
        let mut former_members = Vec::new();
        if kind.holds_members() {
            // Its members must be read before the row goes (the foreign key cascades to them),
            // and the row must be held meanwhile so none is added behind this transaction.
            let lock = format!(
                "SELECT version FROM {} WHERE tenant_id = $1 AND id = $2{}",
                kind.table(),
                self.backend.lock_row()
            );
            let row = sqlx::query(AssertSqlSafe(lock))
                .bind(scope.tenant_id().to_owned())
                .bind(id.to_owned())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_error)?;
            match row.map(|r| r.try_get::<i64, _>("version")).transpose() {
                Err(e) => return Err(db_error(e)),
                Ok(None) => return Err(StoreError::NotFound),
                Ok(Some(v)) if expected_version.is_some_and(|e| e != v) => {
                    return Err(StoreError::VersionMismatch);
                }
                Ok(Some(_)) => {}
            }
            let rows = sqlx::query(
                "DELETE FROM group_members WHERE tenant_id = $1 AND group_id = $2 \
                 RETURNING member_id, member_type",
            )
            .bind(scope.tenant_id().to_owned())
            .bind(id.to_owned())
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?;
            for row in &rows {
                let member: String = row.try_get("member_id").map_err(db_error)?;
                let member_type: String = row.try_get("member_type").map_err(db_error)?;
                if let Some(kind) = ResourceKind::from_name(&member_type) {
                    former_members.push((member, kind));
                }
            }
        }
        // The row before its memberships: on PostgreSQL that waits for any transaction that is
        // making this resource a member (it holds the row with FOR KEY SHARE), so the membership
        // rows deleted next include the ones it wrote.
        let Some(deleted) = self
            .delete_row(&mut tx, scope, kind, id, expected_version)
            .await?
        else {
            drop(tx);
            return Err(self.missing_or_stale(scope, kind, id).await);
        };
        let rows = sqlx::query(
            "DELETE FROM group_members WHERE tenant_id = $1 AND member_id = $2 RETURNING group_id",
        )
        .bind(scope.tenant_id().to_owned())
        .bind(id.to_owned())
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        let mut parents = rows
            .iter()
            .map(|r| r.try_get::<String, _>("group_id").map_err(db_error))
            .collect::<Result<Vec<_>, _>>()?;
        if kind.has_side_values() {
            sqlx::query("DELETE FROM user_values WHERE tenant_id = $1 AND user_id = $2")
                .bind(scope.tenant_id().to_owned())
                .bind(id.to_owned())
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        self.bump_versions(&mut tx, scope, ResourceKind::Group, &mut parents, &now)
            .await?;
        let mut users = users_among(former_members);
        self.bump_versions(&mut tx, scope, ResourceKind::User, &mut users, &now)
            .await?;
        self.insert_events(&mut tx, scope, &describe(&deleted))
            .await?;
        self.commit(tx).await
    }
}

/// Whether a change can be written by the optimistic, folded update.
fn is_foldable(change: &Change, write: &ResourceWrite) -> bool {
    change.members.is_empty()
        && change.events.len() <= MAX_FOLDED_EVENTS
        && (!write.rewrite_values || write.shadow.values.len() <= MAX_FOLDED_VALUES)
}

/// The binds of `rows`, side rows of `write`'s resource, in [`VALUE_COLUMN_NAMES`]' order.
fn value_binds(
    scope: &TenantScope,
    write: &ResourceWrite,
    rows: &[iris_core::store::MultiValue],
) -> Vec<Bind> {
    let mut binds = Vec::with_capacity(rows.len() * VALUE_COLUMNS);
    for v in rows {
        binds.push(Bind::Text(scope.tenant_id().to_owned()));
        binds.push(Bind::Text(write.id.clone()));
        binds.push(Bind::Text(v.attribute.to_owned()));
        binds.push(Bind::OptText(v.type_lower.clone()));
        binds.push(Bind::Bool(v.primary));
        binds.push(Bind::Text(v.value_lower.clone()));
    }
    binds
}

#[async_trait]
impl ResourceStore for SqlStore {
    async fn insert(
        &self,
        scope: &TenantScope,
        kind: ResourceKind,
        write: &ResourceWrite,
        members: &[MemberRef],
        events: &[ProvisioningEvent],
    ) -> Result<Inserted, StoreError> {
        self.retrying(|| self.insert_once(scope, kind, write, members, events))
            .await
    }

    async fn import(
        &self,
        scope: &TenantScope,
        kind: ResourceKind,
        resources: &[Imported],
    ) -> Result<(), StoreError> {
        self.retrying(|| self.import_once(scope, kind, resources))
            .await
    }

    async fn get(
        &self,
        scope: &TenantScope,
        kind: ResourceKind,
        id: &str,
    ) -> Result<Option<ResourceRecord>, StoreError> {
        let alias = kind.alias();
        let sql = format!(
            "SELECT {} FROM {} {alias} WHERE {alias}.tenant_id = $1 AND {alias}.id = $2",
            record_columns(alias),
            kind.table()
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(scope.tenant_id().to_owned())
            .bind(id.to_owned())
            .fetch_optional(&self.reader)
            .await
            .map_err(db_error)?;
        row.as_ref().map(record_from_row).transpose()
    }

    /// Optimistic first: the current version is read without a lock, the mutation runs outside
    /// any transaction, and one conditional `UPDATE … WHERE version = ?` writes the result with
    /// its side rows and events in one trip (`folded_sql`). If another write got there first,
    /// the whole step is repeated on the new version; after a few such losses, or when
    /// memberships change too (or side rows or events past the folded limits), the row-locked
    /// path does the work instead,
    /// reusing the change computed outside the lock while the row is still at its version (so a
    /// PATCH of a thousand operations holds the writer for its statements, not its computation).
    async fn modify(
        &self,
        scope: &TenantScope,
        kind: ResourceKind,
        id: &str,
        mutate: Mutation<'_>,
    ) -> Result<Modified, StoreError> {
        let mut precomputed = None;
        for _ in 0..OPTIMISTIC_ATTEMPTS {
            let current = self
                .get(scope, kind, id)
                .await?
                .ok_or(StoreError::NotFound)?;
            let change = match mutate(&current) {
                Err(rejected) => return Ok(Modified::Rejected(rejected)),
                Ok(None) => return Ok(Modified::Unchanged(current)),
                Ok(Some(change)) => change,
            };
            let Some(write) = change.write.as_ref().filter(|w| is_foldable(&change, w)) else {
                precomputed = Some((current.version, change));
                break;
            };
            let events = EncodedEvents::encode(scope, &change.events)?;
            if let Some(version) = self
                .write_unlocked(scope, kind, &current, write, events)
                .await?
            {
                return Ok(updated(current, change, version));
            }
        }
        self.retrying(|| self.modify_locked(scope, kind, id, mutate, precomputed.take()))
            .await
    }

    async fn delete(
        &self,
        scope: &TenantScope,
        kind: ResourceKind,
        id: &str,
        expected_version: Option<i64>,
        describe: Describe<'_>,
    ) -> Result<(), StoreError> {
        self.retrying(|| self.delete_once(scope, kind, id, expected_version, describe))
            .await
    }

    async fn list(
        &self,
        scope: &TenantScope,
        kind: ResourceKind,
        query: &ListQuery<'_>,
    ) -> Result<ListPage, StoreError> {
        self.list_records(kind, scope, query).await
    }
}
