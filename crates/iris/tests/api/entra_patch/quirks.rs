//! entra-compat §8, the protocol quirks Q1–Q8 and Q16.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{create_and_read, patch_and_read, patch_group_204, stored_group, stored_user, with};
use crate::harness::{
    ENTERPRISE, PATCH_OP, TestApp, entra_group, entra_user, id_set, rich_user, without_meta,
};

/// entra-compat §8 Q1: `op` in any case (`Replace`, `replace`, `REPLACE`, `rEpLaCe`, `Add`, `ADD`,
/// `Remove`, `REMOVE`), users and groups.
async fn q1_op_names_in_any_case(app: TestApp) -> TestApp {
    let (id, before) = create_and_read(&app, &entra_user()).await;
    for (i, op) in [
        "Replace", "replace", "REPLACE", "rEpLaCe", "Add", "add", "ADD",
    ]
    .into_iter()
    .enumerate()
    {
        let after = patch_and_read(
            &app,
            &id,
            json!([{"op": op, "path": "title", "value": format!("T{i}")}]),
        )
        .await;
        assert_eq!(
            after,
            with(&before, json!({"title": format!("T{i}")})),
            "{op}"
        );
    }
    for op in ["Remove", "REMOVE", "remove"] {
        patch_and_read(&app, &id, json!([{"op":"add","path":"title","value":"x"}])).await;
        let after = patch_and_read(&app, &id, json!([{"op": op, "path": "title"}])).await;
        assert_eq!(after, before, "{op}");
    }
    let users = app.create_users("q1", 1).await;
    let g = app.create_group(&json!({"displayName": "Q1"})).await;
    patch_group_204(
        &app,
        &g,
        json!([{"op":"ADD","path":"members","value":[{"value": users[0]}]}]),
    )
    .await;
    assert_eq!(stored_group(&app, &g).await.1, id_set(&[&users[0]]));
    patch_group_204(
        &app,
        &g,
        json!([{"op":"REMOVE","path":"members","value":[{"value": users[0]}]}]),
    )
    .await;
    assert!(stored_group(&app, &g).await.1.is_empty());
    app
}

/// entra-compat §8 Q2: booleans as strings in PATCH `active` and `primary`, and in POST `active`
/// and `roles[].primary`, are always stored and returned as JSON booleans.
async fn q2_string_booleans_are_stored_as_booleans(app: TestApp) -> TestApp {
    let created = app
        .post(
            "/Users",
            &json!({"userName": "q2@example.com", "active": "True",
                    "roles": [{"value": "Admin", "type": "WindowsAzureActiveDirectoryRole", "primary": "True"}],
                    "emails": [{"value": "a@example.com", "type": "work", "primary": "False"},
                               {"value": "b@example.com", "type": "home"}]}),
        )
        .await
        .expect(StatusCode::CREATED);
    let id = created.id();
    let before = stored_user(&app, &id).await;
    assert_eq!(before["active"], json!(true));
    assert_eq!(before["roles"][0]["primary"], json!(true));
    assert_eq!(before["emails"][0]["primary"], json!(false));
    let after = patch_and_read(
        &app,
        &id,
        json!([
            {"op":"Replace","path":"active","value":"False"},
            {"op":"Replace","path":"emails[type eq \"home\"].primary","value":"True"},
            {"op":"Replace","path":"roles[primary eq \"True\"].display","value":"Administrator"}
        ]),
    )
    .await;
    let mut expected = with(&before, json!({"active": false}));
    expected["emails"][1]["primary"] = json!(true);
    expected["roles"][0]["display"] = json!("Administrator");
    assert_eq!(after, expected);
    app
}

/// entra-compat §8 Q3: `add` on a single-valued attribute that already has a value replaces it
/// (core, complex sub-attribute and extension attributes).
async fn q3_add_on_an_existing_single_value_replaces_it(app: TestApp) -> TestApp {
    let (id, before) = create_and_read(&app, &rich_user("q3@example.com")).await;
    let after = patch_and_read(
        &app,
        &id,
        json!([
            {"op":"Add","path":"title","value":"Manager"},
            {"op":"Add","path":"displayName","value":"Richer"},
            {"op":"Add","path":"externalId","value":"ext-2"},
            {"op":"Add","path":"name.givenName","value":"Richard"},
            {"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"Ops"}
        ]),
    )
    .await;
    let mut expected = with(
        &before,
        json!({"title": "Manager", "displayName": "Richer", "externalId": "ext-2"}),
    );
    expected["name"]["givenName"] = json!("Richard");
    expected[ENTERPRISE]["department"] = json!("Ops");
    assert_eq!(after, expected);
    app
}

/// entra-compat §8 Q4: value paths on emails, phoneNumbers, addresses and
/// `roles[primary eq "True"]`; `add`/`replace` upsert; several ops on one filter merge into one
/// element; `remove` may carry a value.
async fn q4_value_paths_upsert_merge_and_remove_with_a_value(app: TestApp) -> TestApp {
    let (id, before) = create_and_read(
        &app,
        &json!({"userName": "q4@example.com",
                "roles": [{"value": "Reader", "primary": true, "type": "WindowsAzureActiveDirectoryRole"}]}),
    )
    .await;
    let ops = json!([
        {"op":"Add","path":"emails[type eq \"work\"].value","value":"q4@work.example"},
        {"op":"Replace","path":"emails[type eq \"work\"].primary","value":"True"},
        {"op":"Replace","path":"phoneNumbers[type eq \"mobile\"].value","value":"+1 555 0404"},
        {"op":"Replace","path":"phoneNumbers[type eq \"work\"].value","value":"+1 555 0405"},
        {"op":"Add","path":"addresses[type eq \"work\"].streetAddress","value":"4 Q St"},
        {"op":"Add","path":"addresses[type eq \"work\"].postalCode","value":"40404"},
        {"op":"Replace","path":"roles[primary eq \"True\"].value","value":"Writer"}
    ]);
    let expected = with(
        &before,
        json!({
            "emails": [{"type": "work", "value": "q4@work.example", "primary": true}],
            "phoneNumbers": [{"type": "mobile", "value": "+1 555 0404"},
                             {"type": "work", "value": "+1 555 0405"}],
            "addresses": [{"type": "work", "streetAddress": "4 Q St", "postalCode": "40404"}],
            "roles": [{"value": "Writer", "primary": true, "type": "WindowsAzureActiveDirectoryRole"}]
        }),
    );
    assert_eq!(patch_and_read(&app, &id, ops.clone()).await, expected);
    assert_eq!(
        patch_and_read(&app, &id, ops).await,
        expected,
        "a replay changes nothing"
    );
    let after = patch_and_read(
        &app,
        &id,
        json!([
            {"op":"Remove","path":"phoneNumbers[type eq \"mobile\"].value","value":"+1 555 0404"},
            {"op":"Remove","path":"addresses[type eq \"work\"].postalCode","value":"40404"}
        ]),
    )
    .await;
    assert_eq!(
        after,
        with(
            &expected,
            json!({
                "phoneNumbers": [{"type": "work", "value": "+1 555 0405"}],
                "addresses": [{"type": "work", "streetAddress": "4 Q St"}]
            })
        )
    );
    app
}

/// entra-compat §8 Q5: path-less ops whose value object has dotted (`name.givenName`,
/// `name.formatted`) and URN-qualified keys, with `add` as well as `replace`; sibling
/// sub-attributes are kept.
async fn q5_pathless_ops_with_dotted_and_urn_keys(app: TestApp) -> TestApp {
    let (id, before) = create_and_read(&app, &rich_user("q5@example.com")).await;
    let after = patch_and_read(
        &app,
        &id,
        json!([
            {"op":"Replace","value":{
                "name.givenName":"Quinn",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department":"Sales"}},
            {"op":"Add","value":{
                "name.formatted":"Quinn User",
                "title":"Rep",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter":"C9"}}
        ]),
    )
    .await;
    let mut expected = with(&before, json!({"title": "Rep"}));
    expected["name"] =
        json!({"givenName": "Quinn", "familyName": "User", "formatted": "Quinn User"});
    expected[ENTERPRISE] =
        json!({"department": "Sales", "employeeNumber": "42", "costCenter": "C9"});
    assert_eq!(after, expected);
    app
}

/// entra-compat §8 Q6: `value` as a scalar, an object `{"value": …}` and an array
/// `[{"value": …, "$ref": null}]`; the manager as an array, an object and a bare id.
async fn q6_value_shapes_and_manager_shapes(app: TestApp) -> TestApp {
    let boss1 = app
        .create_user(&json!({"userName": "b1@example.com"}))
        .await;
    let boss2 = app
        .create_user(&json!({"userName": "b2@example.com"}))
        .await;
    let (id, before) = create_and_read(&app, &rich_user("q6@example.com")).await;
    for (value, title) in [
        (json!("Scalar"), "Scalar"),
        (json!({"value": "Object"}), "Object"),
        (json!([{"value": "Array", "$ref": null}]), "Array"),
    ] {
        let after = patch_and_read(
            &app,
            &id,
            json!([{"op":"Replace","path":"title","value": value}]),
        )
        .await;
        assert_eq!(after, with(&before, json!({"title": title})), "{value}");
    }
    let path = format!("{ENTERPRISE}:manager");
    let mut expected = with(&before, json!({"title": "Array"}));
    for (value, boss) in [
        (json!([{"$ref": null, "value": boss1}]), &boss1),
        (json!({"value": boss2}), &boss2),
        (json!(boss1), &boss1),
    ] {
        let after =
            patch_and_read(&app, &id, json!([{"op":"Add","path": path,"value": value}])).await;
        expected[ENTERPRISE]["manager"] = json!({"value": boss});
        assert_eq!(after, expected, "{value}");
    }
    app
}

/// entra-compat §8 Q7: the value-array removal form is never "remove all": removing two of four
/// members (with `$ref`s) leaves two; removing an absent member by either form changes nothing.
async fn q7_member_removal_by_value_array_never_removes_all(app: TestApp) -> TestApp {
    let users = app.create_users("q7", 4).await;
    let g = app.create_group(&entra_group()).await;
    let value: Vec<Value> = users
        .iter()
        .map(|u| json!({"value": u, "$ref": format!("{}/Users/{u}", app.tenant_url)}))
        .collect();
    patch_group_204(
        &app,
        &g,
        json!([{"op":"Add","path":"members","value": value}]),
    )
    .await;
    patch_group_204(
        &app,
        &g,
        json!([{"op":"Remove","path":"members","value":[{"value": users[0]}, {"value": users[2]}]}]),
    )
    .await;
    assert_eq!(
        stored_group(&app, &g).await.1,
        id_set(&[&users[1], &users[3]])
    );
    let version = app.get(&format!("/Groups/{g}")).await.body["meta"]["version"].clone();
    patch_group_204(
        &app,
        &g,
        json!([{"op":"Remove","path":"members","value":[{"value": users[0]}]}]),
    )
    .await;
    patch_group_204(
        &app,
        &g,
        json!([{"op":"remove","path": format!("members[value eq \"{}\"]", users[2])}]),
    )
    .await;
    assert_eq!(
        stored_group(&app, &g).await.1,
        id_set(&[&users[1], &users[3]])
    );
    assert_eq!(
        app.get(&format!("/Groups/{g}")).await.body["meta"]["version"],
        version
    );
    app
}

/// entra-compat §8 Q8: attribute names and schema URNs match case-insensitively and are stored
/// canonically: `emails[type eq "work"].Value`, `addresses[type eq "other"].Formatted`,
/// `"Primary"`, `"Department"`, `"Manager": {"Value": …}`, an upper-case URN, `"Operations"` and
/// `"Op"`/`"Path"`/`"Value"` keys in other cases.
async fn q8_attribute_names_and_urns_are_case_insensitive(app: TestApp) -> TestApp {
    let boss = app
        .create_user(&json!({"userName": "boss@example.com"}))
        .await;
    let (id, before) = create_and_read(&app, &rich_user("q8@example.com")).await;
    let body = json!({"schemas": [PATCH_OP], "operations": [
        {"Op":"Replace","Path":"emails[type eq \"work\"].Value","Value":"q8@work.example"},
        {"op":"Replace","path":"addresses[type eq \"other\"].Formatted","value":"Building 8"},
        {"op":"Replace","path":"EMAILS[TYPE eq \"home\"].Primary","value":"True"},
        {"op":"Replace","path":"URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:Department","value":"Legal"},
        {"op":"Add","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":
            {"Manager": {"Value": boss}}}},
        {"op":"Replace","path":"Name.GivenName","value":"Q"},
        {"op":"Replace","value":{"DisplayName":"Q Eight"}}
    ]});
    let reply = app
        .patch(&format!("/Users/{id}"), &body)
        .await
        .expect(StatusCode::OK);
    let after = stored_user(&app, &id).await;
    assert_eq!(without_meta(&reply.body), after);
    let mut expected = with(&before, json!({"displayName": "Q Eight"}));
    expected["name"]["givenName"] = json!("Q");
    expected["emails"] = json!([
        {"value": "q8@work.example", "type": "work", "primary": false},
        {"value": "rich@home.example", "type": "home", "primary": true}
    ]);
    expected["addresses"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "other", "formatted": "Building 8"}));
    expected[ENTERPRISE] =
        json!({"department": "Legal", "employeeNumber": "42", "manager": {"value": boss}});
    assert_eq!(after, expected);
    app
}

/// entra-compat §8 Q16: roles via app-role expressions — `Add roles` with the role serialised as a
/// JSON string is stored verbatim; the assertive variant `replace`s the whole roles array.
async fn q16_roles_as_json_strings_add_and_assertive_replace(app: TestApp) -> TestApp {
    let (id, before) = create_and_read(
        &app,
        &json!({"userName": "q16@example.com",
                "roles": [{"primary": true, "type": "WindowsAzureActiveDirectoryRole", "value": "Admin"}]}),
    )
    .await;
    let role =
        r#"{"id":"5f1a0000-0000-0000-0000-000000000001","value":"25","displayName":"Role1234"}"#;
    let ops = json!([{"op":"Add","path":"roles","value":[{"value": role}]}]);
    let expected = with(
        &before,
        json!({"roles": [
            {"primary": true, "type": "WindowsAzureActiveDirectoryRole", "value": "Admin"},
            {"value": role}
        ]}),
    );
    assert_eq!(patch_and_read(&app, &id, ops.clone()).await, expected);
    assert_eq!(
        patch_and_read(&app, &id, ops).await,
        expected,
        "no duplicate"
    );
    let other =
        r#"{"id":"5f1a0000-0000-0000-0000-000000000002","value":"26","displayName":"Role5678"}"#;
    let after = patch_and_read(
        &app,
        &id,
        json!([{"op":"replace","path":"roles","value":[{"value": other}, {"value": role}]}]),
    )
    .await;
    assert_eq!(
        after,
        with(
            &before,
            json!({"roles": [{"value": other}, {"value": role}]})
        )
    );
    app
}

/// entra-compat §8 Q8 (with Q4): a value-path filter matches a stored `type` written in another
/// case (`"Work"`), so Entra's `emails[type eq "work"].value` updates that element instead of
/// upserting a second work email.
async fn q8_a_value_path_filter_matches_a_stored_type_in_another_case(app: TestApp) -> TestApp {
    let (id, before) = create_and_read(
        &app,
        &json!({"userName": "case@example.com", "emails": [
            {"value": "w@example.com", "type": "Work"},
            {"value": "h@example.com", "type": "home", "primary": true}]}),
    )
    .await;
    let ops =
        json!([{"op":"Replace","path":"emails[type eq \"work\"].value","value":"w2@example.com"}]);
    let mut expected = before.clone();
    expected["emails"][0]["value"] = json!("w2@example.com");
    assert_eq!(patch_and_read(&app, &id, ops.clone()).await, expected);
    assert_eq!(patch_and_read(&app, &id, ops).await, expected);
    app
}

/// entra-compat §8 Q8 (with Q2): an `add` to `emails` whose keys (`"Value"`, `"Type"`,
/// `"Primary"`) and value differ only in case from a stored email merges into it: stored once,
/// with canonical keys and a boolean `primary`.
async fn q8_an_added_email_in_another_case_merges_into_the_stored_one(app: TestApp) -> TestApp {
    let (id, before) = create_and_read(
        &app,
        &json!({"userName": "merge@example.com", "emails": [
            {"value": "w@example.com", "type": "work"},
            {"value": "h@example.com", "type": "home", "primary": true}]}),
    )
    .await;
    let ops = json!([{"op":"Add","path":"emails","value":[
        {"Value":"W@example.com","Type":"work","Primary":"True"}]}]);
    let after = patch_and_read(&app, &id, ops.clone()).await;
    assert_eq!(
        after,
        with(
            &before,
            json!({"emails": [
                {"value": "W@example.com", "type": "work", "primary": true},
                {"value": "h@example.com", "type": "home", "primary": false}
            ]})
        )
    );
    assert_eq!(patch_and_read(&app, &id, ops).await, after);
    app
}

crate::on_both_backends!(
    q1_op_names_in_any_case,
    q2_string_booleans_are_stored_as_booleans,
    q3_add_on_an_existing_single_value_replaces_it,
    q4_value_paths_upsert_merge_and_remove_with_a_value,
    q5_pathless_ops_with_dotted_and_urn_keys,
    q6_value_shapes_and_manager_shapes,
    q7_member_removal_by_value_array_never_removes_all,
    q8_attribute_names_and_urns_are_case_insensitive,
    q16_roles_as_json_strings_add_and_assertive_replace,
    q8_a_value_path_filter_matches_a_stored_type_in_another_case,
    q8_an_added_email_in_another_case_merges_into_the_stored_one,
);
