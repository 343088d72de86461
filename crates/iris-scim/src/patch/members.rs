//! Group `members` operations. Memberships live in their own table (design-notes: "never a JSON
//! array of members"), so PATCH turns them into [`MemberOp`]s for the store instead of editing the
//! document; that keeps a membership change O(Δ) however large the group is.

use serde_json::{Map, Value};

use crate::error::{ScimError, ScimResult};
use crate::filter::{CompValue, CompareOp, Filter};
use crate::limits;

use super::request::{OpKind, get_ci};
use super::{MemberOp, MemberRef};

/// The membership change an operation on `members` asks for; `None` when it changes nothing
/// (an `add` of no members, a `remove` listing none).
pub(super) fn member_op(
    kind: OpKind,
    filter: Option<&Filter>,
    sub: bool,
    value: Option<&Value>,
) -> ScimResult<Option<MemberOp>> {
    if sub {
        return Err(ScimError::mutability(
            "the sub-attributes of 'members' cannot be modified; add or remove the member instead",
        ));
    }
    if let Some(filter) = filter {
        let ids = filter_ids(filter)?;
        return Ok(Some(match kind {
            OpKind::Remove => MemberOp::Remove(ids),
            // `add members[value eq "x"]`: make x a member (the value-path upsert, for members).
            OpKind::Add | OpKind::Replace => MemberOp::Add(
                ids.into_iter()
                    .map(|value| MemberRef {
                        value,
                        member_type: None,
                    })
                    .collect(),
            ),
        }));
    }
    let value = value.filter(|v| !v.is_null());
    match (kind, value) {
        // No filter and no value: RFC 7644 §3.5.2.2 "all values are removed".
        (OpKind::Remove, None) => Ok(Some(MemberOp::RemoveAll)),
        // With a value, Entra's default-mode member removal: only the listed members go.
        (OpKind::Remove, Some(v)) => {
            crate::quirks::note(crate::quirks::Quirk::RemoveByValue);
            let ids: Vec<String> = member_refs(v)?.into_iter().map(|r| r.value).collect();
            Ok((!ids.is_empty()).then_some(MemberOp::Remove(ids)))
        }
        (OpKind::Add, Some(v)) => {
            let refs = member_refs(v)?;
            Ok((!refs.is_empty()).then_some(MemberOp::Add(refs)))
        }
        (OpKind::Replace, Some(v)) => {
            let refs = member_refs(v)?;
            Ok(Some(if refs.is_empty() {
                MemberOp::RemoveAll
            } else {
                MemberOp::Replace(refs)
            }))
        }
        (OpKind::Add, None) => Ok(None),
        (OpKind::Replace, None) => Ok(Some(MemberOp::RemoveAll)),
    }
}

/// The member ids a filter on `members` selects. Members are not loaded into memory, so only
/// filters that name ids are understood: `value eq "id"`, joined by `or`.
fn filter_ids(filter: &Filter) -> ScimResult<Vec<String>> {
    match filter {
        Filter::Compare(path, CompareOp::Eq, CompValue::Str(id))
            if path.urn.is_none()
                && path.sub.is_none()
                && path.attr.eq_ignore_ascii_case("value") =>
        {
            Ok(vec![id.clone()])
        }
        Filter::Or(left, right) => {
            let mut ids = filter_ids(left)?;
            ids.extend(filter_ids(right)?);
            dedup(&mut ids, |id| id.as_str());
            Ok(ids)
        }
        _ => Err(ScimError::invalid_filter(
            "members can only be selected by 'value eq \"<id>\"' (optionally joined by 'or')",
        )),
    }
}

/// Members from the shapes clients send: `[{"value": id, "type": "User", "$ref": null}]`, one such
/// object, or bare ids. Duplicates are dropped, first one wins.
fn member_refs(value: &Value) -> ScimResult<Vec<MemberRef>> {
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        single => vec![single],
    };
    if items.len() > limits::MAX_MEMBERS_PER_OPERATION {
        return Err(limits::too_many_members(items.len()));
    }
    let mut refs = Vec::with_capacity(items.len());
    for item in items.into_iter().filter(|v| !v.is_null()) {
        refs.push(member_ref(item)?);
    }
    dedup(&mut refs, |r| r.value.as_str());
    Ok(refs)
}

fn member_ref(item: &Value) -> ScimResult<MemberRef> {
    match item {
        Value::Object(fields) => Ok(MemberRef {
            value: member_id(get_ci(fields, "value"))?,
            member_type: member_type(fields)?,
        }),
        other => Ok(MemberRef {
            value: member_id(Some(other))?,
            member_type: None,
        }),
    }
}

fn member_id(value: Option<&Value>) -> ScimResult<String> {
    match value {
        Some(Value::String(id)) if !id.trim().is_empty() => Ok(id.trim().to_owned()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        _ => Err(ScimError::invalid_value(
            "each member needs a non-empty 'value' (its id)",
        )),
    }
}

/// `type` is `User` or `Group` (any case, stored canonically); absent or null means "unknown",
/// which the store resolves from the id.
fn member_type(fields: &Map<String, Value>) -> ScimResult<Option<String>> {
    match get_ci(fields, "type") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(t)) => ["User", "Group"]
            .into_iter()
            .find(|c| c.eq_ignore_ascii_case(t.trim()))
            .map(|c| Some(c.to_owned()))
            .ok_or_else(|| {
                ScimError::invalid_value(format!("member type '{t}' is not 'User' or 'Group'"))
            }),
        Some(_) => Err(ScimError::invalid_value("member 'type' must be a string")),
    }
}

fn dedup<T>(items: &mut Vec<T>, key: impl Fn(&T) -> &str) {
    let mut seen = std::collections::HashSet::new();
    items.retain(|item| seen.insert(key(item).to_owned()));
}
