//! Random users: mixed case, Unicode, empty strings, missing attributes, several emails and phone
//! numbers, the enterprise extension with the manager in each of Entra's shapes.

use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Map, Value, json};

use crate::{CORE, ENTERPRISE};

pub(crate) const WORDS: &[&str] = &[
    "alice",
    "Bob",
    "ÉMILE",
    "émile",
    "straße",
    "STRASSE",
    "zoë",
    "O'Malley",
    "x",
    "a b",
    "İstanbul",
    "ǅemal",
    "Ωmega",
    "Jensen",
    "jENSEN",
    "work",
    "ñ",
    "東京",
];
const DOMAINS: &[&str] = &["example.com", "Example.ORG", "contoso.com", "straße.de"];
const TYPES: &[&str] = &["work", "Work", "WORK", "home", "Home", "other", ""];
const PHONES: &[&str] = &["+1 555 0100", "555-0100", "+49 30 123456", "", "0800 ÉTÉ"];
const MANAGERS: &[&str] = &[
    "26118915-6090-4610-87e4-49d8ca9f808d",
    "26118915-6090-4610-87E4-49D8CA9F808D",
    "Boss",
    "boss",
    "",
];

/// Changes the case of `s`: 0 keeps it, 1 upper, 2 lower, 3 alternates.
pub(crate) fn apply_case(s: &str, mode: u8) -> String {
    match mode % 4 {
        0 => s.to_owned(),
        1 => s.to_uppercase(),
        2 => s.to_lowercase(),
        _ => s
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if i % 2 == 0 {
                    c.to_uppercase().to_string()
                } else {
                    c.to_lowercase().to_string()
                }
            })
            .collect(),
    }
}

pub(crate) fn word() -> BoxedStrategy<String> {
    (select(WORDS), 0u8..4)
        .prop_map(|(w, case)| apply_case(w, case))
        .boxed()
}

/// An optional string attribute: often absent, sometimes empty, sometimes two words.
fn opt_text() -> BoxedStrategy<Option<String>> {
    prop_oneof![
        3 => Just(None),
        1 => Just(Some(String::new())),
        4 => word().prop_map(Some),
        2 => (word(), select(&["", " ", "-", "."][..]), word())
            .prop_map(|(a, sep, b)| Some(format!("{a}{sep}{b}"))),
    ]
    .boxed()
}

fn email_value() -> BoxedStrategy<String> {
    prop_oneof![
        6 => (word(), select(DOMAINS)).prop_map(|(w, d)| format!("{w}@{d}")),
        1 => word(),
        1 => Just(String::new()),
    ]
    .boxed()
}

/// One element of a multi-valued attribute; any sub-attribute may be missing.
fn element(value: BoxedStrategy<String>) -> BoxedStrategy<Value> {
    (
        prop::option::weighted(0.85, value),
        prop::option::of(select(TYPES)),
        prop::option::of(any::<bool>()),
        prop::option::weighted(0.2, word()),
    )
        .prop_map(|(value, ty, primary, display)| {
            let mut m = Map::new();
            if let Some(v) = value {
                m.insert("value".into(), v.into());
            }
            if let Some(t) = ty {
                m.insert("type".into(), t.into());
            }
            if let Some(p) = primary {
                m.insert("primary".into(), p.into());
            }
            if let Some(d) = display {
                m.insert("display".into(), d.into());
            }
            Value::Object(m)
        })
        .boxed()
}

/// At most one element may be primary; later `primary: true` become `false`.
fn one_primary(mut items: Vec<Value>) -> Vec<Value> {
    let mut seen = false;
    for item in &mut items {
        if item.get("primary") == Some(&Value::Bool(true)) {
            if seen {
                item["primary"] = Value::Bool(false);
            }
            seen = true;
        }
    }
    items
}

/// A POST body without `userName` (added with a unique suffix when the user is created).
pub(crate) fn user_body() -> BoxedStrategy<(String, Value)> {
    let name = (opt_text(), opt_text(), opt_text());
    let enterprise = (
        opt_text(),
        prop::option::of((select(MANAGERS), 0u8..3)),
        prop::option::weighted(0.2, word()),
    );
    let active = prop_oneof![
        Just(None),
        Just(Some(json!(true))),
        Just(Some(json!(false))),
        Just(Some(json!("True"))),
        Just(Some(json!("False"))),
    ];
    let external_id = prop_oneof![
        3 => Just(None),
        1 => Just(Some(String::new())),
        4 => word().prop_map(Some),
        1 => Just(Some("1234".to_owned())),
    ];
    (
        (word(), select(DOMAINS)),
        external_id,
        opt_text(),
        opt_text(),
        active,
        prop::option::weighted(0.7, name),
        prop::collection::vec(element(email_value()), 0..=3),
        prop::collection::vec(
            element(select(PHONES).prop_map(str::to_owned).boxed()),
            0..=2,
        ),
        prop::option::weighted(0.5, enterprise),
    )
        .prop_map(
            |(
                (base, domain),
                external_id,
                display_name,
                title,
                active,
                name,
                emails,
                phones,
                enterprise,
            )| {
                let mut body = Map::new();
                body.insert("schemas".into(), json!([CORE, ENTERPRISE]));
                let mut put = |k: &str, v: Option<Value>| {
                    if let Some(v) = v {
                        body.insert(k.to_owned(), v);
                    }
                };
                put("externalId", external_id.map(Value::from));
                put("displayName", display_name.map(Value::from));
                put("title", title.map(Value::from));
                put("active", active);
                if let Some((given, family, formatted)) = name {
                    let mut n = Map::new();
                    for (k, v) in [
                        ("givenName", given),
                        ("familyName", family),
                        ("formatted", formatted),
                    ] {
                        if let Some(v) = v {
                            n.insert(k.into(), v.into());
                        }
                    }
                    put("name", Some(Value::Object(n)));
                }
                if !emails.is_empty() {
                    put("emails", Some(Value::Array(one_primary(emails))));
                }
                if !phones.is_empty() {
                    put("phoneNumbers", Some(Value::Array(one_primary(phones))));
                }
                if let Some((department, manager, employee_number)) = enterprise {
                    let mut e = Map::new();
                    if let Some(d) = department {
                        e.insert("department".into(), d.into());
                    }
                    if let Some((m, shape)) = manager {
                        // Entra sends the manager as a bare id, as an object, or as a one-element
                        // array of objects.
                        let v = match shape {
                            0 => json!(m),
                            1 => json!({"value": m}),
                            _ => json!([{"value": m}]),
                        };
                        e.insert("manager".into(), v);
                    }
                    if let Some(n) = employee_number {
                        e.insert("employeeNumber".into(), n.into());
                    }
                    put(ENTERPRISE, Some(Value::Object(e)));
                }
                (format!("{base}@{domain}"), Value::Object(body))
            },
        )
        .boxed()
}

/// Numbered POST bodies with unique userNames.
pub(crate) fn bodies(generated: Vec<(String, Value)>) -> Vec<Value> {
    generated
        .into_iter()
        .enumerate()
        .map(|(i, (user_name, mut body))| {
            let (local, domain) = user_name.split_once('@').unwrap_or((&user_name, ""));
            body["userName"] = format!("{local}.{i}@{domain}").into();
            body
        })
        .collect()
}
