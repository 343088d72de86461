//! Group memberships in SQL: rows of `group_members`, one per member, keyed `(tenant_id,
//! group_id, member_id)`. Every membership change is a handful of statements whose size is the
//! number of members named (existence check, `DELETE … IN`, `INSERT … ON CONFLICT DO NOTHING`),
//! in the same transaction as the group's document and version, so its cost does not depend on
//! how many members the group already has. The users whose `groups` a change alters get a new
//! version in that same transaction.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use iris_core::StoreError;
use iris_core::store::{DirectGroup, Member, MembershipChange, MembershipStore, TenantScope};
use iris_scim::ScimError;
use iris_scim::patch::MemberRef;
use iris_scim::schema::ResourceKind;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use crate::dialect::Dialect;
use crate::filter_sql::Bind;
use crate::rows::{CHUNK, bind_all, db_error, padded, placeholders};
use crate::sql_store::SqlStore;
use crate::tables::KindTable;

/// How many unknown ids an error message lists.
const MAX_LISTED: usize = 5;

/// A membership row written or deleted: which member, and of which kind.
pub(crate) type MemberRow = (String, ResourceKind);

fn member_row(row: &AnyRow) -> Result<MemberRow, StoreError> {
    let id: String = row.try_get("member_id").map_err(db_error)?;
    let kind: String = row.try_get("member_type").map_err(db_error)?;
    let kind = ResourceKind::from_name(&kind)
        .ok_or_else(|| StoreError::Database(format!("unknown member_type '{kind}' stored")))?;
    Ok((id, kind))
}

/// What a membership change did: the member rows it touched (a clear and re-add of the same
/// member counts both ways) and, net of that, which members were added and removed.
#[derive(Debug, Default)]
pub(crate) struct Applied {
    pub rows_changed: u64,
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

/// The users among `rows`: the members whose `groups` attribute changed.
pub(crate) fn users_among(rows: impl IntoIterator<Item = MemberRow>) -> Vec<String> {
    rows.into_iter()
        .filter(|(_, kind)| *kind == ResourceKind::User)
        .map(|(id, _)| id)
        .collect()
}

impl SqlStore {
    /// Applies a membership change inside `tx`: checks every named member exists, then clears,
    /// removes and adds. With `now`, every user whose `groups` this changes gets a new version
    /// modified at `now`. Returns what changed, or the client error that must abort the
    /// transaction.
    pub(crate) async fn apply_membership(
        &self,
        tx: &mut AnyConnection,
        scope: &TenantScope,
        group_id: &str,
        change: &MembershipChange,
        now: Option<&str>,
    ) -> Result<Result<Applied, ScimError>, StoreError> {
        let types = match self.member_types(tx, scope, &change.check).await? {
            Ok(types) => types,
            Err(rejected) => return Ok(Err(rejected)),
        };
        let tenant_id = scope.tenant_id().to_owned();
        let mut removed: Vec<MemberRow> = Vec::new();
        if change.clear {
            let rows = sqlx::query(
                "DELETE FROM group_members WHERE tenant_id = $1 AND group_id = $2 \
                 RETURNING member_id, member_type",
            )
            .bind(tenant_id.clone())
            .bind(group_id.to_owned())
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?;
            for row in &rows {
                removed.push(member_row(row)?);
            }
        }
        for chunk in change.remove.chunks(CHUNK) {
            let ids = padded(chunk);
            let sql = format!(
                "DELETE FROM group_members WHERE tenant_id = $1 AND group_id = $2 AND member_id IN ({}) \
                 RETURNING member_id, member_type",
                placeholders(3, ids.len())
            );
            let mut binds = vec![
                Bind::Text(tenant_id.clone()),
                Bind::Text(group_id.to_owned()),
            ];
            binds.extend(ids.into_iter().map(Bind::Text));
            let rows = bind_all(sqlx::query(AssertSqlSafe(sql)), binds)
                .fetch_all(&mut *tx)
                .await
                .map_err(db_error)?;
            for row in &rows {
                removed.push(member_row(row)?);
            }
        }
        let mut added: Vec<MemberRow> = Vec::new();
        for chunk in change.add.chunks(CHUNK) {
            let rows = padded(chunk);
            // Every row binds its own tenant and group, so the parameters are sequential.
            let values: Vec<String> = (0..rows.len())
                .map(|i| format!("({})", self.backend.sequential_placeholders(1 + 4 * i, 4)))
                .collect();
            let sql = format!(
                "INSERT INTO group_members (tenant_id, group_id, member_id, member_type) VALUES {} \
                 ON CONFLICT (tenant_id, group_id, member_id) DO NOTHING \
                 RETURNING member_id, member_type",
                values.join(", ")
            );
            let mut binds = Vec::with_capacity(4 * rows.len());
            for member in rows {
                let kind = types
                    .get(&member.value)
                    .copied()
                    .ok_or_else(|| StoreError::Database("unchecked member id".into()))?;
                binds.push(Bind::Text(tenant_id.clone()));
                binds.push(Bind::Text(group_id.to_owned()));
                binds.push(Bind::Text(member.value));
                binds.push(Bind::Text(kind.name().to_owned()));
            }
            let rows = bind_all(sqlx::query(AssertSqlSafe(sql)), binds)
                .fetch_all(&mut *tx)
                .await
                .map_err(db_error)?;
            for row in &rows {
                added.push(member_row(row)?);
            }
        }
        let rows_changed = (removed.len() + added.len()) as u64;
        // A member removed by a clear and added back has the groups it had.
        let gone: HashSet<&String> = removed.iter().map(|(id, _)| id).collect();
        let back: HashSet<&String> = added.iter().map(|(id, _)| id).collect();
        let net_removed: Vec<MemberRow> = removed
            .iter()
            .filter(|(id, _)| !back.contains(id))
            .cloned()
            .collect();
        let net_added: Vec<MemberRow> = added
            .iter()
            .filter(|(id, _)| !gone.contains(id))
            .cloned()
            .collect();
        if let Some(now) = now {
            let mut touched = users_among(net_removed.iter().chain(&net_added).cloned());
            self.bump_versions(tx, scope, ResourceKind::User, &mut touched, now)
                .await?;
        }
        Ok(Ok(Applied {
            rows_changed,
            added: net_added.into_iter().map(|(id, _)| id).collect(),
            removed: net_removed.into_iter().map(|(id, _)| id).collect(),
        }))
    }

    async fn import_members_once(
        &self,
        scope: &TenantScope,
        group_id: &str,
        members: &[MemberRef],
    ) -> Result<Option<ScimError>, StoreError> {
        let mut tx = self.begin_write().await?;
        let exists = sqlx::query("SELECT 1 AS one FROM groups WHERE tenant_id = $1 AND id = $2")
            .bind(scope.tenant_id().to_owned())
            .bind(group_id.to_owned())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
        let change = MembershipChange::exactly(members.to_vec(), false);
        if let Err(rejected) = self
            .apply_membership(&mut tx, scope, group_id, &change, None)
            .await?
        {
            return Ok(Some(rejected));
        }
        self.commit(tx).await?;
        Ok(None)
    }

    /// Gives each of `ids` (resources of `kind`) a new version modified at `now`: their derived
    /// `groups` or `members` changed. Ids are locked in sorted order, so two transactions
    /// touching the same resources cannot deadlock over them.
    pub(crate) async fn bump_versions(
        &self,
        tx: &mut AnyConnection,
        scope: &TenantScope,
        kind: ResourceKind,
        ids: &mut Vec<String>,
        now: &str,
    ) -> Result<(), StoreError> {
        ids.sort_unstable();
        ids.dedup();
        for chunk in ids.chunks(CHUNK) {
            let ids = padded(chunk);
            let sql = format!(
                "UPDATE {} SET version = version + 1, last_modified = $2 \
                 WHERE tenant_id = $1 AND id IN ({})",
                kind.table(),
                placeholders(3, ids.len())
            );
            let mut binds = vec![
                Bind::Text(scope.tenant_id().to_owned()),
                Bind::Text(now.to_owned()),
            ];
            binds.extend(ids.into_iter().map(Bind::Text));
            bind_all(sqlx::query(AssertSqlSafe(sql)), binds)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        Ok(())
    }

    /// The type of every member in `refs`, from the table that holds its id: users first, then
    /// groups for the ids no user has. The rows found are held (FOR KEY SHARE on PostgreSQL)
    /// until the transaction ends, so a concurrent delete cannot leave a membership behind.
    /// A client error if an id names nothing in the tenant or a given `type` is wrong.
    async fn member_types(
        &self,
        tx: &mut AnyConnection,
        scope: &TenantScope,
        refs: &[MemberRef],
    ) -> Result<Result<HashMap<String, ResourceKind>, ScimError>, StoreError> {
        let mut types = HashMap::with_capacity(refs.len());
        if refs.is_empty() {
            return Ok(Ok(types));
        }
        let mut unknown: Vec<String> = refs.iter().map(|r| r.value.clone()).collect();
        for kind in ResourceKind::ALL {
            if unknown.is_empty() {
                break;
            }
            self.find_ids(tx, scope, kind, &unknown, &mut types).await?;
            unknown.retain(|id| !types.contains_key(id));
        }
        if !unknown.is_empty() {
            let listed: Vec<String> = unknown
                .iter()
                .take(MAX_LISTED)
                .map(|id| format!("'{}'", id.escape_debug()))
                .collect();
            let more = if unknown.len() > MAX_LISTED {
                format!(" and {} more", unknown.len() - MAX_LISTED)
            } else {
                String::new()
            };
            return Ok(Err(ScimError::invalid_value(format!(
                "no user or group of this tenant has the member id {}{more}",
                listed.join(", ")
            ))));
        }
        for r in refs {
            if let (Some(claimed), Some(actual)) = (&r.member_type, types.get(&r.value))
                && !claimed.eq_ignore_ascii_case(actual.name())
            {
                return Ok(Err(ScimError::invalid_value(format!(
                    "member '{}' is a {}, not a {claimed}",
                    r.value.escape_debug(),
                    actual.name()
                ))));
            }
        }
        Ok(Ok(types))
    }

    /// Records in `found` which of `ids` exist in `kind`'s table, chunk by chunk.
    async fn find_ids(
        &self,
        tx: &mut AnyConnection,
        scope: &TenantScope,
        kind: ResourceKind,
        ids: &[String],
        found: &mut HashMap<String, ResourceKind>,
    ) -> Result<(), StoreError> {
        for chunk in ids.chunks(CHUNK) {
            let padded_ids = padded(chunk);
            let sql = format!(
                "SELECT id FROM {} WHERE tenant_id = $1 AND id IN ({}){}",
                kind.table(),
                placeholders(2, padded_ids.len()),
                self.backend.lock_key_share()
            );
            let mut binds = vec![Bind::Text(scope.tenant_id().to_owned())];
            binds.extend(padded_ids.into_iter().map(Bind::Text));
            let rows = bind_all(sqlx::query(AssertSqlSafe(sql)), binds)
                .fetch_all(&mut *tx)
                .await
                .map_err(db_error)?;
            for row in &rows {
                let id: String = row.try_get("id").map_err(db_error)?;
                found.insert(id, kind);
            }
        }
        Ok(())
    }
}

/// A page of members with the `displayName` of each, from the member's own row.
const MEMBER_PAGE_SQL: &str = "SELECT m.member_id, m.member_type, \
     COALESCE(u.display_name, g.display_name) AS display FROM group_members m \
     LEFT JOIN users u ON m.member_type = 'User' AND u.tenant_id = m.tenant_id AND u.id = m.member_id \
     LEFT JOIN groups g ON m.member_type = 'Group' AND g.tenant_id = m.tenant_id AND g.id = m.member_id \
     WHERE m.tenant_id = $1 AND m.group_id = $2";

#[async_trait]
impl MembershipStore for SqlStore {
    async fn import_members(
        &self,
        scope: &TenantScope,
        group_id: &str,
        members: &[MemberRef],
    ) -> Result<Option<ScimError>, StoreError> {
        self.retrying(|| self.import_members_once(scope, group_id, members))
            .await
    }

    async fn members_page(
        &self,
        scope: &TenantScope,
        group_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Member>, StoreError> {
        // A range scan of the primary key: (tenant_id, group_id) fixed, member_id ascending.
        let query = match after {
            Some(after) => sqlx::query(AssertSqlSafe(format!(
                "{MEMBER_PAGE_SQL} AND m.member_id > $3 ORDER BY m.member_id LIMIT $4"
            )))
            .bind(scope.tenant_id().to_owned())
            .bind(group_id.to_owned())
            .bind(after.to_owned())
            .bind(i64::from(limit)),
            None => sqlx::query(AssertSqlSafe(format!(
                "{MEMBER_PAGE_SQL} ORDER BY m.member_id LIMIT $3"
            )))
            .bind(scope.tenant_id().to_owned())
            .bind(group_id.to_owned())
            .bind(i64::from(limit)),
        };
        let rows = query.fetch_all(&self.reader).await.map_err(db_error)?;
        rows.iter()
            .map(|row| {
                let (id, kind) = member_row(row)?;
                let display = row.try_get("display").map_err(db_error)?;
                Ok(Member { id, kind, display })
            })
            .collect()
    }

    async fn direct_groups(
        &self,
        scope: &TenantScope,
        member_ids: &[String],
    ) -> Result<Vec<DirectGroup>, StoreError> {
        let mut out = Vec::new();
        for chunk in member_ids.chunks(CHUNK) {
            let ids = padded(chunk);
            let sql = format!(
                "SELECT m.member_id, m.group_id, g.display_name FROM group_members m \
                 JOIN groups g ON g.tenant_id = m.tenant_id AND g.id = m.group_id \
                 WHERE m.tenant_id = $1 AND m.member_id IN ({}) \
                 ORDER BY m.member_id, g.display_name_lower, m.group_id",
                placeholders(2, ids.len())
            );
            let mut binds = vec![Bind::Text(scope.tenant_id().to_owned())];
            binds.extend(ids.into_iter().map(Bind::Text));
            let rows = bind_all(sqlx::query(AssertSqlSafe(sql)), binds)
                .fetch_all(&self.reader)
                .await
                .map_err(db_error)?;
            for row in &rows {
                out.push(DirectGroup {
                    member_id: row.try_get("member_id").map_err(db_error)?,
                    group_id: row.try_get("group_id").map_err(db_error)?,
                    display_name: row.try_get("display_name").map_err(db_error)?,
                });
            }
        }
        Ok(out)
    }
}
