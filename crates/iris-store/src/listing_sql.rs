//! Lists in SQL: one page of a filtered, sorted result and its total, by index or by keyset
//! cursor, and the one-statement path for the matching queries identity providers send for every
//! resource.

use iris_core::StoreError;
use iris_core::store::{
    DirectGroup, ListPage, ListQuery, PageStart, SortKey, SortOrder, TenantScope,
};
use iris_scim::schema::ResourceKind;
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::dialect::{Backend, Dialect};
use crate::filter_sql::{Bind, Compiler, is_point_lookup, sort_expression};
use crate::rows::{bind_all, db_error, record_columns, record_from_row};
use crate::sql_store::SqlStore;
use crate::tables::KindTable;

impl SqlStore {
    /// One page of a filtered, ordered list of users or groups, with the total, read in one
    /// snapshot.
    pub(crate) async fn list_records(
        &self,
        kind: ResourceKind,
        scope: &TenantScope,
        query: &ListQuery<'_>,
    ) -> Result<ListPage, StoreError> {
        let alias = kind.alias();
        let table = kind.table();
        let mut compiler = Compiler::new(self.backend, kind, 2);
        let condition = query.filter.map(|f| compiler.condition(f));
        let mut binds = vec![Bind::Text(scope.tenant_id().to_owned())];
        binds.append(&mut compiler.binds);
        let where_clause = match &condition {
            Some(c) => format!("{alias}.tenant_id = $1 AND {c}"),
            None => format!("{alias}.tenant_id = $1"),
        };

        let order = SortOrdering::new(self.backend, kind, query);
        if let (PageStart::Index(start_index), Some(filter)) = (query.start, query.filter)
            && query.count > 0
            && is_point_lookup(kind, filter)
        {
            let offset = start_index.saturating_sub(1);
            if let Some(page) = self
                .point_lookup(kind, &where_clause, &binds, &order, query.count, offset)
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
        let total: i64 = bind_all(sqlx::query(AssertSqlSafe(count_sql)), binds.clone())
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
                    let rows = bind_all(sqlx::query(AssertSqlSafe(sql)), binds)
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
                let mut rows = bind_all(sqlx::query(AssertSqlSafe(sql)), binds)
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
        kind: ResourceKind,
        where_clause: &str,
        binds: &[Bind],
        order: &SortOrdering,
        count: u64,
        offset: u64,
    ) -> Result<Option<ListPage>, StoreError> {
        let alias = kind.alias();
        let n = binds.len();
        // A user's `groups` are derived from the membership table: read them in the same
        // statement, which saves the matching query a second round trip.
        let with_groups = has_derived_groups(kind);
        let member_of = if with_groups {
            format!(", {} AS member_of", self.backend.member_of_json(alias))
        } else {
            String::new()
        };
        let sql = format!(
            "SELECT {}{member_of}, COUNT(*) OVER () AS total FROM {} {alias} WHERE {where_clause} ORDER BY {} LIMIT ${} OFFSET ${}",
            record_columns(alias),
            kind.table(),
            order.order_by(false),
            n + 1,
            n + 2
        );
        let mut binds = binds.to_vec();
        binds.push(Bind::Int(count.min(i64::MAX as u64) as i64));
        binds.push(Bind::Int(offset.min(i64::MAX as u64) as i64));
        let rows = bind_all(sqlx::query(AssertSqlSafe(sql)), binds)
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
/// order [`iris_core::store::MembershipStore::direct_groups`] gives: by display name (lowercased), then id.
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
    fn new(backend: Backend, kind: ResourceKind, query: &ListQuery<'_>) -> Self {
        Self {
            alias: kind.alias(),
            sort: query
                .sort_by
                .map(|attr| sort_expression(backend, kind, attr)),
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

/// Whether the kind has a `groups` attribute derived from memberships (users do).
fn has_derived_groups(kind: ResourceKind) -> bool {
    kind.resource_type().schema.attribute("groups").is_some()
}
