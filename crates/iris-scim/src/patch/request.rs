//! Reading a PATCH request body (RFC 7644 §3.5.2) into operations, tolerantly: keys and op names
//! match case-insensitively (Entra sends `Operations` with `"op": "Replace"`).

use serde_json::{Map, Value};

use crate::error::{ScimError, ScimResult};
use crate::limits;

/// The three PATCH operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OpKind {
    Add,
    Replace,
    Remove,
}

impl OpKind {
    fn parse(name: &str) -> Option<Self> {
        [
            ("add", Self::Add),
            ("replace", Self::Replace),
            ("remove", Self::Remove),
        ]
        .into_iter()
        .find(|(word, _)| word.eq_ignore_ascii_case(name))
        .map(|(_, kind)| kind)
    }
}

/// One entry of `Operations`, borrowed from the body.
#[derive(Debug, Clone, Copy)]
pub(super) struct Operation<'a> {
    pub kind: OpKind,
    /// `None` when absent, `null` or blank: the operation targets the resource itself.
    pub path: Option<&'a str>,
    /// `None` when the member is absent; an explicit `null` is kept (it means "clear").
    pub value: Option<&'a Value>,
}

/// Parses the body into its operations, in order.
pub(super) fn parse_operations(body: &Value) -> ScimResult<Vec<Operation<'_>>> {
    let Some(body) = body.as_object() else {
        return Err(ScimError::invalid_syntax(
            "the PATCH body must be a JSON object",
        ));
    };
    // `schemas` should name the PatchOp message, but Iris does not insist: only a malformed
    // `schemas` member is an error, the same rule as for POST and PUT bodies.
    if let Some(schemas) = body.get("schemas")
        && !schemas
            .as_array()
            .is_some_and(|a| a.iter().all(Value::is_string))
    {
        return Err(ScimError::invalid_syntax(
            "'schemas' must be an array of schema URNs",
        ));
    }
    let Some(ops) = get_ci(body, "Operations") else {
        return Err(ScimError::invalid_syntax(
            "the PATCH body has no 'Operations'",
        ));
    };
    let Some(ops) = ops.as_array() else {
        return Err(ScimError::invalid_syntax("'Operations' must be an array"));
    };
    if ops.len() > limits::MAX_PATCH_OPERATIONS {
        return Err(limits::too_many_operations(ops.len()));
    }
    ops.iter()
        .enumerate()
        .map(|(i, op)| parse_operation(i, op))
        .collect()
}

fn parse_operation(index: usize, op: &Value) -> ScimResult<Operation<'_>> {
    let Some(op) = op.as_object() else {
        return Err(ScimError::invalid_syntax(format!(
            "Operations[{index}] must be an object"
        )));
    };
    let kind = match get_ci(op, "op") {
        Some(Value::String(name)) => {
            let kind = OpKind::parse(name).ok_or_else(|| {
                ScimError::invalid_syntax(format!(
                    "Operations[{index}]: unknown op '{name}', expected add, replace or remove"
                ))
            })?;
            if name.chars().any(|c| c.is_ascii_uppercase()) {
                crate::quirks::note(crate::quirks::Quirk::OpNameCase);
            }
            kind
        }
        Some(_) => {
            return Err(ScimError::invalid_syntax(format!(
                "Operations[{index}]: 'op' must be a string"
            )));
        }
        None => {
            return Err(ScimError::invalid_syntax(format!(
                "Operations[{index}] has no 'op'"
            )));
        }
    };
    let path = match get_ci(op, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(path)) if path.trim().is_empty() => None,
        Some(Value::String(path)) => Some(path.trim()),
        Some(_) => {
            return Err(ScimError::invalid_path(format!(
                "Operations[{index}]: 'path' must be a string"
            )));
        }
    };
    Ok(Operation {
        kind,
        path,
        value: get_ci(op, "value"),
    })
}

/// A member of `map` by name, exact match first, then case-insensitively.
pub(super) fn get_ci<'m>(map: &'m Map<String, Value>, name: &str) -> Option<&'m Value> {
    map.get(name).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}
