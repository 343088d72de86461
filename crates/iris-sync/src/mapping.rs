//! Attribute mappings: for each SCIM target attribute, an expression over source attributes,
//! whether it matches objects (and with which precedence), and whether it applies always or
//! only when the object is created. Also what the mapped values look like on the wire: the POST
//! body, the value of a path in a resource the target returned, and PATCH bodies in Entra's two
//! dialects.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value as Json, json};

use crate::expr::{Attributes, Expression, Value};
use crate::source::ObjectKind;

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Mapped values of one object: canonical target path → value (null values are absent).
pub type Mapped = BTreeMap<String, Value>;

/// The PATCH dialect: Entra's default (capitalised ops, `"True"`/`"False"` strings, members
/// removed by value array) or the RFC-compliant one Entra sends with `aadOptscim062020`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    Aad,
    Rfc,
}

impl Dialect {
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "aad" | "entra" | "default" => Some(Self::Aad),
            "rfc" | "aadoptscim062020" | "scim" => Some(Self::Rfc),
            _ => None,
        }
    }

    /// The dialect a Tenant URL asks for: `?aadOptscim062020` selects the RFC one, as in Entra.
    pub fn for_url(url: &str) -> Self {
        if url.to_ascii_lowercase().contains("aadoptscim062020") {
            Self::Rfc
        } else {
            Self::Aad
        }
    }

    fn op(self, op: &str) -> String {
        match self {
            Self::Aad => {
                let mut c = op.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            }
            Self::Rfc => op.to_owned(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Apply {
    #[default]
    Always,
    /// "Only during object creation".
    OnCreate,
}

/// A SCIM attribute path as Entra's mappings name targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetPath {
    /// `userName`, `active`, `externalId`.
    Attr(String),
    /// `name.givenName`.
    Sub(String, String),
    /// `emails[type eq "work"].value`.
    Typed {
        attr: String,
        type_value: String,
        sub: String,
    },
    /// `urn:…:enterprise:2.0:User:employeeNumber`.
    Extension { urn: String, attr: String },
}

impl TargetPath {
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        if t.is_empty() {
            return Err("empty target attribute".into());
        }
        if t.to_ascii_lowercase().starts_with("urn:") {
            let (urn, attr) = t
                .rsplit_once(':')
                .ok_or_else(|| format!("{t}: no attribute after the schema URN"))?;
            if attr.is_empty() || !attr.chars().all(|c| c.is_alphanumeric() || c == '_') {
                return Err(format!("{t}: bad extension attribute {attr:?}"));
            }
            return Ok(Self::Extension {
                urn: urn.to_owned(),
                attr: attr.to_owned(),
            });
        }
        let ident = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_');
        if let Some((attr, rest)) = t.split_once('[') {
            let (filter, sub) = rest
                .split_once("].")
                .ok_or_else(|| format!("{t}: expected attr[type eq \"…\"].sub"))?;
            let mut words = filter.splitn(3, ' ');
            let (key, op, value) = (words.next(), words.next(), words.next());
            let type_value = match (key, op, value) {
                (Some(k), Some(o), Some(v))
                    if k.eq_ignore_ascii_case("type")
                        && o.eq_ignore_ascii_case("eq")
                        && v.len() >= 2
                        && v.starts_with('"')
                        && v.ends_with('"') =>
                {
                    v[1..v.len() - 1].to_owned()
                }
                _ => return Err(format!("{t}: only [type eq \"…\"] filters are supported")),
            };
            if !ident(attr) || !ident(sub) {
                return Err(format!("{t}: bad attribute names"));
            }
            return Ok(Self::Typed {
                attr: attr.to_owned(),
                type_value,
                sub: sub.to_owned(),
            });
        }
        if let Some((attr, sub)) = t.split_once('.') {
            if !ident(attr) || !ident(sub) {
                return Err(format!("{t}: bad attribute names"));
            }
            return Ok(Self::Sub(attr.to_owned(), sub.to_owned()));
        }
        if !ident(t) {
            return Err(format!("{t}: bad attribute name"));
        }
        Ok(Self::Attr(t.to_owned()))
    }

    /// The path as Entra writes it (sub-attribute names lowercased first letter kept as given).
    pub fn text(&self) -> String {
        match self {
            Self::Attr(a) => a.clone(),
            Self::Sub(a, s) => format!("{a}.{s}"),
            Self::Typed {
                attr,
                type_value,
                sub,
            } => format!("{attr}[type eq \"{type_value}\"].{sub}"),
            Self::Extension { urn, attr } => format!("{urn}:{attr}"),
        }
    }

    fn is_boolean(&self) -> bool {
        matches!(self, Self::Attr(a) if a.eq_ignore_ascii_case("active"))
    }

    /// The filtered multi-valued paths keep their own op in the RFC dialect.
    fn is_typed(&self) -> bool {
        matches!(self, Self::Typed { .. })
    }
}

/// A mapping as written in the mapping file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeSpec {
    pub target: String,
    pub source: String,
    /// Matching precedence (1 first); absent: not a matching attribute.
    #[serde(default)]
    pub matching: Option<u32>,
    #[serde(default)]
    pub apply: Apply,
}

/// The mapping file: `[[user]]` and `[[group]]` tables (either may be left out for the default).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingSpec {
    #[serde(default)]
    pub user: Option<Vec<AttributeSpec>>,
    #[serde(default)]
    pub group: Option<Vec<AttributeSpec>>,
}

#[derive(Debug, Clone)]
pub struct AttributeMapping {
    pub target: TargetPath,
    pub source: Expression,
    pub matching: Option<u32>,
    pub apply: Apply,
}

#[derive(Debug, Clone)]
pub struct ObjectMapping {
    pub kind: ObjectKind,
    pub attributes: Vec<AttributeMapping>,
}

#[derive(Debug, Clone)]
pub struct Mapping {
    pub users: ObjectMapping,
    pub groups: ObjectMapping,
}

#[derive(Debug, thiserror::Error)]
#[error("{location}: {detail}")]
pub struct MappingError {
    pub location: String,
    pub detail: String,
}

/// Iris's default user mapping: the nine attributes of the Iris Intranet gallery app, with
/// `userName` matching and Entra's `Switch` for `active`.
pub fn default_user_specs() -> Vec<AttributeSpec> {
    let spec = |target: &str, source: &str, matching: Option<u32>| AttributeSpec {
        target: target.into(),
        source: source.into(),
        matching,
        apply: Apply::Always,
    };
    vec![
        spec("userName", "[userPrincipalName]", Some(1)),
        spec(
            "active",
            r#"Switch([IsSoftDeleted], , "False", "True", "True", "False")"#,
            None,
        ),
        spec("emails[type eq \"work\"].value", "[mail]", None),
        spec("name.givenName", "[givenName]", None),
        spec("name.familyName", "[surname]", None),
        spec(
            "name.formatted",
            r#"Join(" ", [givenName], [surname])"#,
            None,
        ),
        spec(
            "phoneNumbers[type eq \"work\"].value",
            "[telephoneNumber]",
            None,
        ),
        spec("phoneNumbers[type eq \"mobile\"].value", "[mobile]", None),
        spec("externalId", "[mailNickname]", None),
    ]
}

/// Entra's group mapping: `displayName` matching, `objectId` as `externalId`. Members follow the
/// source's `members`.
pub fn default_group_specs() -> Vec<AttributeSpec> {
    vec![
        AttributeSpec {
            target: "displayName".into(),
            source: "[displayName]".into(),
            matching: Some(1),
            apply: Apply::Always,
        },
        AttributeSpec {
            target: "externalId".into(),
            source: "[objectId]".into(),
            matching: None,
            apply: Apply::Always,
        },
    ]
}

fn compile(
    kind: ObjectKind,
    specs: &[AttributeSpec],
    section: &str,
) -> Result<ObjectMapping, MappingError> {
    let mut attributes: Vec<AttributeMapping> = Vec::new();
    for (i, s) in specs.iter().enumerate() {
        let location = format!("{section}[{i}] (target {})", s.target);
        let err = |detail: String| MappingError {
            location: location.clone(),
            detail,
        };
        let target = TargetPath::parse(&s.target).map_err(err)?;
        if kind == ObjectKind::Group
            && matches!(&target, TargetPath::Attr(a) if a.eq_ignore_ascii_case("members"))
        {
            return Err(err(
                "members follow the source's members column; do not map them".into(),
            ));
        }
        let source = Expression::parse(&s.source).map_err(|e| err(format!("source {e}")))?;
        if attributes
            .iter()
            .any(|a| a.target.text().eq_ignore_ascii_case(&target.text()))
        {
            return Err(err("target mapped twice".into()));
        }
        attributes.push(AttributeMapping {
            target,
            source,
            matching: s.matching,
            apply: s.apply,
        });
    }
    let mut matching: Vec<_> = attributes.iter().filter_map(|a| a.matching).collect();
    if matching.is_empty() {
        return Err(MappingError {
            location: section.to_owned(),
            detail: "no matching attribute (set `matching = 1` on one mapping)".into(),
        });
    }
    matching.sort_unstable();
    if matching.windows(2).any(|w| w[0] == w[1]) {
        return Err(MappingError {
            location: section.to_owned(),
            detail: "two matching attributes share a precedence".into(),
        });
    }
    if kind == ObjectKind::User
        && !attributes
            .iter()
            .any(|a| matches!(&a.target, TargetPath::Attr(n) if n == "userName"))
    {
        return Err(MappingError {
            location: section.to_owned(),
            detail: "userName must be mapped (SCIM requires it)".into(),
        });
    }
    Ok(ObjectMapping { kind, attributes })
}

impl Mapping {
    pub fn compile(spec: &MappingSpec) -> Result<Self, MappingError> {
        Ok(Self {
            users: compile(
                ObjectKind::User,
                spec.user.as_deref().unwrap_or(&default_user_specs()),
                "user",
            )?,
            groups: compile(
                ObjectKind::Group,
                spec.group.as_deref().unwrap_or(&default_group_specs()),
                "group",
            )?,
        })
    }

    pub fn default_mapping() -> Self {
        // The defaults are fixed and tested to compile.
        Self::compile(&MappingSpec::default()).unwrap_or_else(|e| unreachable_mapping(&e))
    }

    pub fn for_kind(&self, kind: ObjectKind) -> &ObjectMapping {
        match kind {
            ObjectKind::User => &self.users,
            ObjectKind::Group => &self.groups,
        }
    }
}

#[allow(clippy::panic)]
fn unreachable_mapping(e: &MappingError) -> Mapping {
    panic!("the default mapping does not compile: {e}")
}

impl ObjectMapping {
    /// Evaluates every mapping (null results are left out).
    pub fn evaluate(&self, attrs: &dyn Attributes) -> Mapped {
        self.attributes
            .iter()
            .filter_map(|m| {
                let v = m.source.evaluate(attrs);
                (!v.is_null()).then(|| (m.target.text(), v))
            })
            .collect()
    }

    /// Matching attributes in precedence order, with their values for this object.
    pub fn matching_values<'a>(&'a self, mapped: &'a Mapped) -> Vec<(&'a TargetPath, &'a str)> {
        let mut m: Vec<_> = self
            .attributes
            .iter()
            .filter_map(|a| {
                let value = mapped.get(&a.target.text())?.as_text()?;
                Some((a.matching?, &a.target, value))
            })
            .filter(|(_, _, v)| !v.is_empty())
            .collect();
        m.sort_by_key(|(p, _, _)| *p);
        m.into_iter().map(|(_, t, v)| (t, v)).collect()
    }

    fn target(&self, path: &str) -> Option<&AttributeMapping> {
        self.attributes.iter().find(|a| a.target.text() == path)
    }

    /// The attributes an update may change: those applied always.
    pub fn changes(&self, old: &Mapped, new: &Mapped) -> Vec<Change> {
        let mut out = Vec::new();
        for a in &self.attributes {
            if a.apply == Apply::OnCreate {
                continue;
            }
            let key = a.target.text();
            let (o, n) = (old.get(&key), new.get(&key));
            if o != n {
                out.push(Change {
                    path: a.target.clone(),
                    old: o.cloned(),
                    new: n.cloned(),
                });
            }
        }
        out
    }

    /// The POST body of a new object.
    pub fn resource(&self, mapped: &Mapped) -> Json {
        let mut doc = Map::new();
        let mut schemas = vec![json!(match self.kind {
            ObjectKind::User => USER_SCHEMA,
            ObjectKind::Group => GROUP_SCHEMA,
        })];
        for (path, value) in mapped {
            let Some(a) = self.target(path) else {
                continue;
            };
            let v = wire_value(&a.target, value, true);
            match &a.target {
                TargetPath::Attr(n) => {
                    doc.insert(n.clone(), v);
                }
                TargetPath::Sub(n, s) => {
                    let obj = doc.entry(n.clone()).or_insert_with(|| json!({}));
                    if let Some(o) = obj.as_object_mut() {
                        o.insert(s.clone(), v);
                    }
                }
                TargetPath::Typed {
                    attr,
                    type_value,
                    sub,
                } => {
                    let arr = doc.entry(attr.clone()).or_insert_with(|| json!([]));
                    if let Some(items) = arr.as_array_mut() {
                        let pos = items.iter().position(|e| e["type"] == type_value.as_str());
                        let idx = pos.unwrap_or_else(|| {
                            let mut e = json!({"type": type_value});
                            // Entra marks the work e-mail primary in its POST.
                            if attr == "emails" && type_value == "work" {
                                e["primary"] = json!(true);
                            }
                            items.push(e);
                            items.len() - 1
                        });
                        items[idx][sub.as_str()] = v;
                    }
                }
                TargetPath::Extension { urn, attr } => {
                    if urn.eq_ignore_ascii_case(ENTERPRISE_SCHEMA)
                        && !schemas.contains(&json!(ENTERPRISE_SCHEMA))
                    {
                        schemas.push(json!(ENTERPRISE_SCHEMA));
                    }
                    let obj = doc.entry(urn.clone()).or_insert_with(|| json!({}));
                    if let Some(o) = obj.as_object_mut() {
                        o.insert(attr.clone(), v);
                    }
                }
            }
        }
        doc.insert("schemas".into(), Json::Array(schemas));
        Json::Object(doc)
    }

    /// The mapped attributes' current values in a resource the target returned.
    pub fn read_back(&self, resource: &Json) -> Mapped {
        self.attributes
            .iter()
            .filter_map(|a| {
                let v = extract(resource, &a.target)?;
                Some((a.target.text(), v))
            })
            .collect()
    }
}

fn get_ci<'a>(obj: &'a Json, key: &str) -> Option<&'a Json> {
    obj.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

fn json_to_value(v: &Json) -> Option<Value> {
    match v {
        Json::Null => None,
        Json::String(s) if s.is_empty() => None,
        Json::String(s) => Some(Value::Str(s.clone())),
        Json::Bool(b) => Some(Value::bool(*b)),
        Json::Number(n) => Some(Value::Str(n.to_string())),
        Json::Array(items) => Some(Value::Multi(
            items
                .iter()
                .filter_map(|i| match i {
                    Json::String(s) => Some(s.clone()),
                    other => get_ci(other, "value")
                        .and_then(json_to_value)
                        .and_then(Value::into_text),
                })
                .collect(),
        )),
        Json::Object(_) => get_ci(v, "value").and_then(json_to_value),
    }
}

/// The value at `path` in a SCIM resource (names case-insensitive), as a mapping value.
pub fn extract(resource: &Json, path: &TargetPath) -> Option<Value> {
    let found = match path {
        TargetPath::Attr(a) => get_ci(resource, a)?,
        TargetPath::Sub(a, s) => get_ci(get_ci(resource, a)?, s)?,
        TargetPath::Typed {
            attr,
            type_value,
            sub,
        } => {
            let items = get_ci(resource, attr)?.as_array()?;
            let item = items.iter().find(|e| {
                get_ci(e, "type")
                    .and_then(Json::as_str)
                    .is_some_and(|t| t.eq_ignore_ascii_case(type_value))
            })?;
            get_ci(item, sub)?
        }
        TargetPath::Extension { urn, attr } => get_ci(get_ci(resource, urn)?, attr)?,
    };
    json_to_value(found)
}

/// A value on the wire: `active` as a boolean (in a POST and in the RFC dialect) or Entra's
/// `"True"`/`"False"` string (its default PATCH); multi-values as arrays.
fn wire_value(path: &TargetPath, value: &Value, json_booleans: bool) -> Json {
    if path.is_boolean() {
        let b = value.is_true();
        return if json_booleans {
            Json::Bool(b)
        } else {
            Json::String(if b { "True" } else { "False" }.into())
        };
    }
    match value {
        Value::Null => Json::Null,
        Value::Str(s) => Json::String(s.clone()),
        Value::Multi(v) => Json::Array(v.iter().map(|s| Json::String(s.clone())).collect()),
    }
}

/// One attribute an update changes.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub path: TargetPath,
    pub old: Option<Value>,
    pub new: Option<Value>,
}

/// The PATCH body for `changes`, in `dialect`.
pub fn patch_body(changes: &[Change], dialect: Dialect) -> Json {
    let mut ops = Vec::new();
    let mut folded = Map::new();
    let mut folded_changes = Vec::new();
    for c in changes {
        let path = c.path.text();
        match (&c.old, &c.new) {
            (_, None) => ops.push(json!({"op": dialect.op("remove"), "path": path})),
            (None, Some(new)) => ops.push(json!({
                "op": dialect.op("add"),
                "path": path,
                "value": wire_value(&c.path, new, dialect == Dialect::Rfc),
            })),
            (Some(_), Some(new)) => {
                let v = wire_value(&c.path, new, dialect == Dialect::Rfc);
                if dialect == Dialect::Rfc && !c.path.is_typed() {
                    folded.insert(path.clone(), v.clone());
                    folded_changes.push((path, v));
                } else {
                    ops.push(json!({"op": dialect.op("replace"), "path": path, "value": v}));
                }
            }
        }
    }
    // aadOptscim062020: several replaces fold into one path-less op with flat keys.
    match folded_changes.len() {
        0 => {}
        1 => {
            let (path, v) = folded_changes.remove(0);
            ops.push(json!({"op": "replace", "path": path, "value": v}));
        }
        _ => ops.push(json!({"op": "replace", "value": Json::Object(folded)})),
    }
    json!({"schemas": [PATCH_SCHEMA], "Operations": ops})
}

/// PATCH bodies that add or remove group members (target ids), at most `batch` per request.
pub fn member_patches(
    add: &[String],
    remove: &[String],
    dialect: Dialect,
    batch: usize,
) -> Vec<Json> {
    let mut out = Vec::new();
    let batch = batch.max(1);
    for chunk in add.chunks(batch) {
        let values: Vec<Json> = chunk.iter().map(|id| json!({"value": id})).collect();
        out.push(json!({"schemas": [PATCH_SCHEMA], "Operations": [
            {"op": dialect.op("add"), "path": "members", "value": values}
        ]}));
    }
    for chunk in remove.chunks(batch) {
        let ops: Vec<Json> = match dialect {
            Dialect::Aad => {
                let values: Vec<Json> = chunk.iter().map(|id| json!({"value": id})).collect();
                vec![json!({"op": "Remove", "path": "members", "value": values})]
            }
            Dialect::Rfc => chunk
                .iter()
                .map(|id| json!({"op": "remove", "path": format!("members[value eq \"{id}\"]")}))
                .collect(),
        };
        out.push(json!({"schemas": [PATCH_SCHEMA], "Operations": ops}));
    }
    out
}

/// A SCIM filter `path eq "value"` (the value escaped as a JSON string).
pub fn equality_filter(path: &TargetPath, value: &str) -> String {
    let quoted = Json::String(value.to_owned()).to_string();
    match path {
        TargetPath::Typed {
            attr,
            type_value,
            sub,
        } => format!("{attr}[type eq \"{type_value}\"].{sub} eq {quoted}"),
        other => format!("{} eq {quoted}", other.text()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_lowercase(), Value::Str((*v).into())))
            .collect()
    }

    #[test]
    fn the_default_mapping_has_nine_user_attributes_and_matches_on_user_name() {
        let m = Mapping::default_mapping();
        assert_eq!(m.users.attributes.len(), 9);
        let mapped = m.users.evaluate(&attrs(&[
            ("userPrincipalName", "ann@contoso.com"),
            ("IsSoftDeleted", "False"),
            ("givenName", "Ann"),
            ("surname", "Lee"),
            ("mail", "ann@contoso.com"),
        ]));
        let matching = m.users.matching_values(&mapped);
        assert_eq!(matching.len(), 1);
        assert_eq!(matching[0].1, "ann@contoso.com");
        let doc = m.users.resource(&mapped);
        assert_eq!(
            doc,
            json!({
                "userName": "ann@contoso.com",
                "active": true,
                "emails": [{"type": "work", "primary": true, "value": "ann@contoso.com"}],
                "name": {"givenName": "Ann", "familyName": "Lee", "formatted": "Ann Lee"},
                "schemas": [USER_SCHEMA],
            })
        );
        assert_eq!(m.users.read_back(&doc), mapped);
    }

    #[test]
    fn mapping_errors_name_the_mapping_and_the_column() {
        let spec = MappingSpec {
            user: Some(vec![
                AttributeSpec {
                    target: "userName".into(),
                    source: "[upn]".into(),
                    matching: Some(1),
                    apply: Apply::Always,
                },
                AttributeSpec {
                    target: "displayName".into(),
                    source: r#"Join(" ", [a] [b])"#.into(),
                    matching: None,
                    apply: Apply::Always,
                },
            ]),
            group: None,
        };
        let err = Mapping::compile(&spec).unwrap_err().to_string();
        assert_eq!(
            err,
            "user[1] (target displayName): source column 15: expected ',' or ')' in Join(…), found attribute [b]"
        );
    }

    #[test]
    fn entra_default_dialect_patches_capitalised_with_string_booleans() {
        let changes = vec![
            Change {
                path: TargetPath::parse("active").unwrap(),
                old: Some(Value::bool(true)),
                new: Some(Value::bool(false)),
            },
            Change {
                path: TargetPath::parse("nickName").unwrap(),
                old: None,
                new: Some(Value::Str("Babs".into())),
            },
            Change {
                path: TargetPath::parse("emails[type eq \"work\"].value").unwrap(),
                old: Some(Value::Str("a@x".into())),
                new: Some(Value::Str("b@x".into())),
            },
        ];
        assert_eq!(
            patch_body(&changes, Dialect::Aad),
            json!({"schemas": [PATCH_SCHEMA], "Operations": [
                {"op": "Replace", "path": "active", "value": "False"},
                {"op": "Add", "path": "nickName", "value": "Babs"},
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "b@x"},
            ]})
        );
    }

    #[test]
    fn the_rfc_dialect_folds_replaces_into_one_pathless_op() {
        let s = |v: &str| Some(Value::Str(v.into()));
        let changes = vec![
            Change {
                path: TargetPath::parse("emails[type eq \"work\"].value").unwrap(),
                old: s("a"),
                new: s("TestMhvaes@test.microsoft.com"),
            },
            Change {
                path: TargetPath::parse("displayName").unwrap(),
                old: s("a"),
                new: s("Bjfe"),
            },
            Change {
                path: TargetPath::parse("name.givenName").unwrap(),
                old: s("a"),
                new: s("Kkom"),
            },
            Change {
                path: TargetPath::parse(&format!("{ENTERPRISE_SCHEMA}:employeeNumber")).unwrap(),
                old: s("a"),
                new: s("Aklq"),
            },
        ];
        assert_eq!(
            patch_body(&changes, Dialect::Rfc),
            json!({"schemas": [PATCH_SCHEMA], "Operations": [
                {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "TestMhvaes@test.microsoft.com"},
                {"op": "replace", "value": {
                    "displayName": "Bjfe",
                    "name.givenName": "Kkom",
                    format!("{ENTERPRISE_SCHEMA}:employeeNumber"): "Aklq"}},
            ]})
        );
        let disable = vec![Change {
            path: TargetPath::parse("active").unwrap(),
            old: Some(Value::bool(true)),
            new: Some(Value::bool(false)),
        }];
        assert_eq!(
            patch_body(&disable, Dialect::Rfc)["Operations"],
            json!([{"op": "replace", "path": "active", "value": false}])
        );
    }

    #[test]
    fn member_removal_follows_the_dialect() {
        let ids = vec!["u1".to_owned(), "u2".to_owned()];
        assert_eq!(
            member_patches(&[], &ids, Dialect::Aad, 100)[0]["Operations"],
            json!([{"op": "Remove", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}]}])
        );
        assert_eq!(
            member_patches(&[], &ids, Dialect::Rfc, 100)[0]["Operations"],
            json!([{"op": "remove", "path": "members[value eq \"u1\"]"},
                   {"op": "remove", "path": "members[value eq \"u2\"]"}])
        );
        assert_eq!(member_patches(&ids, &[], Dialect::Aad, 1).len(), 2);
    }

    #[test]
    fn only_during_creation_mappings_never_update() {
        let spec = MappingSpec {
            user: Some(vec![
                AttributeSpec {
                    target: "userName".into(),
                    source: "[upn]".into(),
                    matching: Some(1),
                    apply: Apply::Always,
                },
                AttributeSpec {
                    target: "title".into(),
                    source: "[title]".into(),
                    matching: None,
                    apply: Apply::OnCreate,
                },
            ]),
            group: None,
        };
        let m = Mapping::compile(&spec).unwrap();
        let old = m.users.evaluate(&attrs(&[("upn", "a"), ("title", "x")]));
        let new = m.users.evaluate(&attrs(&[("upn", "b"), ("title", "y")]));
        let changes = m.users.changes(&old, &new);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].path.text(), "userName");
    }

    #[test]
    fn target_paths_parse_and_filters_escape() {
        for text in [
            "userName",
            "name.givenName",
            "emails[type eq \"work\"].value",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
        ] {
            assert_eq!(TargetPath::parse(text).unwrap().text(), text);
        }
        assert!(TargetPath::parse("emails[primary eq true].value").is_err());
        assert_eq!(
            equality_filter(&TargetPath::parse("userName").unwrap(), "a\"b"),
            r#"userName eq "a\"b""#
        );
    }
}
