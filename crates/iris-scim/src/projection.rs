//! `attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9), applied to a rendered
//! resource. Attributes with `returned: always` (`id`, and `schemas`) survive every projection;
//! names are matched case-insensitively and may be URN-qualified or name sub-attributes.

use serde_json::{Map, Value};

use crate::schema::{Attribute, ResourceType, Returned, Schema};

/// One attribute reference of a projection list, resolved to canonical names.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Selector {
    /// The extension URN holding the attribute, `None` for core attributes.
    extension: Option<&'static str>,
    attr: &'static str,
    sub: Option<&'static str>,
}

/// A parsed projection request.
#[derive(Debug, Clone, Default)]
pub struct Projection {
    include: Vec<Selector>,
    exclude: Vec<Selector>,
    /// Whole extension schemas named in `attributes` / `excludedAttributes`.
    include_schemas: Vec<&'static str>,
    exclude_schemas: Vec<&'static str>,
}

impl Projection {
    /// Builds a projection from the raw comma-separated parameter values. Unknown names are
    /// ignored: asking for an attribute the server does not have selects nothing.
    pub fn parse(
        rt: &'static ResourceType,
        attributes: Option<&str>,
        excluded: Option<&str>,
    ) -> Self {
        let mut p = Self::default();
        for name in split_list(attributes) {
            match resolve(rt, name) {
                Some(Resolved::Attr(s)) => p.include.push(s),
                Some(Resolved::Schema(id)) => p.include_schemas.push(id),
                None => {}
            }
        }
        for name in split_list(excluded) {
            match resolve(rt, name) {
                Some(Resolved::Attr(s)) => p.exclude.push(s),
                Some(Resolved::Schema(id)) => p.exclude_schemas.push(id),
                None => {}
            }
        }
        p
    }

    /// Whether this projection leaves resources untouched.
    pub fn is_identity(&self) -> bool {
        self.include.is_empty()
            && self.include_schemas.is_empty()
            && self.exclude.is_empty()
            && self.exclude_schemas.is_empty()
    }

    /// Whether the client named an attribute of `attr`'s kind, so that work to produce it can be
    /// skipped when it is excluded (e.g. a group's members).
    pub fn excludes(&self, attr: &str) -> bool {
        self.exclude
            .iter()
            .any(|s| s.extension.is_none() && s.attr == attr && s.sub.is_none())
            || (!self.include.is_empty()
                && !self
                    .include
                    .iter()
                    .any(|s| s.extension.is_none() && s.attr == attr))
    }

    /// Applies the projection to a rendered resource.
    pub fn apply(&self, rt: &ResourceType, resource: Value) -> Value {
        let Value::Object(full) = resource else {
            return resource;
        };
        let mut out = if self.include.is_empty() && self.include_schemas.is_empty() {
            full
        } else {
            self.select(rt, &full)
        };
        for s in &self.exclude {
            if !is_always(rt, s) {
                remove(&mut out, s);
            }
        }
        for id in &self.exclude_schemas {
            out.shift_remove(*id);
        }
        Value::Object(out)
    }

    fn select(&self, rt: &ResourceType, full: &Map<String, Value>) -> Map<String, Value> {
        let mut out = Map::new();
        for (key, value) in full {
            if key == "schemas" || self.include_schemas.iter().any(|s| s == key) {
                out.insert(key.clone(), value.clone());
                continue;
            }
            if let Some(ext) = rt.extension(key) {
                let Value::Object(fields) = value else {
                    continue;
                };
                let mut kept = Map::new();
                for (name, v) in fields {
                    if let Some(picked) = self.pick(Some(ext.id), ext, name, v) {
                        kept.insert(name.clone(), picked);
                    }
                }
                if !kept.is_empty() {
                    out.insert(key.clone(), Value::Object(kept));
                }
                continue;
            }
            if let Some(picked) = self.pick(None, rt.schema, key, value) {
                out.insert(key.clone(), picked);
            }
        }
        out
    }

    /// The part of attribute `name` the include list asks for, if any.
    fn pick(
        &self,
        extension: Option<&str>,
        schema: &Schema,
        name: &str,
        value: &Value,
    ) -> Option<Value> {
        let attr = schema.attribute(name)?;
        if attr.returned == Returned::Always {
            return Some(value.clone());
        }
        let wanted: Vec<&Selector> = self
            .include
            .iter()
            .filter(|s| s.extension == extension && s.attr == attr.name)
            .collect();
        if wanted.is_empty() {
            return None;
        }
        if wanted.iter().any(|s| s.sub.is_none()) {
            return Some(value.clone());
        }
        let subs: Vec<&str> = wanted.iter().filter_map(|s| s.sub).collect();
        Some(keep_subs(value, &subs))
    }
}

enum Resolved {
    Attr(Selector),
    Schema(&'static str),
}

fn split_list(raw: Option<&str>) -> impl Iterator<Item = &str> {
    raw.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn resolve(rt: &'static ResourceType, name: &str) -> Option<Resolved> {
    if let Some(ext) = rt.extension(name) {
        return Some(Resolved::Schema(ext.id));
    }
    let (schema, rest) = rt.split_urn(name)?;
    let (attr_name, sub_name) = match rest.split_once('.') {
        Some((a, s)) => (a, Some(s)),
        None => (rest, None),
    };
    let attr: &'static Attribute = schema.attribute(attr_name)?;
    let sub = match sub_name {
        Some(s) => Some(attr.sub_attribute(s)?.name),
        None => None,
    };
    let extension = (schema.id != rt.schema.id).then_some(schema.id);
    Some(Resolved::Attr(Selector {
        extension,
        attr: attr.name,
        sub,
    }))
}

fn is_always(rt: &ResourceType, s: &Selector) -> bool {
    let schema = match s.extension {
        Some(id) => rt.schema_by_urn(id),
        None => Some(rt.schema),
    };
    schema
        .and_then(|sc| sc.attribute(s.attr))
        .is_some_and(|a| a.returned == Returned::Always)
}

fn keep_subs(value: &Value, subs: &[&str]) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.iter().map(|v| keep_subs(v, subs)).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .filter(|(k, _)| subs.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn remove(out: &mut Map<String, Value>, s: &Selector) {
    let container = match s.extension {
        Some(id) => match out.get_mut(id) {
            Some(Value::Object(m)) => m,
            _ => return,
        },
        None => out,
    };
    match s.sub {
        None => {
            container.shift_remove(s.attr);
        }
        Some(sub) => match container.get_mut(s.attr) {
            Some(Value::Object(m)) => {
                m.shift_remove(sub);
            }
            Some(Value::Array(items)) => {
                for item in items {
                    if let Value::Object(m) = item {
                        m.shift_remove(sub);
                    }
                }
            }
            _ => {}
        },
    }
    if let Some(id) = s.extension
        && out
            .get(id)
            .and_then(Value::as_object)
            .is_some_and(Map::is_empty)
    {
        out.shift_remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{ENTERPRISE_USER, user_type};
    use serde_json::json;

    fn user() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE_USER],
            "id": "1",
            "userName": "a",
            "name": {"givenName": "g", "familyName": "f"},
            "emails": [{"value": "a@x", "type": "work"}],
            ENTERPRISE_USER: {"department": "d", "employeeNumber": "7"},
            "meta": {"resourceType": "User"}
        })
    }

    #[test]
    fn attributes_keeps_only_what_was_asked_and_always_returned() {
        let p = Projection::parse(
            user_type(),
            Some("userName,NAME.givenName,emails.value"),
            None,
        );
        let out = p.apply(user_type(), user());
        assert_eq!(
            out,
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE_USER],
                "id": "1", "userName": "a", "name": {"givenName": "g"}, "emails": [{"value": "a@x"}],
                "meta": {"resourceType": "User"}
            })
        );
    }

    #[test]
    fn attributes_id_alone_gives_the_always_returned_attributes() {
        let out = Projection::parse(user_type(), Some("id"), None).apply(user_type(), user());
        let keys: Vec<&String> = out.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["schemas", "id", "meta"]);
    }

    #[test]
    fn urn_qualified_extension_attributes_project() {
        let p = Projection::parse(
            user_type(),
            Some(&format!("{ENTERPRISE_USER}:department")),
            None,
        );
        let out = p.apply(user_type(), user());
        assert_eq!(out[ENTERPRISE_USER], json!({"department": "d"}));
    }

    #[test]
    fn excluded_attributes_are_removed_but_never_id() {
        let p = Projection::parse(user_type(), None, Some("emails,name.familyName,id,meta"));
        let out = p.apply(user_type(), user());
        assert!(out.get("emails").is_none());
        assert!(out.get("meta").is_some(), "meta is returned always");
        assert_eq!(out["name"], json!({"givenName": "g"}));
        assert_eq!(out["id"], "1");
    }
}
