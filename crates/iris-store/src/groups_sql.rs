//! Groups and memberships in SQL.
//!
//! A group's document lives in `groups`; its members are rows of `group_members`, one per
//! member, keyed `(tenant_id, group_id, member_id)`. Every membership change is a handful of
//! statements whose size is the number of members named (existence check, `DELETE … IN`,
//! `INSERT … ON CONFLICT DO NOTHING`), in the same transaction as the group's document and
//! version, so its cost does not depend on how many members the group already has.

use std::collections::HashMap;

use iris_core::StoreError;
use iris_core::store::{
    DirectGroup, GroupMutation, GroupWrite, Imported, Inserted, Member, MemberType,
    MembershipChange, Modified, ResourceRecord, TenantId,
};
use iris_scim::ScimError;
use iris_scim::patch::MemberRef;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use crate::dialect::Dialect;
use crate::filter_sql::{Bind, Target};
use crate::sql_store::{SqlStore, bind_all, db_error, json_text, record_columns, record_from_row};

/// Ids per statement for existence checks, deletions and insertions: far below both engines'
/// bind limits, large enough that 1,000 members are two statements.
const CHUNK: usize = 500;

/// Statement sizes the chunks are padded to (by repeating their last id, which changes nothing),
/// so a few prepared statements serve every request size instead of one per size.
const BUCKETS: [usize; 4] = [1, 8, 64, CHUNK];

/// How many unknown ids an error message lists.
const MAX_LISTED: usize = 5;

fn padded<T: Clone>(chunk: &[T]) -> Vec<T> {
    let size = BUCKETS
        .iter()
        .copied()
        .find(|b| *b >= chunk.len())
        .unwrap_or(chunk.len());
    let mut out = chunk.to_vec();
    if let Some(last) = chunk.last() {
        out.resize(size, last.clone());
    }
    out
}

/// `$from, $from+1, …` for `n` placeholders.
fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl SqlStore {
    pub(crate) async fn group_row(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<ResourceRecord>, StoreError> {
        let sql = format!(
            "SELECT {} FROM groups g WHERE g.tenant_id = $1 AND g.id = $2",
            record_columns("g")
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(tenant.as_str().to_owned())
            .bind(id.to_owned())
            .fetch_optional(&self.reader)
            .await
            .map_err(db_error)?;
        row.as_ref().map(record_from_row).transpose()
    }

    async fn insert_group_in(
        &self,
        tx: &mut AnyConnection,
        tenant: &TenantId,
        group: &GroupWrite,
        created: &str,
        version: i64,
    ) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO groups (tenant_id, id, display_name, display_name_lower, external_id, \
             created, last_modified, version, doc, search_doc) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, {})",
            self.backend.json_param(10)
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(tenant.as_str().to_owned())
            .bind(group.id.clone())
            .bind(group.shadow.display_name.clone())
            .bind(group.shadow.display_name_lower.clone())
            .bind(group.shadow.external_id.clone())
            .bind(created.to_owned())
            .bind(group.now.clone())
            .bind(version)
            .bind(json_text(&group.doc)?)
            .bind(json_text(&group.shadow.search_doc)?)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    pub(crate) async fn insert_group_with_members(
        &self,
        tenant: &TenantId,
        group: &GroupWrite,
        members: &[MemberRef],
    ) -> Result<Inserted, StoreError> {
        let mut tx = self.begin_write().await?;
        self.insert_group_in(&mut tx, tenant, group, &group.now, 1)
            .await?;
        let change = MembershipChange {
            add: members.to_vec(),
            check: members.to_vec(),
            ..MembershipChange::default()
        };
        if let Err(rejected) = self
            .apply_membership(&mut tx, tenant, &group.id, &change)
            .await?
        {
            return Ok(Inserted::Rejected(rejected));
        }
        self.commit(tx).await?;
        Ok(Inserted::Created(ResourceRecord {
            id: group.id.clone(),
            doc: group.doc.clone(),
            created: group.now.clone(),
            last_modified: group.now.clone(),
            version: 1,
        }))
    }

    pub(crate) async fn import_group_row(
        &self,
        tenant: &TenantId,
        group: &Imported<GroupWrite>,
    ) -> Result<ResourceRecord, StoreError> {
        let mut tx = self.begin_write().await?;
        self.insert_group_in(&mut tx, tenant, &group.write, &group.created, group.version)
            .await?;
        self.commit(tx).await?;
        Ok(ResourceRecord {
            id: group.write.id.clone(),
            doc: group.write.doc.clone(),
            created: group.created.clone(),
            last_modified: group.write.now.clone(),
            version: group.version,
        })
    }

    pub(crate) async fn add_members_unversioned(
        &self,
        tenant: &TenantId,
        group_id: &str,
        members: &[MemberRef],
    ) -> Result<Option<ScimError>, StoreError> {
        let mut tx = self.begin_write().await?;
        let exists = sqlx::query("SELECT 1 AS one FROM groups WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.as_str().to_owned())
            .bind(group_id.to_owned())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
        let change = MembershipChange {
            add: members.to_vec(),
            check: members.to_vec(),
            ..MembershipChange::default()
        };
        if let Err(rejected) = self
            .apply_membership(&mut tx, tenant, group_id, &change)
            .await?
        {
            return Ok(Some(rejected));
        }
        self.commit(tx).await?;
        Ok(None)
    }

    pub(crate) async fn modify_group_row(
        &self,
        tenant: &TenantId,
        id: &str,
        mutate: GroupMutation<'_>,
    ) -> Result<Modified, StoreError> {
        let select = format!(
            "SELECT {} FROM groups g WHERE g.tenant_id = $1 AND g.id = $2{}",
            record_columns("g"),
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
        let change = match mutate(&current) {
            Err(rejected) => return Ok(Modified::Rejected(rejected)),
            Ok(None) => return Ok(Modified::Unchanged(current)),
            Ok(Some(change)) => change,
        };
        let rows_changed = match self
            .apply_membership(&mut tx, tenant, id, &change.members)
            .await?
        {
            Err(rejected) => return Ok(Modified::Rejected(rejected)),
            Ok(n) => n,
        };
        if change.write.is_none() && rows_changed == 0 {
            // Adding present members or removing absent ones: nothing to record.
            return Ok(Modified::Unchanged(current));
        }
        let row = match &change.write {
            Some(group) => {
                let update = format!(
                    "UPDATE groups SET display_name = $3, display_name_lower = $4, external_id = $5, \
                     last_modified = $6, version = version + 1, doc = $7, search_doc = {} \
                     WHERE tenant_id = $1 AND id = $2 RETURNING version",
                    self.backend.json_param(8)
                );
                sqlx::query(AssertSqlSafe(update))
                    .bind(tenant.as_str().to_owned())
                    .bind(id.to_owned())
                    .bind(group.shadow.display_name.clone())
                    .bind(group.shadow.display_name_lower.clone())
                    .bind(group.shadow.external_id.clone())
                    .bind(change.now.clone())
                    .bind(json_text(&group.doc)?)
                    .bind(json_text(&group.shadow.search_doc)?)
                    .fetch_one(&mut *tx)
                    .await
            }
            None => sqlx::query(
                "UPDATE groups SET last_modified = $3, version = version + 1 \
                 WHERE tenant_id = $1 AND id = $2 RETURNING version",
            )
            .bind(tenant.as_str().to_owned())
            .bind(id.to_owned())
            .bind(change.now.clone())
            .fetch_one(&mut *tx)
            .await,
        }
        .map_err(db_error)?;
        let version: i64 = row.try_get("version").map_err(db_error)?;
        self.commit(tx).await?;
        Ok(Modified::Updated(ResourceRecord {
            id: current.id,
            doc: change.write.map_or(current.doc, |w| w.doc),
            created: current.created,
            last_modified: change.now,
            version,
        }))
    }

    pub(crate) async fn delete_group_row(
        &self,
        tenant: &TenantId,
        id: &str,
        expected_version: Option<i64>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        // The group row first (see `delete_user`): a transaction adding this group to another
        // group holds it with FOR KEY SHARE, and its membership row is then deleted below.
        let done = match expected_version {
            Some(v) => {
                sqlx::query("DELETE FROM groups WHERE tenant_id = $1 AND id = $2 AND version = $3")
                    .bind(tenant.as_str().to_owned())
                    .bind(id.to_owned())
                    .bind(v)
            }
            None => sqlx::query("DELETE FROM groups WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.as_str().to_owned())
                .bind(id.to_owned()),
        }
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        if done.rows_affected() == 0 {
            drop(tx);
            return Err(self.missing_or_stale(Target::Groups, tenant, id).await);
        }
        for sql in [
            // Its members (the foreign-key cascade does this too where it is enforced).
            "DELETE FROM group_members WHERE tenant_id = $1 AND group_id = $2",
            // Its memberships in other groups.
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

    pub(crate) async fn member_page(
        &self,
        tenant: &TenantId,
        group_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Member>, StoreError> {
        // A range scan of the primary key: (tenant_id, group_id) fixed, member_id ascending.
        let query = match after {
            Some(after) => sqlx::query(
                "SELECT member_id, member_type FROM group_members \
                 WHERE tenant_id = $1 AND group_id = $2 AND member_id > $3 \
                 ORDER BY member_id LIMIT $4",
            )
            .bind(tenant.as_str().to_owned())
            .bind(group_id.to_owned())
            .bind(after.to_owned())
            .bind(i64::from(limit)),
            None => sqlx::query(
                "SELECT member_id, member_type FROM group_members \
                 WHERE tenant_id = $1 AND group_id = $2 ORDER BY member_id LIMIT $3",
            )
            .bind(tenant.as_str().to_owned())
            .bind(group_id.to_owned())
            .bind(i64::from(limit)),
        };
        let rows = query.fetch_all(&self.reader).await.map_err(db_error)?;
        rows.iter()
            .map(|row| {
                let id: String = row.try_get("member_id").map_err(db_error)?;
                let kind: String = row.try_get("member_type").map_err(db_error)?;
                let member_type = MemberType::parse(&kind).ok_or_else(|| {
                    StoreError::Database(format!("unknown member_type '{kind}' stored"))
                })?;
                Ok(Member { id, member_type })
            })
            .collect()
    }

    pub(crate) async fn direct_groups_of(
        &self,
        tenant: &TenantId,
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
            let mut binds = vec![Bind::Text(tenant.as_str().to_owned())];
            binds.extend(ids.into_iter().map(Bind::Text));
            let rows = bind_all(sqlx::query(AssertSqlSafe(sql)), &binds)
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

    /// Applies a membership change inside `tx`: checks every named member exists, then clears,
    /// removes and adds. Returns how many membership rows changed, or the client error that
    /// must abort the transaction.
    async fn apply_membership(
        &self,
        tx: &mut AnyConnection,
        tenant: &TenantId,
        group_id: &str,
        change: &MembershipChange,
    ) -> Result<Result<u64, ScimError>, StoreError> {
        let types = match self.member_types(tx, tenant, &change.check).await? {
            Ok(types) => types,
            Err(rejected) => return Ok(Err(rejected)),
        };
        let tenant_id = tenant.as_str().to_owned();
        let mut changed = 0;
        if change.clear {
            changed +=
                sqlx::query("DELETE FROM group_members WHERE tenant_id = $1 AND group_id = $2")
                    .bind(tenant_id.clone())
                    .bind(group_id.to_owned())
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?
                    .rows_affected();
        }
        for chunk in change.remove.chunks(CHUNK) {
            let ids = padded(chunk);
            let sql = format!(
                "DELETE FROM group_members WHERE tenant_id = $1 AND group_id = $2 AND member_id IN ({})",
                placeholders(3, ids.len())
            );
            let mut binds = vec![
                Bind::Text(tenant_id.clone()),
                Bind::Text(group_id.to_owned()),
            ];
            binds.extend(ids.into_iter().map(Bind::Text));
            changed += bind_all(sqlx::query(AssertSqlSafe(sql)), &binds)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?
                .rows_affected();
        }
        for chunk in change.add.chunks(CHUNK) {
            let rows = padded(chunk);
            let values: Vec<String> = (0..rows.len())
                .map(|i| format!("($1, $2, ${}, ${})", 3 + 2 * i, 4 + 2 * i))
                .collect();
            let sql = format!(
                "INSERT INTO group_members (tenant_id, group_id, member_id, member_type) VALUES {} \
                 ON CONFLICT (tenant_id, group_id, member_id) DO NOTHING",
                values.join(", ")
            );
            let mut binds = vec![
                Bind::Text(tenant_id.clone()),
                Bind::Text(group_id.to_owned()),
            ];
            for member in rows {
                let kind = types
                    .get(&member.value)
                    .copied()
                    .ok_or_else(|| StoreError::Database("unchecked member id".into()))?;
                binds.push(Bind::Text(member.value));
                binds.push(Bind::Text(kind.as_str().to_owned()));
            }
            changed += bind_all(sqlx::query(AssertSqlSafe(sql)), &binds)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?
                .rows_affected();
        }
        Ok(Ok(changed))
    }

    /// The type of every member in `refs`, from the table that holds its id: users first, then
    /// groups for the ids no user has. The rows found are held (FOR KEY SHARE on PostgreSQL)
    /// until the transaction ends, so a concurrent delete cannot leave a membership behind.
    /// A client error if an id names nothing in the tenant or a given `type` is wrong.
    async fn member_types(
        &self,
        tx: &mut AnyConnection,
        tenant: &TenantId,
        refs: &[MemberRef],
    ) -> Result<Result<HashMap<String, MemberType>, ScimError>, StoreError> {
        let mut types = HashMap::with_capacity(refs.len());
        if refs.is_empty() {
            return Ok(Ok(types));
        }
        let ids: Vec<String> = refs.iter().map(|r| r.value.clone()).collect();
        self.find_ids(
            tx,
            tenant,
            Target::Users,
            &ids,
            MemberType::User,
            &mut types,
        )
        .await?;
        let rest: Vec<String> = ids
            .iter()
            .filter(|id| !types.contains_key(*id))
            .cloned()
            .collect();
        if !rest.is_empty() {
            self.find_ids(
                tx,
                tenant,
                Target::Groups,
                &rest,
                MemberType::Group,
                &mut types,
            )
            .await?;
        }
        let missing: Vec<&str> = ids
            .iter()
            .filter(|id| !types.contains_key(*id))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            let listed: Vec<String> = missing
                .iter()
                .take(MAX_LISTED)
                .map(|id| format!("'{}'", id.escape_debug()))
                .collect();
            let more = if missing.len() > MAX_LISTED {
                format!(" and {} more", missing.len() - MAX_LISTED)
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
                && !claimed.eq_ignore_ascii_case(actual.as_str())
            {
                return Ok(Err(ScimError::invalid_value(format!(
                    "member '{}' is a {}, not a {claimed}",
                    r.value.escape_debug(),
                    actual.as_str()
                ))));
            }
        }
        Ok(Ok(types))
    }

    /// Records in `found` which of `ids` exist in `target`'s table, chunk by chunk.
    async fn find_ids(
        &self,
        tx: &mut AnyConnection,
        tenant: &TenantId,
        target: Target,
        ids: &[String],
        kind: MemberType,
        found: &mut HashMap<String, MemberType>,
    ) -> Result<(), StoreError> {
        for chunk in ids.chunks(CHUNK) {
            let padded_ids = padded(chunk);
            let sql = format!(
                "SELECT id FROM {} WHERE tenant_id = $1 AND id IN ({}){}",
                target.table(),
                placeholders(2, padded_ids.len()),
                self.backend.lock_key_share()
            );
            let mut binds = vec![Bind::Text(tenant.as_str().to_owned())];
            binds.extend(padded_ids.into_iter().map(Bind::Text));
            let rows = bind_all(sqlx::query(AssertSqlSafe(sql)), &binds)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_padded_to_a_few_statement_sizes() {
        assert_eq!(padded(&[1]), [1]);
        assert_eq!(padded(&[1, 2]), [1, 2, 2, 2, 2, 2, 2, 2]);
        assert_eq!(padded(&(0..64).collect::<Vec<_>>()).len(), 64);
        assert_eq!(padded(&(0..65).collect::<Vec<_>>()).len(), CHUNK);
        assert!(padded::<u8>(&[]).is_empty());
        assert_eq!(placeholders(3, 2), "$3, $4");
    }
}
