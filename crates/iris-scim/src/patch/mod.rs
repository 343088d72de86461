//! SCIM PATCH (RFC 7644 §3.5.2), with every Microsoft Entra dialect accepted at all times
//! (entra-compat.md §3.5, §4, §8, §10; lessons.md items 1–5). No per-tenant switch is needed:
//! the Entra forms either mean the same as an RFC form or are errors under the RFC.
//!
//! [`apply_patch`] applies a request to a stored [`Document`] and reports Group membership
//! changes as [`MemberOp`]s, because members live in their own table.
//!
//! Decisions, where the RFC leaves room or Entra departs from it:
//!
//! - **Body.** `schemas` may be absent (if present it must be an array of strings); `Operations`
//!   is matched case-insensitively and must be an array; an empty array is a successful no-op
//!   (the validator sends one). `op` is `add`/`replace`/`remove` in any case, else 400
//!   `invalidSyntax`. `add`/`replace` without a `value` member are 400 `invalidValue`.
//! - **Names** match case-insensitively everywhere and are stored canonically. A name without a
//!   URN that the core schema lacks is looked up in the extensions (Entra's legacy `manager`
//!   path). A key of a path-less value may itself be a value path
//!   (`"emails[type eq \"work\"].value"`) and is then treated exactly like that `path`.
//! - **Unknown attributes.** In a `path`, an unknown attribute or sub-attribute is 400
//!   `invalidPath`. A path under an extension URN Iris does not define (a custom extension an Entra
//!   admin mapped) is *ignored*, not rejected: one such attribute would otherwise fail every update
//!   of the user, disables included (entra-compat §3.5.3, Q15). Keys of a path-less value are read
//!   like a POST body: unknown ones are ignored.
//! - **`add`** sets a single-valued attribute even if it has a value (Entra's `Add`, Q3); appends
//!   to a multi-valued one, merging a value whose `value` and `type` are already stored instead of
//!   duplicating it; merges sub-attributes into a complex one.
//! - **`replace`** sets a single-valued attribute and replaces a whole multi-valued one. For a
//!   single-valued complex attribute RFC 7644 §3.5.2.3 says the given sub-attributes replace the
//!   stored ones and the others are kept, so `replace name {…}` merges exactly like `add`. The one
//!   exception is a reference (`manager`): a new `value` replaces the whole value, since the stored
//!   `$ref` describes the old manager. A path-less `replace` applies this per named attribute, so
//!   it never wipes sibling sub-attributes (lessons.md item 3).
//! - **Value paths** (`emails[type eq "work"].value`): `add`/`replace` change every matching
//!   element; when none matches, they create one from the filter's `eq` terms plus the value
//!   (Entra's upsert, Q4; RFC 7644 would answer `noTarget`, which breaks Entra). Later operations
//!   with the same filter find that element, so `addresses[type eq "work"].formatted`, `.locality`
//!   and `.region` build one address. A filter that does not describe an element (`value ew
//!   "x"`) still answers 400 `noTarget` when nothing matches. An upsert that would create an
//!   element holding only `type`/`primary` creates nothing. `replace attr[filter]` replaces whole
//!   matching elements, keeping what the filter pins.
//! - **`remove`** needs a path (400 `noTarget`, RFC 7644 §3.5.2.2). `attr[filter].sub` removes the
//!   sub-attribute and deletes elements left with only `type`/`primary`. A `value` sent with a
//!   value-path `remove` is ignored (Entra sends the old value; it is never stored). A `value` on
//!   a multi-valued attribute without a filter removes exactly the listed values, never all
//!   (lessons.md item 1). Removing something absent is a no-op.
//! - **Values.** `""` and `null` clear the target (entra-compat §5.4); `{"value": x}` and
//!   `[{"value": x}]` are unwrapped for simple targets; booleans may be `"True"`/`"False"`;
//!   `manager` may be a bare id, an object or a one-element array, and `{"value": ""}` removes it;
//!   a role whose value is serialised JSON (Q16) is stored as that string.
//! - **Mutability.** A `path` naming a read-only attribute (`id`, `meta`, `meta.*`, `groups`,
//!   `manager.displayName`) is 400 `mutability`; the same attributes echoed in a path-less value
//!   are skipped. (`id` with an unchanged value would be harmless, but the document does not hold
//!   the id, so it cannot be told apart.) The write-only `password` is accepted and discarded:
//!   Iris does not authenticate users. An immutable attribute may be set while it has no value.
//!   Removing a required attribute (`userName`, a Group's `displayName`) is 400 `mutability`, as
//!   RFC 7644 §3.5.2.2 specifies.
//! - **Primary.** Making one value `primary` clears it on the others; two new primaries at once
//!   are 400 `invalidValue`.
//! - **Atomicity.** Operations apply in order to a copy; the document is replaced only when all
//!   succeed and the result validates. `changed` is true only if the document differs or there are
//!   membership changes.
//! - **Group members** are never written to the document. Every operation on `members` (a path,
//!   `members[value eq "id"]`, a `members` key in a path-less value) becomes a [`MemberOp`], in
//!   request order. Only `value eq` filters (joined by `or`) can select members, since members are
//!   not loaded to evaluate anything else.

mod apply;
mod elements;
mod members;
mod request;
mod selector;
mod slot;
mod target;
mod validate;
mod value;

#[cfg(test)]
mod cost;
#[cfg(test)]
mod limit_tests;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod quirk_tests;
#[cfg(test)]
mod tests;

use serde_json::Value;

use crate::error::{ScimError, ScimResult};
use crate::resource::Document;
use crate::schema::{ResourceType, Schema};

use request::{OpKind, Operation};
use target::Destination;

/// A reference to a group member, as a PATCH names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRef {
    /// The member's id.
    pub value: String,
    /// `User` or `Group` when the client said which.
    pub member_type: Option<String>,
}

/// A change to a group's membership, for the store to apply in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberOp {
    /// Make these members (already-present ones are not an error).
    Add(Vec<MemberRef>),
    /// Remove the members with these ids (absent ones are not an error).
    Remove(Vec<String>),
    /// Remove every member.
    RemoveAll,
    /// Set the membership to exactly these members.
    Replace(Vec<MemberRef>),
}

/// What a PATCH did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatchOutcome {
    /// Whether the document or the membership changed (the version and `lastModified` move only
    /// then).
    pub changed: bool,
    /// Membership changes, in request order. Always empty for resource types without `members`.
    pub member_ops: Vec<MemberOp>,
    /// The identity-provider dialects the request used that Iris understood.
    pub quirks: Vec<crate::quirks::Quirk>,
}

/// Applies a PATCH request body to `doc`. On error `doc` is left exactly as it was.
pub fn apply_patch(
    rt: &'static ResourceType,
    doc: &mut Document,
    body: &Value,
) -> ScimResult<PatchOutcome> {
    let (outcome, quirks) = crate::quirks::observe(|| apply_operations(rt, doc, body));
    let mut outcome = outcome?;
    outcome.quirks = quirks;
    Ok(outcome)
}

fn apply_operations(
    rt: &'static ResourceType,
    doc: &mut Document,
    body: &Value,
) -> ScimResult<PatchOutcome> {
    let ops = request::parse_operations(body)?;
    let mut patcher = Patcher {
        rt,
        doc: doc.clone(),
        member_ops: Vec::new(),
    };
    for (index, op) in ops.iter().enumerate() {
        patcher.apply(op).map_err(|e| in_operation(index, e))?;
    }
    validate::check(rt, doc, &patcher.doc)?;
    let changed = patcher.doc != *doc || !patcher.member_ops.is_empty();
    *doc = patcher.doc;
    Ok(PatchOutcome {
        changed,
        member_ops: patcher.member_ops,
        quirks: Vec::new(),
    })
}

/// Prefixes an error with the operation it came from, which is what an admin reading Entra's
/// provisioning log needs to find the offending mapping.
fn in_operation(index: usize, err: ScimError) -> ScimError {
    ScimError {
        detail: format!("Operations[{index}]: {}", err.detail),
        ..err
    }
}

/// The working state of one request.
struct Patcher {
    rt: &'static ResourceType,
    doc: Document,
    member_ops: Vec<MemberOp>,
}

impl Patcher {
    fn apply(&mut self, op: &Operation<'_>) -> ScimResult<()> {
        let Some(path) = op.path else {
            return match op.kind {
                OpKind::Remove => Err(ScimError::no_target("a remove operation needs a 'path'")),
                OpKind::Add | OpKind::Replace => self.apply_value_object(op.kind, op.value),
            };
        };
        match target::resolve_path(self.rt, path)? {
            Destination::Attribute(target) => {
                apply::apply(&mut self.doc, self.rt.schema, &target, op.kind, op.value)
            }
            Destination::Members { filter, sub } => {
                self.member_op(members::member_op(op.kind, filter.as_ref(), sub, op.value)?);
                Ok(())
            }
            Destination::Extension(ext) => match (op.kind, op.value) {
                (OpKind::Remove, _) => {
                    slot::clear_extension(&mut self.doc, ext);
                    Ok(())
                }
                (_, Some(value)) => self.apply_extension(ext, op.kind, value),
                (_, None) => Err(missing_value()),
            },
            Destination::Ignored => {
                crate::quirks::note(crate::quirks::Quirk::IgnoredExtension);
                Ok(())
            }
        }
    }

    /// A path-less `add`/`replace`: every key of the value object is applied as if it were the
    /// path of its own operation.
    fn apply_value_object(&mut self, kind: OpKind, value: Option<&Value>) -> ScimResult<()> {
        match value {
            Some(Value::Object(fields)) => {
                for (key, v) in fields {
                    self.apply_key(None, kind, key, v)?;
                }
                Ok(())
            }
            Some(_) => Err(ScimError::invalid_value(
                "an add or replace without a 'path' needs an object 'value'",
            )),
            None => Err(missing_value()),
        }
    }

    fn apply_key(
        &mut self,
        within: Option<&'static Schema>,
        kind: OpKind,
        key: &str,
        value: &Value,
    ) -> ScimResult<()> {
        // A value-path key (`"emails[type eq \"work\"].value": …`) is read as the path it is.
        let destination = if within.is_none() && key.contains('[') {
            target::resolve_path(self.rt, key)?
        } else {
            target::resolve_key(self.rt, within, key)?
        };
        if within.is_none() && is_qualified_key(key, &destination) {
            crate::quirks::note(crate::quirks::Quirk::PathlessDottedKey);
        }
        match destination {
            Destination::Attribute(target) => {
                apply::apply(&mut self.doc, self.rt.schema, &target, kind, Some(value))
            }
            Destination::Members { filter, sub } => {
                self.member_op(members::member_op(kind, filter.as_ref(), sub, Some(value))?);
                Ok(())
            }
            Destination::Extension(ext) => self.apply_extension(ext, kind, value),
            Destination::Ignored => Ok(()),
        }
    }

    /// `"urn:…:enterprise:2.0:User": {…}`: each attribute inside is applied on its own, so the
    /// extension's other attributes are kept. A blank value clears the extension.
    fn apply_extension(
        &mut self,
        ext: &'static Schema,
        kind: OpKind,
        value: &Value,
    ) -> ScimResult<()> {
        match value {
            v if value::is_blank(v) => {
                slot::clear_extension(&mut self.doc, ext);
                Ok(())
            }
            Value::Object(fields) => {
                for (key, v) in fields {
                    self.apply_key(Some(ext), kind, key, v)?;
                }
                Ok(())
            }
            _ => Err(ScimError::invalid_value(format!(
                "'{}' must be an object",
                ext.id
            ))),
        }
    }

    fn member_op(&mut self, op: Option<MemberOp>) {
        self.member_ops.extend(op);
    }
}

/// Whether a key of a path-less value is a path rather than an attribute name: dotted
/// (`name.givenName`), a value path, or an attribute qualified by its schema's URN (the whole
/// extension object under its URN is the RFC's own form).
fn is_qualified_key(key: &str, destination: &Destination) -> bool {
    let name = key.rsplit(':').next().unwrap_or(key);
    key.contains('[')
        || name.contains('.')
        || (key.starts_with("urn:") && !matches!(destination, Destination::Extension(_)))
}

fn missing_value() -> ScimError {
    ScimError::invalid_value("an add or replace operation needs a 'value'")
}
