//! Bounded work per request (issues 17 and 18): the limits of `iris_scim::limits` over HTTP, on
//! both databases. A request over a limit gets its SCIM error naming the limit and writes nothing;
//! a request at the limits is applied in full; `ServiceProviderConfig` advertises those RFC 7643
//! has attributes for.

use iris_scim::limits::{
    MAX_MEMBERS_PER_OPERATION, MAX_PATCH_OPERATIONS, MAX_VALUES_PER_ATTRIBUTE, names,
};
use iris_scim::schema::PATCH_OP;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::TestApp;

fn patch_op(ops: Vec<Value>) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

/// The operation: one more e-mail address.
fn append_email(i: usize) -> Value {
    json!({"op": "add", "path": "emails", "value": [{"value": format!("e{i}@x.example")}]})
}

fn values(prefix: &str, n: usize) -> Value {
    (0..n)
        .map(|i| json!({"value": format!("{prefix}{i}@x.example")}))
        .collect()
}

async fn user(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/Users/{id}"))
        .await
        .expect(StatusCode::OK)
        .body
}

#[track_caller]
fn assert_names(reply: &crate::harness::Reply, limit: &str) {
    let detail = reply.body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(limit), "the error names {limit}: {detail}");
}

async fn a_patch_over_the_operation_limit_is_413_and_one_at_it_applies_in_full(
    app: TestApp,
) -> TestApp {
    let id = app
        .create_user(&json!({"userName": "many-ops@example.com"}))
        .await;
    let path = format!("/Users/{id}");
    let before = user(&app, &id).await;
    let over = patch_op((0..=MAX_PATCH_OPERATIONS).map(append_email).collect());
    let reply = app
        .patch(&path, &over)
        .await
        .expect_error(StatusCode::PAYLOAD_TOO_LARGE, None);
    assert_names(&reply, names::PATCH_OPERATIONS);
    assert_eq!(
        user(&app, &id).await,
        before,
        "a refused PATCH writes nothing"
    );

    // The request at the limit: a thousand operations, each adding an address.
    let at = patch_op((0..MAX_PATCH_OPERATIONS).map(append_email).collect());
    let reply = app.patch(&path, &at).await.expect(StatusCode::OK);
    assert_eq!(
        reply.body["emails"].as_array().map(Vec::len),
        Some(MAX_PATCH_OPERATIONS)
    );
    assert_eq!(user(&app, &id).await, reply.body);
    // The side table has every address: the last one finds the user.
    let found = app
        .filter_users(&format!(
            "emails.value eq \"e{}@x.example\"",
            MAX_PATCH_OPERATIONS - 1
        ))
        .await
        .expect(StatusCode::OK);
    assert_eq!(found.id_list(), vec![id.clone()]);
    app
}

async fn a_patch_that_would_grow_an_attribute_past_the_value_limit_is_400_and_writes_nothing(
    app: TestApp,
) -> TestApp {
    let id = app
        .create_user(&json!({
            "userName": "full@example.com",
            "emails": values("e", MAX_VALUES_PER_ATTRIBUTE),
        }))
        .await;
    let path = format!("/Users/{id}");
    let before = user(&app, &id).await;
    for op in [
        append_email(MAX_VALUES_PER_ATTRIBUTE),
        json!({"op": "Add", "path": "emails[type eq \"work\"].value", "value": "w@example.com"}),
        json!({"op": "replace", "value": {"emails": values("n", MAX_VALUES_PER_ATTRIBUTE + 1)}}),
    ] {
        let reply = app
            .patch(
                &path,
                &patch_op(vec![
                    json!({"op": "replace", "path": "displayName", "value": "changed"}),
                    op,
                ]),
            )
            .await
            .expect_error(StatusCode::BAD_REQUEST, Some("invalidValue"));
        assert_names(&reply, names::VALUES_PER_ATTRIBUTE);
        assert_eq!(
            user(&app, &id).await,
            before,
            "nothing of the PATCH was written"
        );
    }
    // Changing the full attribute without growing it is fine, and so is a disable.
    app.patch(
        &path,
        &patch_op(vec![
            json!({"op": "replace", "path": "emails[value eq \"e0@x.example\"].type", "value": "work"}),
            json!({"op": "Replace", "path": "active", "value": "False"}),
        ]),
    )
    .await
    .expect(StatusCode::OK);
    app
}

async fn a_user_with_more_values_than_the_limit_is_400_and_not_created(app: TestApp) -> TestApp {
    for attr in ["emails", "phoneNumbers", "roles"] {
        let user_name = format!("too-many-{attr}@example.com");
        let reply = app
            .post(
                "/Users",
                &json!({"userName": user_name, attr: values(attr, MAX_VALUES_PER_ATTRIBUTE + 1)}),
            )
            .await
            .expect_error(StatusCode::BAD_REQUEST, Some("invalidValue"));
        assert_names(&reply, names::VALUES_PER_ATTRIBUTE);
        assert!(reply.body["detail"].as_str().unwrap().contains(attr));
        let found = app
            .filter_users(&format!("userName eq \"{user_name}\""))
            .await
            .expect(StatusCode::OK);
        assert_eq!(found.body["totalResults"], 0, "nothing was written");
    }
    // At the limit for both indexed attributes at once: every value is written in one go on
    // either database (issue 17: this used to be a 500 on SQLite, "too many SQL variables").
    let full = json!({
        "userName": "at-the-limit@example.com",
        "emails": values("e", MAX_VALUES_PER_ATTRIBUTE),
        "phoneNumbers": values("p", MAX_VALUES_PER_ATTRIBUTE),
    });
    let id = app.create_user(&full).await;
    let stored = user(&app, &id).await;
    assert_eq!(stored["emails"], full["emails"]);
    assert_eq!(stored["phoneNumbers"], full["phoneNumbers"]);
    // PUT is held to the same limit, and a refused PUT changes nothing.
    let mut over = full.clone();
    over["emails"] = values("e", MAX_VALUES_PER_ATTRIBUTE + 1);
    let reply = app
        .put(&format!("/Users/{id}"), &over)
        .await
        .expect_error(StatusCode::BAD_REQUEST, Some("invalidValue"));
    assert_names(&reply, names::VALUES_PER_ATTRIBUTE);
    assert_eq!(user(&app, &id).await, stored);
    app
}

async fn a_members_operation_over_the_member_limit_is_413(app: TestApp) -> TestApp {
    let group = app
        .post("/Groups", &json!({"displayName": "Everyone"}))
        .await
        .expect(StatusCode::CREATED);
    let group_id = group.body["id"].as_str().unwrap().to_owned();
    let members: Vec<Value> = (0..=MAX_MEMBERS_PER_OPERATION)
        .map(|i| json!({"value": format!("m{i}")}))
        .collect();
    let reply = app
        .patch(
            &format!("/Groups/{group_id}"),
            &patch_op(vec![
                json!({"op": "Add", "path": "members", "value": members}),
            ]),
        )
        .await
        .expect_error(StatusCode::PAYLOAD_TOO_LARGE, None);
    assert_names(&reply, names::MEMBERS_PER_OPERATION);
    app
}

/// The attributes RFC 7643 §5 defines for `ServiceProviderConfig`.
const SPC_ATTRIBUTES: [&str; 11] = [
    "schemas",
    "documentationUri",
    "patch",
    "bulk",
    "filter",
    "changePassword",
    "sort",
    "etag",
    "authenticationSchemes",
    "meta",
    // RFC 9865 §4.
    "pagination",
];

async fn service_provider_config_advertises_the_limits_it_has_attributes_for_and_nothing_else(
    app: TestApp,
) -> TestApp {
    let spc = app
        .get("/ServiceProviderConfig")
        .await
        .expect(StatusCode::OK)
        .body;
    // The body limit and the page size are where RFC 7643 and RFC 9865 put them.
    assert_eq!(
        spc["bulk"]["maxPayloadSize"],
        256 * 1024,
        "the harness's body limit"
    );
    assert_eq!(spc["filter"]["maxResults"], 1000);
    assert_eq!(spc["pagination"]["maxPageSize"], 1000);
    // The PATCH and value limits have no attribute there (README.md documents them): any other
    // attribute, an extension schema's included, makes strict clients fail discovery.
    assert_eq!(spc["patch"], json!({"supported": true}));
    for key in spc.as_object().unwrap().keys() {
        assert!(
            SPC_ATTRIBUTES.contains(&key.as_str()),
            "'{key}' is not an RFC 7643 attribute"
        );
    }
    assert_eq!(
        spc["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"])
    );
    app
}

/// Counts of values around the limit, with duplicates (kept once) and case variants.
fn value_counts() -> impl Strategy<Value = (usize, usize, usize, bool)> {
    let around = prop_oneof![
        0..8_usize,
        (MAX_VALUES_PER_ATTRIBUTE - 3)..=(MAX_VALUES_PER_ATTRIBUTE + 3),
        0..=(MAX_VALUES_PER_ATTRIBUTE + 200),
    ];
    (around.clone(), around, 0..50_usize, any::<bool>())
}

fn multi_valued(prefix: &str, distinct: usize, repeated: usize, upper: bool) -> Vec<Value> {
    let mut out: Vec<Value> = (0..distinct)
        .map(|i| json!({"value": format!("{prefix}{i}@x.example"), "type": "work"}))
        .collect();
    // Exact repeats are the same value; the case variant of an e-mail is another value.
    out.extend((0..repeated.min(distinct)).map(|i| {
        let value = format!("{prefix}{i}@x.example");
        json!({"value": if upper { value.to_uppercase() } else { value }, "type": "work"})
    }));
    out
}

async fn large_multi_valued_attributes_are_stored_whole_or_refused_whole_never_a_500(
    app: TestApp,
) -> TestApp {
    let mut runner = TestRunner::deterministic();
    for case in 0..10 {
        let (emails, phones, repeated, upper) =
            value_counts().new_tree(&mut runner).unwrap().current();
        let user_name = format!("case{case}@example.com");
        let body = json!({
            "userName": user_name,
            "emails": multi_valued("e", emails, repeated, upper),
            "phoneNumbers": multi_valued("p", phones, repeated, false),
        });
        let expected =
            iris_scim::resource::document_from_request(iris_scim::schema::user_type(), &body);
        let reply = app.post("/Users", &body).await;
        let found = app
            .filter_users(&format!("userName eq \"{user_name}\""))
            .await
            .expect(StatusCode::OK);
        match expected {
            Ok(doc) => {
                assert_eq!(
                    reply.status,
                    StatusCode::CREATED,
                    "case {case}: {}",
                    reply.text
                );
                let id = reply.body["id"].as_str().unwrap();
                let stored = user(&app, id).await;
                for attr in ["emails", "phoneNumbers"] {
                    assert_eq!(
                        stored.get(attr),
                        doc.get(attr),
                        "case {case}: {attr} stored as validated"
                    );
                }
                assert_eq!(found.id_list(), vec![id.to_owned()]);
            }
            Err(e) => {
                assert_eq!(
                    reply.status.as_u16(),
                    e.status,
                    "case {case}: {}",
                    reply.text
                );
                assert!(reply.status.is_client_error(), "case {case}");
                assert_eq!(
                    found.body["totalResults"], 0,
                    "case {case}: nothing written"
                );
            }
        }
    }
    app
}

crate::on_both_backends!(
    a_patch_over_the_operation_limit_is_413_and_one_at_it_applies_in_full,
    a_patch_that_would_grow_an_attribute_past_the_value_limit_is_400_and_writes_nothing,
    a_user_with_more_values_than_the_limit_is_400_and_not_created,
    a_members_operation_over_the_member_limit_is_413,
    service_provider_config_advertises_the_limits_it_has_attributes_for_and_nothing_else,
    large_multi_valued_attributes_are_stored_whole_or_refused_whole_never_a_500,
);
