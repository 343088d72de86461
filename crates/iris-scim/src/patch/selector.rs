//! Which values of an attribute a value-path operation addresses, and what a new value must hold
//! to be addressed by it (for Entra's upsert). Built on the filter module: the bracket filter is
//! resolved as `attr[filter]` against the resource type, and an element is tested by evaluating
//! the bracket filter on the element itself.

use serde_json::{Map, Value};

use crate::error::{ScimError, ScimResult};
use crate::filter::eval::matches_element;
use crate::filter::{AttrPath, CompValue, CompareOp, Filter, Resolved, resolve};
use crate::schema::{Attribute, ResourceType, Schema};

/// Selects values of one attribute.
#[derive(Debug)]
pub(super) struct Selector {
    /// The filter inside the brackets, resolved with paths relative to one value (`type eq
    /// "work"`). `None` selects every value (`emails.value` without a filter).
    filter: Option<Resolved>,
    /// The element the filter describes: its `eq` terms, when the filter is nothing but `eq`
    /// terms joined by `and`. `None` if no element can be built to match it.
    seed: Option<Map<String, Value>>,
}

impl Selector {
    /// Every value.
    pub fn all() -> Self {
        Self {
            filter: None,
            seed: Some(Map::new()),
        }
    }

    /// The values of `attr` (defined by `schema`) that `filter` — whose paths are relative to one
    /// value, as in `type eq "work"` — matches.
    pub fn from_filter(
        rt: &'static ResourceType,
        schema: &'static Schema,
        attr: &'static Attribute,
        filter: &Filter,
    ) -> ScimResult<Self> {
        let qualified = AttrPath {
            urn: Some(schema.id.to_owned()),
            attr: attr.name.to_owned(),
            sub: None,
        };
        let resolved = resolve(&Filter::value_path(qualified, filter.clone()), rt)?;
        let Resolved::ValuePath(_, inner) = resolved else {
            // Resolution turns `attr[filter]` into a value path or refuses it.
            return Err(ScimError::invalid_path(format!(
                "'{}[…]' is not a value filter",
                attr.name
            )));
        };
        Ok(Self {
            seed: seed_of(&inner),
            filter: Some(*inner),
        })
    }

    /// Whether the stored value `element` is selected. The filter is evaluated on the value
    /// itself, so testing every value of an attribute copies none of them.
    pub fn matches(&self, element: &Value) -> bool {
        self.filter
            .as_ref()
            .is_none_or(|filter| matches_element(filter, element))
    }

    /// The sub-attributes a value created for this selector starts with.
    pub fn seed(&self) -> Option<&Map<String, Value>> {
        self.seed.as_ref()
    }
}

/// The element a conjunction of `eq` terms describes: `type eq "work" and primary eq true` →
/// `{"type": "work", "primary": true}`. Literals are already typed by resolution (`"True"` → true).
fn seed_of(filter: &Resolved) -> Option<Map<String, Value>> {
    match filter {
        Resolved::Compare(attr, CompareOp::Eq, literal) => {
            let value = match literal {
                CompValue::Str(s) => Value::String(s.clone()),
                CompValue::Num(n) => Value::Number(n.clone()),
                CompValue::Bool(b) => Value::Bool(*b),
                CompValue::Null => return None,
            };
            Some(Map::from_iter([(attr.sub?.name.to_owned(), value)]))
        }
        Resolved::And(left, right) => {
            let mut seed = seed_of(left)?;
            for (name, value) in seed_of(right)? {
                // `type eq "a" and type eq "b"` describes no element.
                if seed.get(&name).is_some_and(|v| *v != value) {
                    return None;
                }
                seed.insert(name, value);
            }
            Some(seed)
        }
        _ => None,
    }
}
