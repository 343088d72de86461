//! Tenant URL quirks Entra produces (entra-compat §2.2) and the health probes.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::{TestApp, patch_body};

async fn tenant_url_quirks_still_route(app: TestApp) -> TestApp {
    let id = app
        .create_user(&json!({"userName": "quirk@example.com"}))
        .await;
    let base = app.tenant_url.clone();
    for url in [
        format!("{base}/Users/"),
        format!("{base}//Users"),
        format!("{base}/Users?aadOptscim062020"),
        format!("{base}//Users?aadOptscim062020&filter=userName+eq+%22quirk%40example.com%22"),
        format!("{base}/Users?filter=userName+eq+%22quirk%40example.com%22&aadOptscim062020"),
    ] {
        let reply = app.get(&url).await;
        assert_eq!(reply.status, StatusCode::OK, "{url}: {}", reply.text);
        assert_eq!(reply.id_list(), vec![id.clone()], "{url}");
    }
    for url in [
        format!("{base}/Users/{id}/"),
        format!("{base}//Users//{id}"),
        format!("{base}/Users/{id}?aadOptscim062020"),
    ] {
        let reply = app.get(&url).await;
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
        assert_eq!(app.get(&url).await.status, StatusCode::OK, "{url}");
    }
    // Writes route the same way.
    let created = app
        .post(
            &format!("{base}//Users?aadOptscim062020"),
            &json!({"userName": "quirk2@example.com"}),
        )
        .await;
    let created = created.expect(StatusCode::CREATED);
    let other = created.id();
    assert_eq!(
        created.header("location").unwrap(),
        format!("{base}/Users/{other}")
    );
    let body = patch_body(json!([{"op": "replace", "path": "active", "value": false}]));
    app.patch(&format!("{base}/Users/{other}/?aadOptscim062020"), &body)
        .await
        .expect(StatusCode::OK);
    assert_eq!(app.get_user(&other).await["active"], false);
    app.delete(&format!("{base}//Users/{other}"))
        .await
        .expect(StatusCode::NO_CONTENT);
    app.get(&format!("/Users/{other}"))
        .await
        .expect_error(StatusCode::NOT_FOUND, None);
    app
}

async fn health_probes_need_no_token(app: TestApp) -> TestApp {
    let probe = |token: Option<&'static str>, method: Method, path: &str| {
        let url = format!("{}{path}", app.base_url);
        let app = &app;
        async move { app.send_as(token, method, &url, None).await }
    };
    let healthz = probe(None, Method::GET, "/healthz").await;
    let healthz = healthz.expect(StatusCode::OK);
    assert_eq!(healthz.body["status"], "ok");
    let readyz = probe(None, Method::GET, "/readyz").await;
    let readyz = readyz.expect(StatusCode::OK);
    assert_eq!(readyz.body["status"], "ready");
    assert_eq!(readyz.body["database"], app.backend.name());
    // A bad token does not turn a probe into a 401.
    let bad_token = probe(Some("garbage"), Method::GET, "/readyz").await;
    assert_eq!(bad_token.status, StatusCode::OK);
    // HEAD works for load balancers that use it.
    let head = probe(None, Method::HEAD, "/healthz").await;
    assert_eq!(head.status, StatusCode::OK);
    app
}

crate::on_both_backends!(tenant_url_quirks_still_route, health_probes_need_no_token,);
