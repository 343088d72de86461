//! The common writes folded into one trip to the database: a create, or an update that lost no
//! race, with its side rows and its provisioning events.
//!
//! The provisioning log's event made a document-only PATCH, once one autocommit `UPDATE`, a
//! transaction of four statements (BEGIN, UPDATE, INSERT, COMMIT), and a create one of five;
//! each statement is a round trip to PostgreSQL, or a hop to sqlx's SQLite worker thread and
//! back, and on SQLite every one of them is taken while the single writer is held. Folded:
//! - on PostgreSQL, one statement of data-modifying CTEs (`WITH changed AS (UPDATE …), logged
//!   AS (INSERT …) SELECT …`), atomic on its own, so no transaction at all: what an update
//!   writes beside its row is written only if the row was still at the version it was computed
//!   from (`WHERE EXISTS (SELECT 1 FROM changed)`);
//! - on SQLite, which has no data-modifying CTEs, one batch of statements sent to the worker
//!   inside the write transaction (BEGIN IMMEDIATE, the batch, COMMIT); an update whose row moved
//!   on is rolled back, its side rows and events with it.
//!
//! Placeholders are numbered across the whole statement or batch (`$1` … `$n`): sqlx binds a
//! numbered placeholder by its number in every statement of a SQLite batch, so a statement may
//! use `$1` and `$2` (the tenant and the id) again. Writes with more side rows or events than
//! the limits below, or with memberships, take the general path.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use iris_scim::schema::ResourceKind;

use crate::dialect::Backend;
use crate::events_sql::{EVENT_COLUMN_NAMES, events_values_sql};
use crate::rows::placeholders;
use crate::tables::KindTable;

/// Side rows (a user's e-mails and phone numbers) a folded write may carry.
pub(crate) const MAX_FOLDED_VALUES: usize = 16;
/// Events a folded write may carry (a change records one, a create with members two).
pub(crate) const MAX_FOLDED_EVENTS: usize = 2;

/// Columns of one side row, in [`VALUE_COLUMN_NAMES`]' order.
pub(crate) const VALUE_COLUMNS: usize = 6;
pub(crate) const VALUE_COLUMN_NAMES: &str =
    "tenant_id, user_id, attribute, type_lower, is_primary, value_lower";

/// What a folded statement is made of; one text per shape, built once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Shape {
    insert: bool,
    kind: ResourceKind,
    postgres: bool,
    /// Whether an update replaces the side rows (a create always writes them).
    rewrite_values: bool,
    values: usize,
    events: usize,
}

/// The folded statement of `shape`, built on first use. Shapes are bounded by the limits above
/// (2 kinds × 2 engines × 2 × 17 × 3), so the texts are kept for the life of the process.
fn cached(shape: Shape, build: impl FnOnce() -> String) -> &'static str {
    static BUILT: LazyLock<Mutex<HashMap<Shape, &'static str>>> = LazyLock::new(Mutex::default);
    let mut built = BUILT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    built
        .entry(shape)
        .or_insert_with(|| Box::leak(build().into_boxed_str()))
}

fn values_rows_sql(rows: usize, first: usize) -> String {
    (0..rows)
        .map(|i| {
            format!(
                "({})",
                placeholders(first + i * VALUE_COLUMNS, VALUE_COLUMNS)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A create: the row (binds [`KindTable::row_binds`]), then `values` side rows and `events`
/// events, bound in that order.
pub(crate) fn insert(
    backend: Backend,
    kind: ResourceKind,
    values: usize,
    events: usize,
) -> &'static str {
    let shape = Shape {
        insert: true,
        kind,
        postgres: backend == Backend::Postgres,
        rewrite_values: false,
        values,
        events,
    };
    cached(shape, || {
        let row = kind.insert_sql(backend);
        let mut next = row_bind_count(row) + 1;
        let mut parts = Vec::new();
        if values > 0 {
            parts.push(format!(
                "INSERT INTO user_values ({VALUE_COLUMN_NAMES}) VALUES {}",
                values_rows_sql(values, next)
            ));
            next += values * VALUE_COLUMNS;
        }
        if events > 0 {
            parts.push(format!(
                "INSERT INTO provisioning_events ({EVENT_COLUMN_NAMES}) VALUES {}",
                events_values_sql(events, next)
            ));
        }
        match backend {
            Backend::Sqlite => std::iter::once(row.to_owned())
                .chain(parts)
                .collect::<Vec<_>>()
                .join("; "),
            Backend::Postgres => {
                let mut ctes = vec![format!("inserted AS ({row})")];
                let last = parts.pop();
                ctes.extend(
                    parts
                        .into_iter()
                        .enumerate()
                        .map(|(i, p)| format!("side{i} AS ({p})")),
                );
                match last {
                    Some(last) => format!("WITH {} {last}", ctes.join(", ")),
                    None => row.to_owned(),
                }
            }
        }
    })
}

/// An update at the version bound last by [`KindTable::update_binds`], answering its new
/// `version` (no row: it moved on, nothing is written); then, if `rewrite_values`, the side
/// rows replaced by `values` new ones, and `events` events, bound in that order.
pub(crate) fn update(
    backend: Backend,
    kind: ResourceKind,
    rewrite_values: bool,
    values: usize,
    events: usize,
) -> &'static str {
    let shape = Shape {
        insert: false,
        kind,
        postgres: backend == Backend::Postgres,
        rewrite_values,
        values,
        events,
    };
    cached(shape, || {
        let row = kind.update_sql(backend);
        let first = row_bind_count(row) + 1;
        let events_first = first + values * VALUE_COLUMNS;
        match backend {
            Backend::Sqlite => {
                let mut statements = vec![row.to_owned()];
                if rewrite_values {
                    statements.push(
                        "DELETE FROM user_values WHERE tenant_id = $1 AND user_id = $2".into(),
                    );
                    if values > 0 {
                        statements.push(format!(
                            "INSERT INTO user_values ({VALUE_COLUMN_NAMES}) VALUES {}",
                            values_rows_sql(values, first)
                        ));
                    }
                }
                if events > 0 {
                    statements.push(format!(
                        "INSERT INTO provisioning_events ({EVENT_COLUMN_NAMES}) VALUES {}",
                        events_values_sql(events, events_first)
                    ));
                }
                statements.join("; ")
            }
            Backend::Postgres => {
                let landed = "WHERE EXISTS (SELECT 1 FROM changed)";
                let mut ctes = vec![format!("changed AS ({row})")];
                if rewrite_values {
                    // Every sub-statement sees the rows as they were before the statement: the
                    // DELETE removes the old side rows, not the new ones.
                    ctes.push(
                        "cleared AS (DELETE FROM user_values WHERE tenant_id = $1 AND user_id = $2 \
                         AND EXISTS (SELECT 1 FROM changed))"
                            .to_owned(),
                    );
                    if values > 0 {
                        ctes.push(format!(
                            "side AS (INSERT INTO user_values ({VALUE_COLUMN_NAMES}) \
                             SELECT * FROM (VALUES {}) AS v ({VALUE_COLUMN_NAMES}) {landed})",
                            values_rows_sql(values, first)
                        ));
                    }
                }
                if events > 0 {
                    ctes.push(format!(
                        "logged AS (INSERT INTO provisioning_events ({EVENT_COLUMN_NAMES}) \
                         SELECT * FROM (VALUES {}) AS e ({EVENT_COLUMN_NAMES}) {landed})",
                        events_values_sql(events, events_first)
                    ));
                }
                format!("WITH {} SELECT version FROM changed", ctes.join(", "))
            }
        }
    })
}

/// The highest placeholder number in a row statement: how many binds it takes.
fn row_bind_count(sql: &str) -> usize {
    sql.split('$')
        .skip(1)
        .filter_map(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<usize>().ok()
        })
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events_sql::EVENT_COLUMNS;

    fn highest(sql: &str) -> usize {
        row_bind_count(sql)
    }

    #[test]
    fn placeholders_run_on_across_the_statements() {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            for kind in ResourceKind::ALL {
                let row = row_bind_count(kind.insert_sql(backend));
                let sql = insert(backend, kind, 3, 2);
                assert_eq!(
                    highest(sql),
                    row + 3 * VALUE_COLUMNS + 2 * EVENT_COLUMNS,
                    "{sql}"
                );
                let row = row_bind_count(kind.update_sql(backend));
                let sql = update(backend, kind, true, 2, 1);
                assert_eq!(
                    highest(sql),
                    row + 2 * VALUE_COLUMNS + EVENT_COLUMNS,
                    "{sql}"
                );
                let sql = update(backend, kind, false, 0, 1);
                assert_eq!(highest(sql), row + EVENT_COLUMNS, "{sql}");
            }
        }
    }

    #[test]
    fn postgres_writes_beside_an_update_only_if_it_landed() {
        let sql = update(Backend::Postgres, ResourceKind::User, true, 1, 1);
        assert!(sql.starts_with("WITH changed AS (UPDATE users"), "{sql}");
        assert_eq!(
            sql.matches("EXISTS (SELECT 1 FROM changed)").count(),
            3,
            "{sql}"
        );
        assert!(sql.ends_with("SELECT version FROM changed"), "{sql}");
    }

    #[test]
    fn sqlite_batches_are_separate_statements() {
        let sql = insert(Backend::Sqlite, ResourceKind::User, 1, 1);
        assert_eq!(sql.matches("INSERT INTO").count(), 3, "{sql}");
        assert_eq!(sql.matches("; ").count(), 2, "{sql}");
        let sql = update(Backend::Sqlite, ResourceKind::User, true, 0, 1);
        assert!(sql.contains("; DELETE FROM user_values"), "{sql}");
        assert!(!sql.contains("INSERT INTO user_values"), "{sql}");
    }

    #[test]
    fn texts_are_built_once_per_shape() {
        let a = update(Backend::Sqlite, ResourceKind::Group, false, 0, 2);
        let b = update(Backend::Sqlite, ResourceKind::Group, false, 0, 2);
        assert!(std::ptr::eq(a, b));
    }
}
