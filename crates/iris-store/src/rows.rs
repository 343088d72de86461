//! Reading rows and binding values: what every statement of the store shares.

use iris_core::StoreError;
use iris_core::store::ResourceRecord;
use iris_scim::resource::Document;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::filter_sql::Bind;

pub(crate) type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// SQLSTATEs (PostgreSQL) and result codes (SQLite) of a transaction that lost to a concurrent
/// one and may simply be run again: deadlock, serialisation failure, a statement cancelled (an
/// abandoned write's cancel is aimed by transaction name, but should it ever reach the next
/// transaction on that connection, that one runs again), a busy or locked database.
const TRANSIENT_CODES: [&str; 7] = ["40P01", "40001", "57014", "5", "6", "517", "261"];

/// SQLSTATE classes of a server that is going away or cannot be reached: `08` connection
/// exceptions, `57P` operator intervention (shutdown, crash, not accepting connections yet).
const UNAVAILABLE_CLASSES: [&str; 2] = ["08", "57P"];

/// Maps a driver error by kind, never by message: uniqueness violations, transient conflicts,
/// a database that cannot be reached, everything else.
pub(crate) fn db_error(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict,
        sqlx::Error::Database(d)
            if d.code()
                .is_some_and(|code| TRANSIENT_CODES.contains(&code.as_ref())) =>
        {
            StoreError::Busy(e.to_string())
        }
        sqlx::Error::Database(d)
            if d.code().is_some_and(|code| {
                UNAVAILABLE_CLASSES
                    .iter()
                    .any(|class| code.starts_with(class))
            }) =>
        {
            StoreError::Unavailable(e.to_string())
        }
        // The connection broke, none could be opened or taken from the pool in time.
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.to_string()),
        _ => StoreError::Database(e.to_string()),
    }
}

/// Binds `binds` in order, moving their strings into the query.
pub(crate) fn bind_all<'q>(mut query: AnyQuery<'q>, binds: Vec<Bind>) -> AnyQuery<'q> {
    for b in binds {
        query = match b {
            Bind::Text(s) => query.bind(s),
            Bind::OptText(s) => query.bind(s),
            Bind::Int(i) => query.bind(i),
            Bind::Float(f) => query.bind(f),
            Bind::Bool(v) => query.bind(v),
            Bind::OptBool(v) => query.bind(v),
        };
    }
    query
}

/// The columns [`record_from_row`] reads, for the table aliased `alias`.
pub(crate) fn record_columns(alias: &str) -> String {
    format!("{alias}.id, {alias}.doc, {alias}.created, {alias}.last_modified, {alias}.version")
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

/// `$from, $from+1, …` for `n` placeholders.
pub(crate) fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Ids per statement for `IN` lists and multi-row inserts: far below both engines' bind limits
/// (SQLite 32,766, PostgreSQL 65,535) whatever the row width, large enough that 1,000 ids are
/// two statements.
pub(crate) const CHUNK: usize = 500;

/// Statement sizes the chunks are padded to (by repeating their last element, which changes
/// nothing for `IN` lists and `ON CONFLICT DO NOTHING` inserts), so a few prepared statements
/// serve every request size instead of one per size.
const BUCKETS: [usize; 4] = [1, 8, 64, CHUNK];

pub(crate) fn padded<T: Clone>(chunk: &[T]) -> Vec<T> {
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
