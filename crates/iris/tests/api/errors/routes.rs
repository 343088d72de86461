//! Unknown ids and routes are 404 SCIM errors, other methods 405 with `Allow`, and Entra's group
//! probe gets an empty list.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{assert_nothing_written, assert_scim_client_error, seeded_user};
use crate::harness::{LIST_RESPONSE, SCIM_JSON, TestApp, discovery_paths};

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
    let theirs = format!("{other_url}/Users/{id}");
    for method in [Method::GET, Method::DELETE] {
        app.send_as(Some(&other_token), method, &theirs, None)
            .await
            .expect_error(StatusCode::NOT_FOUND, None);
    }
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
            let reply = app.send(method.clone(), &url, None).await;
            assert_scim_client_error(&reply, &format!("{method} {url}"));
            reply.expect_error(StatusCode::NOT_FOUND, None);
        }
    }
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
    assert_eq!(reply.body["schemas"], json!([LIST_RESPONSE]));
    assert_eq!(reply.body["totalResults"], 0);
    assert_eq!(reply.body["Resources"], json!([]));
    // And it still needs the token.
    app.send_as(None, Method::GET, &probe, None)
        .await
        .expect_error(StatusCode::UNAUTHORIZED, None);
    app
}

async fn other_methods_on_discovery_endpoints_are_405(app: TestApp) -> TestApp {
    let (id, before) = seeded_user(&app).await;
    let mut cases: Vec<(Method, String)> = Vec::new();
    for path in discovery_paths() {
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

crate::on_both_backends!(
    an_unknown_id_is_404_on_get_put_patch_and_delete,
    unknown_routes_are_404_scim_errors,
    entras_group_probe_gets_an_empty_list_not_a_404,
    other_methods_on_discovery_endpoints_are_405,
);
