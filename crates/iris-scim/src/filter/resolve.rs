//! Resolution: checks a raw [`Filter`] against a resource type's schemas, replaces the client's
//! spelling of every name by the canonical attribute definition, and checks and normalises every
//! literal against its attribute's type. Everything downstream (the in-memory evaluator, SQL
//! translation) can then trust names, operators and value types.
//!
//! Rules (all failures are `400 invalidFilter`):
//! - Names match case-insensitively. A bare name is looked up in the core schema first, then in
//!   the extensions (Entra's legacy `manager eq …` names the enterprise `manager` without its URN).
//!   `schemas` is also accepted (RFC 7644's own example filters on it).
//! - Comparing a complex attribute without a sub-attribute means its `value` sub-attribute
//!   (`emails eq "x"`, `members eq "u"`, `manager eq "id"`, per RFC 7644 §3.4.2.2); complex
//!   attributes without `value` (`name`) must name a sub-attribute.
//! - `gt`/`ge`/`lt`/`le` are refused on boolean and binary attributes; `co`/`sw`/`ew` are allowed
//!   only on string and reference attributes.
//! - `null` is allowed only with `eq`/`ne` (meaning absent/present). Booleans also accept the
//!   strings `"true"`/`"false"` in any case (Entra sends `primary eq "True"`); integers as string
//!   values are accepted for string attributes (legacy unquoted ids such as `externalId eq 1234`);
//!   date-times must be RFC 3339 and are normalised to UTC.

use std::fmt;

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

use super::ast::{AttrPath, CompValue, CompareOp, Filter};
use crate::error::ScimError;
use crate::schema::{
    AttrType, Attribute, GROUP, Mutability, ResourceType, Returned, Schema, USER, Uniqueness,
};

/// An attribute reference resolved against the schema registry.
#[derive(Clone, Copy)]
pub struct ResolvedAttr {
    /// The schema that defines `attr` (core or extension).
    pub schema: &'static Schema,
    pub attr: &'static Attribute,
    pub sub: Option<&'static Attribute>,
}

impl ResolvedAttr {
    /// The attribute whose values are compared: the sub-attribute if any, else the attribute.
    pub fn leaf(&self) -> &'static Attribute {
        self.sub.unwrap_or(self.attr)
    }

    /// Whether `attr` lives under its schema URN in the resource JSON (same rule as the resource
    /// module: everything but the User and Group core schemas is an extension).
    pub fn is_extension(&self) -> bool {
        self.schema.id != USER && self.schema.id != GROUP
    }

    /// Where the values live in the resource JSON: `["name", "givenName"]` for core attributes,
    /// `[ENTERPRISE_USER, "manager", "value"]` for extension attributes. For multi-valued
    /// attributes the sub-attribute is a key of each array element.
    pub fn json_path(&self) -> Vec<&'static str> {
        let mut path = Vec::with_capacity(3);
        if self.is_extension() {
            path.push(self.schema.id);
        }
        path.push(self.attr.name);
        if let Some(sub) = self.sub {
            path.push(sub.name);
        }
        path
    }
}

/// Identity of the definitions, not structural equality: resolved attributes always point into
/// the static registry.
impl PartialEq for ResolvedAttr {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.schema, other.schema)
            && std::ptr::eq(self.attr, other.attr)
            && match (self.sub, other.sub) {
                (Some(a), Some(b)) => std::ptr::eq(a, b),
                (None, None) => true,
                _ => false,
            }
    }
}

impl Eq for ResolvedAttr {}

/// The canonical, fully qualified name for extension attributes (`urn:…:User:manager.value`).
impl fmt::Display for ResolvedAttr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_extension() {
            write!(f, "{}:", self.schema.id)?;
        }
        f.write_str(self.attr.name)?;
        if let Some(sub) = self.sub {
            write!(f, ".{}", sub.name)?;
        }
        Ok(())
    }
}

/// Printing whole attribute definitions would drown the interesting part.
impl fmt::Debug for ResolvedAttr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResolvedAttr({self})")
    }
}

/// A filter whose names and literals have been checked against the schema.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolved {
    Present(ResolvedAttr),
    /// The value is typed for the leaf attribute: `Bool` for booleans, `Num` for numbers, `Str`
    /// for strings/references/binary and normalised RFC 3339 UTC text for date-times, or `Null`
    /// (only with `eq`/`ne`).
    Compare(ResolvedAttr, CompareOp, CompValue),
    /// The complex attribute (`sub: None`) and a filter every term of which has `attr` = that
    /// attribute and `sub` = `Some(sub-attribute)`, evaluated per element.
    ValuePath(ResolvedAttr, Box<Resolved>),
    And(Box<Resolved>, Box<Resolved>),
    Or(Box<Resolved>, Box<Resolved>),
    Not(Box<Resolved>),
}

/// `schemas` is not a schema attribute (RFC 7643 §3), but clients may filter on it.
static SCHEMAS_ATTRIBUTE: Attribute = Attribute {
    name: "schemas",
    ty: AttrType::Reference,
    multi_valued: true,
    required: true,
    // URNs compare case-insensitively (RFC 8141 §3.1 for the NID; SCIM URNs are all lower-case
    // apart from the resource name, which clients do vary).
    case_exact: false,
    mutability: Mutability::ReadOnly,
    returned: Returned::Always,
    uniqueness: Uniqueness::None,
    canonical_values: &[],
    reference_types: &["uri"],
    sub_attributes: Vec::new(),
    description: "The schema URNs of the resource.",
    max_values: None,
};

/// The definition filters resolve `schemas` to, for back-ends that compile it.
pub fn schemas_attribute() -> &'static Attribute {
    &SCHEMAS_ATTRIBUTE
}

fn invalid(detail: impl fmt::Display) -> ScimError {
    ScimError::invalid_filter(format!("invalid filter: {detail}"))
}

/// Resolves `filter` against the schemas of `rt`.
pub fn resolve(filter: &Filter, rt: &'static ResourceType) -> Result<Resolved, ScimError> {
    resolve_in(filter, rt, None)
}

/// `parent` is the attribute of the enclosing value path, if any.
fn resolve_in(
    filter: &Filter,
    rt: &'static ResourceType,
    parent: Option<ResolvedAttr>,
) -> Result<Resolved, ScimError> {
    let both = |l: &Filter, r: &Filter| -> Result<_, ScimError> {
        Ok((
            Box::new(resolve_in(l, rt, parent)?),
            Box::new(resolve_in(r, rt, parent)?),
        ))
    };
    Ok(match filter {
        Filter::Present(path) => Resolved::Present(resolve_attr(path, rt, parent)?),
        Filter::Compare(path, op, value) => {
            let attr = implicit_value(resolve_attr(path, rt, parent)?)?;
            let value = check_comparison(&attr, *op, value)?;
            Resolved::Compare(attr, *op, value)
        }
        Filter::ValuePath(path, inner) => {
            if let Some(parent) = parent {
                return Err(invalid(format!(
                    "value filters cannot be nested inside '{parent}[…]'"
                )));
            }
            let attr = resolve_attr(path, rt, None)?;
            if attr.sub.is_some() || attr.attr.ty != AttrType::Complex {
                return Err(invalid(format!(
                    "'{attr}' is not a complex attribute, so it cannot have a '[…]' filter"
                )));
            }
            Resolved::ValuePath(attr, Box::new(resolve_in(inner, rt, Some(attr))?))
        }
        Filter::And(l, r) => {
            let (l, r) = both(l, r)?;
            Resolved::And(l, r)
        }
        Filter::Or(l, r) => {
            let (l, r) = both(l, r)?;
            Resolved::Or(l, r)
        }
        Filter::Not(inner) => Resolved::Not(Box::new(resolve_in(inner, rt, parent)?)),
    })
}

fn resolve_attr(
    path: &AttrPath,
    rt: &'static ResourceType,
    parent: Option<ResolvedAttr>,
) -> Result<ResolvedAttr, ScimError> {
    if let Some(parent) = parent {
        if path.urn.is_some() || path.sub.is_some() {
            return Err(invalid(format!(
                "'{path}' inside '{parent}[…]' must be a sub-attribute name of '{parent}'"
            )));
        }
        let sub = sub_attribute(parent.attr, &path.attr, &parent)?;
        return Ok(ResolvedAttr {
            sub: Some(sub),
            ..parent
        });
    }
    let (schema, attr) = match &path.urn {
        Some(urn) => qualified_attribute(urn, &path.attr, rt)?,
        None => unqualified_attribute(&path.attr, rt)?,
    };
    let resolved = ResolvedAttr {
        schema,
        attr,
        sub: None,
    };
    match &path.sub {
        Some(sub) => Ok(ResolvedAttr {
            sub: Some(sub_attribute(attr, sub, &resolved)?),
            ..resolved
        }),
        None => Ok(resolved),
    }
}

fn qualified_attribute(
    urn: &str,
    name: &str,
    rt: &'static ResourceType,
) -> Result<(&'static Schema, &'static Attribute), ScimError> {
    let schema = rt
        .schema_by_urn(urn)
        .ok_or_else(|| invalid(format!("unknown schema '{urn}' for {} resources", rt.name)))?;
    let attr = schema.attribute(name).ok_or_else(|| {
        invalid(format!(
            "unknown attribute '{name}' in schema '{}'",
            schema.id
        ))
    })?;
    Ok((schema, attr))
}

fn unqualified_attribute(
    name: &str,
    rt: &'static ResourceType,
) -> Result<(&'static Schema, &'static Attribute), ScimError> {
    if let Some(attr) = rt.schema.attribute(name) {
        return Ok((rt.schema, attr));
    }
    if SCHEMAS_ATTRIBUTE.name.eq_ignore_ascii_case(name) {
        return Ok((rt.schema, &SCHEMAS_ATTRIBUTE));
    }
    rt.extensions
        .iter()
        .find_map(|(schema, _)| schema.attribute(name).map(|attr| (*schema, attr)))
        .ok_or_else(|| {
            invalid(format!(
                "unknown attribute '{name}' for {} resources",
                rt.name
            ))
        })
}

fn sub_attribute(
    attr: &'static Attribute,
    name: &str,
    owner: &ResolvedAttr,
) -> Result<&'static Attribute, ScimError> {
    if attr.ty != AttrType::Complex {
        return Err(invalid(format!(
            "'{owner}' has no sub-attributes (found '.{name}')"
        )));
    }
    attr.sub_attribute(name)
        .ok_or_else(|| invalid(format!("unknown sub-attribute '{name}' of '{owner}'")))
}

/// A comparison on a complex attribute means its `value` sub-attribute (RFC 7644 §3.4.2.2).
fn implicit_value(attr: ResolvedAttr) -> Result<ResolvedAttr, ScimError> {
    if attr.sub.is_some() || attr.attr.ty != AttrType::Complex {
        return Ok(attr);
    }
    match attr.attr.sub_attribute("value") {
        Some(value) => Ok(ResolvedAttr {
            sub: Some(value),
            ..attr
        }),
        None => {
            let example = attr.attr.sub_attributes.first().map_or("…", |s| s.name);
            Err(invalid(format!(
                "'{attr}' is a complex attribute; compare one of its sub-attributes, such as '{attr}.{example}'"
            )))
        }
    }
}

/// Checks that `op` applies to the leaf's type and converts `value` to the leaf's type.
fn check_comparison(
    attr: &ResolvedAttr,
    op: CompareOp,
    value: &CompValue,
) -> Result<CompValue, ScimError> {
    let ty = attr.leaf().ty;
    let op_allowed = if op.is_ordering() {
        !matches!(ty, AttrType::Boolean | AttrType::Binary | AttrType::Complex)
    } else if op.is_substring() {
        matches!(ty, AttrType::String | AttrType::Reference)
    } else {
        ty != AttrType::Complex
    };
    if !op_allowed {
        return Err(invalid(format!(
            "operator '{op}' cannot be used with the {} attribute '{attr}'",
            ty.as_str()
        )));
    }
    if matches!(value, CompValue::Str(s) if s.contains('\0')) {
        // No stored value can contain NUL (writes refuse it), and PostgreSQL text cannot hold it.
        return Err(invalid(format!(
            "the value compared with '{attr}' contains a NUL character"
        )));
    }
    if *value == CompValue::Null {
        return match op {
            CompareOp::Eq | CompareOp::Ne => Ok(CompValue::Null),
            _ => Err(invalid(format!(
                "null can only be compared with 'eq' or 'ne' (found '{attr} {op} null')"
            ))),
        };
    }
    let converted = match (ty, value) {
        (AttrType::Boolean, CompValue::Bool(b)) => Some(CompValue::Bool(*b)),
        (AttrType::Boolean, CompValue::Str(s)) => parse_bool_text(s).map(CompValue::Bool),
        (AttrType::Integer, CompValue::Num(n)) if n.is_i64() || n.is_u64() => Some(value.clone()),
        (AttrType::Decimal, CompValue::Num(_)) => Some(value.clone()),
        (AttrType::DateTime, CompValue::Str(s)) => normalise_datetime(s).map(CompValue::Str),
        (AttrType::String | AttrType::Reference | AttrType::Binary, CompValue::Str(_)) => {
            Some(value.clone())
        }
        // Legacy unquoted identifiers that happen to be integers (`externalId eq 1234`).
        (AttrType::String | AttrType::Reference, CompValue::Num(n)) if n.is_i64() || n.is_u64() => {
            Some(CompValue::Str(n.to_string()))
        }
        _ => None,
    };
    converted.ok_or_else(|| {
        invalid(format!(
            "'{attr}' is {}; expected {}, found {value}",
            article(ty),
            expected_literal(ty)
        ))
    })
}

fn parse_bool_text(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Parses RFC 3339 and renders it in UTC, so equal instants have equal text (useful for SQL).
fn normalise_datetime(s: &str) -> Option<String> {
    OffsetDateTime::parse(s, &Rfc3339)
        .ok()?
        .to_offset(UtcOffset::UTC)
        .format(&Rfc3339)
        .ok()
}

fn article(ty: AttrType) -> String {
    match ty {
        AttrType::Integer => "an integer".into(),
        other => format!("a {}", other.as_str()),
    }
}

fn expected_literal(ty: AttrType) -> &'static str {
    match ty {
        AttrType::Boolean => "true or false",
        AttrType::Integer => "an integer",
        AttrType::Decimal => "a number",
        AttrType::DateTime => "an RFC 3339 date-time string such as \"2011-05-13T04:42:34Z\"",
        AttrType::String | AttrType::Reference | AttrType::Binary => "a quoted string",
        AttrType::Complex => "a sub-attribute",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::parser::{FilterLimits, parse_filter};
    use crate::schema::{ENTERPRISE_USER, group_type, user_type};

    fn resolve_user(input: &str) -> Result<Resolved, ScimError> {
        let filter = parse_filter(input, &FilterLimits::default())?;
        resolve(&filter, user_type())
    }

    fn resolved(input: &str) -> Resolved {
        resolve_user(input).unwrap_or_else(|e| panic!("{input}: {e}"))
    }

    fn single_compare(input: &str) -> (ResolvedAttr, CompareOp, CompValue) {
        match resolved(input) {
            Resolved::Compare(attr, op, value) => (attr, op, value),
            other => panic!("{input}: not a comparison: {other:?}"),
        }
    }

    #[test]
    fn names_resolve_case_insensitively_to_canonical_definitions() {
        let (attr, _, _) = single_compare(r#"USERNAME eq "x""#);
        assert_eq!(attr.attr.name, "userName");
        assert_eq!(attr.json_path(), ["userName"]);
        let (attr, _, _) = single_compare(r#"NAME.GIVENNAME eq "x""#);
        assert_eq!(attr.json_path(), ["name", "givenName"]);
        assert_eq!(attr.to_string(), "name.givenName");
        let (attr, _, _) =
            single_compare(r#"urn:ietf:params:scim:schemas:core:2.0:User:name.givenName eq "x""#);
        assert_eq!(attr.json_path(), ["name", "givenName"]);
        let (attr, _, _) = single_compare(
            r#"URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:Department eq "x""#,
        );
        assert_eq!(attr.json_path(), [ENTERPRISE_USER, "department"]);
        assert!(attr.is_extension());
        let (attr, _, _) = single_compare(r#"meta.lastModified gt "2011-05-13T04:42:34Z""#);
        assert_eq!(attr.json_path(), ["meta", "lastModified"]);
    }

    #[test]
    fn complex_comparisons_default_to_value() {
        let (attr, _, _) = single_compare(r#"emails eq "x""#);
        assert_eq!(attr.json_path(), ["emails", "value"]);
        // Entra's legacy reference check names the enterprise manager without its URN.
        let (attr, _, value) = single_compare("manager eq 2819c223-7f76-453a-919d-413861904646");
        assert_eq!(attr.json_path(), [ENTERPRISE_USER, "manager", "value"]);
        assert_eq!(attr.to_string(), format!("{ENTERPRISE_USER}:manager.value"));
        assert_eq!(
            value,
            CompValue::Str("2819c223-7f76-453a-919d-413861904646".into())
        );
        let filter =
            parse_filter(r#"id eq "g" and members eq "u""#, &FilterLimits::default()).unwrap();
        match resolve(&filter, group_type()).unwrap() {
            Resolved::And(_, right) => match *right {
                Resolved::Compare(attr, ..) => assert_eq!(attr.json_path(), ["members", "value"]),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn dotted_paths_are_not_value_paths() {
        let (attr, _, _) = single_compare(r#"emails.value eq "x""#);
        assert_eq!(
            (attr.attr.name, attr.sub.map(|s| s.name)),
            ("emails", Some("value"))
        );
    }

    #[test]
    fn value_paths_resolve_inner_paths_relative_to_the_element() {
        match resolved(r#"emails[TYPE eq "work"].Value eq "x""#) {
            Resolved::ValuePath(attr, inner) => {
                assert_eq!((attr.attr.name, attr.sub.is_none()), ("emails", true));
                let Resolved::And(l, r) = *inner else {
                    panic!("expected and")
                };
                let Resolved::Compare(l, ..) = *l else {
                    panic!("expected compare")
                };
                let Resolved::Compare(r, ..) = *r else {
                    panic!("expected compare")
                };
                assert_eq!(l.json_path(), ["emails", "type"]);
                assert_eq!(r.json_path(), ["emails", "value"]);
            }
            other => panic!("{other:?}"),
        }
        // Single-valued complex attributes take value filters too.
        assert!(resolve_user(r#"name[givenName eq "x"]"#).is_ok());
    }

    #[test]
    fn literals_are_typed_and_normalised() {
        assert_eq!(
            single_compare(r#"emails.primary eq "True""#).2,
            CompValue::Bool(true)
        );
        assert_eq!(
            single_compare(r#"active eq "FALSE""#).2,
            CompValue::Bool(false)
        );
        assert_eq!(single_compare("active eq true").2, CompValue::Bool(true));
        assert_eq!(
            single_compare(r#"meta.created ge "2011-05-13T06:42:34.5+02:00""#).2,
            CompValue::Str("2011-05-13T04:42:34.5Z".into())
        );
        assert_eq!(
            single_compare("externalId eq 1234").2,
            CompValue::Str("1234".into())
        );
        assert_eq!(single_compare("externalId eq null").2, CompValue::Null);
        assert!(
            resolve_user(
                r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#
            )
            .is_ok()
        );
    }

    #[test]
    fn every_rfc_and_entra_example_resolves_for_users() {
        let filters = [
            r#"userName eq "bjensen""#,
            r#"name.familyName co "O'Malley""#,
            r#"userName sw "J""#,
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
            "title pr",
            r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
            r#"title pr and userType eq "Employee""#,
            r#"title pr or userType eq "Intern""#,
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
            r#"userType eq "Employee" and (emails.type eq "work")"#,
            r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
            r#"externalId eq jyoung"#,
            r#"emails[type eq "work"].value eq "user@contoso.com""#,
            r#"emails[primary eq true].value eq "x""#,
            "id eq 54D382A4-2050-4C03-94D1-E769F1D15682 and manager eq 2819c223-7f76-453a-919d-413861904646",
            r#"roles[primary eq "True"]"#,
            "groups pr",
        ];
        for input in filters {
            resolved(input);
        }
        let group = parse_filter(
            r#"members[value eq "u"] and displayName eq "x""#,
            &FilterLimits::default(),
        )
        .unwrap();
        assert!(resolve(&group, group_type()).is_ok());
    }

    #[test]
    fn resolution_errors_are_precise() {
        let cases = [
            (
                r#"foo eq "x""#,
                "unknown attribute 'foo' for User resources",
            ),
            (
                r#"name.foo eq "x""#,
                "unknown sub-attribute 'foo' of 'name'",
            ),
            (
                r#"userName.foo eq "x""#,
                "'userName' has no sub-attributes (found '.foo')",
            ),
            (
                r#"urn:example:Foo:bar eq "x""#,
                "unknown schema 'urn:example:Foo' for User resources",
            ),
            (
                r#"urn:ietf:params:scim:schemas:core:2.0:Group:displayName eq "x""#,
                "unknown schema 'urn:ietf:params:scim:schemas:core:2.0:Group' for User resources",
            ),
            (
                r#"urn:ietf:params:scim:schemas:core:2.0:User:department eq "x""#,
                "unknown attribute 'department' in schema 'urn:ietf:params:scim:schemas:core:2.0:User'",
            ),
            (
                r#"name eq "x""#,
                "'name' is a complex attribute; compare one of its sub-attributes, such as 'name.formatted'",
            ),
            (
                "active gt true",
                "operator 'gt' cannot be used with the boolean attribute 'active'",
            ),
            (
                r#"x509Certificates.value lt "a""#,
                "operator 'lt' cannot be used with the binary attribute 'x509Certificates.value'",
            ),
            (
                r#"active co "t""#,
                "operator 'co' cannot be used with the boolean attribute 'active'",
            ),
            (
                r#"meta.created sw "2011""#,
                "operator 'sw' cannot be used with the dateTime attribute 'meta.created'",
            ),
            (
                r#"x509Certificates.value co "a""#,
                "operator 'co' cannot be used with the binary attribute 'x509Certificates.value'",
            ),
            (
                r#"active eq "yes""#,
                "'active' is a boolean; expected true or false, found \"yes\"",
            ),
            (
                "active eq 1",
                "'active' is a boolean; expected true or false, found 1",
            ),
            (
                "userName eq true",
                "'userName' is a string; expected a quoted string, found true",
            ),
            (
                "userName eq 1.5",
                "'userName' is a string; expected a quoted string, found 1.5",
            ),
            (
                r#"meta.created gt "yesterday""#,
                "'meta.created' is a dateTime; expected an RFC 3339 date-time string such as \"2011-05-13T04:42:34Z\", found \"yesterday\"",
            ),
            (
                "userName gt null",
                "null can only be compared with 'eq' or 'ne' (found 'userName gt null')",
            ),
            (
                r#"userName[value eq "x"]"#,
                "'userName' is not a complex attribute, so it cannot have a '[…]' filter",
            ),
            (
                r#"emails[foo eq "x"]"#,
                "unknown sub-attribute 'foo' of 'emails'",
            ),
        ];
        for (input, detail) in cases {
            let err = resolve_user(input).unwrap_err();
            assert_eq!(
                err.scim_type,
                Some(crate::error::ScimType::InvalidFilter),
                "{input}"
            );
            assert_eq!(
                err.detail,
                format!("invalid filter: {detail}"),
                "input: {input}"
            );
        }
        let members = parse_filter(r#"members eq "u""#, &FilterLimits::default()).unwrap();
        assert!(resolve(&members, user_type()).is_err());
    }

    #[test]
    fn hand_built_asts_that_the_parser_refuses_are_refused_too() {
        let nested = Filter::value_path(
            AttrPath::name("emails"),
            Filter::value_path(
                AttrPath::name("type"),
                Filter::Present(AttrPath::name("value")),
            ),
        );
        assert!(resolve(&nested, user_type()).is_err());
        let qualified_inner = Filter::value_path(
            AttrPath::name("emails"),
            Filter::Present(AttrPath::sub("value", "x")),
        );
        assert!(resolve(&qualified_inner, user_type()).is_err());
    }
}
