//! In-memory evaluation of a [`Resolved`] filter against a resource's JSON (core attributes at the
//! top level under canonical names, extension attributes under their schema URN, `id` and `meta`
//! present).
//!
//! Semantics (RFC 7644 §3.4.2.2 where it is explicit; any SQL translation must match them):
//!
//! - **Presence.** A value is present unless it is `null`, `""`, `[]`, or an object/array with no
//!   present member. `attr pr` is true iff some value is present.
//! - **Missing attributes.** Two-valued logic, no "unknown": every comparison on a missing
//!   attribute is false, except `ne`, which is defined as exactly `not eq` and is therefore true.
//!   `eq null` is `not pr` and `ne null` is `pr`. `not` simply negates. (In SQL: `EXISTS`/
//!   `COALESCE`, never a bare `NOT (col = ?)` that turns NULL into "no match".)
//! - **Multi-valued attributes.** A comparison matches if ANY value matches (`emails.value co "x"`).
//!   Because `ne` is `not eq`, `emails.value ne "x"` means "no email is x", not "some email is not
//!   x". Dotted terms are independent: `emails.type eq "work" and emails.value eq "x"` may match
//!   via two different emails; `emails[type eq "work" and value eq "x"]` needs one email to satisfy
//!   the whole bracketed filter (a single-valued complex attribute is its only element).
//! - **Types.** Strings, references: case-insensitive (Rust `to_lowercase` on both sides) unless
//!   the attribute is `caseExact` (`id`, `externalId`, `meta.location`…); binary is always exact;
//!   `gt`/`ge`/`lt`/`le` order strings by Unicode code point after folding. Date-times compare as
//!   instants, numbers numerically, booleans by equality. A stored value of the wrong JSON type
//!   (never written by Iris) matches nothing.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::{Number, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::ast::{CompValue, CompareOp};
use super::resolve::{Resolved, ResolvedAttr};
use crate::schema::{AttrType, Attribute};

/// Whether `resource` satisfies `filter`.
pub fn matches(filter: &Resolved, resource: &Value) -> bool {
    eval(filter, Scope::Resource(resource))
}

/// Whether one value of a multi-valued attribute satisfies the filter of a value path (`type eq
/// "work"` of `emails[type eq "work"]`), resolved relative to the value: what [`matches`] decides
/// for each value of `emails[…]`, without a resource around it.
pub fn matches_element(filter: &Resolved, element: &Value) -> bool {
    !element.is_null() && eval(filter, Scope::Element(element))
}

/// What attribute paths are relative to: the resource, or one element inside a value path.
#[derive(Clone, Copy)]
enum Scope<'a> {
    Resource(&'a Value),
    Element(&'a Value),
}

fn eval(filter: &Resolved, scope: Scope<'_>) -> bool {
    match filter {
        Resolved::Present(attr) => values(attr, scope).into_iter().any(is_present),
        Resolved::Compare(attr, op, value) => compare(attr, *op, value, scope),
        Resolved::ValuePath(attr, inner) => match scope {
            Scope::Resource(resource) => resource_values(attr, resource)
                .into_iter()
                .any(|element| eval(inner, Scope::Element(element))),
            // Resolution never nests value paths.
            Scope::Element(_) => false,
        },
        Resolved::And(l, r) => eval(l, scope) && eval(r, scope),
        Resolved::Or(l, r) => eval(l, scope) || eval(r, scope),
        Resolved::Not(inner) => !eval(inner, scope),
    }
}

fn compare(attr: &ResolvedAttr, op: CompareOp, value: &CompValue, scope: Scope<'_>) -> bool {
    let leaves = values(attr, scope);
    let leaf = attr.leaf();
    match (op, value) {
        (CompareOp::Eq, CompValue::Null) => !leaves.into_iter().any(is_present),
        (CompareOp::Ne, CompValue::Null) => leaves.into_iter().any(is_present),
        (CompareOp::Ne, _) => !leaves
            .into_iter()
            .any(|v| leaf_matches(leaf, CompareOp::Eq, v, value)),
        _ => leaves.into_iter().any(|v| leaf_matches(leaf, op, v, value)),
    }
}

/// The non-null values `attr` denotes in `scope`, with arrays flattened.
fn values<'v>(attr: &ResolvedAttr, scope: Scope<'v>) -> Vec<&'v Value> {
    match scope {
        Scope::Resource(resource) => {
            let parents = resource_values(attr, resource);
            match attr.sub {
                None => parents,
                Some(sub) => parents
                    .into_iter()
                    .filter_map(|element| member(element, sub.name))
                    .flat_map(flatten)
                    .collect(),
            }
        }
        Scope::Element(element) => match attr.sub {
            Some(sub) => member(element, sub.name).map(flatten).unwrap_or_default(),
            None => vec![element],
        },
    }
}

/// The values (elements, for multi-valued attributes) of `attr.attr` in the resource.
fn resource_values<'v>(attr: &ResolvedAttr, resource: &'v Value) -> Vec<&'v Value> {
    let container = if attr.is_extension() {
        member(resource, attr.schema.id)
    } else {
        Some(resource)
    };
    container
        .and_then(|c| member(c, attr.attr.name))
        .map(flatten)
        .unwrap_or_default()
}

fn flatten(value: &Value) -> Vec<&Value> {
    match value {
        Value::Null => Vec::new(),
        Value::Array(items) => items.iter().filter(|v| !v.is_null()).collect(),
        other => vec![other],
    }
}

/// Looks a key up exactly, then case-insensitively: stored documents use canonical names, but a
/// tolerant lookup costs little and keeps hand-written resources working.
fn member<'v>(value: &'v Value, key: &str) -> Option<&'v Value> {
    let map = value.as_object()?;
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

fn is_present(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => items.iter().any(is_present),
        Value::Object(map) => map.values().any(is_present),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

/// Compares one stored value of attribute `def` with a (resolved, so well-typed) literal.
fn leaf_matches(def: &Attribute, op: CompareOp, stored: &Value, literal: &CompValue) -> bool {
    match (def.ty, stored, literal) {
        (
            AttrType::String | AttrType::Reference | AttrType::Binary,
            Value::String(a),
            CompValue::Str(b),
        ) => compare_strings(op, a, b, def.case_exact || def.ty == AttrType::Binary),
        (AttrType::Boolean, Value::Bool(a), CompValue::Bool(b)) => {
            ordering_matches(op, a.cmp(b)) && !op.is_ordering()
        }
        (AttrType::Integer | AttrType::Decimal, Value::Number(a), CompValue::Num(b)) => {
            compare_numbers(a, b).is_some_and(|ord| ordering_matches(op, ord))
        }
        (AttrType::DateTime, Value::String(a), CompValue::Str(b)) => {
            match (parse_datetime(a), parse_datetime(b)) {
                (Some(a), Some(b)) => ordering_matches(op, a.cmp(&b)),
                _ => false,
            }
        }
        _ => false,
    }
}

fn compare_strings(op: CompareOp, stored: &str, literal: &str, case_exact: bool) -> bool {
    let substring = matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew);
    if !case_exact && !substring && stored.is_ascii() && literal.is_ascii() {
        // ASCII lowercases byte by byte: the same order as below, without two allocations for
        // every value a PATCH's value filter looks at.
        let ord = stored
            .bytes()
            .map(|b| b.to_ascii_lowercase())
            .cmp(literal.bytes().map(|b| b.to_ascii_lowercase()));
        return ordering_matches(op, ord);
    }
    let (a, b): (Cow<'_, str>, Cow<'_, str>) = if case_exact {
        (stored.into(), literal.into())
    } else {
        (stored.to_lowercase().into(), literal.to_lowercase().into())
    };
    match op {
        CompareOp::Co => a.contains(&*b),
        CompareOp::Sw => a.starts_with(&*b),
        CompareOp::Ew => a.ends_with(&*b),
        _ => ordering_matches(op, a.cmp(&b)),
    }
}

/// Exact for integers (no rounding through `f64` above 2^53), `f64` otherwise.
fn compare_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return Some(x.cmp(&y));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

/// Whether `stored` `op` `literal` holds, given their ordering. Substring operators never apply
/// to ordered (non-string) values.
fn ordering_matches(op: CompareOp, ord: Ordering) -> bool {
    match op {
        CompareOp::Eq => ord == Ordering::Equal,
        CompareOp::Ne => ord != Ordering::Equal,
        CompareOp::Gt => ord == Ordering::Greater,
        CompareOp::Ge => ord != Ordering::Less,
        CompareOp::Lt => ord == Ordering::Less,
        CompareOp::Le => ord != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

fn parse_datetime(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::filter::parser::{FilterLimits, parse_filter};
    use crate::filter::resolve::resolve;
    use crate::schema::{ENTERPRISE_USER, ResourceType, USER, group_type, user_type};

    fn barbara() -> Value {
        json!({
            "schemas": [USER, ENTERPRISE_USER],
            "id": "2819c223-7f76-453a-919d-413861904646",
            "externalId": "Bjensen",
            "userName": "bjensen@example.com",
            "name": {"familyName": "Jensen", "givenName": "Barbara"},
            "title": "",
            "userType": "Employee",
            "active": true,
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "ims": [],
            "meta": {
                "resourceType": "User",
                "created": "2010-01-23T04:56:22Z",
                "lastModified": "2011-05-13T04:42:34Z"
            },
            ENTERPRISE_USER: {
                "department": "Tour Operations",
                "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}
            }
        })
    }

    fn check(rt: &'static ResourceType, resource: &Value, cases: &[(&str, bool)]) {
        for (input, expected) in cases {
            let filter = parse_filter(input, &FilterLimits::default())
                .unwrap_or_else(|e| panic!("{input}: {e}"));
            let resolved = resolve(&filter, rt).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(matches(&resolved, resource), *expected, "filter: {input}");
        }
    }

    #[test]
    fn strings_respect_case_exactness() {
        check(
            user_type(),
            &barbara(),
            &[
                (r#"userName eq "BJENSEN@example.com""#, true),
                (r#"USERNAME Eq "bjensen@example.com""#, true),
                (r#"externalId eq "bjensen""#, false),
                (r#"externalId eq "Bjensen""#, true),
                (r#"id eq "2819C223-7F76-453A-919D-413861904646""#, false),
                ("id eq 2819c223-7f76-453a-919d-413861904646", true),
                (r#"name.familyName co "ENS""#, true),
                (r#"name.givenName sw "barb""#, true),
                (r#"name.givenName ew "RA""#, true),
                (r#"name.givenName ew "x""#, false),
                (r#"name.familyName gt "J""#, true),
                (r#"name.familyName lt "K""#, true),
                (r#"name.familyName ge "jensen""#, true),
                (r#"name.familyName le "jensem""#, false),
                (
                    r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user""#,
                    true,
                ),
            ],
        );
        let unicode = json!({"userName": "ÉMILE", "externalId": "ÉMILE"});
        check(
            user_type(),
            &unicode,
            &[
                (r#"userName eq "émile""#, true),
                (r#"externalId eq "émile""#, false),
            ],
        );
    }

    #[test]
    fn presence_and_missing_attributes() {
        check(
            user_type(),
            &barbara(),
            &[
                ("title pr", false),
                ("nickName pr", false),
                ("ims pr", false),
                ("emails pr", true),
                ("name pr", true),
                ("userName pr", true),
                ("title eq null", true),
                ("nickName eq null", true),
                ("userName eq null", false),
                ("userName ne null", true),
                ("nickName ne null", false),
                (r#"nickName eq "x""#, false),
                (r#"nickName co "x""#, false),
                (r#"nickName ne "x""#, true),
                (r#"not (nickName eq "x")"#, true),
                (r#"not (nickName ne "x")"#, false),
                (r#"userName ne "bjensen@example.com""#, false),
                (r#"userName ne "other""#, true),
                (r#"name.middleName eq "x""#, false),
                ("name.middleName pr", false),
            ],
        );
    }

    #[test]
    fn multi_valued_attributes_match_any_value() {
        check(
            user_type(),
            &barbara(),
            &[
                (r#"emails eq "babs@jensen.org""#, true),
                (r#"emails.value co "JENSEN.ORG""#, true),
                // `ne` is `not eq`: some email equals it, so `ne` is false.
                (r#"emails.value ne "babs@jensen.org""#, false),
                (r#"emails.value ne "nobody@x.org""#, true),
                // Dotted terms may be satisfied by different elements ...
                (
                    r#"emails.type eq "work" and emails.value eq "babs@jensen.org""#,
                    true,
                ),
                // ... a value path needs one element to satisfy all of it.
                (
                    r#"emails[type eq "work" and value eq "babs@jensen.org"]"#,
                    false,
                ),
                (
                    r#"emails[type eq "work" and value eq "bjensen@example.com"]"#,
                    true,
                ),
                (r#"emails[type ne "work"]"#, true),
                (r#"emails[not (type pr)]"#, false),
                (r#"emails[primary eq false]"#, false),
                (r#"emails[primary ne true]"#, true),
                (r#"ims[type eq "xmpp"]"#, false),
                (r#"name[givenName eq "barbara"]"#, true),
            ],
        );
    }

    #[test]
    fn entra_filters() {
        check(
            user_type(),
            &barbara(),
            &[
                (r#"userName eq "BJensen@Example.com""#, true),
                (
                    r#"emails[type eq "work"].value eq "bjensen@example.com""#,
                    true,
                ),
                (
                    r#"emails[type eq "work"].value eq "babs@jensen.org""#,
                    false,
                ),
                (
                    r#"emails[primary eq true].value eq "bjensen@example.com""#,
                    true,
                ),
                (
                    r#"emails[primary eq "True"].value eq "babs@jensen.org""#,
                    false,
                ),
                (
                    "id eq 2819c223-7f76-453a-919d-413861904646 and manager eq 26118915-6090-4610-87e4-49d8ca9f808d",
                    true,
                ),
                (
                    "id eq 2819c223-7f76-453a-919d-413861904646 and manager eq 0000",
                    false,
                ),
                (
                    r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "tour operations""#,
                    true,
                ),
                (
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value pr",
                    true,
                ),
                (r#"department sw "Tour""#, true),
            ],
        );
        let group = json!({
            "id": "g1",
            "displayName": "Admins",
            "members": [{"value": "u1", "type": "User"}, {"value": "u2"}]
        });
        check(
            group_type(),
            &group,
            &[
                (r#"members[value eq "u1"]"#, true),
                (r#"members[value eq "U1"]"#, true),
                (r#"id eq "g1" and members eq "u2""#, true),
                (r#"id eq "g1" and members eq "u3""#, false),
                (r#"displayName eq "admins""#, true),
            ],
        );
    }

    #[test]
    fn booleans_and_datetimes() {
        check(
            user_type(),
            &barbara(),
            &[
                ("active eq true", true),
                ("active ne true", false),
                (r#"active eq "False""#, false),
                (r#"meta.lastModified gt "2011-05-13T04:42:33Z""#, true),
                (r#"meta.lastModified ge "2011-05-13T06:42:34+02:00""#, true),
                (r#"meta.lastModified eq "2011-05-13T04:42:34.000Z""#, true),
                (r#"meta.lastModified lt "2011-05-13T04:42:34Z""#, false),
                (r#"meta.lastModified le "2011-05-13T04:42:34Z""#, true),
                (r#"meta.created le "2011-01-01T00:00:00Z""#, true),
                (r#"meta.created gt "2011-01-01T00:00:00Z""#, false),
            ],
        );
    }

    #[test]
    fn rfc_examples_combine_as_expected() {
        check(
            user_type(),
            &barbara(),
            &[
                (
                    r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
                    true,
                ),
                (
                    r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
                    false,
                ),
                (r#"title pr or userType eq "Intern""#, false),
                (
                    r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
                    true,
                ),
            ],
        );
    }

    #[test]
    fn numbers_compare_numerically() {
        let n = |v: serde_json::Value| match v {
            Value::Number(n) => n,
            _ => unreachable!(),
        };
        assert_eq!(
            compare_numbers(&n(json!(10)), &n(json!(9))),
            Some(Ordering::Greater)
        );
        assert_eq!(
            compare_numbers(&n(json!(-1)), &n(json!(u64::MAX))),
            Some(Ordering::Less)
        );
        assert_eq!(
            compare_numbers(&n(json!(1.5)), &n(json!(2))),
            Some(Ordering::Less)
        );
        assert_eq!(
            compare_numbers(
                &n(json!(9_007_199_254_740_993_i64)),
                &n(json!(9_007_199_254_740_992_i64))
            ),
            Some(Ordering::Greater)
        );
        let decimal = Attribute {
            name: "score",
            ty: AttrType::Decimal,
            sub_attributes: Vec::new(),
            ..user_type().schema.attributes[0].clone()
        };
        let lit = CompValue::Num(n(json!(2.5)));
        assert!(leaf_matches(&decimal, CompareOp::Gt, &json!(3), &lit));
        assert!(leaf_matches(&decimal, CompareOp::Le, &json!(2.5), &lit));
        assert!(!leaf_matches(&decimal, CompareOp::Eq, &json!("2.5"), &lit));
        assert!(!leaf_matches(&decimal, CompareOp::Co, &json!(2.5), &lit));
    }

    #[test]
    fn wrong_stored_types_never_match() {
        let odd = json!({"userName": 5, "active": "true", "emails": "x@y.z", "meta": {"created": "soon"}});
        check(
            user_type(),
            &odd,
            &[
                (r#"userName eq "5""#, false),
                ("active eq true", false),
                (r#"emails.value eq "x@y.z""#, false),
                (r#"meta.created lt "2030-01-01T00:00:00Z""#, false),
            ],
        );
    }
}
