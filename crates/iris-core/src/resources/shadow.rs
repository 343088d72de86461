//! What a resource's document derives for the store: the shadow columns its constraints and
//! indexes use, its side-table rows, and its search projection. Derived the same way for every
//! kind, from what the kind's schema has.

use iris_scim::resource::Document;
use iris_scim::schema::{AttrType, Attribute, ResourceKind, ResourceType};
use iris_scim::{ScimError, ScimResult};
use serde_json::{Map, Value};

use crate::store::{MultiValue, ResourceRecord, ResourceWrite, Shadow};

/// Multi-valued attributes whose elements are indexed in the side table.
const INDEXED_MULTI_VALUED: [&str; 2] = ["emails", "phoneNumbers"];

/// Longest value, in bytes, of an attribute that is indexed (userName, externalId, displayName,
/// the values and types of emails and phoneNumbers). PostgreSQL's B-tree entries hold at most
/// about 2.7 kB; real identifiers and addresses stay far below this.
pub const MAX_INDEXED_VALUE_BYTES: usize = 1024;

/// The attribute whose value is unique per tenant for `kind` (case-insensitively).
pub fn unique_attribute(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "userName",
        ResourceKind::Group => "displayName",
    }
}

/// Derives the write (document plus shadow columns) for a document of `kind`, refusing values too
/// long to index.
pub fn resource_write(
    kind: ResourceKind,
    id: String,
    doc: Document,
    now: String,
) -> ScimResult<ResourceWrite> {
    let shadow = shadow_of(kind.resource_type(), &doc);
    check_indexed_lengths(&shadow)?;
    Ok(ResourceWrite {
        id,
        doc,
        shadow,
        now,
        rewrite_values: true,
    })
}

/// `write` as an update of `current`: the side-table rows are rewritten only if they change.
pub(crate) fn over_current(current: &ResourceRecord, mut write: ResourceWrite) -> ResourceWrite {
    write.rewrite_values = indexed_values(&current.doc) != write.shadow.values;
    write
}

fn shadow_of(rt: &ResourceType, doc: &Document) -> Shadow {
    let text = |key: &str| doc.get(key).and_then(Value::as_str);
    let display_name = text("displayName").map(str::to_owned);
    Shadow {
        user_name_lower: text("userName").map(str::to_lowercase),
        display_name_lower: display_name.as_deref().map(str::to_lowercase),
        display_name,
        external_id: text("externalId").map(str::to_owned),
        active: doc.get("active").and_then(Value::as_bool),
        values: indexed_values(doc),
        search_doc: Value::Object(search_projection(rt, doc)),
    }
}

fn check_indexed_lengths(shadow: &Shadow) -> ScimResult<()> {
    let too_long = |name: &str, value: Option<&str>| match value {
        Some(v) if v.len() > MAX_INDEXED_VALUE_BYTES => Err(ScimError::invalid_value(format!(
            "'{name}' is longer than {MAX_INDEXED_VALUE_BYTES} bytes"
        ))),
        _ => Ok(()),
    };
    too_long("userName", shadow.user_name_lower.as_deref())?;
    too_long("externalId", shadow.external_id.as_deref())?;
    too_long("displayName", shadow.display_name.as_deref())?;
    for v in &shadow.values {
        too_long(&format!("{}.value", v.attribute), Some(&v.value_lower))?;
        too_long(&format!("{}.type", v.attribute), v.type_lower.as_deref())?;
    }
    Ok(())
}

fn indexed_values(doc: &Document) -> Vec<MultiValue> {
    INDEXED_MULTI_VALUED
        .iter()
        .flat_map(|attr| multi_values(doc, attr))
        .collect()
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
    use iris_scim::resource;
    use serde_json::json;

    #[test]
    fn shadow_columns_fold_unicode_case() {
        let rt = ResourceKind::User.resource_type();
        let doc = resource::document_from_request(
            rt,
            &json!({"userName": "ÉMILE@Example.org", "externalId": "AbC", "active": "False",
                    "emails": [{"type": "Work", "value": "É@X.org", "primary": true}],
                    "name": {"givenName": "ÉMILE"}}),
        )
        .unwrap();
        let shadow = shadow_of(rt, &doc);
        assert_eq!(shadow.user_name_lower.as_deref(), Some("émile@example.org"));
        assert_eq!(shadow.external_id.as_deref(), Some("AbC"));
        assert_eq!(shadow.active, Some(false));
        assert_eq!(shadow.values[0].type_lower.as_deref(), Some("work"));
        assert_eq!(shadow.values[0].value_lower, "é@x.org");
        assert_eq!(shadow.search_doc["name"]["givenName"], "émile");
        // externalId is caseExact: kept as sent in the search projection.
        assert_eq!(shadow.search_doc["externalId"], "AbC");
    }

    #[test]
    fn a_group_derives_its_display_name_both_ways_and_no_user_columns() {
        let rt = ResourceKind::Group.resource_type();
        let doc = resource::document_from_request(
            rt,
            &json!({"displayName": "Ops Team", "externalId": "G-1"}),
        )
        .unwrap();
        let shadow = shadow_of(rt, &doc);
        assert_eq!(shadow.display_name.as_deref(), Some("Ops Team"));
        assert_eq!(shadow.display_name_lower.as_deref(), Some("ops team"));
        assert_eq!(shadow.user_name_lower, None);
        assert!(shadow.values.is_empty());
        let long = "x".repeat(MAX_INDEXED_VALUE_BYTES + 1);
        let doc = resource::document_from_request(rt, &json!({"displayName": long})).unwrap();
        assert!(resource_write(ResourceKind::Group, "g".into(), doc, "now".into()).is_err());
    }
}
