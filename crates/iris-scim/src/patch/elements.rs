//! Operations on the values of a multi-valued attribute: appending without duplicates, removing
//! listed values, and the value-path forms (`emails[type eq "work"].value`) with Entra's upsert.

use serde_json::{Map, Value};

use crate::error::{ScimError, ScimResult};
use crate::schema::Attribute;

use super::request::OpKind;
use super::selector::Selector;
use super::value;

/// Sub-attributes that only describe an element. An element left with nothing else after a
/// value-path `remove` is deleted, so `remove emails[type eq "work"].value` does not leave a
/// `{"type": "work"}` husk behind.
const DESCRIPTIVE: [&str; 2] = ["type", "primary"];

/// An operation on the elements a selector picks (`attr[filter]`, `attr[filter].sub`, `attr.sub`).
pub(super) struct Selected<'a> {
    pub attr: &'a Attribute,
    pub selector: &'a Selector,
    pub sub: Option<&'a Attribute>,
    pub kind: OpKind,
}

impl Selected<'_> {
    /// Applies the operation to `list`. `set` is the value of an `add`/`replace`; `None` means
    /// `remove`, whose value (Entra sends the old one) is deliberately not used.
    pub fn apply(&self, list: Vec<Value>, set: Option<&Value>) -> ScimResult<Vec<Value>> {
        let matched: Vec<bool> = list.iter().map(|e| self.selector.matches(e)).collect();
        match (set, self.sub) {
            (None, None) => Ok(drop_matched(list, &matched)),
            (None, Some(sub)) => Ok(remove_sub(list, &matched, sub)),
            (Some(v), Some(sub)) => match value::simple(sub, v)? {
                // Setting a sub-attribute to "" or null clears it.
                None => Ok(remove_sub(list, &matched, sub)),
                Some(v) => self.set_sub(list, &matched, sub, v),
            },
            (Some(v), None) => match value::complex(self.attr, v)? {
                None => Ok(drop_matched(list, &matched)),
                Some(element) => self.set_element(list, &matched, element),
            },
        }
    }

    /// `attr[filter].sub`: sets `sub` on every matching element, or creates the element the
    /// filter describes when none matches (Entra expects an upsert; entra-compat Q4). A later
    /// operation with the same filter finds that element, so several operations on
    /// `addresses[type eq "work"]` build one address.
    fn set_sub(
        &self,
        mut list: Vec<Value>,
        matched: &[bool],
        sub: &Attribute,
        v: Value,
    ) -> ScimResult<Vec<Value>> {
        let mut touched = indices(matched);
        if touched.is_empty() {
            let mut element = self.seed()?;
            element.insert(sub.name.to_owned(), v);
            // `phoneNumbers[type eq "work"].primary` alone describes no phone number.
            if is_hollow(&element) {
                return Ok(list);
            }
            list.push(Value::Object(element));
            touched.push(list.len() - 1);
        } else {
            for &i in &touched {
                if let Some(element) = list.get_mut(i).and_then(Value::as_object_mut) {
                    element.insert(sub.name.to_owned(), v.clone());
                }
            }
        }
        settle_primary(self.attr, &mut list, &touched)?;
        Ok(list)
    }

    /// `attr[filter]` with a whole value. `add` merges the given sub-attributes into each matching
    /// element; `replace` replaces each matching element (RFC 7644 §3.5.2.3: "all matching record
    /// values SHALL be replaced"), keeping what the filter pins (`type eq "work"`) so the element
    /// still matches the filter afterwards. No match: the element is created.
    fn set_element(
        &self,
        mut list: Vec<Value>,
        matched: &[bool],
        element: Map<String, Value>,
    ) -> ScimResult<Vec<Value>> {
        let mut touched = indices(matched);
        if touched.is_empty() {
            let element = self.seeded(element);
            if is_hollow(&element) {
                return Ok(list);
            }
            list.push(Value::Object(element));
            touched.push(list.len() - 1);
        } else {
            for &i in &touched {
                let Some(slot) = list.get_mut(i) else {
                    continue;
                };
                match (self.kind, slot.as_object_mut()) {
                    (OpKind::Add, Some(existing)) => existing.extend(element.clone()),
                    _ => *slot = Value::Object(self.seeded(element.clone())),
                }
            }
        }
        settle_primary(self.attr, &mut list, &touched)?;
        Ok(list)
    }

    fn seed(&self) -> ScimResult<Map<String, Value>> {
        self.selector.seed().cloned().ok_or_else(|| {
            ScimError::no_target(format!(
                "no value of '{}' matches the filter, and the filter does not describe one to create",
                self.attr.name
            ))
        })
    }

    /// `element` over what the filter pins; the element's own sub-attributes win.
    fn seeded(&self, element: Map<String, Value>) -> Map<String, Value> {
        let mut out = self.selector.seed().cloned().unwrap_or_default();
        out.extend(element);
        out
    }
}

/// An element with nothing but `type`/`primary` (or nothing at all).
fn is_hollow(fields: &Map<String, Value>) -> bool {
    fields.keys().all(|k| DESCRIPTIVE.contains(&k.as_str()))
}

fn indices(matched: &[bool]) -> Vec<usize> {
    matched
        .iter()
        .enumerate()
        .filter(|(_, m)| **m)
        .map(|(i, _)| i)
        .collect()
}

fn drop_matched(list: Vec<Value>, matched: &[bool]) -> Vec<Value> {
    list.into_iter()
        .zip(matched)
        .filter(|(_, m)| !**m)
        .map(|(e, _)| e)
        .collect()
}

/// Removes `sub` from the matching elements, and deletes those left with only `type`/`primary`.
fn remove_sub(list: Vec<Value>, matched: &[bool], sub: &Attribute) -> Vec<Value> {
    list.into_iter()
        .zip(matched)
        .filter_map(|(mut element, m)| {
            if !*m {
                return Some(element);
            }
            let fields = element.as_object_mut()?;
            fields.shift_remove(sub.name);
            let hollow = is_hollow(fields);
            (!hollow).then_some(element)
        })
        .collect()
}

/// `add` to a multi-valued attribute without a filter: each given value is appended unless the
/// attribute already holds it. A value with the same `value` and `type` as a stored one is merged
/// into it instead (RFC 7644 §3.5.2.1: "If the target location already contains the value
/// specified, no changes SHOULD be made"), so repeated adds never duplicate.
pub(super) fn append(attr: &Attribute, mut list: Vec<Value>, v: &Value) -> ScimResult<Vec<Value>> {
    let mut touched = Vec::new();
    for element in value::elements(attr, v)? {
        match list.iter().position(|e| same_element(attr, e, &element)) {
            Some(i) => {
                if let (Some(existing), Value::Object(fields)) =
                    (list.get_mut(i).and_then(Value::as_object_mut), element)
                {
                    existing.extend(fields);
                }
                touched.push(i);
            }
            None => {
                list.push(element);
                touched.push(list.len() - 1);
            }
        }
    }
    settle_primary(attr, &mut list, &touched)?;
    Ok(list)
}

/// Whether `stored` is the value `incoming` refers to: same `value` (and `type`) when `incoming` has
/// a `value`, otherwise equal.
fn same_element(attr: &Attribute, stored: &Value, incoming: &Value) -> bool {
    let Some(key) = incoming.get("value") else {
        return stored == incoming;
    };
    let same = |name: &str| match (stored.get(name), incoming.get(name)) {
        (Some(a), Some(b)) => value::same_simple(attr.sub_attribute(name), a, b),
        (None, None) => true,
        _ => false,
    };
    stored
        .get("value")
        .is_some_and(|v| value::same_simple(attr.sub_attribute("value"), v, key))
        && same("type")
}

/// `remove` on a multi-valued attribute with a value and no filter: exactly the listed values are
/// removed (matched by `value`, or by all given sub-attributes when there is no `value`). Never
/// all of them: Entra removes group members this way, and servers that read it as "remove all"
/// empty whole groups (lessons.md item 1).
pub(super) fn remove_listed(
    attr: &Attribute,
    list: Vec<Value>,
    listed: &Value,
) -> ScimResult<Vec<Value>> {
    let listed = value::elements(attr, listed)?;
    Ok(list
        .into_iter()
        .filter(|e| !listed.iter().any(|l| identifies(attr, l, e)))
        .collect())
}

fn identifies(attr: &Attribute, listed: &Value, stored: &Value) -> bool {
    let Some(listed) = listed.as_object() else {
        return listed == stored;
    };
    let fields: Vec<(&String, &Value)> = match listed.get_key_value("value") {
        Some(value) => vec![value],
        None => listed.iter().collect(),
    };
    !fields.is_empty()
        && fields.iter().all(|(name, v)| {
            stored
                .get(name.as_str())
                .is_some_and(|s| value::same_simple(attr.sub_attribute(name), v, s))
        })
}

fn is_primary(element: &Value) -> bool {
    element.get("primary") == Some(&Value::Bool(true))
}

/// Keeps `primary: true` on at most one element (RFC 7643 §2.4). An element the operation just made
/// primary wins; the others that were primary become `false`. Two new primaries at once are an
/// error.
fn settle_primary(attr: &Attribute, list: &mut [Value], touched: &[usize]) -> ScimResult<()> {
    let mut winners: Vec<usize> = touched
        .iter()
        .copied()
        .filter(|&i| list.get(i).is_some_and(is_primary))
        .collect();
    winners.sort_unstable();
    winners.dedup();
    match winners.as_slice() {
        [] => Ok(()),
        [winner] => {
            for (i, element) in list.iter_mut().enumerate() {
                if i != *winner
                    && is_primary(element)
                    && let Some(fields) = element.as_object_mut()
                {
                    fields.insert("primary".to_owned(), Value::Bool(false));
                }
            }
            Ok(())
        }
        _ => Err(ScimError::invalid_value(format!(
            "at most one value of '{}' may be primary",
            attr.name
        ))),
    }
}
