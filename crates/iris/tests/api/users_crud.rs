//! Users beyond Entra's happy path: PUT, ETags and preconditions (RFC 7644 §3.5.1, §3.14), the full
//! attribute set, what Entra's POSTs look like (entra-compat §3.3), projections (§3.4.2.5, §3.9),
//! Entra's PATCH dialects (§3.5), Tenant URL quirks (§2.2) and the health probes.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Reply, SCIM_JSON, TestApp};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn patch_body(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

async fn get_user(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/Users/{id}"))
        .await
        .expect(StatusCode::OK)
        .body
}

/// The resource without what the server assigns (`schemas`, `id`, `meta`).
fn client_part(resource: &Value) -> Value {
    let mut out = resource.clone();
    let map = out.as_object_mut().unwrap();
    map.remove("schemas");
    map.remove("id");
    map.remove("meta");
    out
}

#[track_caller]
fn assert_etag_matches_version(reply: &Reply) {
    let etag = reply
        .header("etag")
        .unwrap_or_else(|| panic!("no ETag header: {}", reply.text));
    assert_eq!(
        etag,
        reply.body["meta"]["version"].as_str().unwrap(),
        "ETag vs meta.version"
    );
}

fn full_user(manager: &str) -> Value {
    json!({
        "schemas": [USER, ENTERPRISE],
        "userName": "Barbara.Jensen@example.com",
        "externalId": "bjensen-0001",
        "name": {
            "formatted": "Ms. Barbara J Jensen, III",
            "familyName": "Jensen",
            "givenName": "Barbara",
            "middleName": "Jane",
            "honorificPrefix": "Ms.",
            "honorificSuffix": "III"
        },
        "displayName": "Babs Jensen",
        "nickName": "Babs",
        "profileUrl": "https://login.example.com/bjensen",
        "title": "Tour Guide",
        "userType": "Employee",
        "preferredLanguage": "en-US",
        "locale": "en-US",
        "timezone": "America/Los_Angeles",
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true, "display": "Work mail"},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "phoneNumbers": [
            {"value": "+1 555 555 5555", "type": "work"},
            {"value": "+1 555 555 4444", "type": "mobile"}
        ],
        "ims": [{"value": "someaimhandle", "type": "aim"}],
        "photos": [{"value": "https://photos.example.com/profilephoto/72930000000Ccne/F", "type": "photo"}],
        "addresses": [{
            "type": "work",
            "streetAddress": "100 Universal City Plaza",
            "locality": "Hollywood",
            "region": "CA",
            "postalCode": "91608",
            "country": "USA",
            "formatted": "100 Universal City Plaza\nHollywood, CA 91608 USA",
            "primary": true
        }],
        "entitlements": [{"value": "Standard"}],
        "roles": [{"value": "Tour Guide", "type": "WindowsAzureActiveDirectoryRole", "primary": true}],
        "x509Certificates": [{"value": "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAwTjELMAkGA1UEBhMCVVMx"}],
        ENTERPRISE: {
            "employeeNumber": "701984",
            "costCenter": "4130",
            "organization": "Universal Studios",
            "division": "Theme Park",
            "department": "Tour Operations",
            "manager": {"value": manager}
        }
    })
}

async fn the_full_attribute_set_round_trips_exactly(app: TestApp) -> TestApp {
    let manager = app
        .create_user(&json!({"userName": "boss@example.com"}))
        .await;
    let sent = full_user(&manager);
    let created = app.post("/Users", &sent).await.expect(StatusCode::CREATED);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let mut expected = sent.clone();
    expected.as_object_mut().unwrap().remove("schemas");
    assert_eq!(client_part(&created.body), expected);
    assert_eq!(created.body["schemas"], json!([USER, ENTERPRISE]));
    assert_eq!(created.body["meta"]["resourceType"], "User");
    assert_eq!(created.body["meta"]["version"], "W/\"1\"");
    assert_eq!(
        created.body["meta"]["created"],
        created.body["meta"]["lastModified"]
    );
    assert_etag_matches_version(&created);
    // The stored user, read back and listed, is the same resource.
    let got = app
        .get(&format!("/Users/{id}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(got.body, created.body);
    assert_etag_matches_version(&got);
    let listed = app
        .filter_users("userName eq \"barbara.jensen@example.com\"")
        .await;
    assert_eq!(listed.resources(), &vec![created.body.clone()]);
    // And PUT of the same body changes nothing but the version.
    let put = app
        .put(&format!("/Users/{id}"), &sent)
        .await
        .expect(StatusCode::OK);
    assert_eq!(client_part(&put.body), expected);
    app
}

async fn put_replaces_everything_but_id_and_created(app: TestApp) -> TestApp {
    let manager = app
        .create_user(&json!({"userName": "boss@example.com"}))
        .await;
    let created = app
        .post("/Users", &full_user(&manager))
        .await
        .expect(StatusCode::CREATED)
        .body;
    let id = created["id"].as_str().unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let replacement = json!({
        "schemas": [USER],
        "id": "an-id-the-client-made-up",
        "userName": "barbara.jensen@example.com",
        "displayName": "Barbara",
        "emails": [{"value": "new@example.com", "type": "home"}],
        "meta": {"created": "2001-01-01T00:00:00Z", "version": "W/\"99\""}
    });
    let put = app
        .put(&format!("/Users/{id}"), &replacement)
        .await
        .expect(StatusCode::OK);
    assert_eq!(put.content_type(), SCIM_JSON);
    assert_eq!(put.body["id"], id);
    assert_eq!(
        client_part(&put.body),
        json!({"userName": "barbara.jensen@example.com", "displayName": "Barbara",
               "emails": [{"value": "new@example.com", "type": "home"}]}),
        "attributes left out of a PUT are cleared"
    );
    assert_eq!(
        put.body["schemas"],
        json!([USER]),
        "no enterprise data left"
    );
    assert_eq!(put.body["meta"]["created"], created["meta"]["created"]);
    assert!(
        put.body["meta"]["lastModified"].as_str().unwrap()
            > created["meta"]["lastModified"].as_str().unwrap()
    );
    assert_eq!(put.body["meta"]["version"], "W/\"2\"");
    assert_eq!(put.body["meta"]["location"], created["meta"]["location"]);
    assert_etag_matches_version(&put);
    assert_eq!(get_user(&app, id).await, put.body);
    // The cleared values no longer match filters; the new ones do.
    assert_eq!(
        app.filter_users("emails.value eq \"bjensen@example.com\"")
            .await
            .body["totalResults"],
        0
    );
    assert_eq!(
        app.filter_users("externalId eq \"bjensen-0001\"")
            .await
            .body["totalResults"],
        0
    );
    assert_eq!(
        app.filter_users("emails.value eq \"new@example.com\"")
            .await
            .id_list(),
        vec![id.to_owned()]
    );
    app
}

async fn etags_follow_every_write_and_if_none_match_gives_304(app: TestApp) -> TestApp {
    let created = app
        .post("/Users", &json!({"userName": "etag@example.com"}))
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(created.header("etag"), Some("W/\"1\""));
    let id = created.body["id"].as_str().unwrap().to_owned();
    let path = format!("/Users/{id}");

    let not_modified = app
        .request(Method::GET, &path)
        .header("if-none-match", "W/\"1\"")
        .send()
        .await
        .unwrap();
    let not_modified = Reply::from(not_modified).await;
    assert_eq!(not_modified.status, StatusCode::NOT_MODIFIED);
    assert!(not_modified.text.is_empty());
    assert_eq!(not_modified.header("etag"), Some("W/\"1\""));
    let star = Reply::from(
        app.request(Method::GET, &path)
            .header("if-none-match", "*")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(star.status, StatusCode::NOT_MODIFIED);

    let patched = app
        .patch(
            &path,
            &patch_body(json!([{"op": "add", "path": "nickName", "value": "E"}])),
        )
        .await;
    let patched = patched.expect(StatusCode::OK);
    assert_eq!(patched.header("etag"), Some("W/\"2\""));
    assert_etag_matches_version(&patched);
    // The old tag no longer matches: the full resource comes back.
    let stale = Reply::from(
        app.request(Method::GET, &path)
            .header("if-none-match", "W/\"1\"")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let stale = stale.expect(StatusCode::OK);
    assert_eq!(stale.body["nickName"], "E");
    assert_etag_matches_version(&stale);
    let put = app
        .put(&path, &json!({"userName": "etag@example.com"}))
        .await
        .expect(StatusCode::OK);
    assert_eq!(put.header("etag"), Some("W/\"3\""));
    assert_etag_matches_version(&put);
    app
}

async fn a_stale_if_match_is_412_and_changes_nothing(app: TestApp) -> TestApp {
    let id = app
        .create_user(&json!({"userName": "guarded@example.com", "displayName": "One"}))
        .await;
    let path = format!("/Users/{id}");
    app.patch(
        &path,
        &patch_body(json!([{"op": "replace", "path": "displayName", "value": "Two"}])),
    )
    .await
    .expect(StatusCode::OK);
    let before = get_user(&app, &id).await;
    assert_eq!(before["meta"]["version"], "W/\"2\"");

    for stale in ["W/\"1\"", "\"1\"", "W/\"3\"", "W/\"abc\""] {
        let put = app
            .request(Method::PUT, &path)
            .header("if-match", stale)
            .header("content-type", SCIM_JSON)
            .body(json!({"userName": "guarded@example.com", "displayName": "Put"}).to_string());
        Reply::from(put.send().await.unwrap())
            .await
            .expect_error(StatusCode::PRECONDITION_FAILED, None);
        let patch = app
            .request(Method::PATCH, &path)
            .header("if-match", stale)
            .header("content-type", SCIM_JSON)
            .body(
                patch_body(json!([{"op": "replace", "path": "displayName", "value": "Patched"}]))
                    .to_string(),
            );
        Reply::from(patch.send().await.unwrap())
            .await
            .expect_error(StatusCode::PRECONDITION_FAILED, None);
        let delete = app.request(Method::DELETE, &path).header("if-match", stale);
        Reply::from(delete.send().await.unwrap())
            .await
            .expect_error(StatusCode::PRECONDITION_FAILED, None);
        assert_eq!(
            get_user(&app, &id).await,
            before,
            "If-Match {stale} changed the user"
        );
    }
    // The current tag (or `*`) lets the write through.
    let patch = app
        .request(Method::PATCH, &path)
        .header("if-match", "W/\"2\"")
        .header("content-type", SCIM_JSON)
        .body(
            patch_body(json!([{"op": "replace", "path": "displayName", "value": "Three"}]))
                .to_string(),
        );
    let patched = Reply::from(patch.send().await.unwrap())
        .await
        .expect(StatusCode::OK);
    assert_eq!(patched.body["displayName"], "Three");
    let put = app
        .request(Method::PUT, &path)
        .header("if-match", "*")
        .header("content-type", SCIM_JSON)
        .body(json!({"userName": "guarded@example.com", "displayName": "Four"}).to_string());
    Reply::from(put.send().await.unwrap())
        .await
        .expect(StatusCode::OK);
    let delete = app
        .request(Method::DELETE, &path)
        .header("if-match", "W/\"4\"");
    Reply::from(delete.send().await.unwrap())
        .await
        .expect(StatusCode::NO_CONTENT);
    app.get(&path)
        .await
        .expect_error(StatusCode::NOT_FOUND, None);
    app
}

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
    let id = created.body["id"].as_str().unwrap().to_owned();
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
    assert_eq!(get_user(&app, &id).await, created.body);
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
        .patch(
            &format!("/Users/{id}"),
            &patch_body(json!([{"op": "replace", "path": "password", "value": "s3cret"}])),
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
    let manager = app
        .create_user(&json!({"userName": "boss@example.com"}))
        .await;
    let full = app
        .post("/Users", &full_user(&manager))
        .await
        .expect(StatusCode::CREATED)
        .body;
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

async fn entra_pathless_patch_with_dotted_and_urn_keys_updates_only_those(app: TestApp) -> TestApp {
    let manager = app
        .create_user(&json!({"userName": "boss@example.com"}))
        .await;
    let full = app
        .post("/Users", &full_user(&manager))
        .await
        .expect(StatusCode::CREATED)
        .body;
    let id = full["id"].as_str().unwrap();
    // entra-compat §3.5.2, verbatim.
    let body = patch_body(json!([
        {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "TestMhvaes@test.microsoft.com"},
        {"op": "replace", "value": {
            "displayName": "Bjfe",
            "name.givenName": "Kkom",
            "name.familyName": "Unua",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Aklq"}}
    ]));
    let patched = app
        .patch(&format!("/Users/{id}?aadOptscim062020"), &body)
        .await
        .expect(StatusCode::OK);
    let mut expected = full.clone();
    expected["displayName"] = json!("Bjfe");
    expected["name"]["givenName"] = json!("Kkom");
    expected["name"]["familyName"] = json!("Unua");
    expected[ENTERPRISE]["employeeNumber"] = json!("Aklq");
    expected["emails"][0]["value"] = json!("TestMhvaes@test.microsoft.com");
    let got = get_user(&app, id).await;
    assert_eq!(
        client_part(&got),
        client_part(&expected),
        "only the named values change"
    );
    assert_eq!(got["meta"]["version"], "W/\"2\"");
    assert_eq!(patched.body, got);
    assert!(
        got.get("name.givenName").is_none()
            && got
                .get("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber")
                .is_none()
    );
    app
}

async fn add_sets_single_values_and_value_paths_upsert_one_element(app: TestApp) -> TestApp {
    let id = app
        .create_user(&json!({"userName": "upsert@example.com", "emails": [{"type": "home", "value": "home@example.com"}]}))
        .await;
    let path = format!("/Users/{id}");
    // Add of a single value, first and second time (Entra's `Add` on an existing value, Q3).
    app.patch(
        &path,
        &patch_body(json!([{"op": "Add", "path": "nickName", "value": "Babs"}])),
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(get_user(&app, &id).await["nickName"], "Babs");
    app.patch(
        &path,
        &patch_body(json!([{"op": "add", "path": "nickName", "value": "Barbara"}])),
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(get_user(&app, &id).await["nickName"], "Barbara");

    // Replace on a work email that does not exist creates exactly one; add then updates it.
    let work = "emails[type eq \"work\"].value";
    app.patch(
        &path,
        &patch_body(json!([{"op": "Replace", "path": work, "value": "w1@example.com"}])),
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(
        get_user(&app, &id).await["emails"],
        json!([{"type": "home", "value": "home@example.com"}, {"type": "work", "value": "w1@example.com"}])
    );
    app.patch(
        &path,
        &patch_body(json!([{"op": "Add", "path": work, "value": "w2@example.com"}])),
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(
        get_user(&app, &id).await["emails"],
        json!([{"type": "home", "value": "home@example.com"}, {"type": "work", "value": "w2@example.com"}])
    );
    assert_eq!(
        app.filter_users("emails[type eq \"work\"].value eq \"w2@example.com\"")
            .await
            .id_list(),
        vec![id.clone()]
    );
    assert_eq!(
        app.filter_users("emails.value eq \"w1@example.com\"")
            .await
            .body["totalResults"],
        0
    );
    // A PATCH that leaves the e-mails alone keeps them findable (their index rows are not
    // rewritten, and not lost either).
    app.patch(
        &path,
        &patch_body(json!([{"op": "Replace", "path": "active", "value": "False"}])),
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(
        app.filter_users("emails[type eq \"work\"].value eq \"W2@example.com\"")
            .await
            .id_list(),
        vec![id.clone()]
    );

    // On a user with no emails at all, `add` creates the one element.
    let bare = app
        .create_user(&json!({"userName": "bare@example.com"}))
        .await;
    app.patch(
        &format!("/Users/{bare}"),
        &patch_body(json!([{"op": "add", "path": work, "value": "bare@work.example"}])),
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(
        get_user(&app, &bare).await["emails"],
        json!([{"type": "work", "value": "bare@work.example"}])
    );

    // Several ops on one filtered element build one address (lessons.md item 4).
    app.patch(
        &path,
        &patch_body(json!([
            {"op": "Replace", "path": "addresses[type eq \"work\"].streetAddress", "value": "1 Main St"},
            {"op": "Replace", "path": "addresses[type eq \"work\"].locality", "value": "Springfield"},
            {"op": "Replace", "path": "addresses[type eq \"work\"].postalCode", "value": "12345"}
        ])),
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(
        get_user(&app, &id).await["addresses"],
        json!([{"type": "work", "streetAddress": "1 Main St", "locality": "Springfield", "postalCode": "12345"}])
    );
    app
}

async fn mobile_phone_numbers_are_upserted_updated_and_removed_by_value_path(
    app: TestApp,
) -> TestApp {
    let id = app
        .create_user(&json!({"userName": "phone@example.com", "phoneNumbers": [{"type": "work", "value": "+1 555 0100"}]}))
        .await;
    let path = format!("/Users/{id}");
    let mobile = "phoneNumbers[type eq \"mobile\"].value";
    app.patch(
        &path,
        &patch_body(json!([{"op": "replace", "path": mobile, "value": "+1 555 0101"}])),
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(
        get_user(&app, &id).await["phoneNumbers"],
        json!([{"type": "work", "value": "+1 555 0100"}, {"type": "mobile", "value": "+1 555 0101"}])
    );
    app.patch(
        &path,
        &patch_body(json!([{"op": "replace", "path": mobile, "value": "+1 555 0102"}])),
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(
        get_user(&app, &id).await["phoneNumbers"],
        json!([{"type": "work", "value": "+1 555 0100"}, {"type": "mobile", "value": "+1 555 0102"}])
    );
    let found = app
        .filter_users("phoneNumbers[type eq \"mobile\"].value eq \"+1 555 0102\"")
        .await;
    assert_eq!(found.id_list(), vec![id.clone()]);
    app.patch(
        &path,
        &patch_body(json!([{"op": "remove", "path": mobile}])),
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(
        get_user(&app, &id).await["phoneNumbers"],
        json!([{"type": "work", "value": "+1 555 0100"}])
    );
    assert_eq!(
        app.filter_users("phoneNumbers.value eq \"+1 555 0102\"")
            .await
            .body["totalResults"],
        0
    );
    app
}

async fn remove_with_a_value_on_a_value_path_removes_that_element(app: TestApp) -> TestApp {
    let id = app
        .create_user(&json!({"userName": "rm@example.com", "emails": [
            {"type": "work", "value": "old@example.com", "primary": true},
            {"type": "home", "value": "home@example.com"}]}))
        .await;
    let body = patch_body(
        json!([{"op": "Remove", "path": "emails[type eq \"work\"].value", "value": "old@example.com"}]),
    );
    app.patch(&format!("/Users/{id}"), &body)
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        get_user(&app, &id).await["emails"],
        json!([{"type": "home", "value": "home@example.com"}])
    );
    assert_eq!(
        app.filter_users("emails.value eq \"old@example.com\"")
            .await
            .body["totalResults"],
        0
    );
    app
}

async fn manager_is_set_in_every_entra_shape_and_removed_with_an_empty_value(
    app: TestApp,
) -> TestApp {
    let first = app
        .create_user(&json!({"userName": "first.boss@example.com"}))
        .await;
    let second = app
        .create_user(&json!({"userName": "second.boss@example.com"}))
        .await;
    let id = app
        .create_user(&json!({"userName": "report@example.com", ENTERPRISE: {"department": "Ops"}}))
        .await;
    let path = format!("/Users/{id}");
    let manager_path = format!("{ENTERPRISE}:manager");
    let manager = |user: &Value| user[ENTERPRISE]["manager"].clone();

    // As an object (the validators' shape).
    app.patch(
        &path,
        &patch_body(json!([{"op": "add", "path": manager_path, "value": {"value": first}}])),
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(manager(&get_user(&app, &id).await), json!({"value": first}));
    // As Entra's one-element array with a $ref.
    let reference = format!("{}/Users/{second}", app.tenant_url);
    app.patch(
        &path,
        &patch_body(json!([{"op": "Replace", "path": manager_path, "value": [{"$ref": reference, "value": second}]}])),
    )
    .await
    .expect(StatusCode::OK);
    let now = manager(&get_user(&app, &id).await);
    assert_eq!(now["value"], second.as_str());
    assert!(
        now.get("$ref").is_none_or(|r| r == &json!(reference)),
        "{now}"
    );
    assert!(now.get("displayName").is_none());
    // As a bare id: the previous $ref goes with the previous manager.
    app.patch(
        &path,
        &patch_body(json!([{"op": "Add", "path": manager_path, "value": first}])),
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(manager(&get_user(&app, &id).await), json!({"value": first}));
    // The legacy bare path `manager` (entra-compat §3.5.1 Example 5).
    app.patch(
        &path,
        &patch_body(json!([{"op": "Add", "path": "manager", "value": [{"value": second}]}])),
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(
        manager(&get_user(&app, &id).await)["value"],
        second.as_str()
    );
    let found = app
        .filter_users(&format!("{ENTERPRISE}:manager eq \"{second}\""))
        .await;
    assert_eq!(found.id_list(), vec![id.clone()]);
    // Removal, as the validator and the gallery test do it: replace with an empty value.
    app.patch(
        &path,
        &patch_body(json!([{"op": "replace", "path": manager_path, "value": {"value": ""}}])),
    )
    .await
    .expect(StatusCode::OK);
    let user = get_user(&app, &id).await;
    assert_eq!(
        user[ENTERPRISE],
        json!({"department": "Ops"}),
        "manager gone, department kept"
    );
    assert_eq!(
        app.filter_users(&format!("{ENTERPRISE}:manager pr"))
            .await
            .body["totalResults"],
        0
    );
    // And with nothing else in the extension, the extension itself goes.
    app.patch(
        &path,
        &patch_body(json!([{"op": "add", "path": manager_path, "value": first}])),
    )
    .await
    .expect(StatusCode::OK);
    app.patch(
        &path,
        &patch_body(json!([{"op": "remove", "path": format!("{ENTERPRISE}:department")}])),
    )
    .await
    .expect(StatusCode::OK);
    app.patch(
        &path,
        &patch_body(json!([{"op": "replace", "path": manager_path, "value": {"value": ""}}])),
    )
    .await
    .expect(StatusCode::OK);
    let user = get_user(&app, &id).await;
    assert!(user.get(ENTERPRISE).is_none(), "{user}");
    assert_eq!(user["schemas"], json!([USER]));
    app
}

async fn empty_operations_is_200_and_changes_nothing(app: TestApp) -> TestApp {
    let id = app
        .create_user(&json!({"userName": "noop@example.com", "displayName": "Noop"}))
        .await;
    let before = get_user(&app, &id).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let reply = app
        .patch(&format!("/Users/{id}"), &patch_body(json!([])))
        .await
        .expect(StatusCode::OK);
    assert_eq!(reply.body, before);
    // Nor does a PATCH that sets what is already there.
    let same = patch_body(json!([{"op": "replace", "path": "displayName", "value": "Noop"}]));
    let reply = app
        .patch(&format!("/Users/{id}"), &same)
        .await
        .expect(StatusCode::OK);
    assert_eq!(reply.body, before);
    assert_eq!(
        get_user(&app, &id).await,
        before,
        "version and lastModified did not move"
    );
    app
}

async fn a_patch_whose_second_op_is_invalid_changes_nothing(app: TestApp) -> TestApp {
    let id = app
        .create_user(
            &json!({"userName": "atomic@example.com", "displayName": "Before", "active": true}),
        )
        .await;
    let before = get_user(&app, &id).await;
    let cases = [
        (
            json!({"op": "Replace", "path": "active", "value": "sometimes"}),
            "invalidValue",
        ),
        (
            json!({"op": "Replace", "path": "nope", "value": "x"}),
            "invalidPath",
        ),
        (
            json!({"op": "Replace", "path": "meta.version", "value": "x"}),
            "mutability",
        ),
        (
            json!({"op": "Frobnicate", "path": "displayName", "value": "x"}),
            "invalidSyntax",
        ),
    ];
    for (second, scim_type) in cases {
        let body =
            patch_body(json!([{"op": "Replace", "path": "displayName", "value": "After"}, second]));
        let reply = app.patch(&format!("/Users/{id}"), &body).await;
        reply.expect_error(StatusCode::BAD_REQUEST, Some(scim_type));
        assert_eq!(get_user(&app, &id).await, before, "{scim_type}");
    }
    assert_eq!(
        app.filter_users("displayName eq \"After\"").await.body["totalResults"],
        0
    );
    app
}

async fn tenant_url_quirks_still_route(app: TestApp) -> TestApp {
    let id = app
        .create_user(&json!({"userName": "quirk@example.com"}))
        .await;
    let base = app.tenant_url.clone();
    let get = |url: String| {
        let req = app.http.get(url).bearer_auth(&app.token);
        async move { Reply::from(req.send().await.unwrap()).await }
    };
    for url in [
        format!("{base}/Users/"),
        format!("{base}//Users"),
        format!("{base}/Users?aadOptscim062020"),
        format!("{base}//Users?aadOptscim062020&filter=userName+eq+%22quirk%40example.com%22"),
        format!("{base}/Users?filter=userName+eq+%22quirk%40example.com%22&aadOptscim062020"),
    ] {
        let reply = get(url.clone()).await;
        assert_eq!(reply.status, StatusCode::OK, "{url}: {}", reply.text);
        assert_eq!(reply.id_list(), vec![id.clone()], "{url}");
    }
    for url in [
        format!("{base}/Users/{id}/"),
        format!("{base}//Users//{id}"),
        format!("{base}/Users/{id}?aadOptscim062020"),
    ] {
        let reply = get(url.clone()).await;
        assert_eq!(reply.status, StatusCode::OK, "{url}: {}", reply.text);
        assert_eq!(reply.body["id"], id.as_str(), "{url}");
        // meta.location is canonical whatever URL was used.
        assert_eq!(reply.body["meta"]["location"], format!("{base}/Users/{id}"));
    }
    for url in [
        format!("{base}/ServiceProviderConfig/"),
        format!("{base}//Schemas"),
        format!("{base}/ResourceTypes?aadOptscim062020"),
    ] {
        assert_eq!(get(url.clone()).await.status, StatusCode::OK, "{url}");
    }
    // Writes route the same way.
    let created = app
        .post(
            &format!("{base}//Users?aadOptscim062020"),
            &json!({"userName": "quirk2@example.com"}),
        )
        .await;
    let created = created.expect(StatusCode::CREATED);
    let other = created.body["id"].as_str().unwrap();
    assert_eq!(
        created.header("location").unwrap(),
        format!("{base}/Users/{other}")
    );
    let body = patch_body(json!([{"op": "replace", "path": "active", "value": false}]));
    app.patch(&format!("{base}/Users/{other}/?aadOptscim062020"), &body)
        .await
        .expect(StatusCode::OK);
    assert_eq!(get_user(&app, other).await["active"], false);
    app.delete(&format!("{base}//Users/{other}"))
        .await
        .expect(StatusCode::NO_CONTENT);
    app.get(&format!("/Users/{other}"))
        .await
        .expect_error(StatusCode::NOT_FOUND, None);
    app
}

async fn health_probes_need_no_token(app: TestApp) -> TestApp {
    let healthz = Reply::from(
        app.http
            .get(format!("{}/healthz", app.base_url))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let healthz = healthz.expect(StatusCode::OK);
    assert_eq!(healthz.body["status"], "ok");
    let readyz = Reply::from(
        app.http
            .get(format!("{}/readyz", app.base_url))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let readyz = readyz.expect(StatusCode::OK);
    assert_eq!(readyz.body["status"], "ready");
    let backend = match app.backend {
        crate::harness::Backend::Sqlite => "sqlite",
        crate::harness::Backend::Postgres => "postgres",
    };
    assert_eq!(readyz.body["database"], backend);
    // A bad token does not turn a probe into a 401.
    let probe = app
        .http
        .get(format!("{}/readyz", app.base_url))
        .bearer_auth("garbage")
        .send()
        .await
        .unwrap();
    assert_eq!(probe.status(), StatusCode::OK);
    // HEAD works for load balancers that use it.
    let head = app
        .http
        .head(format!("{}/healthz", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    app
}

async fn a_user_may_take_a_case_variant_of_its_own_user_name_and_a_freed_name(
    app: TestApp,
) -> TestApp {
    let id = app
        .create_user(&json!({"userName": "casey@example.com"}))
        .await;
    let path = format!("/Users/{id}");
    // Not a conflict with itself, by PATCH or by PUT.
    let body =
        patch_body(json!([{"op": "Replace", "path": "userName", "value": "Casey@Example.com"}]));
    let patched = app.patch(&path, &body).await.expect(StatusCode::OK);
    assert_eq!(patched.body["userName"], "Casey@Example.com");
    let put = app
        .put(&path, &json!({"userName": "CASEY@EXAMPLE.COM"}))
        .await
        .expect(StatusCode::OK);
    assert_eq!(put.body["userName"], "CASEY@EXAMPLE.COM");
    assert_eq!(
        app.filter_users("userName eq \"casey@example.com\"")
            .await
            .id_list(),
        vec![id.clone()]
    );
    // A renamed user frees its old name, and a deleted user frees its name.
    app.patch(
        &path,
        &patch_body(json!([{"op": "replace", "path": "userName", "value": "kasey@example.com"}])),
    )
    .await
    .expect(StatusCode::OK);
    let second = app
        .create_user(&json!({"userName": "casey@example.com"}))
        .await;
    app.delete(&format!("/Users/{second}"))
        .await
        .expect(StatusCode::NO_CONTENT);
    let third = app
        .create_user(&json!({"userName": "Casey@example.com"}))
        .await;
    assert_ne!(third, second);
    // But taking another user's name is still a conflict.
    let taken =
        patch_body(json!([{"op": "replace", "path": "userName", "value": "CASEY@example.com"}]));
    app.patch(&path, &taken)
        .await
        .expect_error(StatusCode::CONFLICT, Some("uniqueness"));
    assert_eq!(get_user(&app, &id).await["userName"], "kasey@example.com");
    app
}

async fn other_entra_patch_quirks_are_accepted_and_stored_canonically(app: TestApp) -> TestApp {
    let id = app
        .create_user(
            &json!({"userName": "quirks@example.com", "active": true, "emails": [
            {"type": "work", "value": "work@example.com"},
            {"type": "home", "value": "home@example.com", "primary": true}]}),
        )
        .await;
    let path = format!("/Users/{id}");
    let role = r#"{"id":"5f1a","value":"25","displayName":"Role1234"}"#;
    let body = patch_body(json!([
        // A role serialised into a string (entra-compat Q16) is kept verbatim.
        {"op": "Add", "path": "roles", "value": [{"value": role}]},
        // A custom extension Iris does not define is ignored rather than failing the update.
        {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User:CustomAttribute", "value": "x"},
        // The work email becomes primary with a string boolean; the home email stops being primary.
        {"op": "Replace", "path": "emails[type eq \"work\"].primary", "value": "True"},
        // Adding an email that is already there does not duplicate it.
        {"op": "Add", "path": "emails", "value": [{"type": "work", "value": "WORK@example.com"}]},
        // Path-less, with a string boolean and a rename.
        {"op": "Replace", "value": {"active": "False", "userName": "renamed@example.com"}}
    ]));
    app.patch(&path, &body).await.expect(StatusCode::OK);
    let user = get_user(&app, &id).await;
    assert_eq!(user["roles"], json!([{"value": role}]));
    assert_eq!(user["active"], false);
    assert_eq!(user["userName"], "renamed@example.com");
    assert_eq!(
        user["emails"].as_array().unwrap().len(),
        2,
        "{}",
        user["emails"]
    );
    assert_eq!(user["emails"][0]["type"], "work");
    assert_eq!(user["emails"][0]["primary"], true);
    assert_eq!(
        user["emails"][1],
        json!({"type": "home", "value": "home@example.com", "primary": false})
    );
    assert!(
        user.as_object()
            .unwrap()
            .keys()
            .all(|k| !k.contains("CustomExtensionName"))
    );
    let primary = app
        .filter_users("emails[primary eq true].value eq \"work@example.com\"")
        .await;
    assert_eq!(primary.id_list(), vec![id.clone()]);
    assert_eq!(
        app.filter_users("emails[primary eq true].value eq \"home@example.com\"")
            .await
            .body["totalResults"],
        0
    );
    app
}

crate::on_both_backends!(
    the_full_attribute_set_round_trips_exactly,
    put_replaces_everything_but_id_and_created,
    etags_follow_every_write_and_if_none_match_gives_304,
    a_stale_if_match_is_412_and_changes_nothing,
    post_accepts_what_entra_sends_and_stores_it_canonically,
    attributes_and_excluded_attributes_shape_get_and_list,
    entra_pathless_patch_with_dotted_and_urn_keys_updates_only_those,
    add_sets_single_values_and_value_paths_upsert_one_element,
    mobile_phone_numbers_are_upserted_updated_and_removed_by_value_path,
    remove_with_a_value_on_a_value_path_removes_that_element,
    manager_is_set_in_every_entra_shape_and_removed_with_an_empty_value,
    empty_operations_is_200_and_changes_nothing,
    a_patch_whose_second_op_is_invalid_changes_nothing,
    tenant_url_quirks_still_route,
    health_probes_need_no_token,
    a_user_may_take_a_case_variant_of_its_own_user_name_and_a_freed_name,
    other_entra_patch_quirks_are_accepted_and_stored_canonically,
);
