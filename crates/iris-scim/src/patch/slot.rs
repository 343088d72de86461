//! Reading and writing one attribute of a stored document, wherever its schema keeps it (core
//! attributes at the top level, extension attributes under the extension's URN).

use serde_json::Value;

use crate::resource::{Document, container_mut};
use crate::schema::{Attribute, Schema};

fn is_core(doc_schema: &Schema, schema: &Schema) -> bool {
    doc_schema.id == schema.id
}

/// The current value of `attr`, if set.
pub(super) fn get<'d>(
    doc: &'d Document,
    core: &Schema,
    schema: &Schema,
    attr: &Attribute,
) -> Option<&'d Value> {
    if is_core(core, schema) {
        doc.get(attr.name)
    } else {
        doc.get(schema.id)?.as_object()?.get(attr.name)
    }
}

/// Takes the current value of `attr` out of the document, for an operation to compute the next one
/// from without copying it. `null` holds its place, so [`put`] keeps the attribute where it was;
/// should the operation fail, the request fails and its working copy of the document is dropped.
pub(super) fn take(
    doc: &mut Document,
    core: &Schema,
    schema: &Schema,
    attr: &Attribute,
) -> Option<Value> {
    let slot = if is_core(core, schema) {
        doc.get_mut(attr.name)
    } else {
        doc.get_mut(schema.id)?.as_object_mut()?.get_mut(attr.name)
    };
    slot.map(Value::take)
}

/// Sets `attr` to `value`, or removes it when `None`. An extension object left empty is removed
/// too, so the document never holds `"urn:…": {}`.
pub(super) fn put(
    doc: &mut Document,
    core: &Schema,
    schema: &'static Schema,
    attr: &Attribute,
    value: Option<Value>,
) {
    if is_core(core, schema) {
        match value {
            Some(v) => doc.insert(attr.name.to_owned(), v),
            None => doc.shift_remove(attr.name),
        };
        return;
    }
    if value.is_none() && !doc.contains_key(schema.id) {
        return;
    }
    let container = container_mut(doc, schema);
    match value {
        Some(v) => container.insert(attr.name.to_owned(), v),
        None => container.shift_remove(attr.name),
    };
    if container.is_empty() {
        doc.shift_remove(schema.id);
    }
}

/// Removes every attribute of an extension schema.
pub(super) fn clear_extension(doc: &mut Document, schema: &Schema) {
    doc.shift_remove(schema.id);
}
