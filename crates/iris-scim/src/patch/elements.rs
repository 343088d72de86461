//! Operations on the values of a multi-valued attribute: appending without duplicates, removing
//! listed values, and the value-path forms (`emails[type eq "work"].value`) with Entra's upsert.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use crate::error::{ScimError, ScimResult};
use crate::resource::canonical_text;
use crate::schema::Attribute;

use super::request::OpKind;
use super::selector::Selector;
use super::value::{self, Comparable};

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
            crate::quirks::note(crate::quirks::Quirk::ValuePathUpsert);
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
            crate::quirks::note(crate::quirks::Quirk::ValuePathUpsert);
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

/// Up to this many values given by one operation are looked for one by one among the stored values;
/// beyond it the stored values are indexed first. Either way an operation costs in proportion to
/// what the attribute and the operation hold, never their product.
const LOOKED_UP_ONE_BY_ONE: usize = 8;

/// `add` to a multi-valued attribute without a filter: each given value is appended unless the
/// attribute already holds it. A value with the same `value` and `type` as a stored one is merged
/// into it instead (RFC 7644 §3.5.2.1: "If the target location already contains the value
/// specified, no changes SHOULD be made"), so repeated adds never duplicate.
pub(super) fn append(attr: &Attribute, mut list: Vec<Value>, v: &Value) -> ScimResult<Vec<Value>> {
    let incoming = value::elements(attr, v)?;
    let mut index = (incoming.len() > LOOKED_UP_ONE_BY_ONE).then(|| {
        let mut index = HashMap::with_capacity(list.len() + incoming.len());
        for (i, element) in list.iter().enumerate() {
            // The first of several values with one identity is the one a new value merges into.
            index.entry(Identity::of(attr, element)).or_insert(i);
        }
        index
    });
    let mut touched = Vec::with_capacity(incoming.len());
    for element in incoming {
        let identity = Identity::of(attr, &element);
        let found = match &index {
            Some(index) => index.get(&identity).copied(),
            None => list.iter().position(|stored| identity.is(stored, &element)),
        };
        match found {
            Some(i) => {
                if let (Some(existing), Value::Object(fields)) =
                    (list.get_mut(i).and_then(Value::as_object_mut), element)
                {
                    existing.extend(fields);
                }
                touched.push(i);
            }
            None => {
                if let Some(index) = &mut index {
                    index.insert(identity, list.len());
                }
                list.push(element);
                touched.push(list.len() - 1);
            }
        }
    }
    settle_primary(attr, &mut list, &touched)?;
    Ok(list)
}

/// Which stored value an added value refers to: the one with the same `value` and `type` (under
/// their `caseExact` rules) when the added value has a `value`, otherwise an equal one.
#[derive(Debug, PartialEq, Eq, Hash)]
enum Identity {
    Keyed {
        value: Comparable,
        ty: Option<Comparable>,
    },
    Whole(String),
}

impl Identity {
    fn of(attr: &Attribute, element: &Value) -> Self {
        match element.get("value") {
            Some(v) => Self::Keyed {
                value: Comparable::of(attr.sub_attribute("value"), v),
                ty: element
                    .get("type")
                    .map(|t| Comparable::of(attr.sub_attribute("type"), t)),
            },
            None => Self::Whole(canonical_text(element)),
        }
    }

    /// Whether `stored` has the identity of `element` (whose identity this is), without building
    /// the stored value's own.
    fn is(&self, stored: &Value, element: &Value) -> bool {
        match self {
            Self::Keyed { value, ty } => {
                stored.get("value").is_some_and(|v| value.is(v))
                    && match (ty, stored.get("type")) {
                        (Some(ty), Some(t)) => ty.is(t),
                        (None, None) => true,
                        _ => false,
                    }
            }
            Self::Whole(_) => stored == element,
        }
    }
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
    let patterns: Vec<Pattern> = listed.iter().map(|l| Pattern::of(attr, l)).collect();
    if patterns.len() <= LOOKED_UP_ONE_BY_ONE {
        return Ok(list
            .into_iter()
            .filter(|stored| !patterns.iter().any(|p| p.identifies(stored)))
            .collect());
    }
    let index = ListedIndex::new(patterns);
    Ok(list
        .into_iter()
        .filter(|stored| !index.identifies(attr, stored))
        .collect())
}

/// What one listed value of a `remove` matches: stored values with its `value`; without a `value`,
/// those holding all of its sub-attributes; a value that is not an object, an equal value.
enum Pattern {
    Value(Comparable),
    Fields(Vec<(String, Comparable)>),
    Whole(Value),
}

impl Pattern {
    fn of(attr: &Attribute, listed: &Value) -> Self {
        let Some(fields) = listed.as_object() else {
            return Self::Whole(listed.clone());
        };
        if let Some(v) = fields.get("value") {
            return Self::Value(Comparable::of(attr.sub_attribute("value"), v));
        }
        let mut fields: Vec<(String, Comparable)> = fields
            .iter()
            .map(|(name, v)| (name.clone(), Comparable::of(attr.sub_attribute(name), v)))
            .collect();
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        Self::Fields(fields)
    }

    fn identifies(&self, stored: &Value) -> bool {
        match self {
            Self::Value(value) => stored.get("value").is_some_and(|v| value.is(v)),
            Self::Fields(fields) => {
                !fields.is_empty()
                    && fields
                        .iter()
                        .all(|(name, v)| stored.get(name).is_some_and(|s| v.is(s)))
            }
            Self::Whole(listed) => listed == stored,
        }
    }
}

/// Many listed values, hashed: a stored value is looked up by its `value`, by its sub-attributes
/// named together in some listed value, and as a whole.
#[derive(Default)]
struct ListedIndex {
    values: HashSet<Comparable>,
    by_fields: HashMap<Vec<String>, HashSet<Vec<Comparable>>>,
    whole: HashSet<String>,
}

impl ListedIndex {
    fn new(patterns: Vec<Pattern>) -> Self {
        let mut index = Self::default();
        for pattern in patterns {
            match pattern {
                Pattern::Value(value) => {
                    index.values.insert(value);
                }
                Pattern::Fields(fields) if !fields.is_empty() => {
                    let (names, key): (Vec<String>, Vec<Comparable>) = fields.into_iter().unzip();
                    index.by_fields.entry(names).or_default().insert(key);
                }
                Pattern::Fields(_) => {}
                Pattern::Whole(listed) => {
                    index.whole.insert(canonical_text(&listed));
                }
            }
        }
        index
    }

    fn identifies(&self, attr: &Attribute, stored: &Value) -> bool {
        let Some(fields) = stored.as_object() else {
            return !self.whole.is_empty() && self.whole.contains(&canonical_text(stored));
        };
        let by_value = !self.values.is_empty()
            && fields.get("value").is_some_and(|v| {
                self.values
                    .contains(&Comparable::of(attr.sub_attribute("value"), v))
            });
        by_value
            || self.by_fields.iter().any(|(names, keys)| {
                let projected: Option<Vec<Comparable>> = names
                    .iter()
                    .map(|name| {
                        let v = fields.get(name)?;
                        Some(Comparable::of(attr.sub_attribute(name), v))
                    })
                    .collect();
                projected.is_some_and(|key| keys.contains(&key))
            })
    }
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

#[cfg(test)]
mod tests {
    //! Values given by one operation are looked up one by one or through an index, depending on
    //! how many there are; both ways must agree with applying the values one at a time.
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;
    use crate::schema::user_type;

    fn emails_attr() -> &'static Attribute {
        user_type().schema.attribute("emails").unwrap()
    }

    /// E-mail-like values that collide often: a few addresses in varying case, optional types
    /// and displays, and some values without a `value` at all.
    fn element() -> impl Strategy<Value = Value> {
        let address = prop::sample::select(vec![
            "a@x.org", "A@X.org", "b@x.org", "c@x.org", "Ä@x.org", "ä@x.org",
        ]);
        let ty = prop::option::of(prop::sample::select(vec!["work", "Work", "home"]));
        let display = prop::option::of(prop::sample::select(vec!["d1", "D1", "d2"]));
        (prop::bool::weighted(0.85), address, ty, display).prop_map(|(has_value, a, t, d)| {
            let mut e = serde_json::Map::new();
            if has_value {
                e.insert("value".into(), json!(a));
            }
            if let Some(t) = t {
                e.insert("type".into(), json!(t));
            }
            if let Some(d) = d.or((!has_value).then_some("d0")) {
                e.insert("display".into(), json!(d));
            }
            Value::Object(e)
        })
    }

    fn list() -> impl Strategy<Value = Vec<Value>> {
        prop::collection::vec(element(), 0..12)
    }

    fn given() -> impl Strategy<Value = Vec<Value>> {
        prop::collection::vec(element(), 0..(3 * LOOKED_UP_ONE_BY_ONE))
    }

    proptest! {
        #[test]
        fn adding_many_values_at_once_equals_adding_them_one_at_a_time(stored in list(), given in given()) {
            let attr = emails_attr();
            let at_once = append(attr, stored.clone(), &Value::Array(given.clone())).unwrap();
            let mut one_by_one = stored;
            // `elements` keeps the first of identical values, as the operation at once does.
            for element in value::elements(attr, &Value::Array(given)).unwrap() {
                one_by_one = append(attr, one_by_one, &Value::Array(vec![element])).unwrap();
            }
            prop_assert_eq!(at_once, one_by_one);
        }

        #[test]
        fn removing_many_listed_values_at_once_equals_removing_them_one_at_a_time(stored in list(), listed in given()) {
            let attr = emails_attr();
            let at_once = remove_listed(attr, stored.clone(), &Value::Array(listed.clone())).unwrap();
            let mut one_by_one = stored;
            for l in listed {
                one_by_one = remove_listed(attr, one_by_one, &Value::Array(vec![l])).unwrap();
            }
            prop_assert_eq!(at_once, one_by_one);
        }
    }

    #[test]
    fn a_value_is_recognised_by_value_and_type_under_their_case_rules() {
        let attr = emails_attr();
        let stored = vec![
            json!({"value": "Ann@Example.com", "type": "work"}),
            json!({"value": "ann@example.com"}),
        ];
        // More values than are looked up one by one, so the index is used.
        let mut given: Vec<Value> = (0..LOOKED_UP_ONE_BY_ONE)
            .map(|i| json!({"value": format!("n{i}@example.com")}))
            .collect();
        given.push(json!({"value": "ANN@example.COM", "type": "Work", "display": "Ann"}));
        given.push(json!({"value": "ann@EXAMPLE.com", "display": "no type"}));
        let after = append(attr, stored, &Value::Array(given)).unwrap();
        assert_eq!(after.len(), 2 + LOOKED_UP_ONE_BY_ONE);
        assert_eq!(
            after[0],
            json!({"value": "ANN@example.COM", "type": "Work", "display": "Ann"})
        );
        assert_eq!(
            after[1],
            json!({"value": "ann@EXAMPLE.com", "display": "no type"})
        );
    }
}
