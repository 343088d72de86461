//! Turning the many shapes of a PATCH `value` into canonical stored JSON. Entra wraps simple values
//! (`{"value": x}`, `[{"value": x}]`), sends booleans as `"True"`, and uses `""`/`null` to mean
//! "clear" (entra-compat §5.4, Q2, Q6); everything here reduces those to one canonical form, using
//! `resource::coerce` for the type rules so PATCH stores exactly what POST would.

use serde_json::{Map, Value};

use crate::error::{ScimError, ScimResult};
use crate::resource::coerce;
use crate::schema::{AttrType, Attribute};

use super::request::get_ci;

static NULL: Value = Value::Null;

/// Keys a wrapper object around a simple value may carry (`$ref`/`display` come along with
/// reference-shaped values and carry nothing the simple target could keep).
const WRAPPER_KEYS: [&str; 3] = ["value", "$ref", "display"];

/// `null`, `""` (or only whitespace): "no value", which PATCH treats as "clear the target".
pub(super) fn is_blank(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

/// The canonical value for a simple (non-complex) target, or `None` to clear it.
pub(super) fn simple(attr: &Attribute, value: &Value) -> ScimResult<Option<Value>> {
    let value = unwrap_simple(attr, value)?;
    if is_blank(value) {
        return Ok(None);
    }
    coerce(attr, value)
}

/// Unwraps `{"value": x}`, `[x]` and `[{"value": x}]` (one level, as Entra sends them) for a
/// simple single-valued target. An empty array is "no value".
fn unwrap_simple<'v>(attr: &Attribute, value: &'v Value) -> ScimResult<&'v Value> {
    let value = match value {
        Value::Array(items) => match items.as_slice() {
            [] => return Ok(&NULL),
            [one] => {
                crate::quirks::note(crate::quirks::Quirk::WrappedSimpleValue);
                one
            }
            _ => return Err(several_values(attr)),
        },
        other => other,
    };
    match value {
        Value::Object(fields) if is_wrapper(fields) => {
            crate::quirks::note(crate::quirks::Quirk::WrappedSimpleValue);
            Ok(get_ci(fields, "value").unwrap_or(&NULL))
        }
        Value::Object(_) | Value::Array(_) => Err(ScimError::invalid_value(format!(
            "'{}' must be a single {} value",
            attr.name,
            attr.ty.as_str()
        ))),
        other => Ok(other),
    }
}

fn is_wrapper(fields: &Map<String, Value>) -> bool {
    get_ci(fields, "value").is_some()
        && fields
            .keys()
            .all(|k| WRAPPER_KEYS.iter().any(|w| w.eq_ignore_ascii_case(k)))
}

fn several_values(attr: &Attribute) -> ScimError {
    ScimError::invalid_value(format!(
        "'{}' is single-valued but got several values",
        attr.name
    ))
}

/// One value of a complex attribute (a single-valued complex attribute, or one element of a
/// multi-valued one), canonical and without blank sub-attributes; `None` if nothing is left.
/// Accepts an object, a bare value for the `value` sub-attribute, and a one-element array.
pub(super) fn complex(attr: &Attribute, value: &Value) -> ScimResult<Option<Map<String, Value>>> {
    let value = match value {
        Value::Array(items) => match items.as_slice() {
            [] => return Ok(None),
            [one] => one,
            _ => return Err(several_values(attr)),
        },
        other => other,
    };
    if is_blank(value) {
        return Ok(None);
    }
    // `coerce` on a multi-valued attribute returns an array; take its single element.
    let coerced = match coerce(attr, value)? {
        Some(Value::Array(mut items)) => items.pop(),
        other => other,
    };
    Ok(coerced.and_then(into_object).and_then(strip_blank_fields))
}

/// All values for a multi-valued attribute, canonical, blank sub-attributes and empty elements
/// dropped. `coerce` also rejects more than one `primary: true`.
pub(super) fn elements(attr: &Attribute, value: &Value) -> ScimResult<Vec<Value>> {
    let Some(Value::Array(items)) = coerce(attr, value)? else {
        return Ok(Vec::new());
    };
    Ok(items
        .into_iter()
        .filter_map(|item| match item {
            Value::Object(fields) => strip_blank_fields(fields).map(Value::Object),
            other => Some(other),
        })
        .collect())
}

/// Whether an incoming complex value explicitly blanks its `value` sub-attribute
/// (`{"value": ""}`): the validators' and Entra's way to remove a manager.
pub(super) fn blanks_value_sub(attr: &Attribute, value: &Value) -> bool {
    if attr.sub_attribute("value").is_none() {
        return false;
    }
    match single(value) {
        Value::Object(fields) => get_ci(fields, "value").is_some_and(is_blank),
        _ => false,
    }
}

/// Whether an incoming complex value names its `value` sub-attribute, in any shape.
pub(super) fn carries_value_sub(attr: &Attribute, value: &Value) -> bool {
    if attr.sub_attribute("value").is_none() {
        return false;
    }
    match single(value) {
        Value::Object(fields) => get_ci(fields, "value").is_some(),
        Value::String(_) | Value::Number(_) | Value::Bool(_) => true,
        _ => false,
    }
}

/// The element of a one-element array, else the value itself.
fn single(value: &Value) -> &Value {
    match value.as_array().map(Vec::as_slice) {
        Some([one]) => one,
        _ => value,
    }
}

fn into_object(value: Value) -> Option<Map<String, Value>> {
    match value {
        Value::Object(fields) => Some(fields),
        _ => None,
    }
}

fn strip_blank_fields(mut fields: Map<String, Value>) -> Option<Map<String, Value>> {
    fields.retain(|_, v| !is_blank(v));
    (!fields.is_empty()).then_some(fields)
}

/// What a value of a simple (sub-)attribute is compared by, under its `caseExact` rule: two values
/// of one attribute are the same exactly when their keys are equal. Keys hash, so finding a value
/// among many stored ones is a lookup; [`Comparable::is`] compares one without building its key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Comparable {
    /// A string of a case-insensitive attribute, lowercased.
    Folded(String),
    /// A string compared exactly.
    Exact(String),
    /// A value that is not a string, as its JSON text.
    Other(String),
}

impl Comparable {
    pub fn of(attr: Option<&Attribute>, value: &Value) -> Self {
        let case_exact = attr.is_none_or(|a| a.case_exact || a.ty != AttrType::String);
        match value {
            Value::String(s) if case_exact => Self::Exact(s.clone()),
            Value::String(s) => Self::Folded(s.to_lowercase()),
            other => Self::Other(other.to_string()),
        }
    }

    /// Whether `value`, of the same attribute, is this value.
    pub fn is(&self, value: &Value) -> bool {
        match (self, value) {
            (Self::Folded(folded), Value::String(s)) => folds_to(s, folded),
            (Self::Exact(text), Value::String(s)) => s == text,
            // Rare (stored `value`s and `type`s are strings), so building the key is fine.
            (Self::Other(_), other) if !other.is_string() => Self::of(None, other) == *self,
            _ => false,
        }
    }
}

/// Whether `s` lowercases to `folded`, without allocating when `s` is ASCII.
fn folds_to(s: &str, folded: &str) -> bool {
    if s.is_ascii() {
        s.len() == folded.len()
            && s.bytes()
                .zip(folded.bytes())
                .all(|(a, b)| a.to_ascii_lowercase() == b)
    } else {
        s.to_lowercase() == folded
    }
}
