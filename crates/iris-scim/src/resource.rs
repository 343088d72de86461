//! Turning what a client sends into the stored document, and the stored document back into what a
//! client reads. The stored document holds only client-writable data under canonical attribute names
//! (core attributes at the top level, extension attributes under their schema URN); `id`, `meta` and
//! derived attributes are rendered around it.
//!
//! Tolerant reader: attribute names match case-insensitively, booleans may arrive as `"True"`,
//! unknown attributes and read-only ones are ignored, `null` means absent. Strict writer: what is
//! stored and returned is always canonical, typed JSON.

use serde_json::{Map, Value};

use crate::error::{ScimError, ScimResult};
use crate::limits;
use crate::schema::{AttrType, Attribute, Mutability, ResourceType, Schema};

pub type Document = Map<String, Value>;

/// Builds the stored document of a new or replaced resource from a POST/PUT body.
pub fn document_from_request(rt: &'static ResourceType, body: &Value) -> ScimResult<Document> {
    let Some(input) = body.as_object() else {
        return Err(ScimError::invalid_syntax(
            "the request body must be a JSON object",
        ));
    };
    if let Some(schemas) = input.get("schemas") {
        check_schemas(schemas)?;
    }
    let mut doc = Document::new();
    for (key, value) in input {
        if key == "schemas" {
            continue;
        }
        if let Some(ext) = rt.extension(key) {
            merge_extension(&mut doc, ext, value)?;
            continue;
        }
        let Some((schema, name)) = rt.split_urn(key) else {
            continue; // an extension we do not know: ignored (entra-compat Q15)
        };
        let path: Vec<&str> = name.split('.').collect();
        set_path(&mut doc, schema, &path, value)?;
    }
    check_required(rt, &doc)?;
    Ok(doc)
}

fn check_schemas(schemas: &Value) -> ScimResult<()> {
    let ok = schemas
        .as_array()
        .is_some_and(|a| a.iter().all(Value::is_string));
    if ok {
        Ok(())
    } else {
        Err(ScimError::invalid_syntax(
            "'schemas' must be an array of schema URNs",
        ))
    }
}

fn merge_extension(doc: &mut Document, ext: &'static Schema, value: &Value) -> ScimResult<()> {
    match value {
        Value::Null => Ok(()),
        Value::Object(fields) => {
            for (name, v) in fields {
                set_path(doc, ext, &[name.as_str()], v)?;
            }
            Ok(())
        }
        _ => Err(ScimError::invalid_value(format!(
            "'{}' must be an object",
            ext.id
        ))),
    }
}

/// Sets one attribute (`["name"]`) or sub-attribute (`["name", "givenName"]`) from client input.
/// Read-only and unknown attributes are skipped.
pub fn set_path(
    doc: &mut Document,
    schema: &'static Schema,
    path: &[&str],
    value: &Value,
) -> ScimResult<()> {
    let Some(attr) = path.first().and_then(|n| schema.attribute(n)) else {
        return Ok(());
    };
    if attr.mutability == Mutability::ReadOnly || attr.mutability == Mutability::WriteOnly {
        // readOnly values are assigned by Iris; writeOnly ones (password) are not kept: Iris does
        // not authenticate users, so storing a password would only create a liability.
        return Ok(());
    }
    let target = container_mut(doc, schema);
    match path {
        [_] => match coerce(attr, value)? {
            Some(v) => {
                target.insert(attr.name.to_owned(), v);
            }
            None => {
                target.shift_remove(attr.name);
            }
        },
        [_, sub_name] if attr.ty == AttrType::Complex && !attr.multi_valued => {
            let Some(sub) = attr.sub_attribute(sub_name) else {
                return Ok(());
            };
            let parent = target
                .entry(attr.name.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !parent.is_object() {
                *parent = Value::Object(Map::new());
            }
            if let Value::Object(p) = parent {
                match coerce(sub, value)? {
                    Some(v) => {
                        p.insert(sub.name.to_owned(), v);
                    }
                    None => {
                        p.shift_remove(sub.name);
                    }
                }
                if p.is_empty() {
                    target.shift_remove(attr.name);
                }
            }
        }
        _ => {
            return Err(ScimError::invalid_path(format!(
                "'{}' is not a valid attribute path",
                path.join(".")
            )));
        }
    }
    if schema_is_extension(schema) && target.is_empty() {
        doc.shift_remove(schema.id);
    }
    Ok(())
}

fn schema_is_extension(schema: &Schema) -> bool {
    schema.id != crate::schema::USER && schema.id != crate::schema::GROUP
}

/// The object that holds `schema`'s attributes: the document itself for a core schema, the
/// URN-keyed sub-object for an extension.
pub fn container_mut<'d>(doc: &'d mut Document, schema: &Schema) -> &'d mut Document {
    if !schema_is_extension(schema) {
        return doc;
    }
    let slot = doc
        .entry(schema.id.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    match slot {
        Value::Object(map) => map,
        _ => unreachable_object(),
    }
}

#[allow(clippy::panic)]
fn unreachable_object() -> ! {
    // `slot` was made an object two lines above; this cannot happen.
    panic!("container is not an object")
}

/// Validates and canonicalises a value for `attr`. `Ok(None)` means "absent" (null, empty array,
/// empty complex value).
pub fn coerce(attr: &Attribute, value: &Value) -> ScimResult<Option<Value>> {
    if value.is_null() {
        return Ok(None);
    }
    if attr.multi_valued {
        let items: Vec<&Value> = match value {
            Value::Array(items) => items.iter().collect(),
            single => vec![single],
        };
        let mut out = Vec::with_capacity(items.len());
        // RFC 7643 §2.4: a multi-valued attribute holds no value twice; the first one is kept.
        let mut seen = std::collections::HashSet::with_capacity(items.len());
        for item in items {
            if let Some(v) = coerce_single(attr, item)?
                && seen.insert(canonical_text(&v))
            {
                out.push(v);
                if attr.max_values.is_some_and(|max| out.len() > max) {
                    return Err(limits::too_many_values(attr.name));
                }
            }
        }
        check_single_primary(attr, &out)?;
        return Ok((!out.is_empty()).then_some(Value::Array(out)));
    }
    // Entra sends single-valued complex attributes (manager) as a one-element array.
    let value = match value {
        Value::Array(items) if attr.ty == AttrType::Complex => match items.as_slice() {
            [] => return Ok(None),
            [one] => one,
            _ => {
                return Err(ScimError::invalid_value(format!(
                    "'{}' is single-valued but got several values",
                    attr.name
                )));
            }
        },
        other => other,
    };
    coerce_single(attr, value)
}

/// `value` as JSON text with object keys in sorted order: equal values give equal text.
pub(crate) fn canonical_text(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let fields: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::from(k.as_str()), canonical_text(&map[k])))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(canonical_text).collect();
            format!("[{}]", items.join(","))
        }
        other => other.to_string(),
    }
}

fn check_single_primary(attr: &Attribute, items: &[Value]) -> ScimResult<()> {
    let primaries = items
        .iter()
        .filter(|v| v.get("primary").and_then(Value::as_bool) == Some(true))
        .count();
    if primaries > 1 {
        return Err(ScimError::invalid_value(format!(
            "at most one value of '{}' may be primary",
            attr.name
        )));
    }
    Ok(())
}

fn coerce_single(attr: &Attribute, value: &Value) -> ScimResult<Option<Value>> {
    if value.is_null() {
        return Ok(None);
    }
    if attr.ty == AttrType::Complex {
        return coerce_complex(attr, value);
    }
    coerce_simple(attr, value).map(Some)
}

fn coerce_complex(attr: &Attribute, value: &Value) -> ScimResult<Option<Value>> {
    let fields = match value {
        Value::Object(fields) => fields,
        // A bare value for a complex attribute with a `value` sub-attribute: Entra's
        // `"manager": "id"`, or `"emails": ["a@b"]`.
        Value::String(_) | Value::Number(_) | Value::Bool(_)
            if attr.sub_attribute("value").is_some() =>
        {
            let mut out = Map::new();
            if let Some(sub) = attr.sub_attribute("value")
                && let Some(v) = coerce_single(sub, value)?
            {
                out.insert(sub.name.to_owned(), v);
            }
            return Ok((!out.is_empty()).then_some(Value::Object(out)));
        }
        _ => {
            return Err(ScimError::invalid_value(format!(
                "'{}' must be an object",
                attr.name
            )));
        }
    };
    let mut out = Map::new();
    for (name, v) in fields {
        let Some(sub) = attr.sub_attribute(name) else {
            continue;
        };
        if let Some(v) = coerce_single(sub, v)? {
            out.insert(sub.name.to_owned(), v);
        }
    }
    Ok((!out.is_empty()).then_some(Value::Object(out)))
}

fn type_error(attr: &Attribute, value: &Value) -> ScimError {
    ScimError::invalid_value(format!(
        "'{}' must be of type {}, got {}",
        attr.name,
        attr.ty.as_str(),
        json_kind(value)
    ))
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn coerce_simple(attr: &Attribute, value: &Value) -> ScimResult<Value> {
    match attr.ty {
        AttrType::Boolean => parse_bool(value)
            .map(Value::Bool)
            .ok_or_else(|| type_error(attr, value)),
        AttrType::String | AttrType::Reference | AttrType::Binary => match value {
            // NUL cannot be stored by PostgreSQL and is never meaningful in an identity value;
            // refusing it keeps both backends identical.
            Value::String(s) if s.contains('\0') => Err(ScimError::invalid_value(format!(
                "'{}' must not contain a NUL character",
                attr.name
            ))),
            Value::String(_) => Ok(value.clone()),
            // Tolerated: some clients send employeeNumber and the like as JSON numbers.
            Value::Number(n) => Ok(Value::String(n.to_string())),
            Value::Bool(b) => Ok(Value::String(b.to_string())),
            _ => Err(type_error(attr, value)),
        },
        AttrType::Integer => match value {
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(value.clone()),
            Value::String(s) => s
                .trim()
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| type_error(attr, value)),
            _ => Err(type_error(attr, value)),
        },
        AttrType::Decimal => match value {
            Value::Number(_) => Ok(value.clone()),
            Value::String(s) => s
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .ok_or_else(|| type_error(attr, value)),
            _ => Err(type_error(attr, value)),
        },
        AttrType::DateTime => match value {
            Value::String(s) if parse_datetime(s).is_some() => Ok(value.clone()),
            _ => Err(ScimError::invalid_value(format!(
                "'{}' must be an RFC 3339 date-time",
                attr.name
            ))),
        },
        AttrType::Complex => Err(type_error(attr, value)),
    }
}

/// JSON booleans, and the strings `"true"`/`"false"` in any case (Entra sends `"True"`/`"False"`).
pub fn parse_bool(value: &Value) -> Option<bool> {
    let parsed = match value {
        Value::Bool(b) => return Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    };
    if parsed.is_some() {
        crate::quirks::note(crate::quirks::Quirk::StringBoolean);
    }
    parsed
}

pub fn parse_datetime(s: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
}

fn check_required(rt: &ResourceType, doc: &Document) -> ScimResult<()> {
    for attr in rt.schema.attributes.iter().filter(|a| a.required) {
        let present = match doc.get(attr.name) {
            Some(Value::String(s)) => !s.trim().is_empty(),
            Some(v) => !v.is_null(),
            None => false,
        };
        if !present {
            return Err(ScimError::invalid_value(format!(
                "'{}' is required",
                attr.name
            )));
        }
    }
    Ok(())
}

/// Metadata Iris keeps beside the document.
#[derive(Debug, Clone)]
pub struct Meta {
    pub created: String,
    pub last_modified: String,
    pub version: i64,
    pub location: String,
}

impl Meta {
    /// The weak entity tag of this version (RFC 7644 §3.14).
    pub fn etag(&self) -> String {
        format!("W/\"{}\"", self.version)
    }
}

/// The full resource as clients read it: `schemas`, `id`, the document, then `meta`.
/// `extra` holds derived attributes (a user's `groups`) that are not part of the document.
pub fn render(rt: &ResourceType, id: &str, doc: &Document, extra: Document, meta: &Meta) -> Value {
    let mut out = Map::with_capacity(doc.len() + 4);
    let mut schemas = vec![Value::from(rt.schema.id)];
    schemas.extend(
        rt.extensions
            .iter()
            .filter(|(s, _)| doc.contains_key(s.id))
            .map(|(s, _)| Value::from(s.id)),
    );
    out.insert("schemas".into(), Value::Array(schemas));
    out.insert("id".into(), Value::from(id));
    for (k, v) in doc {
        out.insert(k.clone(), v.clone());
    }
    out.extend(extra);
    out.insert(
        "meta".into(),
        serde_json::json!({
            "resourceType": rt.name,
            "created": meta.created,
            "lastModified": meta.last_modified,
            "location": meta.location,
            "version": meta.etag(),
        }),
    );
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{ENTERPRISE_USER, user_type};
    use serde_json::json;

    #[test]
    fn entra_create_body_is_stored_canonically() {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
            "UserName": "Test_User_00aa00aa",
            "active": "True",
            "emails": [{"Primary": "true", "type": "work", "value": "t@testuser.com"}],
            "meta": {"resourceType": "User"},
            "name": {"formatted": "g f", "familyName": "f", "givenName": "g"},
            "roles": [],
            "addresses": null,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "Department": "R&D", "manager": "m-1"
            }
        });
        let doc = document_from_request(user_type(), &body).unwrap();
        assert_eq!(doc["userName"], "Test_User_00aa00aa");
        assert_eq!(doc["active"], true);
        assert_eq!(doc["emails"][0]["primary"], true);
        assert!(!doc.contains_key("roles"));
        assert!(!doc.contains_key("addresses"));
        assert!(!doc.contains_key("meta"));
        assert_eq!(doc[ENTERPRISE_USER]["department"], "R&D");
        assert_eq!(doc[ENTERPRISE_USER]["manager"], json!({"value": "m-1"}));
    }

    #[test]
    fn identical_values_of_a_multi_valued_attribute_are_kept_once() {
        let doc = document_from_request(
            user_type(),
            &json!({"userName": "d", "emails": [
                {"value": "a@x.org", "type": "work", "primary": true},
                {"value": "b@x.org", "type": "home"},
                {"type": "work", "primary": "True", "value": "a@x.org"}
            ]}),
        )
        .unwrap();
        assert_eq!(
            doc["emails"],
            json!([{"value": "a@x.org", "type": "work", "primary": true},
                   {"value": "b@x.org", "type": "home"}])
        );
    }

    #[test]
    fn a_multi_valued_attribute_holds_at_most_the_limit_but_group_members_are_not_counted() {
        use crate::limits::MAX_VALUES_PER_ATTRIBUTE;
        let values = |n: usize, attr: &str| -> Value {
            (0..n)
                .map(|i| json!({"value": format!("{attr}-{i}")}))
                .collect()
        };
        for attr in ["emails", "phoneNumbers", "roles", "entitlements"] {
            let at_limit = json!({"userName": "u", attr: values(MAX_VALUES_PER_ATTRIBUTE, attr)});
            let doc = document_from_request(user_type(), &at_limit).unwrap();
            assert_eq!(
                doc[attr].as_array().map(Vec::len),
                Some(MAX_VALUES_PER_ATTRIBUTE)
            );
            let over = json!({"userName": "u", attr: values(MAX_VALUES_PER_ATTRIBUTE + 1, attr)});
            let err = document_from_request(user_type(), &over).unwrap_err();
            assert_eq!(err.status, 400);
            assert_eq!(err.scim_type, Some(crate::error::ScimType::InvalidValue));
            assert!(err.detail.contains(&format!("'{attr}'")), "{err}");
            assert!(err.detail.contains("maxValuesPerAttribute"), "{err}");
        }
        // Duplicates are kept once, so they do not count twice.
        let mut repeated = values(MAX_VALUES_PER_ATTRIBUTE, "emails");
        if let Value::Array(items) = &mut repeated {
            items.extend(items.clone());
        }
        document_from_request(user_type(), &json!({"userName": "u", "emails": repeated})).unwrap();
        // A group's members live in their own table: 20 times the limit is fine.
        let members = values(20 * MAX_VALUES_PER_ATTRIBUTE, "m");
        let group = json!({"displayName": "All", "members": members});
        let doc = document_from_request(crate::schema::group_type(), &group).unwrap();
        assert_eq!(
            doc["members"].as_array().map(Vec::len),
            Some(20 * MAX_VALUES_PER_ATTRIBUTE)
        );
    }

    #[test]
    fn missing_user_name_is_invalid_value() {
        let err = document_from_request(user_type(), &json!({"active": true})).unwrap_err();
        assert_eq!(err.status, 400);
        assert_eq!(err.scim_type, Some(crate::error::ScimType::InvalidValue));
    }

    #[test]
    fn wrong_types_are_rejected() {
        for body in [
            json!({"userName": "a", "active": "yes"}),
            json!({"userName": "a", "name": "x"}),
            json!({"userName": {"x": 1}}),
            json!({"userName": "a", "emails": [{"value": "a", "primary": true}, {"value": "b", "primary": true}]}),
        ] {
            let err = document_from_request(user_type(), &body).unwrap_err();
            assert_eq!(err.status, 400, "{body}");
        }
    }

    #[test]
    fn read_only_and_write_only_attributes_are_not_stored() {
        let body = json!({"userName": "a", "id": "x", "groups": [{"value": "g"}], "password": "p"});
        let doc = document_from_request(user_type(), &body).unwrap();
        assert_eq!(doc.len(), 1);
    }
}
