//! Where SQLite and PostgreSQL differ. Everything else in the store is one SQL text for both.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Option<Self> {
        let lower = url.to_ascii_lowercase();
        if lower.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            Some(Self::Postgres)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// SQL fragments that differ between the two engines. JSON paths are built only from canonical
/// schema names (never from client text); values are always bound.
pub trait Dialect {
    /// Statement that opens a write transaction. SQLite must take the write lock up front, or a
    /// read-then-write transaction fails with SQLITE_BUSY when another writer commits first.
    fn begin_write(&self) -> &'static str;

    /// A bind placeholder for a JSON document written to a search column.
    fn json_param(&self, n: usize) -> String;

    /// The text at `path` inside the JSON expression `doc` (NULL if absent).
    fn json_text(&self, doc: &str, path: &[&str]) -> String;

    /// A JSON-array-producing set of elements at `path` of `doc`, aliased as `alias`, whose
    /// members are then read with `json_text(&self.element(alias), ...)`.
    fn json_elements(&self, doc: &str, path: &[&str], alias: &str) -> String;

    /// The expression that denotes one element produced by `json_elements`.
    fn element(&self, alias: &str) -> String;

    /// The JSON type name at `path` ('true'/'false' for booleans on both engines).
    fn json_bool_text(&self, doc: &str, path: &[&str]) -> String;

    /// A numeric reading of the JSON at `path`.
    fn json_number(&self, doc: &str, path: &[&str]) -> String;

    /// Text ordering that is the same on both engines (byte order).
    fn collate_binary(&self) -> &'static str;

    /// A scalar subquery: the direct groups of the user row `alias` as JSON text,
    /// `[[group id, display name], …]` (`[]` for none), in no particular order.
    fn member_of_json(&self, alias: &str) -> String;

    /// Suffix of a SELECT that locks the rows it reads for the rest of the write transaction.
    /// SQLite needs none: `BEGIN IMMEDIATE` already holds the database's write lock.
    fn lock_row(&self) -> &'static str;

    /// Suffix of a SELECT that keeps the rows it reads from being deleted (or their keys
    /// changed) until the write transaction ends, without blocking ordinary updates. SQLite
    /// needs none, for the same reason as [`Dialect::lock_row`].
    fn lock_key_share(&self) -> &'static str;

    /// `n` placeholders, numbered from `first`, for a statement whose parameters are all bound
    /// once each, in order. On SQLite they are anonymous (`?`): sqlx binds a named one (`$7`)
    /// after a linear search of the statement's parameter names, so a multi-row INSERT of
    /// thousands of named parameters spent most of its time binding (quadratic in its width).
    fn sequential_placeholders(&self, first: usize, n: usize) -> String;
}

impl Dialect for Backend {
    fn begin_write(&self) -> &'static str {
        match self {
            Self::Sqlite => "BEGIN IMMEDIATE",
            Self::Postgres => "BEGIN",
        }
    }

    fn json_param(&self, n: usize) -> String {
        match self {
            Self::Sqlite => format!("${n}"),
            Self::Postgres => format!("${n}::jsonb"),
        }
    }

    fn json_text(&self, doc: &str, path: &[&str]) -> String {
        match self {
            Self::Sqlite => format!("json_extract({doc}, '{}')", sqlite_path(path)),
            Self::Postgres => format!("({doc} #>> '{}')", pg_path(path)),
        }
    }

    fn json_elements(&self, doc: &str, path: &[&str], alias: &str) -> String {
        match self {
            Self::Sqlite => format!("json_each({doc}, '{}') AS {alias}", sqlite_path(path)),
            Self::Postgres => {
                let target = format!("({doc} #> '{}')", pg_path(path));
                format!(
                    "jsonb_array_elements(CASE WHEN jsonb_typeof({target}) = 'array' THEN {target} ELSE '[]'::jsonb END) AS {alias}(value)"
                )
            }
        }
    }

    fn element(&self, alias: &str) -> String {
        format!("{alias}.value")
    }

    fn json_bool_text(&self, doc: &str, path: &[&str]) -> String {
        match self {
            Self::Sqlite => format!("json_type({doc}, '{}')", sqlite_path(path)),
            Self::Postgres => format!("({doc} #>> '{}')", pg_path(path)),
        }
    }

    fn json_number(&self, doc: &str, path: &[&str]) -> String {
        match self {
            Self::Sqlite => format!("json_extract({doc}, '{}')", sqlite_path(path)),
            Self::Postgres => format!("(({doc} #>> '{}')::double precision)", pg_path(path)),
        }
    }

    fn member_of_json(&self, alias: &str) -> String {
        let from = format!(
            "FROM group_members mo JOIN groups mog ON mog.tenant_id = mo.tenant_id AND mog.id = mo.group_id \
             WHERE mo.tenant_id = {alias}.tenant_id AND mo.member_id = {alias}.id"
        );
        match self {
            Self::Sqlite => {
                format!(
                    "(SELECT json_group_array(json_array(mo.group_id, mog.display_name)) {from})"
                )
            }
            Self::Postgres => format!(
                "(SELECT COALESCE(jsonb_agg(jsonb_build_array(mo.group_id, mog.display_name)), '[]'::jsonb)::text {from})"
            ),
        }
    }

    fn collate_binary(&self) -> &'static str {
        match self {
            Self::Sqlite => "",
            Self::Postgres => " COLLATE \"C\"",
        }
    }

    fn sequential_placeholders(&self, first: usize, n: usize) -> String {
        match self {
            Self::Sqlite => vec!["?"; n].join(", "),
            Self::Postgres => crate::rows::placeholders(first, n),
        }
    }

    fn lock_row(&self) -> &'static str {
        match self {
            Self::Sqlite => "",
            Self::Postgres => " FOR UPDATE",
        }
    }

    fn lock_key_share(&self) -> &'static str {
        match self {
            Self::Sqlite => "",
            Self::Postgres => " FOR KEY SHARE",
        }
    }
}

/// `$."name"."givenName"`; keys are quoted so URNs with colons and `$ref` work.
fn sqlite_path(path: &[&str]) -> String {
    let mut out = String::from("$");
    for key in path {
        if !key.is_empty() && key.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{key}]"));
            continue;
        }
        out.push_str(".\"");
        out.push_str(&escape_key(key));
        out.push('"');
    }
    out
}

/// `{name,givenName}`; keys are double-quoted inside the array literal.
fn pg_path(path: &[&str]) -> String {
    let keys: Vec<String> = path
        .iter()
        .map(|k| format!("\"{}\"", escape_key(k)))
        .collect();
    format!("{{{}}}", keys.join(","))
}

/// Schema names contain only `[A-Za-z0-9:._$-]`; anything else would be a bug upstream, so it is
/// dropped rather than risking a broken literal.
fn escape_key(key: &str) -> String {
    key.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '_' | '$' | '-'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_paths_quote_schema_names() {
        let p = [
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            "manager",
            "value",
        ];
        assert_eq!(
            Backend::Sqlite.json_text("d", &p),
            "json_extract(d, '$.\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\".\"manager\".\"value\"')"
        );
        assert_eq!(
            Backend::Postgres.json_text("d", &["name", "givenName"]),
            "(d #>> '{\"name\",\"givenName\"}')"
        );
        assert_eq!(escape_key("a'b"), "ab");
    }
}
