//! The admin API (`/admin/v1`): operator tokens and only they authenticate it; tenants, their
//! tokens, their users and groups, the log and the cycles, the metrics summary; JSON errors with
//! the right status; the OpenAPI document served and equal to the committed copy.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Reply, TestApp};

/// A fresh operator token of the test's server.
async fn operator(app: &TestApp) -> String {
    app.admin.issue_operator_token("tests").await.token
}

async fn get(app: &TestApp, token: &str, path: &str) -> Reply {
    app.admin_send(Some(token), Method::GET, path, None).await
}

/// Asserts an admin JSON error with this status and code.
#[track_caller]
fn expect_admin_error(reply: Reply, status: StatusCode, code: &str) -> Reply {
    let reply = reply.expect(status);
    assert_eq!(reply.content_type(), "application/json", "{}", reply.text);
    assert_eq!(reply.body["error"]["code"], code, "{}", reply.text);
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{}",
        reply.text
    );
    assert_eq!(
        reply.body["error"]["request_id"].as_str(),
        reply.header("x-request-id"),
        "the error names the request"
    );
    reply
}

/// Every page of `path` (which has a query string) by `next_cursor`.
async fn walk(app: &TestApp, token: &str, path: &str, items: &str) -> Vec<Vec<Value>> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}&cursor={c}"),
            None => path.to_owned(),
        };
        let page = get(app, token, &url).await.expect(StatusCode::OK);
        pages.push(page.body[items].as_array().expect("items").clone());
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return pages,
        }
        assert!(pages.len() < 100, "the walk does not end");
    }
}

fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|i| i["id"].as_str().expect("id").to_owned())
        .collect()
}

async fn only_operator_tokens_authenticate_the_admin_api(app: TestApp) -> TestApp {
    let token = operator(&app).await;
    get(&app, &token, "/tenants").await.expect(StatusCode::OK);

    let missing = app.admin_send(None, Method::GET, "/tenants", None).await;
    let missing = expect_admin_error(missing, StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(
        missing.header("www-authenticate"),
        Some("Bearer realm=\"iris-admin\"")
    );
    let forged = format!("{}x", &token[..token.len() - 1]);
    expect_admin_error(
        get(&app, &forged, "/tenants").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    // A tenant's SCIM token is not an operator token, even for its own tenant.
    expect_admin_error(
        get(&app, &app.token, "/tenants/acme").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    // And an operator token is no tenant token.
    app.send_as(Some(&token), Method::GET, "/Users", None)
        .await
        .expect_error(StatusCode::UNAUTHORIZED, None);
    app
}

async fn a_revoked_operator_token_is_refused_from_the_next_request_on(app: TestApp) -> TestApp {
    let issued = app.admin.issue_operator_token("rotating").await;
    get(&app, &issued.token, "/tenants")
        .await
        .expect(StatusCode::OK);
    app.admin.revoke_operator_token(&issued.token_id).await;
    expect_admin_error(
        get(&app, &issued.token, "/tenants").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    app
}

async fn tenants_are_created_listed_disabled_enabled_and_read(app: TestApp) -> TestApp {
    let token = operator(&app).await;
    let body = json!({"name": "contoso"});
    let created = app
        .admin_send(Some(&token), Method::POST, "/tenants", Some(&body))
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(created.body["tenant"]["name"], "contoso");
    assert_eq!(created.body["tenant"]["enabled"], true);
    let tenant_url = created.body["tenant"]["tenant_url"].as_str().unwrap();
    assert_eq!(tenant_url, format!("{}/scim/v2/contoso", app.base_url));
    let scim_token = created.body["token"]["token"].as_str().unwrap().to_owned();
    assert!(scim_token.starts_with("iris_"));
    let users = format!("{tenant_url}/Users");
    app.send_as(Some(&scim_token), Method::GET, &users, None)
        .await
        .expect(StatusCode::OK);

    let listed = get(&app, &token, "/tenants").await.expect(StatusCode::OK);
    let names: BTreeSet<&str> = listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, BTreeSet::from(["acme", "contoso"]));
    assert!(
        !listed.text.contains(&scim_token),
        "a list never shows a secret"
    );

    expect_admin_error(
        app.admin_send(Some(&token), Method::POST, "/tenants", Some(&body))
            .await,
        StatusCode::CONFLICT,
        "uniqueness",
    );
    expect_admin_error(
        app.admin_send(
            Some(&token),
            Method::POST,
            "/tenants",
            Some(&json!({"name": "Not OK"})),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_value",
    );
    expect_admin_error(
        app.admin_send(
            Some(&token),
            Method::POST,
            "/tenants",
            Some(&json!({"nom": "x"})),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_body",
    );

    let disabled = app
        .admin_send(Some(&token), Method::POST, "/tenants/contoso/disable", None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(disabled.body["enabled"], false);
    assert!(disabled.body["disabled_at"].is_string());
    app.send_as(Some(&scim_token), Method::GET, &users, None)
        .await
        .expect_error(StatusCode::UNAUTHORIZED, None);
    let enabled = app
        .admin_send(Some(&token), Method::POST, "/tenants/contoso/enable", None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(enabled.body["enabled"], true);
    app.send_as(Some(&scim_token), Method::GET, &users, None)
        .await
        .expect(StatusCode::OK);
    let read = get(&app, &token, "/tenants/contoso")
        .await
        .expect(StatusCode::OK);
    assert_eq!(read.body, enabled.body);
    app
}

async fn an_unknown_tenant_is_404_on_every_tenant_endpoint(app: TestApp) -> TestApp {
    let token = operator(&app).await;
    for path in [
        "/tenants/nobody",
        "/tenants/nobody/status",
        "/tenants/nobody/tokens",
        "/tenants/nobody/users",
        "/tenants/nobody/users/abc",
        "/tenants/nobody/groups",
        "/tenants/nobody/groups/abc",
        "/tenants/nobody/events",
        "/tenants/nobody/cycles",
    ] {
        expect_admin_error(
            get(&app, &token, path).await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
    }
    for path in [
        "/tenants/nobody/disable",
        "/tenants/nobody/enable",
        "/tenants/nobody/tokens",
    ] {
        expect_admin_error(
            app.admin_send(Some(&token), Method::POST, path, None).await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
    }
    expect_admin_error(
        app.admin_send(
            Some(&token),
            Method::DELETE,
            "/tenants/nobody/tokens/0123456789abcdef",
            None,
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    app
}

async fn a_token_is_shown_once_listed_without_its_secret_and_revoked(app: TestApp) -> TestApp {
    let token = operator(&app).await;
    let issued = app
        .admin_send(
            Some(&token),
            Method::POST,
            "/tenants/acme/tokens",
            Some(&json!({"label": "rotation"})),
        )
        .await
        .expect(StatusCode::CREATED);
    let secret = issued.body["token"].as_str().unwrap().to_owned();
    let id = issued.body["token_id"].as_str().unwrap().to_owned();
    assert_eq!(issued.body["label"], "rotation");
    app.send_as(Some(&secret), Method::GET, "/Users", None)
        .await
        .expect(StatusCode::OK);

    // An empty body issues a token without a label.
    let unlabelled = app
        .admin_send(Some(&token), Method::POST, "/tenants/acme/tokens", None)
        .await
        .expect(StatusCode::CREATED);
    assert!(unlabelled.body["label"].is_null());

    let listed = get(&app, &token, "/tenants/acme/tokens")
        .await
        .expect(StatusCode::OK);
    let rows = listed.body.as_array().unwrap();
    assert_eq!(rows.len(), 3, "{}", listed.text);
    let row = rows.iter().find(|r| r["token_id"] == id.as_str()).unwrap();
    assert_eq!(row["label"], "rotation");
    assert!(row["revoked_at"].is_null());
    for r in rows {
        assert!(
            r.get("token").is_none() && r.get("secret_hash").is_none(),
            "{r}"
        );
    }
    let secret_part = secret.rsplit_once('_').unwrap().1;
    assert!(!listed.text.contains(secret_part), "never a secret");
    for hash in app.admin.token_secret_hashes().await {
        assert!(!listed.text.contains(&hash), "never a hash either");
    }

    // Another tenant's token is not revoked through this tenant.
    let (other_url, other_token) = app.other_tenant("globex").await;
    let other_id = other_token.split('_').nth(1).unwrap();
    expect_admin_error(
        app.admin_send(
            Some(&token),
            Method::DELETE,
            &format!("/tenants/acme/tokens/{other_id}"),
            None,
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    app.send_as(
        Some(&other_token),
        Method::GET,
        &format!("{other_url}/Users"),
        None,
    )
    .await
    .expect(StatusCode::OK);

    let revoke = format!("/tenants/acme/tokens/{id}");
    app.admin_send(Some(&token), Method::DELETE, &revoke, None)
        .await
        .expect(StatusCode::NO_CONTENT);
    app.send_as(Some(&secret), Method::GET, "/Users", None)
        .await
        .expect_error(StatusCode::UNAUTHORIZED, None);
    expect_admin_error(
        app.admin_send(Some(&token), Method::DELETE, &revoke, None)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let listed = get(&app, &token, "/tenants/acme/tokens")
        .await
        .expect(StatusCode::OK);
    let row = listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["token_id"] == id.as_str())
        .unwrap()
        .clone();
    assert!(row["revoked_at"].is_string(), "{row}");
    app
}

async fn users_and_groups_are_read_with_the_scim_filter_and_paged_by_cursor(
    app: TestApp,
) -> TestApp {
    let token = operator(&app).await;
    let picked = app.create_users("pick", 5).await;
    app.create_users("skip", 2).await;
    let walked = walk(
        &app,
        &token,
        "/tenants/acme/users?filter=userName+sw+%22pick%22&count=2",
        "resources",
    )
    .await;
    assert_eq!(
        walked.iter().map(Vec::len).collect::<Vec<_>>(),
        [2, 2, 1],
        "pages of 2, the last one shorter"
    );
    let seen: BTreeSet<String> = walked.iter().flat_map(|p| ids(p)).collect();
    assert_eq!(seen, picked.iter().cloned().collect::<BTreeSet<_>>());
    let first = get(
        &app,
        &token,
        "/tenants/acme/users?filter=userName+sw+%22pick%22&count=2",
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(first.body["total_results"], 5);
    assert_eq!(first.body["items_per_page"], 2);
    assert!(first.body["previous_cursor"].is_null());

    // One user reads exactly as the tenant's SCIM API shows it.
    let one = get(&app, &token, &format!("/tenants/acme/users/{}", picked[0]))
        .await
        .expect(StatusCode::OK);
    assert_eq!(one.content_type(), "application/json");
    assert_eq!(one.body, app.get_user(&picked[0]).await);
    expect_admin_error(
        get(&app, &token, "/tenants/acme/users/no-such-user").await,
        StatusCode::NOT_FOUND,
        "not_found",
    );

    let group = app.create_group_named("Engineering").await;
    app.add_members(&group, &[&picked[0], &picked[1]]).await;
    app.create_group_named("Sales").await;
    let groups = get(
        &app,
        &token,
        "/tenants/acme/groups?filter=displayName+eq+%22engineering%22",
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(
        ids(groups.body["resources"].as_array().unwrap()),
        std::slice::from_ref(&group)
    );
    let read = get(&app, &token, &format!("/tenants/acme/groups/{group}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(read.body["members"].as_array().unwrap().len(), 2);
    let slim = get(
        &app,
        &token,
        &format!("/tenants/acme/groups/{group}?excluded_attributes=members"),
    )
    .await
    .expect(StatusCode::OK);
    assert!(slim.body.get("members").is_none(), "{}", slim.text);

    expect_admin_error(
        get(
            &app,
            &token,
            "/tenants/acme/users?filter=userName+zz+%22x%22",
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_filter",
    );
    expect_admin_error(
        get(
            &app,
            &token,
            "/tenants/acme/users?filter=nosuchattribute+eq+1",
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_filter",
    );
    expect_admin_error(
        get(&app, &token, "/tenants/acme/groups?cursor=garbage").await,
        StatusCode::BAD_REQUEST,
        "invalid_cursor",
    );
    expect_admin_error(
        get(&app, &token, "/tenants/acme/users?count=0").await,
        StatusCode::BAD_REQUEST,
        "invalid_count",
    );
    expect_admin_error(
        get(&app, &token, "/tenants/acme/users?startIndex=2").await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
    );
    app
}

async fn the_log_is_filtered_and_paged_by_cursor(app: TestApp) -> TestApp {
    let token = operator(&app).await;
    let created = app.create_users("logged", 5).await;
    app.post("/Users", &json!({"userName": "logged0@example.com"}))
        .await
        .expect(StatusCode::CONFLICT);

    let newest = walk(
        &app,
        &token,
        "/tenants/acme/events?operation=create&status=success&limit=2",
        "events",
    )
    .await;
    assert_eq!(newest.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 1]);
    let newest_ids: Vec<String> = newest
        .iter()
        .flatten()
        .map(|e| e["resource_id"].as_str().unwrap().to_owned())
        .collect();
    let mut expected = created.clone();
    expected.reverse();
    assert_eq!(
        newest_ids, expected,
        "newest first, none repeated or skipped"
    );
    let oldest = walk(
        &app,
        &token,
        "/tenants/acme/events?operation=create&status=success&limit=3&order=oldest",
        "events",
    )
    .await;
    let oldest_ids: Vec<String> = oldest
        .iter()
        .flatten()
        .map(|e| e["resource_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(oldest_ids, created);

    let refused = get(&app, &token, "/tenants/acme/events?status=failure")
        .await
        .expect(StatusCode::OK);
    let refused = refused.body["events"].as_array().unwrap().clone();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["status"], 409);
    assert_eq!(refused[0]["scim_type"], "uniqueness");
    assert!(refused[0]["body"].as_str().unwrap().contains("logged0"));

    let history = get(
        &app,
        &token,
        "/tenants/acme/events?resource=LOGGED3%40example.com",
    )
    .await
    .expect(StatusCode::OK);
    let history = history.body["events"].as_array().unwrap().clone();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["resource_id"], created[3].as_str());
    assert_eq!(history[0]["operation"], "create");

    let future = get(
        &app,
        &token,
        "/tenants/acme/events?since=2999-01-01T00:00:00Z",
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(future.body["events"], json!([]));
    assert!(future.body.get("next_cursor").is_none());
    let past = get(
        &app,
        &token,
        "/tenants/acme/events?until=2000-01-01T00:00:00Z",
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(past.body["events"], json!([]));

    for (query, code) in [
        ("limit=0", "invalid_value"),
        ("limit=1001", "invalid_value"),
        ("limit=many", "invalid_query"),
        ("cursor=not-an-id", "invalid_cursor"),
        ("operation=explode", "invalid_value"),
        ("status=sometimes", "invalid_value"),
        ("since=yesterday", "invalid_value"),
        ("order=sideways", "invalid_value"),
        ("colour=blue", "invalid_query"),
    ] {
        expect_admin_error(
            get(&app, &token, &format!("/tenants/acme/events?{query}")).await,
            StatusCode::BAD_REQUEST,
            code,
        );
    }
    app
}

async fn cycles_are_paged_by_cursor_and_judged_in_the_status(app: TestApp) -> TestApp {
    let token = operator(&app).await;
    // Three bursts a quiet second apart (the test servers' idle gap): three cycles.
    for _ in 0..3 {
        app.get("/Users").await.expect(StatusCode::OK);
        tokio::time::sleep(Duration::from_millis(1300)).await;
    }
    let walked = walk(&app, &token, "/tenants/acme/cycles?limit=1", "cycles").await;
    assert_eq!(walked.len(), 3, "{walked:?}");
    let cycle_ids: Vec<String> = walked.iter().flat_map(|p| ids(p)).collect();
    let mut newest_first = cycle_ids.clone();
    newest_first.sort();
    newest_first.reverse();
    assert_eq!(cycle_ids, newest_first, "newest first");
    assert!(walked.iter().flatten().all(|c| c["requests"] == 1));
    expect_admin_error(
        get(&app, &token, "/tenants/acme/cycles?cursor=nope").await,
        StatusCode::BAD_REQUEST,
        "invalid_cursor",
    );

    let status = get(&app, &token, "/tenants/acme/status")
        .await
        .expect(StatusCode::OK);
    assert_eq!(status.body["tenant"], "acme");
    assert_eq!(status.body["health"], "healthy", "{}", status.text);
    assert_eq!(status.body["last_cycle"]["id"], cycle_ids[0].as_str());
    assert_eq!(status.body["failure_rate"], 0.0);

    let summary = get(&app, &token, "/metrics/summary")
        .await
        .expect(StatusCode::OK);
    let acme = summary.body["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tenant"] == "acme")
        .cloned()
        .unwrap();
    assert_eq!(acme["health"], "healthy");
    assert_eq!(acme["requests"], 1);
    assert_eq!(acme["failure_rate"], 0.0);
    let process = &summary.body["process"];
    assert!(process["requests"].as_u64().unwrap() >= 3, "{process}");
    assert_eq!(process["database"], app.backend.name());
    assert!(!process["pools"].as_array().unwrap().is_empty());
    app
}

async fn unknown_admin_paths_and_methods_get_json_errors(app: TestApp) -> TestApp {
    let token = operator(&app).await;
    expect_admin_error(
        get(&app, &token, "/nothing/here").await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    expect_admin_error(
        app.admin_send(Some(&token), Method::DELETE, "/tenants", None)
            .await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
    app
}

async fn the_openapi_document_is_served_without_a_token_and_matches_the_committed_copy(
    app: TestApp,
) -> TestApp {
    let served = app
        .admin_send(None, Method::GET, "/openapi.json", None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(served.content_type(), "application/json");
    let committed: Value = serde_json::from_str(&committed_openapi()).unwrap();
    assert!(
        served.body == committed,
        "docs/admin-api.openapi.json is stale: regenerate it with \
         `cargo run -p iris -- admin openapi > docs/admin-api.openapi.json`"
    );
    assert_eq!(served.body["security"], json!([{"operator_token": []}]));
    let paths = served.body["paths"].as_object().unwrap();
    assert!(paths.contains_key("/admin/v1/tenants/{tenant}/users"));
    assert!(paths.contains_key("/admin/v1/metrics/summary"));
    app
}

fn committed_openapi() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/admin-api.openapi.json"
    );
    std::fs::read_to_string(path).expect("docs/admin-api.openapi.json")
}

crate::on_both_backends!(
    only_operator_tokens_authenticate_the_admin_api,
    a_revoked_operator_token_is_refused_from_the_next_request_on,
    tenants_are_created_listed_disabled_enabled_and_read,
    an_unknown_tenant_is_404_on_every_tenant_endpoint,
    a_token_is_shown_once_listed_without_its_secret_and_revoked,
    users_and_groups_are_read_with_the_scim_filter_and_paged_by_cursor,
    the_log_is_filtered_and_paged_by_cursor,
    cycles_are_paged_by_cursor_and_judged_in_the_status,
    unknown_admin_paths_and_methods_get_json_errors,
    the_openapi_document_is_served_without_a_token_and_matches_the_committed_copy,
);

/// With `admin_api = false` nothing answers under `/admin/v1`.
mod switched_off {
    use super::*;

    fn without_admin_api(config: &mut iris::config::Config) {
        config.admin_api = false;
    }

    async fn the_admin_api_can_be_switched_off(app: TestApp) -> TestApp {
        let token = operator(&app).await;
        get(&app, &token, "/tenants")
            .await
            .expect_error(StatusCode::NOT_FOUND, None);
        app.admin_send(None, Method::GET, "/openapi.json", None)
            .await
            .expect_error(StatusCode::NOT_FOUND, None);
        app.get("/Users").await.expect(StatusCode::OK);
        app
    }

    crate::on_both_backends_with!(without_admin_api => the_admin_api_can_be_switched_off);
}

/// `iris admin token …` and `iris admin openapi`, run as an operator runs them.
mod cli {
    use super::*;
    use crate::operator::{Operator, str_field};

    async fn operator_tokens_are_issued_listed_and_revoked_from_the_command_line(database: String) {
        let dir = tempfile::tempdir().unwrap();
        let op = Operator::new(&database);
        // Admin commands never create a database.
        let refused = op.run(&["admin", "token", "list"]).await;
        assert!(!refused.status.success() || database.starts_with("postgres"));
        op.run(&["migrate"]).await.ok();
        let issued = op
            .run(&["admin", "token", "issue", "--label", "ci", "--json"])
            .await
            .ok()
            .json();
        let token = str_field(&issued, "token").to_owned();
        let id = str_field(&issued, "token_id").to_owned();
        assert!(token.starts_with("irisop_"), "{token}");

        let listed = op.run(&["admin", "token", "list", "--json"]).await.ok();
        assert!(!listed.stdout.contains(token.rsplit_once('_').unwrap().1));
        let rows = listed.json();
        assert_eq!(rows[0]["token_id"], id.as_str());
        assert_eq!(rows[0]["label"], "ci");
        assert!(rows[0]["revoked_at"].is_null());
        let text = op.run(&["admin", "token", "list"]).await.ok();
        assert!(text.stdout.contains(&id) && text.stdout.contains("live"));

        let server = op.serve(dir.path(), &["--no-bootstrap"]).await;
        let tenants = format!("{}/admin/v1/tenants", server.url);
        let http = reqwest::Client::new();
        let status = |token: String| {
            let request = http.get(&tenants).bearer_auth(token).send();
            async move { request.await.expect("request").status() }
        };
        assert_eq!(status(token.clone()).await, StatusCode::OK);
        op.run(&["admin", "token", "revoke", &id]).await.ok();
        assert_eq!(status(token.clone()).await, StatusCode::UNAUTHORIZED);
        let again = op.run(&["admin", "token", "revoke", &id]).await;
        assert!(!again.status.success());
        assert!(
            again.stderr.contains("no live operator token"),
            "{}",
            again.stderr
        );
        let rows = op
            .run(&["admin", "token", "list", "--json"])
            .await
            .ok()
            .json();
        assert!(rows[0]["revoked_at"].is_string());
        server.terminate().await;

        let printed = op.run(&["admin", "openapi"]).await.ok().json();
        let committed: Value = serde_json::from_str(&committed_openapi()).unwrap();
        assert!(
            printed == committed,
            "`iris admin openapi` prints the served document"
        );
    }

    crate::on_both_databases!(operator_tokens_are_issued_listed_and_revoked_from_the_command_line);
}
