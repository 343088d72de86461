//! PATCH engine tests: every PATCH body of entra-compat.md §3.5.1, §3.5.2, §4 and §7.2, RFC 7644
//! §3.5.2's own examples, and the error and atomicity rules. Each case states the whole document
//! after the request, so "nothing else was touched" is checked every time.

use serde_json::{Value, json};

use super::*;
use crate::error::ScimType;
use crate::schema::{ENTERPRISE_USER, PATCH_OP, group_type, user_type};

fn body(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

fn doc(v: Value) -> Document {
    match v {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

/// The user most cases start from.
fn bjensen() -> Value {
    json!({
        "userName": "bjensen",
        "externalId": "bjensen-ext",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "displayName": "Babs Jensen",
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ]
    })
}

/// `bjensen` with `changes` merged over the top level.
fn bjensen_with(changes: Value) -> Value {
    let mut base = bjensen();
    if let (Some(base), Value::Object(changes)) = (base.as_object_mut(), changes) {
        for (k, v) in changes {
            if v.is_null() {
                base.remove(&k);
            } else {
                base.insert(k, v);
            }
        }
    }
    base
}

fn patch(
    rt: &'static ResourceType,
    before: Value,
    ops: Value,
) -> ScimResult<(Value, PatchOutcome)> {
    let mut d = doc(before);
    let outcome = apply_patch(rt, &mut d, &body(ops))?;
    Ok((Value::Object(d), outcome))
}

struct Case {
    name: &'static str,
    before: Value,
    ops: Value,
    after: Value,
}

fn run_user_cases(cases: Vec<Case>) {
    for case in cases {
        let (after, outcome) = patch(user_type(), case.before.clone(), case.ops.clone())
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert_eq!(after, case.after, "{}", case.name);
        assert_eq!(
            outcome.changed,
            case.before != case.after,
            "{}: changed",
            case.name
        );
        assert!(outcome.member_ops.is_empty(), "{}", case.name);
    }
}

#[test]
fn entra_default_mode_bodies_apply() {
    // entra-compat §3.5.1.
    run_user_cases(vec![
        Case {
            name: "multiple attributes, each with its own capitalised op",
            before: json!({
                "userName": "u", "displayName": "old", "externalId": "x",
                "name": {"givenName": "g", "familyName": "f", "formatted": "g f"},
                "emails": [{"value": "old@test.microsoft.com", "type": "work"}],
                ENTERPRISE_USER: {"department": "R&D"}
            }),
            ops: json!([
                {"op":"Replace","path":"displayName","value":"Pvlo"},
                {"op":"Replace","path":"emails[type eq \"work\"].value","value":"TestBcwqnm@test.microsoft.com"},
                {"op":"Replace","path":"name.givenName","value":"Gtfd"},
                {"op":"Replace","path":"name.familyName","value":"Pkqf"},
                {"op":"Replace","path":"externalId","value":"Eqpj"},
                {"op":"Replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber","value":"Eqpj"}
            ]),
            after: json!({
                "userName": "u", "displayName": "Pvlo", "externalId": "Eqpj",
                "name": {"givenName": "Gtfd", "familyName": "Pkqf", "formatted": "g f"},
                "emails": [{"value": "TestBcwqnm@test.microsoft.com", "type": "work"}],
                ENTERPRISE_USER: {"department": "R&D", "employeeNumber": "Eqpj"}
            }),
        },
        Case {
            name: "Add sets a single-valued attribute for the first time",
            before: bjensen(),
            ops: json!([{"op":"Add","path":"nickName","value":"Babs"}]),
            after: bjensen_with(json!({"nickName": "Babs"})),
        },
        Case {
            name: "Add on a single-valued attribute that has a value replaces it",
            before: bjensen_with(json!({"nickName": "Bee"})),
            ops: json!([{"op":"Add","path":"nickName","value":"Babs"}]),
            after: bjensen_with(json!({"nickName": "Babs"})),
        },
        Case {
            name: "disable with the string \"False\"",
            before: bjensen(),
            ops: json!([{"op":"Replace","path":"active","value":"False"}]),
            after: bjensen_with(json!({"active": false})),
        },
        Case {
            name: "disable with a JSON boolean",
            before: bjensen(),
            ops: json!([{"op":"Replace","path":"active","value":false}]),
            after: bjensen_with(json!({"active": false})),
        },
        Case {
            name: "enable with lowercase \"true\"",
            before: bjensen_with(json!({"active": false})),
            ops: json!([{"op":"replace","path":"active","value":"true"}]),
            after: bjensen(),
        },
        Case {
            name: "rename",
            before: bjensen(),
            ops: json!([{"op":"Replace","path":"userName","value":"5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"}]),
            after: bjensen_with(
                json!({"userName": "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"}),
            ),
        },
        Case {
            name: "legacy manager: bare path, array value with $ref",
            before: bjensen(),
            ops: json!([{"op":"Add","path":"manager","value":[{
                "$ref":"http://example.com/scim/Users/00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
                "value":"00aa00aa-bb11-cc22-dd33-44ee44ee44ee"}]}]),
            after: bjensen_with(json!({ENTERPRISE_USER: {"manager": {
                "$ref":"http://example.com/scim/Users/00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
                "value":"00aa00aa-bb11-cc22-dd33-44ee44ee44ee"}}})),
        },
        Case {
            name: "mixed Replace and Add, with an upserted work address",
            before: bjensen(),
            ops: json!([
                {"op":"Replace","path":"emails[type eq \"work\"].value","value":"new@example.com"},
                {"op":"Replace","path":"addresses[type eq \"work\"].formatted","value":"1 Main St"},
                {"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"Sales"}
            ]),
            after: bjensen_with(json!({
                "emails": [
                    {"value": "new@example.com", "type": "work", "primary": true},
                    {"value": "babs@jensen.org", "type": "home"}
                ],
                "addresses": [{"type": "work", "formatted": "1 Main St"}],
                ENTERPRISE_USER: {"department": "Sales"}
            })),
        },
        Case {
            name: "Add on a value path without a matching element creates it",
            before: bjensen_with(json!({"emails": null})),
            ops: json!([{"op":"Add","path":"emails[type eq \"work\"].value","value":"w@example.com"}]),
            after: bjensen_with(json!({"emails": [{"type": "work", "value": "w@example.com"}]})),
        },
        Case {
            name: "Replace on a value path without a matching element creates it (no noTarget)",
            before: bjensen_with(json!({"emails": [{"value": "babs@jensen.org", "type": "home"}]})),
            ops: json!([{"op":"Replace","path":"emails[type eq \"work\"].value","value":"w@example.com"}]),
            after: bjensen_with(json!({"emails": [
                {"value": "babs@jensen.org", "type": "home"},
                {"type": "work", "value": "w@example.com"}
            ]})),
        },
        Case {
            name: "Remove with a value on a value path removes the target and ignores the value",
            before: bjensen(),
            ops: json!([{"op":"Remove","path":"emails[type eq \"work\"].value","value":"updated@example.org"}]),
            after: bjensen_with(json!({"emails": [{"value": "babs@jensen.org", "type": "home"}]})),
        },
        Case {
            name: "several ops on one filter build one element",
            before: bjensen(),
            ops: json!([
                {"op":"Add","path":"addresses[type eq \"work\"].formatted","value":"1 Main St, Springfield"},
                {"op":"Add","path":"addresses[type eq \"work\"].locality","value":"Springfield"},
                {"op":"Replace","path":"addresses[type eq \"work\"].region","value":"IL"}
            ]),
            after: bjensen_with(json!({"addresses": [{
                "type": "work", "formatted": "1 Main St, Springfield", "locality": "Springfield", "region": "IL"
            }]})),
        },
        Case {
            name: "bare string value",
            before: bjensen(),
            ops: json!([{"op":"Replace","path":"displayName","value":" User X"}]),
            after: bjensen_with(json!({"displayName": " User X"})),
        },
        Case {
            name: "multi-valued custom attribute: Add with a value array appends",
            before: bjensen_with(json!({"roles": [{"value": "reader"}]})),
            ops: json!([{"op":"Add","path":"roles","value":[{"value":"writer"},{"value":"reader"}]}]),
            after: bjensen_with(json!({"roles": [{"value": "reader"}, {"value": "writer"}]})),
        },
    ]);
}

#[test]
fn entra_compliant_mode_bodies_apply() {
    // entra-compat §3.5.2 (`aadOptscim062020`).
    run_user_cases(vec![
        Case {
            name: "disable",
            before: bjensen(),
            ops: json!([{"op":"replace","path":"active","value":false}]),
            after: bjensen_with(json!({"active": false})),
        },
        Case {
            name: "add a single-valued string",
            before: bjensen(),
            ops: json!([{"op":"add","path":"nickName","value":"Babs"}]),
            after: bjensen_with(json!({"nickName": "Babs"})),
        },
        Case {
            name: "a value path plus one path-less op with dotted and URN-qualified keys",
            before: bjensen_with(json!({ENTERPRISE_USER: {"department": "R&D"}})),
            ops: json!([
                {"op":"replace","path":"emails[type eq \"work\"].value","value":"TestMhvaes@test.microsoft.com"},
                {"op":"replace","value":{
                    "displayName":"Bjfe",
                    "name.givenName":"Kkom",
                    "name.familyName":"Unua",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"Aklq"}}
            ]),
            after: bjensen_with(json!({
                "displayName": "Bjfe",
                "name": {"givenName": "Kkom", "familyName": "Unua"},
                "emails": [
                    {"value": "TestMhvaes@test.microsoft.com", "type": "work", "primary": true},
                    {"value": "babs@jensen.org", "type": "home"}
                ],
                ENTERPRISE_USER: {"department": "R&D", "employeeNumber": "Aklq"}
            })),
        },
    ]);
}

#[test]
fn validator_bodies_apply() {
    // entra-compat §7.2: the SCIM Validator's user tests.
    let manager = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager";
    run_user_cases(vec![
        Case {
            name: "add manager",
            before: bjensen(),
            ops: json!([{"op":"add","path":manager,"value":{"value":"m-1"}}]),
            after: bjensen_with(json!({ENTERPRISE_USER: {"manager": {"value": "m-1"}}})),
        },
        Case {
            name: "replace manager replaces the whole reference",
            before: bjensen_with(
                json!({ENTERPRISE_USER: {"manager": {"value": "m-1", "$ref": "../Users/m-1"}}}),
            ),
            ops: json!([{"op":"replace","path":manager,"value":{"value":"m-2"}}]),
            after: bjensen_with(json!({ENTERPRISE_USER: {"manager": {"value": "m-2"}}})),
        },
        Case {
            name: "remove manager by replacing with an empty value",
            before: bjensen_with(json!({ENTERPRISE_USER: {"manager": {"value": "m-1"}}})),
            ops: json!([{"op":"replace","path":manager,"value":{"value":""}}]),
            after: bjensen(),
        },
        Case {
            name: "remove manager by an empty value keeps the other extension attributes",
            before: bjensen_with(
                json!({ENTERPRISE_USER: {"manager": {"value": "m-1"}, "division": "D"}}),
            ),
            ops: json!([{"op":"replace","path":manager,"value":{"value":""}}]),
            after: bjensen_with(json!({ENTERPRISE_USER: {"division": "D"}})),
        },
        Case {
            name: "update userName with a path-less replace",
            before: bjensen(),
            ops: json!([{"op":"replace","value":{"userName":"new-name"}}]),
            after: bjensen_with(json!({"userName": "new-name"})),
        },
        Case {
            name: "emails[primary eq true].value",
            before: bjensen(),
            ops: json!([{"op":"replace","path":"emails[primary eq true].value","value":"p@example.com"}]),
            after: bjensen_with(json!({"emails": [
                {"value": "p@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ]})),
        },
        Case {
            name: "emails[type eq \"work\"].primary with \"True\" moves primary",
            before: bjensen_with(json!({"emails": [
                {"value": "bjensen@example.com", "type": "work"},
                {"value": "babs@jensen.org", "type": "home", "primary": true}
            ]})),
            ops: json!([{"op":"replace","path":"emails[type eq \"work\"].primary","value":"True"}]),
            after: bjensen_with(json!({"emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home", "primary": false}
            ]})),
        },
        Case {
            name: "emails[type eq \"home\"].value and emails[type eq \"work\"].display",
            before: bjensen(),
            ops: json!([
                {"op":"replace","path":"emails[type eq \"home\"].value","value":"h@example.com"},
                {"op":"replace","path":"emails[type eq \"work\"].display","value":"Work"}
            ]),
            after: bjensen_with(json!({"emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true, "display": "Work"},
                {"value": "h@example.com", "type": "home"}
            ]})),
        },
        Case {
            name: "discover-schema run: primary value paths upsert, plus a path-less replace",
            before: json!({"userName": "u"}),
            ops: json!([
                {"op":"replace","path":"emails[primary eq true].value","value":"e@example.com"},
                {"op":"replace","path":"phoneNumbers[primary eq true].value","value":"+1 555 0100"},
                {"op":"replace","path":"addresses[primary eq true].streetAddress","value":"1 Main St"},
                {"op":"replace","value":{"displayName":"U","active":"False"}}
            ]),
            after: json!({
                "userName": "u",
                "emails": [{"primary": true, "value": "e@example.com"}],
                "phoneNumbers": [{"primary": true, "value": "+1 555 0100"}],
                "addresses": [{"primary": true, "streetAddress": "1 Main St"}],
                "displayName": "U",
                "active": false
            }),
        },
    ]);
}

#[test]
fn manager_shapes_from_entra_apply() {
    // lessons.md item 5 and entra-compat Q6.
    let manager = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager";
    let with_manager = bjensen_with(json!({ENTERPRISE_USER: {"manager": {"value": "m-1"}}}));
    run_user_cases(vec![
        Case {
            name: "manager as a bare id",
            before: bjensen(),
            ops: json!([{"op":"Add","path":manager,"value":"m-1"}]),
            after: with_manager.clone(),
        },
        Case {
            name: "manager as a one-element array",
            before: bjensen(),
            ops: json!([{"op":"Replace","path":manager,"value":[{"value":"m-1"}]}]),
            after: with_manager.clone(),
        },
        Case {
            name: "manager in a path-less extension object",
            before: bjensen(),
            ops: json!([{"op":"add","value":{ENTERPRISE_USER: {"manager": "m-1"}}}]),
            after: with_manager.clone(),
        },
        Case {
            name: "remove manager[value eq …] on the single-valued manager",
            before: with_manager.clone(),
            ops: json!([{"op":"Remove","path":format!("{manager}[value eq \"m-1\"]")}]),
            after: bjensen(),
        },
        Case {
            name: "remove manager[value eq …] naming another manager changes nothing",
            before: with_manager.clone(),
            ops: json!([{"op":"Remove","path":format!("{manager}[value eq \"m-9\"]")}]),
            after: with_manager.clone(),
        },
        Case {
            name: "remove manager with the old value",
            before: with_manager.clone(),
            ops: json!([{"op":"Remove","path":manager,"value":[{"value":"m-1"}]}]),
            after: bjensen(),
        },
        Case {
            name: "manager set to an empty string",
            before: with_manager,
            ops: json!([{"op":"Replace","path":manager,"value":""}]),
            after: bjensen(),
        },
    ]);
}

#[test]
fn rfc_7644_user_examples_apply() {
    // RFC 7644 §3.5.2.1–§3.5.2.3.
    let work_address = json!({
        "type": "work", "streetAddress": "911 Universal City Plaza", "locality": "Hollywood",
        "region": "CA", "postalCode": "91608", "country": "US",
        "formatted": "911 Universal City Plaza\nHollywood, CA 91608 US", "primary": true
    });
    run_user_cases(vec![
        Case {
            name: "path-less add of emails and nickname",
            before: bjensen(),
            ops: json!([{"op":"add","value":{
                "emails":[{"value":"babs@jensen.org","type":"home"}, {"value":"b2@jensen.org","type":"other"}],
                "nickname":"Babs"}}]),
            after: bjensen_with(json!({
                "emails": [
                    {"value": "bjensen@example.com", "type": "work", "primary": true},
                    {"value": "babs@jensen.org", "type": "home"},
                    {"value": "b2@jensen.org", "type": "other"}
                ],
                "nickName": "Babs"
            })),
        },
        Case {
            name: "add emails with a path",
            before: bjensen(),
            ops: json!([{"op":"add","path":"emails","value":[{"value":"b2@jensen.org","type":"other","primary":true}]}]),
            after: bjensen_with(json!({"emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": false},
                {"value": "babs@jensen.org", "type": "home"},
                {"value": "b2@jensen.org", "type": "other", "primary": true}
            ]})),
        },
        Case {
            name: "remove emails[type eq \"work\" and value ew \"example.com\"]",
            before: bjensen(),
            ops: json!([{"op":"remove","path":"emails[type eq \"work\" and value ew \"example.com\"]"}]),
            after: bjensen_with(json!({"emails": [{"value": "babs@jensen.org", "type": "home"}]})),
        },
        Case {
            name: "replace addresses[type eq \"work\"]",
            before: bjensen_with(json!({"addresses": [
                {"type": "work", "streetAddress": "100 Old St", "locality": "Gone"},
                {"type": "home", "locality": "Home Town"}
            ]})),
            ops: json!([{"op":"replace","path":"addresses[type eq \"work\"]","value":work_address.clone()}]),
            after: bjensen_with(
                json!({"addresses": [work_address, {"type": "home", "locality": "Home Town"}]}),
            ),
        },
        Case {
            name: "replace addresses[type eq \"work\"].streetAddress",
            before: bjensen_with(
                json!({"addresses": [{"type": "work", "streetAddress": "100 Old St", "locality": "L"}]}),
            ),
            ops: json!([{"op":"replace","path":"addresses[type eq \"work\"].streetAddress","value":"1234 Anywhere St."}]),
            after: bjensen_with(
                json!({"addresses": [{"type": "work", "streetAddress": "1234 Anywhere St.", "locality": "L"}]}),
            ),
        },
        Case {
            name: "path-less replace of emails replaces the whole list",
            before: bjensen(),
            ops: json!([{"op":"replace","value":{"emails":[{"value":"only@example.com","type":"work"}],"nickName":"Babs"}}]),
            after: bjensen_with(
                json!({"emails": [{"value": "only@example.com", "type": "work"}], "nickName": "Babs"}),
            ),
        },
        Case {
            name: "remove a whole multi-valued attribute",
            before: bjensen(),
            ops: json!([{"op":"remove","path":"emails"}]),
            after: bjensen_with(json!({"emails": null})),
        },
        Case {
            name: "replace of a complex attribute keeps unnamed sub-attributes",
            before: bjensen(),
            ops: json!([{"op":"replace","path":"name","value":{"givenName":"Babs","middleName":"J"}}]),
            after: bjensen_with(
                json!({"name": {"givenName": "Babs", "familyName": "Jensen", "middleName": "J"}}),
            ),
        },
        Case {
            name: "path-less replace of name keeps sibling sub-attributes",
            before: bjensen(),
            ops: json!([{"op":"replace","value":{"name":{"givenName":"Babs"}}}]),
            after: bjensen_with(json!({"name": {"givenName": "Babs", "familyName": "Jensen"}})),
        },
    ]);
}

fn group() -> Value {
    json!({"displayName": "Tour Guides", "externalId": "g-ext"})
}

fn group_patch(ops: Value) -> (Value, PatchOutcome) {
    patch(group_type(), group(), ops).unwrap()
}

fn member(id: &str) -> MemberRef {
    MemberRef {
        value: id.into(),
        member_type: None,
    }
}

#[test]
fn group_member_operations_become_member_ops() {
    let cases: Vec<(&str, Value, Vec<MemberOp>)> = vec![
        (
            "Entra add members, $ref null",
            json!([{"op":"Add","path":"members","value":[{"$ref":null,"value":"f648f8d5ea4e4cd38e9c"}]}]),
            vec![MemberOp::Add(vec![member("f648f8d5ea4e4cd38e9c")])],
        ),
        (
            "Entra default-mode remove: only the listed member",
            json!([{"op":"Remove","path":"members","value":[{"value":"u1091"}]}]),
            vec![MemberOp::Remove(vec!["u1091".into()])],
        ),
        (
            "Entra flag-mode remove by value filter",
            json!([{"op":"remove","path":"members[value eq \"7f4bc1a3-285e-48ae-8202-5accb43efb0e\"]"}]),
            vec![MemberOp::Remove(vec![
                "7f4bc1a3-285e-48ae-8202-5accb43efb0e".into(),
            ])],
        ),
        (
            "validator: replace members",
            json!([{"op":"replace","path":"members","value":[{"value":"u-1"}]}]),
            vec![MemberOp::Replace(vec![member("u-1")])],
        ),
        (
            "validator: add then remove the same member, in order",
            json!([
                {"op":"add","path":"members","value":[{"value":"u-1"}]},
                {"op":"remove","path":"members[value eq \"u-1\"]"}
            ]),
            vec![
                MemberOp::Add(vec![member("u-1")]),
                MemberOp::Remove(vec!["u-1".into()]),
            ],
        ),
        (
            "RFC: add a member with display and $ref",
            json!([{"op":"add","path":"members","value":[{
                "display":"Babs Jensen",
                "$ref":"https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646",
                "value":"2819c223-7f76-453a-919d-413861904646"}]}]),
            vec![MemberOp::Add(vec![member(
                "2819c223-7f76-453a-919d-413861904646",
            )])],
        ),
        (
            "RFC: remove all members",
            json!([{"op":"remove","path":"members"}]),
            vec![MemberOp::RemoveAll],
        ),
        (
            "RFC: replace members",
            json!([{"op":"replace","path":"members","value":[
                {"display":"Babs Jensen","$ref":"https://example.com/v2/Users/2819c223","value":"2819c223"},
                {"display":"James Smith","$ref":"https://example.com/v2/Users/08e1d05d","value":"08e1d05d"}]}]),
            vec![MemberOp::Replace(vec![
                member("2819c223"),
                member("08e1d05d"),
            ])],
        ),
        (
            "RFC: remove one member, then add others",
            json!([
                {"op":"remove","path":"members[value eq \"2819c223-7f76-453a-919d-413861904646\"]"},
                {"op":"add","path":"members","value":[{"value":"902c246b","type":"user"}]}
            ]),
            vec![
                MemberOp::Remove(vec!["2819c223-7f76-453a-919d-413861904646".into()]),
                MemberOp::Add(vec![MemberRef {
                    value: "902c246b".into(),
                    member_type: Some("User".into()),
                }]),
            ],
        ),
        (
            "several members in one value, duplicates dropped",
            json!([{"op":"Add","path":"members","value":[{"value":"a"},{"value":"b"},{"value":"a"}]}]),
            vec![MemberOp::Add(vec![member("a"), member("b")])],
        ),
        (
            "members in a path-less value",
            json!([{"op":"add","value":{"members":[{"value":"a"}]}}]),
            vec![MemberOp::Add(vec![member("a")])],
        ),
        (
            "remove with an empty value array removes nobody",
            json!([{"op":"Remove","path":"members","value":[]}]),
            vec![],
        ),
        (
            "or-joined member filter",
            json!([{"op":"remove","path":"members[value eq \"a\" or value eq \"b\"]"}]),
            vec![MemberOp::Remove(vec!["a".into(), "b".into()])],
        ),
    ];
    for (name, ops, expected) in cases {
        let (after, outcome) = group_patch(ops);
        assert_eq!(after, group(), "{name}: the document never holds members");
        assert_eq!(outcome.member_ops, expected, "{name}");
        assert_eq!(outcome.changed, !expected.is_empty(), "{name}");
    }
}

#[test]
fn group_attribute_updates_apply_to_the_document() {
    let cases = [
        (
            json!([{"op":"Replace","path":"displayName","value":"1879db59-updatedDisplayName"}]),
            json!({"displayName": "1879db59-updatedDisplayName", "externalId": "g-ext"}),
        ),
        (
            json!([{"op":"replace","value":{"externalId":"new-ext"}}]),
            json!({"displayName": "Tour Guides", "externalId": "new-ext"}),
        ),
        (
            json!([{"op":"replace","value":{"displayName":"Renamed"}}]),
            json!({"displayName": "Renamed", "externalId": "g-ext"}),
        ),
    ];
    for (ops, expected) in cases {
        let (after, outcome) = group_patch(ops);
        assert_eq!(after, expected);
        assert!(outcome.changed && outcome.member_ops.is_empty());
    }
}

fn patch_error(rt: &'static ResourceType, before: Value, ops: Value) -> ScimError {
    match patch(rt, before, ops) {
        Ok((after, _)) => panic!("expected an error, got {after}"),
        Err(e) => e,
    }
}

#[test]
fn invalid_requests_are_rejected_with_the_right_scim_type() {
    use ScimType::*;
    let cases: Vec<(&str, Value, ScimType)> = vec![
        (
            "unknown op",
            json!([{"op":"move","path":"nickName","value":"x"}]),
            InvalidSyntax,
        ),
        (
            "op missing",
            json!([{"path":"nickName","value":"x"}]),
            InvalidSyntax,
        ),
        ("operation not an object", json!(["add"]), InvalidSyntax),
        ("remove without a path", json!([{"op":"remove"}]), NoTarget),
        (
            "unknown attribute",
            json!([{"op":"add","path":"nope","value":"x"}]),
            InvalidPath,
        ),
        (
            "unknown sub-attribute",
            json!([{"op":"add","path":"name.nope","value":"x"}]),
            InvalidPath,
        ),
        (
            "unknown enterprise attribute",
            json!([{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:nope","value":"x"}]),
            InvalidPath,
        ),
        (
            "sub-attribute of a simple attribute",
            json!([{"op":"add","path":"userName.x","value":"x"}]),
            InvalidPath,
        ),
        (
            "malformed path",
            json!([{"op":"add","path":"emails[type eq","value":"x"}]),
            InvalidPath,
        ),
        (
            "read-only id",
            json!([{"op":"replace","path":"id","value":"x"}]),
            Mutability,
        ),
        (
            "read-only meta sub-attribute",
            json!([{"op":"replace","path":"meta.lastModified","value":"2020-01-01T00:00:00Z"}]),
            Mutability,
        ),
        (
            "read-only groups",
            json!([{"op":"add","path":"groups","value":[{"value":"g"}]}]),
            Mutability,
        ),
        (
            "read-only manager.displayName",
            json!([{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName","value":"M"}]),
            Mutability,
        ),
        (
            "remove required userName",
            json!([{"op":"remove","path":"userName"}]),
            Mutability,
        ),
        (
            "blank required userName",
            json!([{"op":"replace","path":"userName","value":""}]),
            Mutability,
        ),
        (
            "null userName in a path-less value",
            json!([{"op":"replace","value":{"userName":null}}]),
            Mutability,
        ),
        (
            "not a boolean",
            json!([{"op":"replace","path":"active","value":"yes"}]),
            InvalidValue,
        ),
        (
            "object for a string",
            json!([{"op":"replace","path":"displayName","value":{"x":1}}]),
            InvalidValue,
        ),
        (
            "several values for a single-valued attribute",
            json!([{"op":"replace","path":"displayName","value":["a","b"]}]),
            InvalidValue,
        ),
        (
            "two new primaries",
            json!([{"op":"add","path":"emails","value":[{"value":"a@x","primary":true},{"value":"b@x","primary":"True"}]}]),
            InvalidValue,
        ),
        (
            "add without a value",
            json!([{"op":"add","path":"nickName"}]),
            InvalidValue,
        ),
        (
            "path-less add of a non-object",
            json!([{"op":"add","value":"x"}]),
            InvalidValue,
        ),
        (
            "non-eq filter without a match cannot upsert",
            json!([{"op":"replace","path":"emails[value ew \"nowhere.org\"].value","value":"x@nowhere.org"}]),
            NoTarget,
        ),
        (
            "filter on an unknown sub-attribute",
            json!([{"op":"replace","path":"emails[foo eq \"x\"].value","value":"x"}]),
            InvalidFilter,
        ),
    ];
    for (name, ops, scim_type) in cases {
        let err = patch_error(user_type(), bjensen(), ops);
        assert_eq!(
            (err.status, err.scim_type),
            (400, Some(scim_type)),
            "{name}: {err}"
        );
    }
}

#[test]
fn malformed_bodies_are_invalid_syntax() {
    for bad in [
        json!("Operations"),
        json!({"schemas": [PATCH_OP]}),
        json!({"schemas": [PATCH_OP], "Operations": {"op": "add"}}),
        json!({"schemas": PATCH_OP, "Operations": []}),
        json!({"schemas": [1], "Operations": []}),
    ] {
        let mut d = doc(bjensen());
        let err = apply_patch(user_type(), &mut d, &bad).unwrap_err();
        assert_eq!(err.scim_type, Some(ScimType::InvalidSyntax), "{bad}");
    }
}

#[test]
fn tolerated_body_variants_are_accepted() {
    for ok in [
        json!({"Operations": [{"op":"replace","path":"nickName","value":"B"}]}),
        json!({"schemas": [PATCH_OP], "operations": [{"OP":"Replace","Path":"nickName","Value":"B"}]}),
        json!({"schemas": [PATCH_OP], "Operations": [{"op":"replace","path":"nickName","value":"B"}]}),
    ] {
        let mut d = doc(bjensen());
        apply_patch(user_type(), &mut d, &ok).unwrap();
        assert_eq!(
            Value::Object(d),
            bjensen_with(json!({"nickName": "B"})),
            "{ok}"
        );
    }
}

#[test]
fn group_member_errors() {
    let err = patch_error(
        group_type(),
        group(),
        json!([{"op":"remove","path":"members[display eq \"x\"]"}]),
    );
    assert_eq!(err.scim_type, Some(ScimType::InvalidFilter));
    let err = patch_error(
        group_type(),
        group(),
        json!([{"op":"add","path":"members","value":[{"display":"no id"}]}]),
    );
    assert_eq!(err.scim_type, Some(ScimType::InvalidValue));
    let err = patch_error(
        group_type(),
        group(),
        json!([{"op":"add","path":"members","value":[{"value":"a","type":"Robot"}]}]),
    );
    assert_eq!(err.scim_type, Some(ScimType::InvalidValue));
    let err = patch_error(
        group_type(),
        group(),
        json!([{"op":"replace","path":"members[value eq \"a\"].display","value":"A"}]),
    );
    assert_eq!(err.scim_type, Some(ScimType::Mutability));
    let err = patch_error(
        group_type(),
        group(),
        json!([{"op":"remove","path":"displayName"}]),
    );
    assert_eq!(err.scim_type, Some(ScimType::Mutability));
}

#[test]
fn a_failing_operation_leaves_the_document_untouched() {
    let mut d = doc(bjensen());
    let body = body(json!([
        {"op":"replace","path":"displayName","value":"Changed"},
        {"op":"replace","path":"emails[type eq \"work\"].value","value":"changed@example.com"},
        {"op":"replace","path":"active","value":"not a boolean"}
    ]));
    let err = apply_patch(user_type(), &mut d, &body).unwrap_err();
    assert_eq!(err.scim_type, Some(ScimType::InvalidValue));
    assert!(err.detail.starts_with("Operations[2]:"), "{}", err.detail);
    assert_eq!(Value::Object(d), bjensen());
}

#[test]
fn a_failing_final_validation_leaves_the_document_untouched() {
    let mut d = doc(bjensen());
    let body = body(json!([
        {"op":"replace","path":"displayName","value":"Changed"},
        {"op":"remove","path":"userName"}
    ]));
    assert!(apply_patch(user_type(), &mut d, &body).is_err());
    assert_eq!(Value::Object(d), bjensen());
}

#[test]
fn a_required_attribute_may_be_removed_and_set_again_in_one_request() {
    let (after, _) = patch(
        user_type(),
        bjensen(),
        json!([
            {"op":"remove","path":"userName"},
            {"op":"add","path":"userName","value":"again"}
        ]),
    )
    .unwrap();
    assert_eq!(after, bjensen_with(json!({"userName": "again"})));
}

#[test]
fn repeated_operations_never_duplicate_elements() {
    let ops = json!([
        {"op":"add","path":"emails","value":[{"value":"BJensen@Example.com","type":"work"}]},
        {"op":"add","path":"emails","value":[{"value":"bjensen@example.com","type":"work"}]},
        {"op":"replace","path":"emails[type eq \"home\"].value","value":"babs@jensen.org"},
        {"op":"add","path":"emails[type eq \"other\"].value","value":"o@example.com"},
        {"op":"add","path":"emails[type eq \"other\"].value","value":"o@example.com"},
        {"op":"add","path":"roles","value":[{"value":"r"}]},
        {"op":"add","path":"roles","value":[{"value":"r"}]}
    ]);
    let (after, _) = patch(user_type(), bjensen(), ops.clone()).unwrap();
    let (again, outcome) = patch(user_type(), after.clone(), ops).unwrap();
    assert_eq!(again, after);
    assert!(!outcome.changed);
    assert_eq!(after["emails"].as_array().unwrap().len(), 3, "{after}");
    assert_eq!(after["roles"], json!([{"value": "r"}]));
}

#[test]
fn booleans_are_stored_as_booleans() {
    let (after, _) = patch(user_type(), bjensen(), json!([
        {"op":"Replace","path":"active","value":"FALSE"},
        {"op":"Add","path":"emails[type eq \"home\"].primary","value":"True"},
        {"op":"Add","path":"roles","value":[{"value":"admin","primary":"true"}]},
        {"op":"Add","path":"phoneNumbers[type eq \"mobile\" and primary eq \"True\"].value","value":"+1 555"}
    ]))
    .unwrap();
    assert_eq!(after["active"], json!(false));
    assert_eq!(after["emails"][1]["primary"], json!(true));
    assert_eq!(after["emails"][0]["primary"], json!(false));
    assert_eq!(after["roles"][0]["primary"], json!(true));
    assert_eq!(
        after["phoneNumbers"],
        json!([{"type": "mobile", "primary": true, "value": "+1 555"}])
    );
}

#[test]
fn roles_serialised_as_json_strings_are_stored_verbatim() {
    // entra-compat Q16: app-role assignments arrive as a JSON string in `value`.
    let role = r#"{"id":"4b5c","value":"Admin","displayName":"Admin"}"#;
    let (after, _) = patch(
        user_type(),
        bjensen(),
        json!([{"op":"Add","path":"roles","value":[{"value":role}]}]),
    )
    .unwrap();
    assert_eq!(after, bjensen_with(json!({"roles": [{"value": role}]})));
}

#[test]
fn no_ops_report_unchanged() {
    let unchanged = [
        json!([]),
        json!([{"op":"replace","path":"displayName","value":"Babs Jensen"}]),
        json!([{"op":"remove","path":"nickName"}]),
        json!([{"op":"remove","path":"emails[type eq \"other\"]"}]),
        json!([{"op":"remove","path":"addresses[type eq \"work\"].locality"}]),
        json!([{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}]),
        json!([{"op":"add","path":"urn:ietf:params:scim:schemas:extension:Contoso:2.0:User:badge","value":"7"}]),
        json!([{"op":"add","value":{"urn:ietf:params:scim:schemas:extension:Contoso:2.0:User:badge":"7"}}]),
        json!([{"op":"add","value":{"urn:ietf:params:scim:schemas:extension:Contoso:2.0:User":{"badge":"7"}}}]),
        json!([{"op":"replace","value":{"id":"x","meta":{"resourceType":"User"},"groups":[],"schemas":[PATCH_OP],"unknown":1}}]),
        json!([{"op":"replace","path":"password","value":"hunter2"}]),
        json!([{"op":"add","value":{"password":"hunter2"}}]),
        json!([{"op":"add","path":"emails","value":[{"value":"bjensen@example.com","type":"work"}]}]),
    ];
    for ops in unchanged {
        let (after, outcome) = patch(user_type(), bjensen(), ops.clone()).unwrap();
        assert_eq!(after, bjensen(), "{ops}");
        assert!(!outcome.changed, "{ops}");
    }
}

#[test]
fn names_match_case_insensitively_and_are_stored_canonically() {
    let (after, _) = patch(user_type(), bjensen(), json!([
        {"op":"Replace","path":"EMAILS[TYPE eq \"WORK\"].Value","value":"w@example.com"},
        {"op":"Replace","path":"NAME.GIVENNAME","value":"B"},
        {"op":"Replace","path":"URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:EMPLOYEENUMBER","value":"7"},
        {"op":"Replace","path":"urn:ietf:params:scim:schemas:core:2.0:User:nickName","value":"N"},
        {"op":"Add","value":{"Urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"Department":"D"}}}
    ]))
    .unwrap();
    assert_eq!(
        after,
        bjensen_with(json!({
            "name": {"givenName": "B", "familyName": "Jensen"},
            "nickName": "N",
            "emails": [
                {"value": "w@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            ENTERPRISE_USER: {"employeeNumber": "7", "department": "D"}
        }))
    );
}

#[test]
fn clearing_values_removes_attributes() {
    let before =
        bjensen_with(json!({"nickName": "B", "title": "T", ENTERPRISE_USER: {"department": "D"}}));
    let (after, _) = patch(user_type(), before, json!([
        {"op":"replace","path":"nickName","value":""},
        {"op":"add","path":"title","value":null},
        {"op":"replace","value":{"name.givenName":"", "name.familyName": null}},
        {"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":""},
        {"op":"replace","path":"emails[type eq \"home\"].value","value":""}
    ]))
    .unwrap();
    assert_eq!(
        after,
        bjensen_with(json!({
            "name": null,
            "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}]
        }))
    );
}

#[test]
fn remove_with_a_value_array_removes_exactly_the_listed_values() {
    let (after, _) = patch(user_type(), bjensen(), json!([
        {"op":"remove","path":"emails","value":[{"value":"BABS@jensen.org"}, {"value":"absent@example.com"}]}
    ]))
    .unwrap();
    assert_eq!(
        after,
        bjensen_with(
            json!({"emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}]})
        )
    );
    let (after, _) = patch(
        user_type(),
        bjensen(),
        json!([{"op":"remove","path":"emails","value":[]}]),
    )
    .unwrap();
    assert_eq!(
        after,
        bjensen(),
        "an empty list removes nothing, not everything"
    );
}

#[test]
fn a_path_naming_an_extension_applies_its_object() {
    let ext = ENTERPRISE_USER;
    let before = bjensen_with(json!({ext: {"department": "D", "division": "V"}}));
    let (after, _) = patch(
        user_type(),
        before.clone(),
        json!([
            {"op":"replace","path":ext,"value":{"department":"E","costCenter":"C"}}
        ]),
    )
    .unwrap();
    assert_eq!(
        after,
        bjensen_with(json!({ext: {"department": "E", "division": "V", "costCenter": "C"}}))
    );
    let (after, _) = patch(user_type(), before, json!([{"op":"remove","path":ext}])).unwrap();
    assert_eq!(after, bjensen());
}

#[test]
fn replacing_a_filtered_element_keeps_what_the_filter_pins_and_add_merges() {
    let (after, _) = patch(user_type(), bjensen(), json!([
        {"op":"replace","path":"emails[type eq \"home\"]","value":{"value":"new-home@example.com"}},
        {"op":"add","path":"emails[type eq \"work\"]","value":{"display":"Work"}}
    ]))
    .unwrap();
    assert_eq!(
        after,
        bjensen_with(json!({"emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true, "display": "Work"},
            {"type": "home", "value": "new-home@example.com"}
        ]}))
    );
}

#[test]
fn sub_attribute_of_every_element() {
    let (after, _) = patch(
        user_type(),
        bjensen(),
        json!([{"op":"remove","path":"emails.type"}]),
    )
    .unwrap();
    assert_eq!(
        after,
        bjensen_with(json!({"emails": [
            {"value": "bjensen@example.com", "primary": true},
            {"value": "babs@jensen.org"}
        ]}))
    );
}

#[test]
fn upserts_never_create_an_element_without_content() {
    let (after, outcome) = patch(
        user_type(),
        bjensen(),
        json!([
            {"op":"replace","path":"phoneNumbers[type eq \"work\"].primary","value":true}
        ]),
    )
    .unwrap();
    assert_eq!(after, bjensen());
    assert!(!outcome.changed);
}

#[test]
fn every_result_is_a_document_a_put_would_store() {
    let (after, _) = patch(
        user_type(),
        bjensen(),
        json!([
            {"op":"Add","path":"addresses[type eq \"work\"].locality","value":"L"},
            {"op":"Add","path":"manager","value":"m-1"},
            {"op":"Replace","path":"active","value":"False"}
        ]),
    )
    .unwrap();
    let stored = crate::resource::document_from_request(user_type(), &after).unwrap();
    assert_eq!(Value::Object(stored), after);
}

#[test]
fn a_value_path_key_in_a_path_less_value_is_applied_as_a_path() {
    let (after, _) = patch(
        user_type(),
        bjensen(),
        json!([{"op":"replace","value":{
            "emails[type eq \"work\"].value": "w@example.com",
            "phoneNumbers[type eq \"fax\"].value": "+1 555 0199"
        }}]),
    )
    .unwrap();
    assert_eq!(
        after,
        bjensen_with(json!({
            "emails": [
                {"value": "w@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "phoneNumbers": [{"type": "fax", "value": "+1 555 0199"}]
        }))
    );
}
