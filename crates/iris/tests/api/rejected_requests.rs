//! The record of refused PATCH requests (issue: "keep a record of the raw request body of every
//! PATCH that failed"): what the client sent, as sent (passwords redacted), with the error, read
//! back by an operator through `iris tenant rejected`.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{TestApp, patch_body};
use crate::operator::Operator;

/// `iris tenant rejected NAME --json` against the test's database, newest first.
async fn rejected(app: &TestApp, tenant: &str, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["tenant", "rejected", tenant, "--json"];
    args.extend_from_slice(extra);
    let out = Operator::new(&app.database_url).run(&args).await.ok();
    out.stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

async fn every_refused_patch_is_kept_with_its_body_and_error(app: TestApp) -> TestApp {
    let id = app
        .create_user(&json!({"userName": "kept@example.com", "emails": [{"type": "work", "value": "k@example.com"}]}))
        .await;
    let user = format!("/Users/{id}");

    // 1. Not JSON at all: the raw text is what the operator needs.
    app.send_raw(
        Method::PATCH,
        &user,
        r#"{"Operations": [{"op": "replace",,}]}"#,
    )
    .await
    .expect_error(StatusCode::BAD_REQUEST, Some("invalidSyntax"));
    // 2. A path that does not parse, next to a password that must never be kept.
    let bad_path = patch_body(json!([
        {"op": "replace", "path": "password", "value": "Sup3r-secret"},
        {"op": "Replace", "path": "emails[type eq]", "value": "x@example.com"}
    ]));
    app.patch(&user, &bad_path)
        .await
        .expect_error(StatusCode::BAD_REQUEST, Some("invalidPath"));
    // 3. An unknown user.
    app.patch(
        "/Users/00000000-0000-0000-0000-000000000000",
        &patch_body(json!([{"op": "replace", "path": "active", "value": false}])),
    )
    .await
    .expect(StatusCode::NOT_FOUND);
    // 4. A stale version.
    let stale = app
        .send_with_header(
            Method::PATCH,
            &user,
            ("if-match", "W/\"999\""),
            Some(&patch_body(
                json!([{"op": "replace", "path": "title", "value": "x"}]),
            )),
        )
        .await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    // 5. A group PATCH naming a member that does not exist.
    let group_id = app.create_group_named("Kept").await;
    let add_unknown = patch_body(json!([{"op": "Add", "path": "members",
                                      "value": [{"$ref": null, "value": "no-such-user"}]}]));
    app.patch(&format!("/Groups/{group_id}"), &add_unknown)
        .await
        .expect_error(StatusCode::BAD_REQUEST, Some("invalidValue"));
    // Accepted PATCHes are not recorded.
    app.patch(
        &user,
        &patch_body(json!([{"op": "Replace", "path": "active", "value": "False"}])),
    )
    .await
    .expect(StatusCode::OK);

    let records = rejected(&app, &app.tenant_name, &[]).await;
    assert_eq!(records.len(), 5, "{records:#?}");
    let summary: Vec<(&str, &str, u64, Option<&str>)> = records
        .iter()
        .map(|r| {
            (
                r["resource_type"].as_str().unwrap(),
                r["method"].as_str().unwrap(),
                r["status"].as_u64().unwrap(),
                r.get("scim_type").and_then(Value::as_str),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("Group", "PATCH", 400, Some("invalidValue")),
            ("User", "PATCH", 412, None),
            ("User", "PATCH", 404, None),
            ("User", "PATCH", 400, Some("invalidPath")),
            ("User", "PATCH", 400, Some("invalidSyntax")),
        ],
        "newest first"
    );
    assert_eq!(records[0]["resource_id"], group_id.as_str());
    assert_eq!(
        serde_json::from_str::<Value>(records[0]["body"].as_str().unwrap()).unwrap(),
        add_unknown,
        "a JSON body is kept as sent"
    );
    assert!(
        records[0]["detail"]
            .as_str()
            .unwrap()
            .contains("no-such-user")
    );
    assert_eq!(
        records[2]["resource_id"],
        "00000000-0000-0000-0000-000000000000"
    );
    let with_password = records[3]["body"].as_str().unwrap();
    assert!(!with_password.contains("Sup3r-secret"), "{with_password}");
    assert!(with_password.contains("emails[type eq]"), "{with_password}");
    assert_eq!(
        records[4]["body"], r#"{"Operations": [{"op": "replace",,}]}"#,
        "a body that is not JSON is kept byte for byte"
    );
    for r in &records {
        assert!(r["at"].as_str().unwrap().ends_with('Z'));
    }

    // --limit, and the text form an operator reads.
    assert_eq!(
        rejected(&app, &app.tenant_name, &["--limit", "2"])
            .await
            .len(),
        2
    );
    let text = Operator::new(&app.database_url)
        .run(&["tenant", "rejected", &app.tenant_name])
        .await
        .ok()
        .stdout;
    assert!(
        text.contains("PATCH Group/") && text.contains("no-such-user"),
        "{text}"
    );
    assert!(!text.contains("Sup3r-secret"));
    app
}

async fn a_tenant_sees_only_its_own_refusals(app: TestApp) -> TestApp {
    let (other_url, other_token) = app.other_tenant("other-refusals").await;
    let reply = app
        .send_as(
            Some(&other_token),
            Method::PATCH,
            &format!("{other_url}/Users/nobody"),
            Some(&patch_body(
                json!([{"op": "replace", "path": "active", "value": false}]),
            )),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(rejected(&app, &app.tenant_name, &[]).await.is_empty());
    let theirs = rejected(&app, "other-refusals", &[]).await;
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0]["resource_id"], "nobody");
    let missing = Operator::new(&app.database_url)
        .run(&["tenant", "rejected", "no-such-tenant"])
        .await;
    assert!(!missing.status.success());
    app
}

crate::on_both_backends!(
    every_refused_patch_is_kept_with_its_body_and_error,
    a_tenant_sees_only_its_own_refusals,
);
