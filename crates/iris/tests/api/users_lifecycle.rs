//! Entra's user cycle from entra-compat §2.3 and §3: Test Connection, create, match, update,
//! disable, delete, with the request bodies Entra sends.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{ENTERPRISE, LIST_RESPONSE, SCIM_JSON, TestApp, entra_user};

async fn test_connection_finds_no_user_for_a_random_guid(app: TestApp) -> TestApp {
    let guid = uuid::Uuid::new_v4();
    for attr in ["userName", "externalId"] {
        let reply = app
            .filter_users(&format!("{attr} eq \"{guid}\""))
            .await
            .expect(StatusCode::OK);
        assert_eq!(reply.content_type(), SCIM_JSON);
        assert_eq!(reply.body["schemas"][0], LIST_RESPONSE);
        assert_eq!(reply.body["totalResults"], 0);
        assert_eq!(reply.body["Resources"], json!([]));
        assert_eq!(reply.body["startIndex"], 1);
    }
    // Exactly as Entra encodes it on the wire: `+` for spaces, %22 for quotes.
    let reply = app
        .get(&format!("/Users?filter=userName+eq+%22{guid}%22"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(reply.body["totalResults"], 0);
    app
}

async fn entra_create_match_update_disable_delete_cycle(app: TestApp) -> TestApp {
    // Create.
    let created = app
        .post("/Users", &entra_user())
        .await
        .expect(StatusCode::CREATED);
    let id = created.id();
    assert_eq!(created.content_type(), SCIM_JSON);
    assert_eq!(
        created.header("location").unwrap(),
        format!("{}/Users/{id}", app.tenant_url)
    );
    assert_eq!(created.body["meta"]["resourceType"], "User");
    assert_eq!(
        created.body["meta"]["location"],
        format!("{}/Users/{id}", app.tenant_url)
    );
    assert!(created.body["meta"]["created"].is_string());
    assert_eq!(created.body["active"], true);
    assert!(
        created.body.get("roles").is_none(),
        "an empty roles array is not stored"
    );

    // Match, with a different case: userName is case-insensitive.
    let matched = app
        .filter_users("userName eq \"TEST_USER_00AA00AA-BB11-CC22-DD33-44EE44EE44EE\"")
        .await
        .expect(StatusCode::OK);
    assert_eq!(matched.body["totalResults"], 1);
    assert_eq!(matched.resources()[0]["id"], id.as_str());

    // Update: entra-compat §3.5.1, every op with its own path and a capitalised op name.
    let update = json!([
        {"op": "Replace", "path": "displayName", "value": "Pvlo"},
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "TestBcwqnm@test.microsoft.com"},
        {"op": "Replace", "path": "name.givenName", "value": "Gtfd"},
        {"op": "Replace", "path": "name.familyName", "value": "Pkqf"},
        {"op": "Replace", "path": "externalId", "value": "Eqpj"},
        {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "Eqpj"}
    ]);
    let patched = app.patch_user(&id, update).await.expect(StatusCode::OK);
    assert_eq!(patched.body["displayName"], "Pvlo");
    let user = app.get_user(&id).await;
    assert_eq!(
        user["emails"],
        json!([{"primary": true, "type": "work", "value": "TestBcwqnm@test.microsoft.com"}])
    );
    assert_eq!(
        user["name"],
        json!({"formatted": "givenName familyName", "familyName": "Pkqf", "givenName": "Gtfd"})
    );
    assert_eq!(user["externalId"], "Eqpj");
    assert_eq!(user[ENTERPRISE]["employeeNumber"], "Eqpj");
    assert_eq!(
        user["userName"],
        "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee"
    );
    assert_eq!(user["meta"]["version"], "W/\"2\"");

    // Disable, with Entra's string boolean.
    let user = app
        .patch_user_and_get(
            &id,
            json!([{"op": "Replace", "path": "active", "value": "False"}]),
        )
        .await;
    assert_eq!(user["active"], false, "stored as a JSON boolean");
    // Disabled users stay visible to filters.
    let found = app
        .filter_users("userName eq \"test_user_00aa00aa-bb11-cc22-dd33-44ee44ee44ee\"")
        .await;
    assert_eq!(found.body["totalResults"], 1);
    let inactive = app.filter_users("active eq false").await;
    assert_eq!(inactive.body["totalResults"], 1);

    // Delete, then it is gone.
    app.delete_and_expect_gone(&format!("/Users/{id}")).await;
    app.delete(&format!("/Users/{id}"))
        .await
        .expect_error(StatusCode::NOT_FOUND, None);
    let gone = app
        .filter_users("userName eq \"Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee\"")
        .await;
    assert_eq!(gone.body["totalResults"], 0);
    app
}

async fn a_case_variant_duplicate_user_name_is_409_uniqueness(app: TestApp) -> TestApp {
    app.create_user(&json!({"userName": "Ford_Purdy@example.com"}))
        .await;
    let dup = app
        .post("/Users", &json!({"userName": "FORD_PURDY@EXAMPLE.COM"}))
        .await;
    dup.expect_error(StatusCode::CONFLICT, Some("uniqueness"));
    // Unicode case folding, not just ASCII.
    app.create_user(&json!({"userName": "émile@example.com"}))
        .await;
    let dup = app
        .post("/Users", &json!({"userName": "ÉMILE@example.com"}))
        .await;
    dup.expect_error(StatusCode::CONFLICT, Some("uniqueness"));
    let all = app.get("/Users").await.expect(StatusCode::OK);
    assert_eq!(all.body["totalResults"], 2, "nothing partial was written");
    app
}

crate::on_both_backends!(
    test_connection_finds_no_user_for_a_random_guid,
    entra_create_match_update_disable_delete_cycle,
    a_case_variant_duplicate_user_name_is_409_uniqueness,
);
