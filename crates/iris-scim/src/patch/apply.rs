//! Applying one operation to one attribute. Each function computes the attribute's next value from
//! its current value; `apply` reads and writes the document around them.

use serde_json::{Map, Value};

use crate::error::{ScimError, ScimResult};
use crate::limits;
use crate::resource::Document;
use crate::schema::{AttrType, Attribute, Schema};

use super::elements;
use super::request::OpKind;
use super::slot;
use super::target::Target;
use super::value;

/// Applies `kind` with `value` to `target` in `doc` (whose core schema is `core`).
pub(super) fn apply(
    doc: &mut Document,
    core: &Schema,
    target: &Target,
    kind: OpKind,
    value: Option<&Value>,
) -> ScimResult<()> {
    let current = slot::take(doc, core, target.schema, target.attr);
    let next = next_value(target, kind, current, value)?;
    if let Some(Value::Array(items)) = &next
        && target.attr.max_values.is_some_and(|max| items.len() > max)
    {
        return Err(limits::too_many_values(target.attr.name));
    }
    slot::put(doc, core, target.schema, target.attr, next);
    Ok(())
}

/// What an operation does, with the value `add`/`replace` require already checked.
enum Change<'v> {
    Set(&'v Value),
    Remove(Option<&'v Value>),
}

impl<'v> Change<'v> {
    fn new(kind: OpKind, value: Option<&'v Value>, attr: &Attribute) -> ScimResult<Self> {
        match (kind, value) {
            (OpKind::Remove, value) => Ok(Self::Remove(value.filter(|v| !v.is_null()))),
            (_, Some(value)) => Ok(Self::Set(value)),
            (_, None) => Err(ScimError::invalid_value(format!(
                "an add or replace of '{}' needs a 'value'",
                attr.name
            ))),
        }
    }
}

fn next_value(
    target: &Target,
    kind: OpKind,
    current: Option<Value>,
    value: Option<&Value>,
) -> ScimResult<Option<Value>> {
    let attr = target.attr;
    let change = Change::new(kind, value, attr)?;
    match (&target.selector, target.sub) {
        (Some(selector), sub) => {
            let list = match current {
                Some(Value::Array(items)) => items,
                Some(single) => vec![single],
                None => Vec::new(),
            };
            let set = match change {
                Change::Set(v) => Some(v),
                Change::Remove(ignored) => {
                    if ignored.is_some() {
                        crate::quirks::note(crate::quirks::Quirk::IgnoredRemoveValue);
                    }
                    None
                }
            };
            let list = elements::Selected {
                attr,
                selector,
                sub,
                kind,
            }
            .apply(list, set)?;
            if attr.multi_valued {
                Ok(as_list(list))
            } else {
                single_of(attr, list)
            }
        }
        (None, Some(sub)) => sub_of_complex(current, sub, &change),
        (None, None) if attr.multi_valued => whole_list(attr, current, kind, &change),
        (None, None) if attr.ty == AttrType::Complex => whole_complex(attr, current, &change),
        (None, None) => match change {
            Change::Set(v) => value::simple(attr, v),
            Change::Remove(_) => Ok(None),
        },
    }
}

fn as_list(items: Vec<Value>) -> Option<Value> {
    (!items.is_empty()).then_some(Value::Array(items))
}

/// A filter on a single-valued complex attribute (`manager[value eq "…"]`) treats its value as a
/// list of at most one. An upsert that would need a second value cannot be stored.
fn single_of(attr: &Attribute, mut list: Vec<Value>) -> ScimResult<Option<Value>> {
    match list.len() {
        0 => Ok(None),
        1 => Ok(list.pop()),
        _ => Err(ScimError::no_target(format!(
            "'{}' holds a value that does not match the filter",
            attr.name
        ))),
    }
}

/// `name.givenName`, `manager.value`.
fn sub_of_complex(
    current: Option<Value>,
    sub: &Attribute,
    change: &Change<'_>,
) -> ScimResult<Option<Value>> {
    let mut fields = match current {
        Some(Value::Object(fields)) => fields,
        _ => Map::new(),
    };
    let next = match change {
        Change::Set(v) => value::simple(sub, v)?,
        Change::Remove(_) => None,
    };
    match next {
        Some(v) => fields.insert(sub.name.to_owned(), v),
        None => fields.shift_remove(sub.name),
    };
    Ok((!fields.is_empty()).then_some(Value::Object(fields)))
}

/// A single-valued complex attribute as a whole (`name`, `manager`).
///
/// RFC 7644 §3.5.2.1 and §3.5.2.3 agree for this case: the sub-attributes given replace those
/// stored, and the others are left unchanged, so `add` and `replace` both merge. The exception is a
/// reference (an attribute with a `value` sub-attribute, i.e. `manager`): a new `value` replaces the
/// whole complex value, because the stored `$ref`/`displayName` describe the old one. A blank
/// `value` (`{"value": ""}`) removes it, which is how Entra and the validators clear a manager.
fn whole_complex(
    attr: &Attribute,
    current: Option<Value>,
    change: &Change<'_>,
) -> ScimResult<Option<Value>> {
    let incoming = match change {
        Change::Remove(_) => return Ok(None),
        Change::Set(v) => *v,
    };
    if is_empty_value(incoming) || value::blanks_value_sub(attr, incoming) {
        return Ok(None);
    }
    if value::carries_value_sub(attr, incoming) {
        return Ok(value::complex(attr, incoming)?.map(Value::Object));
    }
    let fields = match incoming {
        Value::Object(fields) => fields,
        Value::Array(items) => match items.as_slice() {
            [Value::Object(fields)] => fields,
            // Anything else is rejected (or reshaped) by the general rules.
            _ => return Ok(value::complex(attr, incoming)?.map(Value::Object)),
        },
        _ => return Ok(value::complex(attr, incoming)?.map(Value::Object)),
    };
    merge_into(attr, current, fields)
}

fn merge_into(
    attr: &Attribute,
    current: Option<Value>,
    fields: &Map<String, Value>,
) -> ScimResult<Option<Value>> {
    let mut merged = match current {
        Some(Value::Object(fields)) => fields,
        _ => Map::new(),
    };
    for (name, v) in fields {
        // Unknown sub-attributes are ignored, as everywhere a client sends a value.
        let Some(sub) = attr.sub_attribute(name) else {
            continue;
        };
        match value::simple(sub, v)? {
            Some(v) => merged.insert(sub.name.to_owned(), v),
            None => merged.shift_remove(sub.name),
        };
    }
    Ok((!merged.is_empty()).then_some(Value::Object(merged)))
}

/// `null`, `""` and `[]`: clear.
fn is_empty_value(v: &Value) -> bool {
    value::is_blank(v) || v.as_array().is_some_and(Vec::is_empty)
}

/// A multi-valued attribute without a filter (`emails`, `roles`).
fn whole_list(
    attr: &Attribute,
    current: Option<Value>,
    kind: OpKind,
    change: &Change<'_>,
) -> ScimResult<Option<Value>> {
    let list = match current {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    };
    let next = match change {
        // RFC 7644 §3.5.2.2: no filter, no value → all values go. With a value (Entra's member
        // and multi-valued removals), exactly the listed values go, never all.
        Change::Remove(None) => Vec::new(),
        Change::Remove(Some(listed)) => {
            crate::quirks::note(crate::quirks::Quirk::RemoveByValue);
            elements::remove_listed(attr, list, listed)?
        }
        Change::Set(v) if kind == OpKind::Add => elements::append(attr, list, v)?,
        Change::Set(v) => value::elements(attr, v)?,
    };
    Ok(as_list(next))
}
