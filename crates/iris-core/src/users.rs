//! User operations as the SCIM endpoints and tests use them: validation and PATCH happen here, in
//! memory and outside any database lock; the store only checks versions and uniqueness and writes.

use std::sync::Arc;

use iris_scim::filter::FilterLimits;
use iris_scim::patch;
use iris_scim::resource::{self, Document};
use iris_scim::schema::{self, AttrType, Attribute, ResourceType};
use iris_scim::{ScimError, ScimResult};
use serde_json::{Map, Value};

use crate::clock;
use crate::error::{CoreError, CoreResult, StoreError};
use crate::listing::PreparedList;
pub use crate::listing::{ListParams, ListResult, PageLimits};
use crate::store::{Modified, MultiValue, Mutation, ResourceRecord, Store, UserShadow, UserWrite};
use crate::tenants::Tenant;

/// Multi-valued attributes whose elements are indexed in the side table.
const INDEXED_MULTI_VALUED: [&str; 2] = ["emails", "phoneNumbers"];

/// A precondition from `If-Match`: the version the client last saw.
pub type ExpectedVersion = Option<i64>;

#[derive(Clone)]
pub struct UserService {
    store: Arc<dyn Store>,
    filter_limits: FilterLimits,
    page_limits: PageLimits,
}

fn user_type() -> &'static ResourceType {
    schema::user_type()
}

fn user_not_found(id: &str) -> CoreError {
    ScimError::not_found(format!("User {} not found", id.escape_debug())).into()
}

/// Ids are assigned by Iris (UUIDs); anything that could not be one is answered without a
/// database round trip, and control characters never reach SQL.
fn check_id(id: &str) -> CoreResult<()> {
    if plausible_id(id) {
        Ok(())
    } else {
        Err(user_not_found(id))
    }
}

/// Whether `id` could be one Iris issued; shared by every resource type.
pub(crate) fn plausible_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && !id.chars().any(char::is_control)
}

impl UserService {
    pub fn new(
        store: Arc<dyn Store>,
        filter_limits: FilterLimits,
        page_limits: PageLimits,
    ) -> Self {
        Self {
            store,
            filter_limits,
            page_limits,
        }
    }

    pub fn page_limits(&self) -> PageLimits {
        self.page_limits
    }

    pub fn filter_limits(&self) -> FilterLimits {
        self.filter_limits
    }

    pub async fn create(&self, tenant: &Tenant, body: &Value) -> CoreResult<ResourceRecord> {
        let doc = resource::document_from_request(user_type(), body)?;
        let write = user_write(uuid::Uuid::now_v7().to_string(), doc, clock::now())?;
        self.store
            .insert_user(tenant.id(), &write)
            .await
            .map_err(|e| conflict_as_uniqueness(e, &write.doc))
    }

    pub async fn get(&self, tenant: &Tenant, id: &str) -> CoreResult<ResourceRecord> {
        check_id(id)?;
        self.store
            .user(tenant.id(), id)
            .await?
            .ok_or_else(|| user_not_found(id))
    }

    pub async fn list(&self, tenant: &Tenant, params: &ListParams) -> CoreResult<ListResult> {
        let prepared =
            PreparedList::new(user_type(), params, &self.filter_limits, self.page_limits)?;
        let page = self
            .store
            .list_users(tenant.id(), &prepared.query())
            .await?;
        Ok(prepared.finish(page))
    }

    /// PUT: replaces every writable attribute (RFC 7644 §3.5.1); `id` and `meta.created` stay.
    pub async fn replace(
        &self,
        tenant: &Tenant,
        id: &str,
        body: &Value,
        expected: ExpectedVersion,
    ) -> CoreResult<ResourceRecord> {
        // Validation happens before the write lock is taken.
        let doc = resource::document_from_request(user_type(), body)?;
        let user_name = doc
            .get("userName")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let write = user_write(id.to_owned(), doc, clock::now())?;
        let mutate = move |current: &ResourceRecord| {
            check_precondition(current, expected)?;
            Ok(Some(over_current(current, write.clone())))
        };
        self.modify(tenant, id, &mutate, &user_name).await
    }

    /// PATCH: applies all operations or none, on the current version under the row's write lock,
    /// so concurrent PATCHes of one user (from any process) never lose an update.
    pub async fn patch(
        &self,
        tenant: &Tenant,
        id: &str,
        body: &Value,
        expected: ExpectedVersion,
    ) -> CoreResult<ResourceRecord> {
        let mutate = |current: &ResourceRecord| {
            check_precondition(current, expected)?;
            let mut doc = current.doc.clone();
            let outcome = patch::apply_patch(user_type(), &mut doc, body)?;
            if !outcome.changed {
                return Ok(None);
            }
            let write = user_write(current.id.clone(), doc, clock::now())?;
            Ok(Some(over_current(current, write)))
        };
        self.modify(tenant, id, &mutate, "").await
    }

    async fn modify(
        &self,
        tenant: &Tenant,
        id: &str,
        mutate: Mutation<'_>,
        user_name: &str,
    ) -> CoreResult<ResourceRecord> {
        check_id(id)?;
        match self.store.modify_user(tenant.id(), id, mutate).await {
            Ok(Modified::Updated(record) | Modified::Unchanged(record)) => Ok(record),
            Ok(Modified::Rejected(e)) => Err(e.into()),
            Err(StoreError::NotFound) => Err(user_not_found(id)),
            Err(StoreError::Conflict) => Err(user_name_taken(user_name)),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn delete(
        &self,
        tenant: &Tenant,
        id: &str,
        expected: ExpectedVersion,
    ) -> CoreResult<()> {
        check_id(id)?;
        match self.store.delete_user(tenant.id(), id, expected).await {
            Err(StoreError::NotFound) => Err(user_not_found(id)),
            other => Ok(other?),
        }
    }
}

pub(crate) fn check_precondition(
    current: &ResourceRecord,
    expected: ExpectedVersion,
) -> ScimResult<()> {
    match expected {
        Some(v) if v != current.version => Err(ScimError::precondition_failed(format!(
            "the resource is at version W/\"{}\", not W/\"{v}\"",
            current.version
        ))),
        _ => Ok(()),
    }
}

fn user_name_taken(user_name: &str) -> CoreError {
    let detail = if user_name.is_empty() {
        "another user of this tenant already has that userName".to_owned()
    } else {
        format!("a user with userName '{user_name}' already exists")
    };
    ScimError::uniqueness(detail).into()
}

fn conflict_as_uniqueness(e: StoreError, doc: &Document) -> CoreError {
    match e {
        StoreError::Conflict => user_name_taken(
            doc.get("userName")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        ),
        other => other.into(),
    }
}

/// Derives the write (document plus shadow columns) for a user document, refusing values too long
/// to index.
pub fn user_write(id: String, doc: Document, now: String) -> ScimResult<UserWrite> {
    let shadow = user_shadow(&doc);
    check_indexed_lengths(&shadow)?;
    Ok(UserWrite {
        id,
        doc,
        shadow,
        now,
        rewrite_values: true,
    })
}

/// `write` as an update of `current`: the side-table rows are rewritten only if they change.
fn over_current(current: &ResourceRecord, mut write: UserWrite) -> UserWrite {
    write.rewrite_values = indexed_values(&current.doc) != write.shadow.values;
    write
}

fn indexed_values(doc: &Document) -> Vec<MultiValue> {
    INDEXED_MULTI_VALUED
        .iter()
        .flat_map(|attr| multi_values(doc, attr))
        .collect()
}

/// Longest value, in bytes, of an attribute that is indexed (userName, externalId, displayName,
/// the values and types of emails and phoneNumbers). PostgreSQL's B-tree entries hold at most
/// about 2.7 kB; real identifiers and addresses stay far below this.
pub const MAX_INDEXED_VALUE_BYTES: usize = 1024;

fn check_indexed_lengths(shadow: &UserShadow) -> ScimResult<()> {
    let too_long = |name: &str, value: Option<&str>| match value {
        Some(v) if v.len() > MAX_INDEXED_VALUE_BYTES => Err(ScimError::invalid_value(format!(
            "'{name}' is longer than {MAX_INDEXED_VALUE_BYTES} bytes"
        ))),
        _ => Ok(()),
    };
    too_long("userName", Some(&shadow.user_name_lower))?;
    too_long("externalId", shadow.external_id.as_deref())?;
    too_long("displayName", shadow.display_name_lower.as_deref())?;
    for v in &shadow.values {
        too_long(&format!("{}.value", v.attribute), Some(&v.value_lower))?;
        too_long(&format!("{}.type", v.attribute), v.type_lower.as_deref())?;
    }
    Ok(())
}

fn user_shadow(doc: &Document) -> UserShadow {
    let lower = |key: &str| doc.get(key).and_then(Value::as_str).map(str::to_lowercase);
    let values = indexed_values(doc);
    UserShadow {
        user_name_lower: lower("userName").unwrap_or_default(),
        external_id: doc
            .get("externalId")
            .and_then(Value::as_str)
            .map(str::to_owned),
        display_name_lower: lower("displayName"),
        active: doc.get("active").and_then(Value::as_bool),
        values,
        search_doc: Value::Object(search_projection(user_type(), doc)),
    }
}

fn multi_values(doc: &Document, attribute: &'static str) -> Vec<MultiValue> {
    let Some(Value::Array(items)) = doc.get(attribute) else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| {
            let value = item.get("value")?.as_str()?;
            Some(MultiValue {
                attribute,
                type_lower: item
                    .get("type")
                    .and_then(Value::as_str)
                    .map(str::to_lowercase),
                primary: item
                    .get("primary")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                value_lower: value.to_lowercase(),
            })
        })
        .collect()
}

/// The document with every string of a case-insensitive attribute lowercased, so the databases can
/// compare bytes instead of folding case (SQLite's `lower()` folds ASCII only).
pub fn search_projection(rt: &ResourceType, doc: &Document) -> Map<String, Value> {
    let mut out = Map::with_capacity(doc.len());
    for (key, value) in doc {
        let projected = if let Some(ext) = rt.extension(key) {
            match value {
                Value::Object(fields) => {
                    let mut inner = Map::new();
                    for (k, v) in fields {
                        let attr = ext.attribute(k);
                        inner.insert(
                            k.clone(),
                            attr.map_or_else(|| v.clone(), |a| lower_value(a, v)),
                        );
                    }
                    Value::Object(inner)
                }
                other => other.clone(),
            }
        } else {
            match rt.schema.attribute(key) {
                Some(attr) => lower_value(attr, value),
                None => value.clone(),
            }
        };
        out.insert(key.clone(), projected);
    }
    out
}

fn lower_value(attr: &Attribute, value: &Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.iter().map(|v| lower_value(attr, v)).collect()),
        Value::Object(fields) if attr.ty == AttrType::Complex => Value::Object(
            fields
                .iter()
                .map(|(k, v)| {
                    let lowered = attr
                        .sub_attribute(k)
                        .map_or_else(|| v.clone(), |sub| lower_value(sub, v));
                    (k.clone(), lowered)
                })
                .collect(),
        ),
        Value::String(s) if !attr.case_exact && attr.ty != AttrType::DateTime => {
            Value::String(s.to_lowercase())
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shadow_columns_fold_unicode_case() {
        let doc = resource::document_from_request(
            user_type(),
            &json!({"userName": "ÉMILE@Example.org", "externalId": "AbC", "active": "False",
                    "emails": [{"type": "Work", "value": "É@X.org", "primary": true}],
                    "name": {"givenName": "ÉMILE"}}),
        )
        .unwrap();
        let shadow = user_shadow(&doc);
        assert_eq!(shadow.user_name_lower, "émile@example.org");
        assert_eq!(shadow.external_id.as_deref(), Some("AbC"));
        assert_eq!(shadow.active, Some(false));
        assert_eq!(shadow.values[0].type_lower.as_deref(), Some("work"));
        assert_eq!(shadow.values[0].value_lower, "é@x.org");
        assert_eq!(shadow.search_doc["name"]["givenName"], "émile");
        // externalId is caseExact: kept as sent in the search projection.
        assert_eq!(shadow.search_doc["externalId"], "AbC");
    }
}
