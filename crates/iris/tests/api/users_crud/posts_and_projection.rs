//! What Entra's POSTs look like and how they are stored (entra-compat §3.3), and projections with
//! `attributes` / `excludedAttributes` on GET, list and `.search` (RFC 7644 §3.4.2.5, §3.9).

use reqwest::StatusCode;
use serde_json::json;

use super::create_full_user;
use crate::harness::{ENTERPRISE, TestApp, USER, client_part};

async fn post_accepts_what_entra_sends_and_stores_it_canonically(app: TestApp) -> TestApp {
    let manager = app
        .create_user(&json!({"userName": "boss@example.com"}))
        .await;
    let body = json!({
        "schemas": [USER, "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],
        "UserName": "Legacy.User@example.com",
        "externalId": "legacy",
        "Active": "True",
        "meta": {"resourceType": "User", "created": "2001-01-01T00:00:00Z"},
        "id": "client-made-up",
        "name": {"GivenName": "Leg", "familyName": null},
        "emails": [{"Primary": "true", "Type": "work", "Value": "legacy@example.com"}],
        "roles": [{"primary": "True", "type": "WindowsAzureActiveDirectoryRole", "value": "Admin"}],
        "addresses": null,
        "phoneNumbers": null,
        "title": null,
        "password": "hunter2",
        "favouriteColour": "blue",
        "urn:ietf:params:scim:schemas:extension:custom:2.0:User": {"badge": "42"},
        ENTERPRISE: {"Department": "Sales", "Manager": {"Value": manager}, "costCenter": null}
    });
    let created = app.post("/Users", &body).await.expect(StatusCode::CREATED);
    let id = created.id();
    assert_ne!(id, "client-made-up");
    assert_eq!(
        client_part(&created.body),
        json!({
            "userName": "Legacy.User@example.com",
            "externalId": "legacy",
            "active": true,
            "name": {"givenName": "Leg"},
            "emails": [{"primary": true, "type": "work", "value": "legacy@example.com"}],
            "roles": [{"primary": true, "type": "WindowsAzureActiveDirectoryRole", "value": "Admin"}],
            ENTERPRISE: {"department": "Sales", "manager": {"value": manager}}
        })
    );
    assert_eq!(created.body["schemas"], json!([USER, ENTERPRISE]));
    assert_ne!(created.body["meta"]["created"], "2001-01-01T00:00:00Z");
    assert!(
        !created.text.contains("hunter2"),
        "the password is never returned"
    );
    assert_eq!(app.get_user(&id).await, created.body);
    // Not even when asked for.
    let asked = app
        .get(&format!("/Users/{id}?attributes=password,userName"))
        .await
        .expect(StatusCode::OK);
    assert!(
        asked.body.get("password").is_none() && !asked.text.contains("hunter2"),
        "{}",
        asked.text
    );
    // A password-only PATCH is accepted and still not returned.
    let patched = app
        .patch_user(
            &id,
            json!([{"op": "replace", "path": "password", "value": "s3cret"}]),
        )
        .await
        .expect(StatusCode::OK);
    assert!(!patched.text.contains("s3cret"));
    // Matching finds it whatever the case.
    assert_eq!(
        app.filter_users("userName eq \"legacy.user@EXAMPLE.com\"")
            .await
            .id_list(),
        vec![id.clone()]
    );
    assert_eq!(
        app.filter_users("active eq true and externalId eq \"legacy\"")
            .await
            .id_list(),
        vec![id]
    );
    app
}

async fn attributes_and_excluded_attributes_shape_get_and_list(app: TestApp) -> TestApp {
    let full = create_full_user(&app).await;
    let id = full["id"].as_str().unwrap().to_owned();
    let user = |q: &str| format!("/Users/{id}?{q}");

    // `id` and `meta` are returned always.
    let only = app
        .get(&user("attributes=userName,name.givenName"))
        .await
        .expect(StatusCode::OK)
        .body;
    let mut rest = only.clone();
    rest.as_object_mut().unwrap().remove("schemas");
    assert_eq!(
        rest,
        json!({"id": id, "meta": full["meta"], "userName": "Barbara.Jensen@example.com", "name": {"givenName": "Barbara"}})
    );
    assert_eq!(only["schemas"][0], USER);
    // Names are case-insensitive.
    let upper = app
        .get(&user("attributes=USERNAME,Name.GivenName"))
        .await
        .expect(StatusCode::OK)
        .body;
    assert_eq!(upper, only);

    let without = app
        .get(&user("excludedAttributes=emails"))
        .await
        .expect(StatusCode::OK)
        .body;
    let mut expected = full.clone();
    expected.as_object_mut().unwrap().remove("emails");
    assert_eq!(without, expected);
    // `id` and `meta` are returned always; excluding them has no effect.
    let with_id = app
        .get(&user("excludedAttributes=id,meta,phoneNumbers"))
        .await
        .expect(StatusCode::OK)
        .body;
    assert_eq!(with_id["id"], id.as_str());
    assert_eq!(with_id["meta"], full["meta"]);
    assert!(with_id.get("phoneNumbers").is_none());

    let department = format!("{ENTERPRISE}:department");
    let ext = app
        .get(&user(&format!("attributes={department}")))
        .await
        .expect(StatusCode::OK)
        .body;
    let mut rest = ext.clone();
    rest.as_object_mut().unwrap().remove("schemas");
    assert_eq!(
        rest,
        json!({"id": id, "meta": full["meta"], ENTERPRISE: {"department": "Tour Operations"}})
    );
    let no_manager = app
        .get(&user(&format!("excludedAttributes={ENTERPRISE}:manager")))
        .await
        .expect(StatusCode::OK)
        .body;
    let mut expected = full[ENTERPRISE].clone();
    expected.as_object_mut().unwrap().remove("manager");
    assert_eq!(no_manager[ENTERPRISE], expected);
    assert_eq!(no_manager["userName"], full["userName"]);

    // The same on a list, by GET and by POST /.search.
    let listed = app
        .list_users(&[
            ("filter", "userName eq \"barbara.jensen@example.com\""),
            ("attributes", "userName,name.givenName"),
        ])
        .await
        .expect(StatusCode::OK);
    assert_eq!(listed.resources(), &vec![only.clone()]);
    let searched = app
        .post(
            "/Users/.search",
            &json!({"filter": "userName eq \"barbara.jensen@example.com\"", "attributes": ["userName", "name.givenName"]}),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(searched.resources(), &vec![only]);
    let listed = app
        .list_users(&[
            ("filter", "userName eq \"barbara.jensen@example.com\""),
            ("excludedAttributes", "emails"),
        ])
        .await
        .expect(StatusCode::OK);
    assert_eq!(listed.resources(), &vec![without]);
    app
}

crate::on_both_backends!(
    post_accepts_what_entra_sends_and_stores_it_canonically,
    attributes_and_excluded_attributes_shape_get_and_list,
);
