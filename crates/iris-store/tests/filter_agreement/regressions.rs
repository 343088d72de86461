//! Regressions: disagreements the property found, pinned with minimal data, on both backends.

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::ENTERPRISE;
use crate::database::{Backend, assert_agreement, on_database};
use crate::filters::json_string;
use crate::fixture::Fixture;

/// Seeds `bodies` (each needs a unique `userName`) and checks every filter `filters` builds from
/// the rendered users, on SQLite and on PostgreSQL.
fn regression(label: &str, bodies: &[Value], filters: fn(&[(String, Value)]) -> Vec<String>) {
    let mut failures = Vec::new();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        failures.extend(on_database(backend, label, async move |store, backend| {
            let fixture = Fixture::seed(&store, backend, "regression", bodies).await;
            let mut failures = Vec::new();
            for f in filters(&fixture.rendered) {
                if let Err(e) = fixture.check(&f).await {
                    failures.push(e);
                }
            }
            failures
        }));
    }
    assert_agreement(&failures);
}

fn fixed(filters: &[&str]) -> Vec<String> {
    filters.iter().map(|f| (*f).to_owned()).collect()
}

/// Elements of `emails`/`phoneNumbers` without a `value` are not mirrored in `user_values`, so
/// side-table answers miss them: `emails[type eq "work"]` does not find `{"type": "work"}`.
#[test]
fn regression_elements_without_value_are_found() {
    regression(
        "elements without value",
        &[
            json!({"userName": "a", "emails": [{"type": "work"}], "phoneNumbers": [{"type": "home", "primary": true}]}),
            json!({"userName": "b", "emails": [{"value": "b@x.org", "type": "home"}]}),
        ],
        |_| {
            fixed(&[
                r#"emails[type eq "work"]"#,
                r#"emails.type eq "work""#,
                "emails.type pr",
                "phoneNumbers.type pr",
                "phoneNumbers[primary eq true]",
                r#"not (emails.type eq "work")"#,
            ])
        },
    );
}

/// `user_values.is_primary` is NOT NULL (absent is stored as false), so an element without
/// `primary` matches `primary eq false` and `primary pr` in SQL but not in memory.
#[test]
fn regression_absent_primary_is_not_false() {
    regression(
        "absent primary",
        &[
            json!({"userName": "a", "emails": [{"value": "a@x.org", "type": "work"}]}),
            json!({"userName": "b", "emails": [{"value": "b@x.org", "type": "work", "primary": false}]}),
            json!({"userName": "c", "emails": [{"value": "c@x.org", "type": "work", "primary": true}]}),
        ],
        |_| {
            fixed(&[
                "emails.primary pr",
                "emails[primary eq false]",
                "emails.primary eq false",
                "emails.primary eq null",
                r#"emails[type eq "work"].primary eq false"#,
                "not (phoneNumbers.primary pr)",
            ])
        },
    );
}

/// `user_values.type_lower` stores an absent `type` as `''`, so `emails.type eq ""` and ordering
/// comparisons (`"" lt "a"`) match elements that have no type at all.
#[test]
fn regression_absent_type_is_not_empty_type() {
    regression(
        "absent type",
        &[
            json!({"userName": "a", "emails": [{"value": "a@x.org"}]}),
            json!({"userName": "b", "emails": [{"value": "b@x.org", "type": ""}]}),
            json!({"userName": "c", "emails": [{"value": "c@x.org", "type": "work"}]}),
        ],
        |_| {
            fixed(&[
                r#"emails.type eq """#,
                r#"emails.type ne """#,
                r#"emails[type lt "a"]"#,
                r#"emails.type le "work""#,
            ])
        },
    );
}

/// `attr pr` on a complex attribute tests one text: SQL reads a single-valued complex value as
/// its JSON text (non-empty even when every sub-attribute is `""`), and a multi-valued one as
/// its `value` only; in memory a complex value is present iff some sub-attribute is.
#[test]
fn regression_presence_of_complex_attributes() {
    regression(
        "complex presence",
        &[
            json!({"userName": "a", "name": {"givenName": ""},
                   ENTERPRISE: {"manager": {"value": ""}},
                   "emails": [{"value": "", "type": "work"}]}),
            json!({"userName": "b", "name": {"givenName": "B"},
                   ENTERPRISE: {"manager": {"value": "m"}},
                   "emails": [{"value": "b@x.org"}]}),
            json!({"userName": "c", "phoneNumbers": [{"value": "", "display": "desk"}]}),
        ],
        |_| {
            fixed(&[
                "name pr",
                "not (name pr)",
                "manager pr",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager pr",
                "emails pr",
                "not (emails pr)",
                "phoneNumbers pr",
            ])
        },
    );
}

/// A value filter on a single-valued complex attribute (`manager[…]`, `name[…]`) is compiled as
/// the inner filter on the row, so it matches users that do not have the attribute at all when
/// the inner filter is true of nothing (`not`, `ne`).
#[test]
fn regression_value_filter_on_absent_single_valued_attribute() {
    regression(
        "absent single-valued",
        &[
            json!({"userName": "a"}),
            json!({"userName": "b", "name": {"givenName": "G"}, ENTERPRISE: {"manager": {"value": "m"}}}),
        ],
        |_| {
            fixed(&[
                "manager[not (value pr)]",
                r#"manager[value ne "x"]"#,
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[value ne "m"]"#,
                r#"name[not (givenName eq "x")]"#,
                "name[familyName eq null]",
            ])
        },
    );
}

/// Date-time literals are normalised to the stored millisecond precision by truncation, so a
/// literal 1 µs after a stored instant compares equal to it in SQL but greater in memory.
#[test]
fn regression_sub_millisecond_date_time_literals() {
    regression("sub-millisecond", &[json!({"userName": "a"})], |rendered| {
        let created = rendered[0].1["meta"]["created"]
            .as_str()
            .unwrap_or_default();
        let at = OffsetDateTime::parse(created, &Rfc3339).expect("stored meta.created");
        let later = (at + time::Duration::microseconds(1))
            .format(&Rfc3339)
            .expect("format");
        let earlier = (at - time::Duration::microseconds(1))
            .format(&Rfc3339)
            .expect("format");
        vec![
            format!("meta.created eq {}", json_string(&later)),
            format!("meta.created ge {}", json_string(&later)),
            format!("meta.created lt {}", json_string(&later)),
            format!("meta.lastModified le {}", json_string(&earlier)),
            format!("meta.lastModified gt {}", json_string(&earlier)),
        ]
    });
}

/// `schemas` and `meta.resourceType`/`meta.location`/`meta.version` are rendered on every
/// resource and resolve as filter attributes, but SQL answers them with FALSE (`schemas` is read
/// from `search_doc`, which does not hold it; the meta sub-attributes are not stored per row).
#[test]
fn regression_rendered_only_attributes() {
    regression(
        "rendered-only",
        &[
            json!({"userName": "a", ENTERPRISE: {"department": "R&D"}}),
            json!({"userName": "b"}),
        ],
        |_| {
            fixed(&[
                r#"meta.resourceType eq "User""#,
                "meta.resourceType pr",
                "not (meta.resourceType pr)",
                "schemas pr",
                r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
                r#"schemas eq "urn:ietf:params:scim:schemas:core:2.0:User""#,
                "meta.version pr",
                "meta.location pr",
            ])
        },
    );
}

/// Filters that agree today, kept as fixed cases for the shapes Entra depends on and for the
/// Unicode case folding both databases must share.
#[test]
fn agreement_on_entra_and_unicode_cases() {
    regression(
        "entra and unicode",
        &[
            json!({"userName": "ÉMILE@Example.org", "externalId": "AbC", "displayName": "Straße",
                   "emails": [{"value": "É@X.org", "type": "Work", "primary": true},
                              {"value": "home@x.org", "type": "home"}],
                   ENTERPRISE: {"manager": "26118915-6090-4610-87e4-49d8ca9f808d"}}),
            json!({"userName": "ǅemal", "externalId": "abc", "title": "",
                   "emails": [{"value": "home@x.org", "type": "work"}]}),
        ],
        |rendered| {
            let id = rendered[0].0.clone();
            vec![
                r#"userName eq "émile@example.ORG""#.to_owned(),
                r#"userName eq "ǆEMAL""#.to_owned(),
                r#"externalId eq "abc""#.to_owned(),
                "externalId eq AbC".to_owned(),
                r#"displayName eq "STRASSE""#.to_owned(),
                r#"displayName co "SSE""#.to_owned(),
                r#"displayName sw "straß""#.to_owned(),
                r#"emails[type eq "work"].value eq "é@x.ORG""#.to_owned(),
                r#"emails[type eq "work" and value co "home"]"#.to_owned(),
                r#"emails.type eq "work" and emails.value co "home""#.to_owned(),
                r#"emails[primary eq "True"].value eq "É@X.ORG""#.to_owned(),
                r#"title eq """#.to_owned(),
                "title pr".to_owned(),
                r#"userName ne "ǅemal""#.to_owned(),
                format!("id eq {id} and manager eq 26118915-6090-4610-87e4-49d8ca9f808d"),
                format!("id eq {}", json_string(&id.to_uppercase())),
            ]
        },
    );
}
