//! Checks on the whole document once every operation has been applied: a PATCH may pass through an
//! invalid state between operations (RFC 7644 §3.5.2 applies them in order, atomically), so the
//! rules that span attributes are checked on the result only.

use serde_json::Value;

use crate::error::{ScimError, ScimResult};
use crate::resource::Document;
use crate::schema::{Attribute, Mutability, ResourceType, Schema};

use super::slot;
use super::value::is_blank;

/// Validates `after` against the resource type, given the document `before` the request.
pub(super) fn check(rt: &ResourceType, before: &Document, after: &Document) -> ScimResult<()> {
    let schemas = std::iter::once(rt.schema).chain(rt.extensions.iter().map(|(s, _)| *s));
    for schema in schemas {
        for attr in &schema.attributes {
            let old = slot::get(before, rt.schema, schema, attr);
            let new = slot::get(after, rt.schema, schema, attr);
            check_required(rt, schema, attr, new)?;
            check_immutable(attr, old, new)?;
            check_primary(attr, new)?;
        }
    }
    Ok(())
}

/// RFC 7644 §3.5.2.2: "If an attribute is removed or becomes unassigned and is defined as a
/// required attribute …, the server SHALL return … a scimType error code of mutability". Only the
/// core schema's required attributes apply, as on create.
fn check_required(
    rt: &ResourceType,
    schema: &Schema,
    attr: &Attribute,
    new: Option<&Value>,
) -> ScimResult<()> {
    if attr.required && schema.id == rt.schema.id && new.is_none_or(is_blank) {
        return Err(ScimError::mutability(format!(
            "'{}' is required and cannot be removed",
            attr.name
        )));
    }
    Ok(())
}

/// RFC 7644 §3.5.2: an immutable attribute may be given a value when it has none, and never changed
/// afterwards (setting the same value again is not a change).
fn check_immutable(attr: &Attribute, old: Option<&Value>, new: Option<&Value>) -> ScimResult<()> {
    if attr.mutability == Mutability::Immutable && old.is_some() && old != new {
        return Err(ScimError::mutability(format!(
            "'{}' is immutable and already has a value",
            attr.name
        )));
    }
    Ok(())
}

/// RFC 7643 §2.4: `primary: true` appears at most once. The operations keep this as they go; this
/// is the last line of defence.
fn check_primary(attr: &Attribute, new: Option<&Value>) -> ScimResult<()> {
    let Some(Value::Array(items)) = new else {
        return Ok(());
    };
    let primaries = items
        .iter()
        .filter(|e| e.get("primary") == Some(&Value::Bool(true)))
        .count();
    if primaries > 1 {
        return Err(ScimError::invalid_value(format!(
            "at most one value of '{}' may be primary",
            attr.name
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::schema::user_type;

    #[test]
    fn an_immutable_attribute_can_be_set_once_but_not_changed() {
        // No attribute of the built-in schemas is immutable at the top level; borrow one.
        let mut attr = user_type().schema.attribute("externalId").unwrap().clone();
        attr.mutability = Mutability::Immutable;
        let (a, b) = (json!("a"), json!("b"));
        assert!(check_immutable(&attr, None, Some(&a)).is_ok());
        assert!(check_immutable(&attr, Some(&a), Some(&a)).is_ok());
        let err = check_immutable(&attr, Some(&a), Some(&b)).unwrap_err();
        assert_eq!(err.scim_type, Some(crate::error::ScimType::Mutability));
        assert!(check_immutable(&attr, Some(&a), None).is_err());
    }
}
