//! Tokens and tenancy over HTTP: only a live token of the tenant named in the URL gets in.

use reqwest::{Method, StatusCode};

use crate::harness::{Reply, TestApp};

async fn status_with(app: &TestApp, url: &str, token: Option<&str>) -> Reply {
    app.send_as(token, Method::GET, &format!("{url}/Users"), None)
        .await
}

fn assert_unauthorized(reply: Reply) {
    let reply = reply.expect_error(StatusCode::UNAUTHORIZED, None);
    assert!(
        reply
            .header("www-authenticate")
            .unwrap()
            .starts_with("Bearer")
    );
}

async fn a_missing_token_is_401_with_www_authenticate(app: TestApp) -> TestApp {
    assert_unauthorized(status_with(&app, &app.tenant_url, None).await);
    app
}

async fn a_wrong_token_is_401(app: TestApp) -> TestApp {
    let forged = format!("{}x", &app.token[..app.token.len() - 1]);
    for token in [forged.as_str(), "garbage", "iris_0123456789abcdef_secret"] {
        assert_unauthorized(status_with(&app, &app.tenant_url, Some(token)).await);
    }
    app
}

async fn another_tenants_token_is_401(app: TestApp) -> TestApp {
    let (other_url, other_token) = app.other_tenant("globex").await;
    // Each token works on its own tenant…
    status_with(&app, &other_url, Some(&other_token))
        .await
        .expect(StatusCode::OK);
    // …and on no other.
    assert_unauthorized(status_with(&app, &app.tenant_url, Some(&other_token)).await);
    assert_unauthorized(status_with(&app, &other_url, Some(&app.token)).await);
    app
}

async fn a_revoked_token_is_refused_at_once_while_a_second_token_keeps_working(
    app: TestApp,
) -> TestApp {
    let second = app.admin.issue_token("rotation").await;
    status_with(&app, &app.tenant_url, Some(&second))
        .await
        .expect(StatusCode::OK);
    app.admin.revoke_token(&app.token_id).await;
    assert_unauthorized(status_with(&app, &app.tenant_url, Some(&app.token)).await);
    status_with(&app, &app.tenant_url, Some(&second))
        .await
        .expect(StatusCode::OK);
    app
}

async fn a_disabled_tenant_is_refused_and_can_be_enabled_again(app: TestApp) -> TestApp {
    app.admin.set_disabled(true).await;
    assert_unauthorized(status_with(&app, &app.tenant_url, Some(&app.token)).await);
    app.admin.set_disabled(false).await;
    status_with(&app, &app.tenant_url, Some(&app.token))
        .await
        .expect(StatusCode::OK);
    app
}

async fn tokens_are_stored_only_as_hashes(app: TestApp) -> TestApp {
    let hashes = app.admin.token_secret_hashes().await;
    // `iris_<id>_<secret>`; the secret itself may contain `_` (base64url), so split twice only.
    let secret = app.token.splitn(3, '_').nth(2).unwrap();
    assert!(secret.len() >= 40, "{secret}");
    assert_eq!(hashes.len(), 1);
    assert_eq!(hashes[0].len(), 64);
    assert!(!hashes[0].contains(secret));
    app
}

async fn an_unknown_tenant_is_401_not_404(app: TestApp) -> TestApp {
    // Never reveal which tenants exist; a bad tenant in the URL is a credentials problem.
    let url = format!("{}/scim/v2/nosuch", app.base_url);
    assert_unauthorized(status_with(&app, &url, Some(&app.token)).await);
    app
}

crate::on_both_backends!(
    a_missing_token_is_401_with_www_authenticate,
    a_wrong_token_is_401,
    another_tenants_token_is_401,
    a_revoked_token_is_refused_at_once_while_a_second_token_keeps_working,
    a_disabled_tenant_is_refused_and_can_be_enabled_again,
    tokens_are_stored_only_as_hashes,
    an_unknown_tenant_is_401_not_404,
);
