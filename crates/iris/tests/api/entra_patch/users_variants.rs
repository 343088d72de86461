//! entra-compat §3.5.1, the wire variants Entra has been observed to send in default mode.

use reqwest::StatusCode;
use serde_json::json;

use super::{assert_patch_changes, create_and_read, patch_and_read, with};
use crate::harness::{ENTERPRISE, TestApp, USER, entra_user, rich_user};

/// entra-compat §3.5.1, observed variant: mixed `Replace` and `Add` in one request (work email,
/// work address formatted, enterprise department).
async fn observed_mixed_replace_and_add_in_one_request(app: TestApp) -> TestApp {
    let ops = json!([
        {"op":"Replace","path":"emails[type eq \"work\"].value","value":"new@example.com"},
        {"op":"Replace","path":"addresses[type eq \"work\"].formatted","value":"1 Main St\nSpringfield"},
        {"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"Sales"}
    ]);
    let changes = json!({
        "schemas": [USER, ENTERPRISE],
        "emails": [{"primary": true, "type": "work", "value": "new@example.com"}],
        "addresses": [{"type": "work", "formatted": "1 Main St\nSpringfield"}],
        ENTERPRISE: {"department": "Sales"}
    });
    assert_patch_changes(&app, &entra_user(), ops, changes).await;
    app
}

/// entra-compat §3.5.1, observed variant: `Add` on `emails[type eq "work"].value` when the user
/// has no work email creates it.
async fn observed_add_on_a_missing_work_email_creates_it(app: TestApp) -> TestApp {
    let (id, before) = create_and_read(
        &app,
        &json!({"userName": "nowork@example.com",
                "emails": [{"type": "home", "value": "home@example.com"}]}),
    )
    .await;
    let ops =
        json!([{"op":"Add","path":"emails[type eq \"work\"].value","value":"work@example.com"}]);
    let expected = with(
        &before,
        json!({"emails": [
            {"type": "home", "value": "home@example.com"},
            {"type": "work", "value": "work@example.com"}
        ]}),
    );
    assert_eq!(patch_and_read(&app, &id, ops.clone()).await, expected);
    assert_eq!(
        patch_and_read(&app, &id, ops).await,
        expected,
        "a second Add finds the element it created"
    );
    app
}

/// entra-compat §3.5.1, observed variant: `Replace` on a missing work email upserts (never 400
/// `noTarget`).
async fn observed_replace_on_a_missing_work_email_upserts(app: TestApp) -> TestApp {
    let (id, before) = create_and_read(&app, &json!({"userName": "noemail@example.com"})).await;
    let ops =
        json!([{"op":"Replace","path":"emails[type eq \"work\"].value","value":"w@example.com"}]);
    let expected = with(
        &before,
        json!({"emails": [{"type": "work", "value": "w@example.com"}]}),
    );
    assert_eq!(patch_and_read(&app, &id, ops.clone()).await, expected);
    assert_eq!(patch_and_read(&app, &id, ops).await, expected);
    app
}

/// entra-compat §3.5.1, observed variant: `Remove` with a value on a value path removes the
/// element and does not set the value.
async fn observed_remove_with_a_value_on_a_value_path(app: TestApp) -> TestApp {
    let ops = json!([{"op":"Remove","path":"emails[type eq \"work\"].value","value":"updated@example.org"}]);
    let changes = json!({"emails": [{"value": "rich@home.example", "type": "home"}]});
    assert_patch_changes(&app, &rich_user("rmv@example.com"), ops, changes).await;
    for email in ["updated@example.org", "rich@work.example"] {
        let found = app
            .filter_users(&format!("emails.value eq \"{email}\""))
            .await
            .expect(StatusCode::OK);
        assert_eq!(found.body["totalResults"], 0, "{email}");
    }
    app
}

/// entra-compat §3.5.1, observed variant: several ops on one filtered element
/// (`addresses[type eq "work"].formatted`, `.locality`, `.region`) build ONE address.
async fn observed_several_ops_on_one_filter_build_one_address(app: TestApp) -> TestApp {
    let (id, before) = create_and_read(&app, &entra_user()).await;
    let ops = json!([
        {"op":"Add","path":"addresses[type eq \"work\"].formatted","value":"1 Main St, Springfield"},
        {"op":"Add","path":"addresses[type eq \"work\"].locality","value":"Springfield"},
        {"op":"Replace","path":"addresses[type eq \"work\"].region","value":"IL"}
    ]);
    let expected = with(
        &before,
        json!({"addresses": [{"type": "work", "formatted": "1 Main St, Springfield",
                              "locality": "Springfield", "region": "IL"}]}),
    );
    assert_eq!(patch_and_read(&app, &id, ops.clone()).await, expected);
    assert_eq!(patch_and_read(&app, &id, ops).await, expected, "still one");
    // And onto an address that already exists, with other types around.
    let ops = json!([
        {"op":"Replace","path":"addresses[type eq \"work\"].locality","value":"Shelbyville"},
        {"op":"Replace","path":"addresses[type eq \"work\"].region","value":"IL"},
        {"op":"Replace","path":"addresses[type eq \"other\"].formatted","value":"Building 7"}
    ]);
    let changes = json!({"addresses": [
        {"type": "work", "streetAddress": "1 Main St", "locality": "Shelbyville", "region": "IL"},
        {"type": "other", "formatted": "Building 7"}
    ]});
    assert_patch_changes(&app, &rich_user("addr@example.com"), ops, changes).await;
    app
}

/// entra-compat §3.5.1, observed variant: `value` as a bare string with a leading space, stored
/// exactly as sent.
async fn observed_bare_string_value_is_stored_as_sent(app: TestApp) -> TestApp {
    let ops = json!([{"op":"Replace","path":"displayName","value":" User X"}]);
    let changes = json!({"displayName": " User X"});
    assert_patch_changes(&app, &entra_user(), ops, changes).await;
    app
}

/// entra-compat §3.5.1, observed variant: booleans as `"False"`/`"True"` and lowercase
/// `"false"`/`"true"`, each stored as a JSON boolean.
async fn observed_string_booleans_in_any_case_are_stored_as_booleans(app: TestApp) -> TestApp {
    let (id, before) = create_and_read(&app, &entra_user()).await;
    for (sent, stored) in [
        (json!("False"), false),
        (json!("True"), true),
        (json!("false"), false),
        (json!("true"), true),
        (json!("FALSE"), false),
        (json!(true), true),
    ] {
        let after = patch_and_read(
            &app,
            &id,
            json!([{"op":"Replace","path":"active","value":sent}]),
        )
        .await;
        assert_eq!(after, with(&before, json!({"active": stored})), "{sent}");
    }
    let inactive = app
        .filter_users("active eq false")
        .await
        .expect(StatusCode::OK);
    assert_eq!(inactive.body["totalResults"], 0);
    app
}

/// entra-compat §3.5.1, observed variant: a multi-valued attribute gets `Add` with a value array
/// (instead of `Replace`): the values are appended, never duplicated.
async fn observed_add_with_a_value_array_appends_without_duplicates(app: TestApp) -> TestApp {
    let (id, before) = create_and_read(
        &app,
        &json!({"userName": "roles@example.com", "roles": [{"value": "reader"}]}),
    )
    .await;
    let ops = json!([{"op":"Add","path":"roles","value":[{"value":"writer"},{"value":"reader"}]}]);
    let expected = with(
        &before,
        json!({"roles": [{"value": "reader"}, {"value": "writer"}]}),
    );
    assert_eq!(patch_and_read(&app, &id, ops.clone()).await, expected);
    assert_eq!(patch_and_read(&app, &id, ops).await, expected);
    app
}

crate::on_both_backends!(
    observed_mixed_replace_and_add_in_one_request,
    observed_add_on_a_missing_work_email_creates_it,
    observed_replace_on_a_missing_work_email_upserts,
    observed_remove_with_a_value_on_a_value_path,
    observed_several_ops_on_one_filter_build_one_address,
    observed_bare_string_value_is_stored_as_sent,
    observed_string_booleans_in_any_case_are_stored_as_booleans,
    observed_add_with_a_value_array_appends_without_duplicates,
);
