//! Which table holds each kind of resource, and which of a resource's derived values it keeps in
//! columns. The one place where the store knows users from groups; every statement about
//! resources is built from this.

use iris_core::store::{ResourceWrite, Shadow};
use iris_scim::schema::ResourceKind;

use crate::dialect::{Backend, Dialect};
use crate::filter_sql::Bind;

/// A derived value kept in a column of its own (for a constraint, an index or a join).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ShadowColumn {
    UserNameLower,
    DisplayName,
    DisplayNameLower,
    ExternalId,
    Active,
}

impl ShadowColumn {
    fn name(self) -> &'static str {
        match self {
            Self::UserNameLower => "user_name_lower",
            Self::DisplayName => "display_name",
            Self::DisplayNameLower => "display_name_lower",
            Self::ExternalId => "external_id",
            Self::Active => "active",
        }
    }

    fn bind(self, shadow: &Shadow) -> Bind {
        match self {
            // A user always has a userName (validation requires it); NOT NULL in the table.
            Self::UserNameLower => Bind::Text(shadow.user_name_lower.clone().unwrap_or_default()),
            // A group always has a displayName (validation requires it); NOT NULL in the table.
            Self::DisplayName => Bind::OptText(shadow.display_name.clone()),
            Self::DisplayNameLower => Bind::OptText(shadow.display_name_lower.clone()),
            Self::ExternalId => Bind::OptText(shadow.external_id.clone()),
            Self::Active => Bind::OptBool(shadow.active),
        }
    }
}

const USER_COLUMNS: &[ShadowColumn] = &[
    ShadowColumn::UserNameLower,
    ShadowColumn::DisplayName,
    ShadowColumn::DisplayNameLower,
    ShadowColumn::ExternalId,
    ShadowColumn::Active,
];

const GROUP_COLUMNS: &[ShadowColumn] = &[
    ShadowColumn::DisplayName,
    ShadowColumn::DisplayNameLower,
    ShadowColumn::ExternalId,
];

/// The table of a kind of resource.
pub(crate) trait KindTable {
    /// The table's name.
    fn table(self) -> &'static str;
    /// The alias statements give the table (`u`, `g`); filter SQL is compiled against it.
    fn alias(self) -> &'static str;
    /// The URN of the kind's core schema.
    fn core_schema(self) -> &'static str;
    /// Whether resources of this kind have member rows in `group_members` (groups).
    fn holds_members(self) -> bool;
    /// Whether resources of this kind have rows in the `user_values` side table (users).
    fn has_side_values(self) -> bool;
    /// `INSERT` of one row; binds from [`KindTable::row_binds`].
    fn insert_sql(self, backend: Backend) -> &'static str;
    /// The binds of [`KindTable::insert_sql`]: `$1` the tenant, then the row.
    fn row_binds(
        self,
        tenant_id: &str,
        write: &ResourceWrite,
        created: &str,
        version: i64,
    ) -> Result<Vec<Bind>, iris_core::StoreError>;
    /// `UPDATE` of a row's document and shadow columns, only if it is still at the version
    /// bound last; `RETURNING version`. Binds from [`KindTable::update_binds`].
    fn update_sql(self, backend: Backend) -> &'static str;
    /// The binds of [`KindTable::update_sql`].
    fn update_binds(
        self,
        tenant_id: &str,
        write: &ResourceWrite,
        current_version: i64,
    ) -> Result<Vec<Bind>, iris_core::StoreError>;
}

fn columns(kind: ResourceKind) -> &'static [ShadowColumn] {
    match kind {
        ResourceKind::User => USER_COLUMNS,
        ResourceKind::Group => GROUP_COLUMNS,
    }
}

/// `$1` the tenant, `$2` the id, then the kind's shadow columns: how every row statement starts.
fn key_and_shadow(kind: ResourceKind, tenant_id: &str, write: &ResourceWrite) -> Vec<Bind> {
    let mut binds = vec![
        Bind::Text(tenant_id.to_owned()),
        Bind::Text(write.id.clone()),
    ];
    binds.extend(columns(kind).iter().map(|c| c.bind(&write.shadow)));
    binds
}

fn json_text(value: &impl serde::Serialize) -> Result<String, iris_core::StoreError> {
    serde_json::to_string(value).map_err(|e| iris_core::StoreError::Database(e.to_string()))
}

impl KindTable for ResourceKind {
    fn table(self) -> &'static str {
        match self {
            Self::User => "users",
            Self::Group => "groups",
        }
    }

    fn alias(self) -> &'static str {
        match self {
            Self::User => "u",
            Self::Group => "g",
        }
    }

    fn core_schema(self) -> &'static str {
        self.resource_type().schema.id
    }

    fn holds_members(self) -> bool {
        self.resource_type().schema.attribute("members").is_some()
    }

    fn has_side_values(self) -> bool {
        self == Self::User
    }

    fn insert_sql(self, backend: Backend) -> &'static str {
        &statements(self, backend).insert
    }

    fn row_binds(
        self,
        tenant_id: &str,
        write: &ResourceWrite,
        created: &str,
        version: i64,
    ) -> Result<Vec<Bind>, iris_core::StoreError> {
        let mut binds = key_and_shadow(self, tenant_id, write);
        binds.push(Bind::Text(created.to_owned()));
        binds.push(Bind::Text(write.now.clone()));
        binds.push(Bind::Int(version));
        binds.push(Bind::Text(json_text(&write.doc)?));
        binds.push(Bind::Text(json_text(&write.shadow.search_doc)?));
        Ok(binds)
    }

    fn update_sql(self, backend: Backend) -> &'static str {
        &statements(self, backend).update
    }

    fn update_binds(
        self,
        tenant_id: &str,
        write: &ResourceWrite,
        current_version: i64,
    ) -> Result<Vec<Bind>, iris_core::StoreError> {
        let mut binds = key_and_shadow(self, tenant_id, write);
        binds.push(Bind::Text(write.now.clone()));
        binds.push(Bind::Text(json_text(&write.doc)?));
        binds.push(Bind::Text(json_text(&write.shadow.search_doc)?));
        binds.push(Bind::Int(current_version));
        Ok(binds)
    }
}

/// The row statements of a kind on a backend, built once: they are on every write's path.
struct Statements {
    insert: String,
    update: String,
}

fn statements(kind: ResourceKind, backend: Backend) -> &'static Statements {
    static BUILT: std::sync::LazyLock<[Statements; 4]> = std::sync::LazyLock::new(|| {
        [
            (ResourceKind::User, Backend::Sqlite),
            (ResourceKind::User, Backend::Postgres),
            (ResourceKind::Group, Backend::Sqlite),
            (ResourceKind::Group, Backend::Postgres),
        ]
        .map(|(kind, backend)| Statements {
            insert: build_insert_sql(kind, backend),
            update: build_update_sql(kind, backend),
        })
    });
    let row = match kind {
        ResourceKind::User => 0,
        ResourceKind::Group => 2,
    };
    let column = match backend {
        Backend::Sqlite => 0,
        Backend::Postgres => 1,
    };
    &BUILT[row + column]
}

fn build_insert_sql(kind: ResourceKind, backend: Backend) -> String {
    let shadow = columns(kind);
    let names: Vec<&str> = shadow.iter().map(|c| c.name()).collect();
    // $1 tenant, $2 id, then the shadow columns, created, last_modified, version, doc,
    // search_doc.
    let first = 3;
    let mut params: Vec<String> = (first..first + shadow.len() + 4)
        .map(|n| format!("${n}"))
        .collect();
    params.push(backend.json_param(first + shadow.len() + 4));
    format!(
        "INSERT INTO {} (tenant_id, id, {}, created, last_modified, version, doc, search_doc) \
         VALUES ($1, $2, {})",
        kind.table(),
        names.join(", "),
        params.join(", ")
    )
}

fn build_update_sql(kind: ResourceKind, backend: Backend) -> String {
    let shadow = columns(kind);
    // $1 tenant, $2 id, then the shadow columns, last_modified, doc, search_doc, and the
    // version the row must still be at.
    let mut sets: Vec<String> = shadow
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{} = ${}", c.name(), i + 3))
        .collect();
    let next = shadow.len() + 3;
    sets.push(format!("last_modified = ${next}"));
    sets.push("version = version + 1".to_owned());
    sets.push(format!("doc = ${}", next + 1));
    sets.push(format!("search_doc = {}", backend.json_param(next + 2)));
    format!(
        "UPDATE {} SET {} WHERE tenant_id = $1 AND id = $2 AND version = ${} RETURNING version",
        kind.table(),
        sets.join(", "),
        next + 3
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_place_every_bind() {
        for kind in ResourceKind::ALL {
            for backend in [Backend::Sqlite, Backend::Postgres] {
                let insert = kind.insert_sql(backend);
                let n = columns(kind).len() + 7;
                assert!(insert.contains(&format!("${n}")), "{insert}");
                assert!(!insert.contains(&format!("${}", n + 1)), "{insert}");
                let update = kind.update_sql(backend);
                let n = columns(kind).len() + 6;
                assert!(update.ends_with(&format!("version = ${n} RETURNING version")));
                assert!(update.starts_with(&format!("UPDATE {} SET", kind.table())));
            }
        }
    }
}
