//! Random filters over the users' attributes: every operator, `and`/`or`/`not`, value paths,
//! Entra's `emails[type eq "work"].value eq "…"`, with values drawn from the stored data and their
//! case changed so that matches happen.

use std::collections::BTreeSet;
use std::sync::Arc;

use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::strategy::Union;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::users::{WORDS, apply_case, word};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Str,
    Bool,
    Time,
}

use Kind::{Bool, Str, Time};

/// Attributes compared at resource level (spellings vary on purpose).
const ROW_ATTRS: &[(&str, Kind)] = &[
    ("userName", Str),
    ("urn:ietf:params:scim:schemas:core:2.0:User:userName", Str),
    ("externalId", Str),
    ("id", Str),
    ("displayName", Str),
    ("title", Str),
    ("nickName", Str),
    ("name.givenName", Str),
    ("name.familyName", Str),
    (
        "urn:ietf:params:scim:schemas:core:2.0:User:name.formatted",
        Str,
    ),
    ("active", Bool),
    ("emails", Str),
    ("emails.value", Str),
    ("emails.type", Str),
    ("emails.display", Str),
    ("emails.primary", Bool),
    ("phoneNumbers", Str),
    ("phoneNumbers.value", Str),
    ("phoneNumbers.type", Str),
    ("phoneNumbers.primary", Bool),
    (
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
        Str,
    ),
    ("department", Str),
    ("manager", Str),
    (
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
        Str,
    ),
    ("employeeNumber", Str),
    ("meta.created", Time),
    ("meta.lastModified", Time),
    ("meta.resourceType", Str),
    ("schemas", Str),
];

/// Complex attributes only tested with `pr`.
const PRESENT_ONLY: &[&str] = &[
    "name",
    "emails",
    "phoneNumbers",
    "manager",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
    "meta",
];

const ELEMENT_SUBS: &[(&str, Kind)] = &[
    ("value", Str),
    ("type", Str),
    ("display", Str),
    ("primary", Bool),
];
const NAME_SUBS: &[(&str, Kind)] = &[("givenName", Str), ("familyName", Str)];
const MANAGER_SUBS: &[(&str, Kind)] = &[("value", Str)];

/// Attributes that take `[…]` value filters, with the sub-attributes the inner filter uses.
const VALUE_PATHS: &[(&str, &[(&str, Kind)])] = &[
    ("emails", ELEMENT_SUBS),
    ("phoneNumbers", ELEMENT_SUBS),
    ("name", NAME_SUBS),
    ("manager", MANAGER_SUBS),
    (
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
        MANAGER_SUBS,
    ),
];

const BOOL_LITERALS: &[&str] = &["true", "false", "\"True\"", "\"false\"", "TRUE"];

/// What filter values are drawn from: every string of the stored resources, and their timestamps.
pub(crate) struct Pool {
    strings: Vec<String>,
    times: Vec<String>,
}

impl Pool {
    pub(crate) fn from(rendered: &[(String, Value)]) -> Self {
        fn walk(v: &Value, out: &mut BTreeSet<String>) {
            match v {
                Value::String(s) => {
                    out.insert(s.clone());
                }
                Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
                Value::Object(m) => m.values().for_each(|i| walk(i, out)),
                _ => {}
            }
        }
        let mut strings = BTreeSet::new();
        let mut times = BTreeSet::new();
        for (_, r) in rendered {
            walk(r, &mut strings);
            for k in ["created", "lastModified"] {
                if let Some(t) = r["meta"][k].as_str() {
                    times.insert(t.to_owned());
                }
            }
        }
        strings.extend(WORDS.iter().map(|w| (*w).to_owned()));
        Self {
            strings: strings.into_iter().collect(),
            times: times.into_iter().collect(),
        }
    }
}

/// A piece of `s` (by characters): 0–2 all of it, 3 a prefix, 4 a suffix, 5 a middle part.
fn cut(s: &str, mode: u8, a: Index, b: Index) -> String {
    let chars: Vec<char> = s.chars().collect();
    let i = a.index(chars.len() + 1);
    let j = b.index(chars.len() + 1);
    let piece: &[char] = match mode {
        3 => &chars[..i],
        4 => &chars[i..],
        5 => &chars[i.min(j)..i.max(j)],
        _ => &chars,
    };
    piece.iter().collect()
}

fn str_value(pool: &Arc<Pool>) -> BoxedStrategy<String> {
    prop_oneof![
        8 => (select(pool.strings.clone()), 0u8..6, 0u8..6, any::<Index>(), any::<Index>())
            .prop_map(|(s, case, mode, a, b)| apply_case(&cut(&s, mode, a, b), case % 4)),
        2 => word(),
        1 => Just(String::new()),
    ]
    .boxed()
}

/// A stored timestamp moved by a little (sub-millisecond too) and written with another offset.
fn time_value(pool: &Arc<Pool>) -> BoxedStrategy<String> {
    let times = if pool.times.is_empty() {
        vec!["2026-01-02T03:04:05.123Z".to_owned()]
    } else {
        pool.times.clone()
    };
    (
        select(times),
        select(&[-1000i64, -1, 0, 0, 0, 1, 500, 1000, -86_400_000_000][..]),
        select(&[0i32, 0, 7200, -19800][..]),
        any::<bool>(),
    )
        .prop_map(|(t, delta_us, offset_s, whole_seconds)| {
            let Ok(at) = OffsetDateTime::parse(&t, &Rfc3339) else {
                return t;
            };
            let mut at = at + time::Duration::microseconds(delta_us);
            if whole_seconds {
                at = at.replace_nanosecond(0).unwrap_or(at);
            }
            let offset =
                time::UtcOffset::from_whole_seconds(offset_s).unwrap_or(time::UtcOffset::UTC);
            at.to_offset(offset).format(&Rfc3339).unwrap_or(t)
        })
        .boxed()
}

fn ops_for(kind: Kind) -> &'static [&'static str] {
    match kind {
        Str => &["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"],
        Bool => &["eq", "ne"],
        Time => &["eq", "ne", "gt", "ge", "lt", "le"],
    }
}

/// Keywords and attribute names are case-insensitive: vary them now and then.
fn vary(s: &str, mode: u8) -> String {
    if mode < 5 {
        s.to_owned()
    } else {
        apply_case(s, mode)
    }
}

pub(crate) fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// `attr pr`, `attr op value` or `attr eq/ne null`, over `attrs`.
fn term(attrs: &'static [(&'static str, Kind)], pool: &Arc<Pool>) -> BoxedStrategy<String> {
    (
        select(attrs),
        any::<Index>(),
        str_value(pool),
        time_value(pool),
        select(BOOL_LITERALS),
        0u8..12,
        0u8..8,
        0u8..8,
    )
        .prop_map(|((name, kind), op, s, t, b, form, name_case, op_case)| {
            let name = vary(name, name_case);
            match form {
                0 => format!("{name} {}", vary("pr", op_case)),
                1 => {
                    let op = if op.index(2) == 0 { "eq" } else { "ne" };
                    format!("{name} {} null", vary(op, op_case))
                }
                _ => {
                    let ops = ops_for(kind);
                    let op = vary(ops[op.index(ops.len())], op_case);
                    let value = match kind {
                        Str => json_string(&s),
                        Bool => b.to_owned(),
                        Time => json_string(&t),
                    };
                    format!("{name} {op} {value}")
                }
            }
        })
        .boxed()
}

fn maybe_paren(s: String, wrap: bool) -> String {
    if wrap { format!("({s})") } else { s }
}

/// `and`/`or` (with or without parentheses), `not (…)` / `not(…)`, grouping.
fn combine(inner: BoxedStrategy<String>) -> BoxedStrategy<String> {
    prop_oneof![
        4 => (
            inner.clone(),
            inner.clone(),
            select(&["and", "AND", "And", "or", "OR", "oR"][..]),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(a, b, k, pa, pb)| format!("{} {k} {}", maybe_paren(a, pa), maybe_paren(b, pb))),
        2 => (inner.clone(), select(&["not (", "not(", "NOT (", "Not ("][..]))
            .prop_map(|(a, not)| format!("{not}{a})")),
        1 => inner.prop_map(|a| format!("({a})")),
    ]
    .boxed()
}

/// A filter over the sub-attributes `subs` (the inside of `attr[…]`).
fn inner_filter(subs: &'static [(&'static str, Kind)], pool: &Arc<Pool>) -> BoxedStrategy<String> {
    term(subs, pool).prop_recursive(2, 6, 2, combine).boxed()
}

/// `attr[filter]` and Entra's `attr[filter].sub op value`.
fn value_path(pool: &Arc<Pool>) -> BoxedStrategy<String> {
    let arms: Vec<BoxedStrategy<String>> = VALUE_PATHS
        .iter()
        .map(|(attr, subs)| {
            (
                inner_filter(subs, pool),
                prop::option::weighted(0.4, term(subs, pool)),
                0u8..8,
            )
                .prop_map(move |(inner, trailing, case)| {
                    let attr = vary(attr, case);
                    match trailing {
                        Some(t) => format!("{attr}[{inner}].{t}"),
                        None => format!("{attr}[{inner}]"),
                    }
                })
                .boxed()
        })
        .collect();
    Union::new(arms).boxed()
}

/// Exactly what Entra sends when an admin matches on the work email.
fn entra_email(pool: &Arc<Pool>) -> BoxedStrategy<String> {
    (
        select(&["work", "Work", "home"][..]),
        str_value(pool),
        select(&["emails", "Emails", "phoneNumbers"][..]),
    )
        .prop_map(|(ty, v, attr)| format!("{attr}[type eq \"{ty}\"].value eq {}", json_string(&v)))
        .boxed()
}

pub(crate) fn filter_strategy(pool: &Arc<Pool>) -> BoxedStrategy<String> {
    let leaf = prop_oneof![
        8 => term(ROW_ATTRS, pool),
        1 => (select(PRESENT_ONLY), 0u8..8).prop_map(|(a, c)| format!("{} pr", vary(a, c))),
        3 => value_path(pool),
        2 => entra_email(pool),
    ];
    leaf.prop_recursive(3, 12, 2, combine).boxed()
}
