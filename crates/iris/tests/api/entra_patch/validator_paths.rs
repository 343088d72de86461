//! entra-compat §7.2, the PATCH paths the SCIM Validator generates (`attr[primary eq true].sub`,
//! `attr[type eq "…"].sub`), and its empty `Operations`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{create_and_read, patch_and_read, patch_group_204, with};
use crate::harness::{TestApp, patch_body, rich_user, validator_user};

/// `attr[primary eq true].sub` replace, as the validator generates it: on a user with a primary
/// element it updates that one; on a user with none it creates exactly one primary element, and a
/// replay changes nothing.
async fn primary_value_path_upserts(
    app: &TestApp,
    user: &Value,
    bare_user_name: &str,
    attr: &str,
    sub: &str,
    value: &str,
) {
    let (id, before) = create_and_read(app, user).await;
    let path = format!("{attr}[primary eq true].{sub}");
    let ops = json!([{"op": "replace", "path": path, "value": value}]);
    let mut expected = before.clone();
    expected[attr][0][sub] = json!(value);
    assert_eq!(
        patch_and_read(app, &id, ops.clone()).await,
        expected,
        "{path}"
    );
    let (bare, before) = create_and_read(app, &json!({"userName": bare_user_name})).await;
    let mut element = serde_json::Map::new();
    element.insert("primary".into(), json!(true));
    element.insert(sub.into(), json!(value));
    let mut changes = serde_json::Map::new();
    changes.insert(attr.into(), json!([element]));
    let expected = with(&before, Value::Object(changes));
    assert_eq!(
        patch_and_read(app, &bare, ops.clone()).await,
        expected,
        "{path}"
    );
    assert_eq!(
        patch_and_read(app, &bare, ops).await,
        expected,
        "{path}: not twice"
    );
}

/// entra-compat §7.2 generation: `emails[primary eq true].value` updates the primary email, and on
/// a user without emails creates one primary email.
async fn validator_path_emails_primary_eq_true_value(app: TestApp) -> TestApp {
    primary_value_path_upserts(
        &app,
        &rich_user("pe@example.com"),
        "pe2@example.com",
        "emails",
        "value",
        "p@example.com",
    )
    .await;
    app
}

/// entra-compat §7.2 generation: `phoneNumbers[primary eq true].value`.
async fn validator_path_phone_numbers_primary_eq_true_value(app: TestApp) -> TestApp {
    primary_value_path_upserts(
        &app,
        &validator_user("pp@example.com"),
        "pp2@example.com",
        "phoneNumbers",
        "value",
        "+1 555 0909",
    )
    .await;
    app
}

/// entra-compat §7.2 generation: `addresses[primary eq true].streetAddress`.
async fn validator_path_addresses_primary_eq_true_street_address(app: TestApp) -> TestApp {
    primary_value_path_upserts(
        &app,
        &validator_user("pa@example.com"),
        "pa2@example.com",
        "addresses",
        "streetAddress",
        "9 Oak Ave",
    )
    .await;
    app
}

/// entra-compat §7.2 generation: `emails[type eq "home"].value`, on an existing home email and as
/// an upsert.
async fn validator_path_emails_type_eq_home_value(app: TestApp) -> TestApp {
    let (id, before) = create_and_read(&app, &rich_user("home@example.com")).await;
    let ops = json!([{"op":"replace","path":"emails[type eq \"home\"].value","value":"new@home.example"}]);
    let mut expected = before.clone();
    expected["emails"][1]["value"] = json!("new@home.example");
    assert_eq!(patch_and_read(&app, &id, ops.clone()).await, expected);
    let (other, before) = create_and_read(&app, &validator_user("home2@example.com")).await;
    let mut expected = before.clone();
    expected["emails"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "home", "value": "new@home.example"}));
    assert_eq!(patch_and_read(&app, &other, ops.clone()).await, expected);
    assert_eq!(patch_and_read(&app, &other, ops).await, expected);
    app
}

/// entra-compat §7.2 generation: `emails[type eq "work"].display`.
async fn validator_path_emails_type_eq_work_display(app: TestApp) -> TestApp {
    let (id, before) = create_and_read(&app, &rich_user("display@example.com")).await;
    let after = patch_and_read(
        &app,
        &id,
        json!([{"op":"replace","path":"emails[type eq \"work\"].display","value":"Work Mail"}]),
    )
    .await;
    let mut expected = before.clone();
    expected["emails"][0]["display"] = json!("Work Mail");
    assert_eq!(after, expected);
    app
}

/// entra-compat §7.2 generation: `emails[type eq "work"].primary` with boolean values (and Entra's
/// string forms): one primary at most, stored as JSON booleans.
async fn validator_path_emails_type_eq_work_primary_with_booleans(app: TestApp) -> TestApp {
    let (id, before) = create_and_read(
        &app,
        &json!({"userName": "prim@example.com", "emails": [
            {"value": "w@example.com", "type": "work"},
            {"value": "h@example.com", "type": "home", "primary": true}]}),
    )
    .await;
    let path = "emails[type eq \"work\"].primary";
    let after = patch_and_read(
        &app,
        &id,
        json!([{"op":"replace","path":path,"value":true}]),
    )
    .await;
    assert_eq!(
        after,
        with(
            &before,
            json!({"emails": [
                {"value": "w@example.com", "type": "work", "primary": true},
                {"value": "h@example.com", "type": "home", "primary": false}
            ]})
        )
    );
    let after = patch_and_read(
        &app,
        &id,
        json!([{"op":"replace","path":path,"value":false}]),
    )
    .await;
    assert_eq!(
        after,
        with(
            &before,
            json!({"emails": [
                {"value": "w@example.com", "type": "work", "primary": false},
                {"value": "h@example.com", "type": "home", "primary": false}
            ]})
        )
    );
    let after = patch_and_read(
        &app,
        &id,
        json!([{"op":"Replace","path":path,"value":"True"}]),
    )
    .await;
    assert_eq!(after["emails"][0]["primary"], json!(true));
    assert_eq!(after["emails"][1]["primary"], json!(false));
    assert_eq!(
        app.filter_users("emails[primary eq true].value eq \"w@example.com\"")
            .await
            .id_list(),
        vec![id]
    );
    app
}

/// entra-compat §7.2: the validator once sent an empty `Operations` array — a no-op (200 for a
/// user, 204 for a group), nothing stored changes, not even the version.
async fn validator_empty_operations_is_a_no_op(app: TestApp) -> TestApp {
    let (id, _) = create_and_read(&app, &validator_user("empty@example.com")).await;
    let before = app.get(&format!("/Users/{id}")).await.body;
    let reply = app
        .patch(&format!("/Users/{id}"), &patch_body(json!([])))
        .await
        .expect(StatusCode::OK);
    assert_eq!(reply.body, before);
    assert_eq!(app.get(&format!("/Users/{id}")).await.body, before);
    let g = app.create_group(&json!({"displayName": "Empty"})).await;
    let before = app.get(&format!("/Groups/{g}")).await.body;
    patch_group_204(&app, &g, json!([])).await;
    assert_eq!(app.get(&format!("/Groups/{g}")).await.body, before);
    app
}

crate::on_both_backends!(
    validator_path_emails_primary_eq_true_value,
    validator_path_phone_numbers_primary_eq_true_value,
    validator_path_addresses_primary_eq_true_street_address,
    validator_path_emails_type_eq_home_value,
    validator_path_emails_type_eq_work_display,
    validator_path_emails_type_eq_work_primary_with_booleans,
    validator_empty_operations_is_a_no_op,
);
