//! Every error a client can cause is a SCIM error (RFC 7644 §3.12): `application/scim+json`, the
//! Error URN, `status` as a string and `scimType` where RFC 7644 defines one. Nothing a client sends
//! produces a 500, and a refused write changes nothing.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Reply, SCIM_JSON, TestApp};

const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// Asserts a 4xx SCIM error body, whatever the status.
#[track_caller]
fn assert_scim_client_error(reply: &Reply, input: &str) {
    assert!(
        reply.status.is_client_error(),
        "{input}: expected a 4xx SCIM error, got {}: {}",
        reply.status,
        reply.text
    );
    assert_eq!(reply.content_type(), SCIM_JSON, "{input}: {}", reply.text);
    assert_eq!(
        reply.body["schemas"],
        json!([ERROR_URN]),
        "{input}: {}",
        reply.text
    );
    assert_eq!(
        reply.body["status"],
        reply.status.as_u16().to_string(),
        "{input}: {}",
        reply.text
    );
    assert!(
        reply.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{input}: {}",
        reply.text
    );
}

/// One user the failing requests aim at, and its state before them.
async fn seeded_user(app: &TestApp) -> (String, Value) {
    let id = app
        .create_user(&json!({
            "userName": "kept@example.com",
            "displayName": "Kept",
            "active": true,
            "name": {"givenName": "Kept", "familyName": "User"},
            "emails": [{"type": "work", "value": "kept@example.com", "primary": true}],
            ENTERPRISE: {"department": "Audit"}
        }))
        .await;
    let before = app
        .get(&format!("/Users/{id}"))
        .await
        .expect(StatusCode::OK)
        .body;
    (id, before)
}

/// The seeded user is exactly as before and is still the tenant's only user.
async fn assert_nothing_written(app: &TestApp, id: &str, before: &Value) {
    let now = app
        .get(&format!("/Users/{id}"))
        .await
        .expect(StatusCode::OK)
        .body;
    assert_eq!(&now, before, "a refused request changed the user");
    let all = app.get("/Users").await.expect(StatusCode::OK);
    assert_eq!(
        all.body["totalResults"], 1,
        "a refused request created a user: {}",
        all.text
    );
}

/// The four endpoints that read a JSON body.
fn body_endpoints(id: &str) -> Vec<(Method, String)> {
    vec![
        (Method::POST, "/Users".to_owned()),
        (Method::PUT, format!("/Users/{id}")),
        (Method::PATCH, format!("/Users/{id}")),
        (Method::POST, "/Users/.search".to_owned()),
    ]
}

async fn malformed_json_is_400_invalid_syntax(app: TestApp) -> TestApp {
    let (id, before) = seeded_user(&app).await;
    let bodies = [
        r#"{"userName": "a@example.com","#,
        r#"{"userName": 'a@example.com'}"#,
        r#"{userName: "a@example.com"}"#,
        r#"{"userName": "a@example.com",}"#,
        r#"{"userName": "a@example.com"}}"#,
        r#"{"userName": "a@example.com"} {"userName": "b@example.com"}"#,
        r#"{"Operations": [{"op": "add", "path": "nickName", "value": "x"]}"#,
    ];
    for (method, path) in body_endpoints(&id) {
        for body in bodies {
            let reply = app.send_raw(method.clone(), &path, body).await;
            let label = format!("{method} {path} with {body}");
            assert_scim_client_error(&reply, &label);
            reply.expect_error(StatusCode::BAD_REQUEST, Some("invalidSyntax"));
        }
    }
    assert_nothing_written(&app, &id, &before).await;
    app
}

async fn json_that_is_not_an_object_is_400_invalid_syntax(app: TestApp) -> TestApp {
    let (id, before) = seeded_user(&app).await;
    let bodies = [
        "[]",
        r#"[{"userName": "a@example.com"}]"#,
        r#""a@example.com""#,
        "42",
        "true",
        "null",
    ];
    for (method, path) in body_endpoints(&id) {
        for body in bodies {
            let reply = app.send_raw(method.clone(), &path, body).await;
            assert_scim_client_error(&reply, &format!("{method} {path} with {body}"));
            reply.expect_error(StatusCode::BAD_REQUEST, Some("invalidSyntax"));
        }
    }
    assert_nothing_written(&app, &id, &before).await;
    app
}

async fn an_empty_body_is_400_invalid_syntax(app: TestApp) -> TestApp {
    let (id, before) = seeded_user(&app).await;
    for (method, path) in body_endpoints(&id) {
        for body in ["", " ", "\r\n\t "] {
            let reply = app.send_raw(method.clone(), &path, body).await;
            assert_scim_client_error(&reply, &format!("{method} {path} with {body:?}"));
            reply.expect_error(StatusCode::BAD_REQUEST, Some("invalidSyntax"));
        }
    }
    assert_nothing_written(&app, &id, &before).await;
    app
}

async fn values_of_the_wrong_type_are_400_invalid_value(app: TestApp) -> TestApp {
    let (id, before) = seeded_user(&app).await;
    let bodies = [
        json!({"userName": "t@example.com", "active": "maybe"}),
        json!({"userName": "t@example.com", "active": 1}),
        json!({"userName": "t@example.com", "active": {"value": true, "extra": 1}}),
        json!({"userName": "t@example.com", "name": "x"}),
        json!({"userName": "t@example.com", "name": {"givenName": {"first": "x"}}}),
        json!({"userName": {"value": "t@example.com", "other": 1}}),
        json!({"userName": ["t@example.com"]}),
        json!({"userName": "t@example.com", "emails": [{"value": "a@example.com", "primary": "sometimes"}]}),
        json!({"userName": "t@example.com", "emails": [{"value": ["a@example.com"]}]}),
        json!({"userName": "t@example.com", "emails": [[{"value": "a@example.com"}]]}),
        json!({"userName": "t@example.com", "emails": [
            {"value": "a@example.com", "primary": true}, {"value": "b@example.com", "primary": true}]}),
        json!({"userName": "t@example.com", ENTERPRISE: "R&D"}),
        json!({"userName": "t@example.com", ENTERPRISE: [{"department": "R&D"}]}),
        json!({"userName": "t@example.com", ENTERPRISE: {"department": {"name": "R&D"}}}),
        json!({"userName": "t@example.com", ENTERPRISE: {"manager": {"value": {"id": "x"}}}}),
    ];
    for body in &bodies {
        app.post("/Users", body)
            .await
            .expect_error(StatusCode::BAD_REQUEST, Some("invalidValue"));
        app.put(&format!("/Users/{id}"), body)
            .await
            .expect_error(StatusCode::BAD_REQUEST, Some("invalidValue"));
    }
    let patches = [
        json!({"op": "replace", "path": "active", "value": "maybe"}),
        json!({"op": "replace", "value": {"active": "maybe"}}),
        json!({"op": "replace", "path": "name", "value": "x"}),
        json!({"op": "add", "path": "emails", "value": [{"value": "a@example.com", "primary": "sometimes"}]}),
        json!({"op": "replace", "path": "displayName", "value": {"first": "x", "second": "y"}}),
        json!({"op": "replace", "path": "displayName", "value": ["x", "y"]}),
    ];
    for op in patches {
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [op]});
        app.patch(&format!("/Users/{id}"), &body)
            .await
            .expect_error(StatusCode::BAD_REQUEST, Some("invalidValue"));
    }
    assert_nothing_written(&app, &id, &before).await;
    app
}

async fn numbers_and_booleans_sent_for_strings_are_stored_as_strings(app: TestApp) -> TestApp {
    // resource.rs `coerce_simple` tolerates JSON numbers and booleans for string attributes.
    let created = app
        .post(
            "/Users",
            &json!({
                "userName": 4242,
                "title": true,
                "emails": [{"value": 1, "type": "work"}],
                ENTERPRISE: {"employeeNumber": 12345, "costCenter": 1.5}
            }),
        )
        .await
        .expect(StatusCode::CREATED);
    let id = created.body["id"].as_str().unwrap();
    let user = app
        .get(&format!("/Users/{id}"))
        .await
        .expect(StatusCode::OK)
        .body;
    assert_eq!(user["userName"], "4242");
    assert_eq!(user["title"], "true");
    assert_eq!(user["emails"], json!([{"value": "1", "type": "work"}]));
    assert_eq!(
        user[ENTERPRISE],
        json!({"employeeNumber": "12345", "costCenter": "1.5"})
    );
    assert_eq!(created.body, user);
    app
}

async fn a_missing_or_blank_user_name_is_400_invalid_value(app: TestApp) -> TestApp {
    let (id, before) = seeded_user(&app).await;
    let bodies = [
        json!({}),
        json!({"schemas": [USER]}),
        json!({"active": true, "displayName": "No Name"}),
        json!({"userName": ""}),
        json!({"userName": "   "}),
        json!({"userName": null}),
    ];
    for body in &bodies {
        let reply = app
            .post("/Users", body)
            .await
            .expect_error(StatusCode::BAD_REQUEST, Some("invalidValue"));
        assert!(
            reply.body["detail"].as_str().unwrap().contains("userName"),
            "{}",
            reply.text
        );
        app.put(&format!("/Users/{id}"), body)
            .await
            .expect_error(StatusCode::BAD_REQUEST, Some("invalidValue"));
    }
    // Removing it by PATCH is a mutability error (RFC 7644 §3.5.2.2).
    for op in [
        json!({"op": "remove", "path": "userName"}),
        json!({"op": "replace", "path": "userName", "value": ""}),
        json!({"op": "replace", "value": {"userName": null}}),
    ] {
        app.patch(&format!("/Users/{id}"), &json!({"Operations": [op]}))
            .await
            .expect_error(StatusCode::BAD_REQUEST, Some("mutability"));
    }
    assert_nothing_written(&app, &id, &before).await;
    app
}

async fn an_unknown_id_is_404_on_get_put_patch_and_delete(app: TestApp) -> TestApp {
    let (id, before) = seeded_user(&app).await;
    let body = json!({"userName": "ghost@example.com"});
    let patch = json!({"Operations": [{"op": "replace", "path": "displayName", "value": "Ghost"}]});
    for unknown in [
        uuid::Uuid::now_v7().to_string(),
        "nope".to_owned(),
        id.to_uppercase(),
    ] {
        let path = format!("/Users/{unknown}");
        app.get(&path)
            .await
            .expect_error(StatusCode::NOT_FOUND, None);
        app.put(&path, &body)
            .await
            .expect_error(StatusCode::NOT_FOUND, None);
        app.patch(&path, &patch)
            .await
            .expect_error(StatusCode::NOT_FOUND, None);
        app.delete(&path)
            .await
            .expect_error(StatusCode::NOT_FOUND, None);
    }
    // The user of another tenant is just as unknown.
    let (other_url, other_token) = app.other_tenant("globex").await;
    let reply = app
        .http
        .get(format!("{other_url}/Users/{id}"))
        .bearer_auth(&other_token)
        .send()
        .await
        .unwrap();
    Reply::from(reply)
        .await
        .expect_error(StatusCode::NOT_FOUND, None);
    let reply = app
        .http
        .delete(format!("{other_url}/Users/{id}"))
        .bearer_auth(&other_token)
        .send()
        .await
        .unwrap();
    Reply::from(reply)
        .await
        .expect_error(StatusCode::NOT_FOUND, None);
    assert_nothing_written(&app, &id, &before).await;
    app
}

async fn unknown_routes_are_404_scim_errors(app: TestApp) -> TestApp {
    let base = &app.base_url;
    let tenant = &app.tenant_url;
    for url in [
        format!("{tenant}/Nope"),
        format!("{tenant}/Users/abc/extra"),
        format!("{base}/nope"),
        format!("{base}/scim/v2"),
        format!("{base}/"),
    ] {
        for method in [Method::GET, Method::POST] {
            let reply = Reply::from(
                app.http
                    .request(method.clone(), &url)
                    .bearer_auth(&app.token)
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            assert_scim_client_error(&reply, &format!("{method} {url}"));
            reply.expect_error(StatusCode::NOT_FOUND, None);
        }
    }
    app
}

async fn a_body_over_the_limit_is_413_and_one_under_it_is_accepted(app: TestApp) -> TestApp {
    let (id, before) = seeded_user(&app).await;
    // The harness configures max_body_bytes = 256 KiB.
    let huge = json!({"userName": "big@example.com", "displayName": "x".repeat(300 * 1024)});
    let patch = json!({"Operations": [{"op": "replace", "path": "displayName", "value": "x".repeat(300 * 1024)}]});
    for (method, path, body) in [
        (Method::POST, "/Users".to_owned(), &huge),
        (Method::PUT, format!("/Users/{id}"), &huge),
        (Method::PATCH, format!("/Users/{id}"), &patch),
        (
            Method::POST,
            "/Users/.search".to_owned(),
            &json!({"filter": "x".repeat(300 * 1024)}),
        ),
    ] {
        let reply = app.send(method.clone(), &path, Some(body)).await;
        assert_scim_client_error(&reply, &format!("{method} {path}"));
        reply.expect_error(StatusCode::PAYLOAD_TOO_LARGE, None);
    }
    assert_nothing_written(&app, &id, &before).await;
    // Just under the limit is fine.
    let big = "y".repeat(250 * 1024);
    let created = app
        .post(
            "/Users",
            &json!({"userName": "big@example.com", "nickName": big}),
        )
        .await;
    let created = created.expect(StatusCode::CREATED);
    let got = app
        .get(&format!("/Users/{}", created.body["id"].as_str().unwrap()))
        .await;
    assert_eq!(got.body["nickName"].as_str().unwrap(), big);
    app
}

/// Incompressible text of `len` characters.
fn noise(len: usize) -> String {
    let mut s = String::with_capacity(len + 32);
    while s.len() < len {
        s.push_str(&uuid::Uuid::new_v4().simple().to_string());
    }
    s.truncate(len);
    s
}

async fn long_values_of_searchable_attributes_are_stored_or_refused_but_never_a_500(
    app: TestApp,
) -> TestApp {
    // Searchable attributes are indexed; an index has size limits that must not surface as a 500.
    let long = noise(8 * 1024);
    let bodies = [
        (
            "userName",
            json!({"userName": format!("{long}@example.com")}),
        ),
        (
            "externalId",
            json!({"userName": "ext@example.com", "externalId": long.clone()}),
        ),
        (
            "displayName",
            json!({"userName": "display@example.com", "displayName": long.clone()}),
        ),
        (
            "emails",
            json!({"userName": "email@example.com", "emails": [{"type": "work", "value": format!("{long}@example.com")}]}),
        ),
        (
            "phoneNumbers",
            json!({"userName": "phone@example.com", "phoneNumbers": [{"type": "work", "value": long.clone()}]}),
        ),
    ];
    let mut failures = Vec::new();
    for (attr, body) in bodies {
        let reply = app.post("/Users", &body).await;
        match reply.status {
            StatusCode::CREATED => {
                let id = reply.body["id"].as_str().unwrap();
                let got = app
                    .get(&format!("/Users/{id}"))
                    .await
                    .expect(StatusCode::OK)
                    .body;
                assert_eq!(got[attr], body[attr], "{attr} round-trips");
            }
            StatusCode::BAD_REQUEST if reply.body["scimType"] == "invalidValue" => {}
            other => failures.push(format!("{attr}: {other} {}", reply.text)),
        }
    }
    assert!(failures.is_empty(), "long values:\n{}", failures.join("\n"));
    app
}

async fn other_methods_on_discovery_endpoints_are_405(app: TestApp) -> TestApp {
    let (id, before) = seeded_user(&app).await;
    let mut cases: Vec<(Method, String)> = Vec::new();
    for path in [
        "/ServiceProviderConfig".to_owned(),
        "/Schemas".to_owned(),
        format!("/Schemas/{USER}"),
        "/ResourceTypes".to_owned(),
        "/ResourceTypes/User".to_owned(),
    ] {
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            cases.push((method, path.clone()));
        }
    }
    // The user endpoints refuse the methods they do not serve, too.
    cases.push((Method::PUT, "/Users".to_owned()));
    cases.push((Method::PATCH, "/Users".to_owned()));
    cases.push((Method::DELETE, "/Users".to_owned()));
    cases.push((Method::POST, format!("/Users/{id}")));
    for (method, path) in cases {
        let reply = app
            .send(
                method.clone(),
                &path,
                Some(&json!({"userName": "x@example.com"})),
            )
            .await;
        assert_scim_client_error(&reply, &format!("{method} {path}"));
        let reply = reply.expect_error(StatusCode::METHOD_NOT_ALLOWED, None);
        // RFC 9110 §15.5.6: a 405 response MUST carry an Allow header listing what is supported.
        let allow = reply.header("allow").unwrap_or_default().to_owned();
        let expected = if path == "/Users" { "POST" } else { "GET" };
        assert!(
            allow.contains(expected),
            "{method} {path}: Allow header is {allow:?}"
        );
    }
    assert_nothing_written(&app, &id, &before).await;
    app
}

async fn invalid_filters_are_400_invalid_filter_with_a_useful_detail(app: TestApp) -> TestApp {
    app.create_user(&json!({"userName": "a@example.com"})).await;
    // Syntax errors say where (the column); unknown attributes say which.
    let cases = [
        ("userName eq", "column"),
        ("userName xx \"a\"", "column"),
        ("(userName eq \"a\"", "column"),
        ("userName eq \"a\")", "column"),
        ("((userName eq \"a\") or (userName eq \"b\")", "column"),
        ("emails[type eq \"work\"", "column"),
        ("userName eq \"a\" and", "column"),
        ("userName eq \"unterminated", "column"),
        ("and userName eq \"a\"", "column"),
        ("nope eq \"x\"", "nope"),
        ("name.nope eq \"x\"", "nope"),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:nope eq \"x\"",
            "nope",
        ),
        ("name eq \"x\"", "name"),
        ("active gt true", "active"),
        ("meta.lastModified gt \"yesterday\"", "lastModified"),
    ];
    for (filter, needle) in cases {
        for reply in [
            app.filter_users(filter).await,
            app.post("/Users/.search", &json!({"filter": filter})).await,
        ] {
            assert_scim_client_error(&reply, filter);
            let reply = reply.expect_error(StatusCode::BAD_REQUEST, Some("invalidFilter"));
            let detail = reply.body["detail"].as_str().unwrap();
            assert!(
                detail.contains(needle),
                "{filter}: detail {detail:?} does not mention {needle:?}"
            );
        }
    }
    app
}

async fn non_integer_paging_and_bad_sorting_are_400_invalid_value(app: TestApp) -> TestApp {
    app.create_user(&json!({"userName": "a@example.com"})).await;
    for query in [
        "startIndex=abc",
        "startIndex=1.5",
        "startIndex=1e3",
        "count=ten",
        "count=2.0",
        "count=99999999999999999999",
        "startIndex=%FF",
        "sortBy=nope",
        "sortBy=emails%5Btype%20eq%20%22work%22%5D.value",
        "sortBy=userName&sortOrder=sideways",
    ] {
        let reply = app.get(&format!("/Users?{query}")).await;
        assert_scim_client_error(&reply, query);
        reply.expect_error(StatusCode::BAD_REQUEST, Some("invalidValue"));
    }
    for body in [
        json!({"startIndex": "abc"}),
        json!({"count": 1.5}),
        json!({"count": {"n": 1}}),
        json!({"filter": 5}),
        json!({"sortOrder": "sideways", "sortBy": "userName"}),
    ] {
        let reply = app.post("/Users/.search", &body).await;
        assert_scim_client_error(&reply, &body.to_string());
        reply.expect_error(StatusCode::BAD_REQUEST, Some("invalidValue"));
    }
    app
}

/// `(method, path, body)`: a request that must be refused with a SCIM 4xx error.
type Hostile = (Method, String, Option<Vec<u8>>);

fn get(path: String) -> Hostile {
    (Method::GET, path, None)
}

fn filter(raw: &str) -> Hostile {
    get(format!(
        "/Users?{}",
        serde_urlencoded::to_string([("filter", raw)]).unwrap()
    ))
}

fn post_users(body: impl Into<Vec<u8>>) -> Hostile {
    (Method::POST, "/Users".to_owned(), Some(body.into()))
}

fn patch(id: &str, body: Value) -> Hostile {
    (
        Method::PATCH,
        format!("/Users/{id}"),
        Some(body.to_string().into_bytes()),
    )
}

fn hostile_inputs(id: &str) -> Vec<Hostile> {
    let deep_parens = format!("{}userName eq \"a\"{}", "(".repeat(1000), ")".repeat(1000));
    let deep_not = format!("{}userName eq \"a\"{}", "not (".repeat(40), ")".repeat(40));
    let many_terms = vec!["id eq 1"; 300].join(" or ");
    let long_filter = format!("userName eq \"{}\"", "a".repeat(30_000));
    let very_long_filter = format!("userName eq \"{}\"", "a".repeat(100_000));
    let deep_array = format!(
        "{{\"userName\": \"a@example.com\", \"name\": {}{}}}",
        "[".repeat(5000),
        "]".repeat(5000)
    );
    let deep_object = format!("{}1{}", "{\"a\":".repeat(5000), "}".repeat(5000));
    let ops = |op: Value| json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [op]});
    vec![
        filter(&deep_parens),
        filter(&deep_not),
        filter(&many_terms),
        filter(&long_filter),
        (
            Method::POST,
            "/Users/.search".to_owned(),
            Some(json!({"filter": very_long_filter}).to_string().into_bytes()),
        ),
        filter("emails[type eq \"work\" and emails[value eq \"x\"]]"),
        filter("userName eq 1e99999"),
        filter("userName eq \"a\" and ((((((((((((((((((((((((((((((((((("),
        get("/Users?filter=%FF%FE".to_owned()),
        get("/Users?filter=userName%20eq%20%C3%28".to_owned()),
        get("/Users/%FF%FE".to_owned()),
        get("/Users/%C0%AF".to_owned()),
        get(format!("/Users?count={}", "9".repeat(40))),
        post_users(deep_array),
        post_users(deep_object),
        post_users(r#"{"userName": "a@example.com", "active": 1e999}"#),
        post_users(r#"{"userName": "\ud800"}"#),
        post_users(b"{\"userName\": \"a\xff\xfe@example.com\"}".to_vec()),
        post_users(r#"{"userName": "a@example.com", "schemas": "x"}"#),
        post_users(r#"{"userName": "a@example.com", "schemas": [{"x": 1}]}"#),
        post_users(format!(
            r#"{{"userName": "a@example.com", "{ENTERPRISE}": "x"}}"#
        )),
        post_users(format!(
            r#"{{"userName": "a@example.com", "{ENTERPRISE}": [1, 2]}}"#
        )),
        post_users(
            r#"{"userName": "a@example.com", "name": [{"givenName": "x"}, {"givenName": "y"}]}"#,
        ),
        post_users(r#"{"userName": "a@example.com", "emails": {"value": {"nested": true}}}"#),
        post_users(r#"[{"userName": "a@example.com"}, {"userName": "b@example.com"}]"#),
        patch(
            id,
            json!({"Operations": {"op": "add", "path": "nickName", "value": "x"}}),
        ),
        patch(id, json!({"Operations": [1, 2, 3]})),
        patch(
            id,
            json!({"Operations": [{"op": "explode", "path": "nickName", "value": "x"}]}),
        ),
        patch(
            id,
            ops(json!({"op": "add", "path": "(".repeat(1000), "value": "x"})),
        ),
        patch(
            id,
            ops(json!({"op": "add", "path": "a".repeat(100_000), "value": "x"})),
        ),
        patch(
            id,
            ops(
                json!({"op": "add", "path": "emails[value co \"x\" and emails[type eq \"y\"]]", "value": "z"}),
            ),
        ),
        patch(
            id,
            ops(
                json!({"op": "add", "path": "emails[type eq \"work\"].value", "value": {"deep": {"deeper": 1}}}),
            ),
        ),
        patch(
            id,
            ops(json!({"op": "replace", "path": "meta.created", "value": "2020-01-01T00:00:00Z"})),
        ),
        patch(
            id,
            ops(json!({"op": "replace", "path": "id", "value": "mine"})),
        ),
        patch(id, ops(json!({"op": "remove"}))),
        patch(id, ops(json!({"op": "replace", "value": [1, 2]}))),
        patch(id, ops(json!({"op": "add", "path": "nickName"}))),
        patch(id, ops(json!({"op": "add", "path": 42, "value": "x"}))),
    ]
}

async fn no_hostile_input_causes_a_500(app: TestApp) -> TestApp {
    let (id, before) = seeded_user(&app).await;
    let inputs = hostile_inputs(&id);
    assert!(inputs.len() >= 30);
    let mut failures = Vec::new();
    for (method, path, body) in inputs {
        let label = format!("{method} {}", path.chars().take(100).collect::<String>());
        let sent = body
            .as_ref()
            .map(|b| String::from_utf8_lossy(&b[..b.len().min(100)]).into_owned());
        let reply = match body {
            Some(b) => app.send_raw(method, &path, b).await,
            None => app.send(method, &path, None).await,
        };
        let is_scim_4xx = reply.status.is_client_error()
            && reply.content_type() == SCIM_JSON
            && reply.body["schemas"] == json!([ERROR_URN])
            && reply.body["status"].as_str() == Some(reply.status.as_str());
        if !is_scim_4xx {
            let text: String = reply.text.chars().take(200).collect();
            failures.push(format!(
                "{label} {sent:?} -> {} {:?} {text}",
                reply.status,
                reply.content_type()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "not a SCIM 4xx error:\n{}",
        failures.join("\n")
    );
    // The server is still healthy and nothing was written.
    app.http
        .get(format!("{}/readyz", app.base_url))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    assert_nothing_written(&app, &id, &before).await;
    app
}

async fn nul_characters_are_refused_or_stored_exactly_but_never_a_500(app: TestApp) -> TestApp {
    let (id, before) = seeded_user(&app).await;
    // In a filter: raw (not valid in a JSON string literal) and escaped.
    for raw in [
        "userName eq \"a\u{0}b\"",
        "userName eq \"a\\u0000b\"",
        "externalId eq a\u{0}b",
    ] {
        let reply = app.filter_users(raw).await;
        if reply.status == StatusCode::OK {
            assert_eq!(reply.body["totalResults"], 0, "{raw:?}: {}", reply.text);
        } else {
            reply.expect_error(StatusCode::BAD_REQUEST, Some("invalidFilter"));
        }
    }
    // In an id: no such user.
    let path = "/Users/a%00b";
    app.get(path)
        .await
        .expect_error(StatusCode::NOT_FOUND, None);
    app.put(path, &json!({"userName": "x@example.com"}))
        .await
        .expect_error(StatusCode::NOT_FOUND, None);
    app.patch(
        path,
        &json!({"Operations": [{"op": "add", "path": "nickName", "value": "x"}]}),
    )
    .await
    .expect_error(StatusCode::NOT_FOUND, None);
    app.delete(path)
        .await
        .expect_error(StatusCode::NOT_FOUND, None);
    assert_nothing_written(&app, &id, &before).await;

    // In a value: either stored exactly as sent or refused as an invalid value.
    let reply = app
        .post(
            "/Users",
            &json!({"userName": "nul\u{0}name@example.com", "displayName": "a\u{0}b"}),
        )
        .await;
    if reply.status == StatusCode::CREATED {
        let new_id = reply.body["id"].as_str().unwrap();
        let got = app
            .get(&format!("/Users/{new_id}"))
            .await
            .expect(StatusCode::OK)
            .body;
        assert_eq!(got["userName"], "nul\u{0}name@example.com");
        assert_eq!(got["displayName"], "a\u{0}b");
        let found = app
            .filter_users("userName eq \"NUL\\u0000NAME@example.com\"")
            .await
            .expect(StatusCode::OK);
        assert_eq!(found.id_list(), vec![new_id.to_owned()]);
    } else {
        reply.expect_error(StatusCode::BAD_REQUEST, Some("invalidValue"));
        let reply = app
            .patch(&format!("/Users/{id}"), &json!({"Operations": [{"op": "replace", "path": "displayName", "value": "a\u{0}b"}]}))
            .await;
        reply.expect_error(StatusCode::BAD_REQUEST, Some("invalidValue"));
        assert_nothing_written(&app, &id, &before).await;
    }
    app
}

async fn failed_writes_change_nothing(app: TestApp) -> TestApp {
    let (id, before) = seeded_user(&app).await;
    let other = app
        .create_user(&json!({"userName": "other@example.com"}))
        .await;
    let other_before = app.get(&format!("/Users/{other}")).await.body;
    let path = format!("/Users/{id}");
    // POST: a duplicate (409), and a valid-looking body with one bad attribute (400).
    app.post(
        "/Users",
        &json!({"userName": "KEPT@example.com", "displayName": "Dup"}),
    )
    .await
    .expect_error(StatusCode::CONFLICT, Some("uniqueness"));
    app.post(
        "/Users",
        &json!({"userName": "new@example.com", "displayName": "New", "active": "maybe"}),
    )
    .await
    .expect_error(StatusCode::BAD_REQUEST, Some("invalidValue"));
    // PUT: renaming onto another user's userName, and a bad attribute after good ones.
    app.put(
        &path,
        &json!({"userName": "OTHER@example.com", "displayName": "Renamed"}),
    )
    .await
    .expect_error(StatusCode::CONFLICT, Some("uniqueness"));
    app.put(
        &path,
        &json!({"userName": "kept@example.com", "displayName": "Changed", "name": "x"}),
    )
    .await
    .expect_error(StatusCode::BAD_REQUEST, Some("invalidValue"));
    // PATCH: the first operations are valid, a later one is not.
    let bad_later = [
        (
            json!({"op": "replace", "path": "nope", "value": "x"}),
            "invalidPath",
        ),
        (
            json!({"op": "replace", "path": "active", "value": "maybe"}),
            "invalidValue",
        ),
        (json!({"op": "remove"}), "noTarget"),
        (
            json!({"op": "replace", "path": "id", "value": "x"}),
            "mutability",
        ),
    ];
    for (bad, scim_type) in bad_later {
        let body = json!({"Operations": [
            {"op": "replace", "path": "displayName", "value": "Changed"},
            {"op": "add", "path": "emails[type eq \"home\"].value", "value": "home@example.com"},
            bad
        ]});
        app.patch(&path, &body)
            .await
            .expect_error(StatusCode::BAD_REQUEST, Some(scim_type));
    }
    let body = json!({"Operations": [{"op": "replace", "path": "userName", "value": "Other@Example.com"}]});
    app.patch(&path, &body)
        .await
        .expect_error(StatusCode::CONFLICT, Some("uniqueness"));

    let now = app.get(&path).await.expect(StatusCode::OK).body;
    assert_eq!(now, before, "a refused write changed the user");
    assert_eq!(app.get(&format!("/Users/{other}")).await.body, other_before);
    assert_eq!(
        app.all_user_ids().await,
        [id.clone(), other.clone()].into_iter().collect()
    );
    // And the indexes were not touched either: the old values still match, the refused ones do not.
    assert_eq!(
        app.filter_users("emails.value eq \"home@example.com\"")
            .await
            .body["totalResults"],
        0
    );
    assert_eq!(
        app.filter_users("displayName eq \"Changed\"").await.body["totalResults"],
        0
    );
    assert_eq!(
        app.filter_users("userName eq \"kept@example.com\"")
            .await
            .id_list(),
        vec![id.clone()]
    );
    app
}

/// entra-compat §1 item 3 and §2.3: Test Connection also probes `/Groups`, and a 404 there makes
/// Entra report `SystemForCrossDomainIdentityManagementServiceIncompatible`. A server without
/// groups must still answer the probe with an empty ListResponse.
async fn entras_group_probe_gets_an_empty_list_not_a_404(app: TestApp) -> TestApp {
    let guid = uuid::Uuid::new_v4();
    let probe = format!("/Groups?excludedAttributes=members&filter=displayName+eq+%22{guid}%22");
    let reply = app.get(&probe).await;
    assert_eq!(reply.status, StatusCode::OK, "{probe}: {}", reply.text);
    assert_eq!(reply.content_type(), SCIM_JSON);
    assert_eq!(
        reply.body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"])
    );
    assert_eq!(reply.body["totalResults"], 0);
    assert_eq!(reply.body["Resources"], json!([]));
    // And it still needs the token.
    let anonymous = app
        .http
        .get(format!("{}{probe}", app.tenant_url))
        .send()
        .await
        .unwrap();
    Reply::from(anonymous)
        .await
        .expect_error(StatusCode::UNAUTHORIZED, None);
    app
}

crate::on_both_backends!(
    malformed_json_is_400_invalid_syntax,
    json_that_is_not_an_object_is_400_invalid_syntax,
    an_empty_body_is_400_invalid_syntax,
    values_of_the_wrong_type_are_400_invalid_value,
    numbers_and_booleans_sent_for_strings_are_stored_as_strings,
    a_missing_or_blank_user_name_is_400_invalid_value,
    an_unknown_id_is_404_on_get_put_patch_and_delete,
    unknown_routes_are_404_scim_errors,
    entras_group_probe_gets_an_empty_list_not_a_404,
    a_body_over_the_limit_is_413_and_one_under_it_is_accepted,
    long_values_of_searchable_attributes_are_stored_or_refused_but_never_a_500,
    other_methods_on_discovery_endpoints_are_405,
    invalid_filters_are_400_invalid_filter_with_a_useful_detail,
    non_integer_paging_and_bad_sorting_are_400_invalid_value,
    no_hostile_input_causes_a_500,
    nul_characters_are_refused_or_stored_exactly_but_never_a_500,
    failed_writes_change_nothing,
);
