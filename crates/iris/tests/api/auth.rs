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

async fn an_expired_token_is_401_naming_its_expiry_while_a_live_one_works(app: TestApp) -> TestApp {
    let (short, expires_at) = app
        .admin
        .issue_expiring_token("short", time::Duration::seconds(2))
        .await;
    status_with(&app, &app.tenant_url, Some(&short))
        .await
        .expect(StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(2200)).await;
    let refused = status_with(&app, &app.tenant_url, Some(&short))
        .await
        .expect_error(StatusCode::UNAUTHORIZED, None);
    let detail = refused.body["detail"].as_str().unwrap();
    assert!(detail.contains("expired"), "{detail}");
    assert!(detail.contains(&expires_at), "{detail}");
    // The tenant's other token is untouched, and a forged secret for the expired id learns
    // nothing about the expiry.
    status_with(&app, &app.tenant_url, Some(&app.token))
        .await
        .expect(StatusCode::OK);
    let forged = format!("{}x", &short[..short.len() - 1]);
    let reply = status_with(&app, &app.tenant_url, Some(&forged))
        .await
        .expect_error(StatusCode::UNAUTHORIZED, None);
    assert!(!reply.text.contains("expired"), "{}", reply.text);
    app
}

async fn tokens_about_to_expire_are_warned_about_and_counted(app: TestApp) -> TestApp {
    assert!(app.admin.expiring_token_labels().await.is_empty());
    app.admin
        .issue_expiring_token("later", time::Duration::days(90))
        .await;
    app.admin
        .issue_expiring_token("soon", time::Duration::days(3))
        .await;
    app.admin
        .issue_expiring_token("sooner", time::Duration::days(1))
        .await;
    assert_eq!(app.admin.expiring_token_labels().await, ["sooner", "soon"]);
    let counts = app.admin.expiring_token_counts().await;
    assert!(counts.contains(&("acme".to_owned(), 2)), "{counts:?}");
    app
}

async fn a_lifetime_beyond_ten_years_or_not_positive_is_refused(app: TestApp) -> TestApp {
    for days in [0, -1, 3651] {
        let refused = app.admin.lifetime_refusal(time::Duration::days(days)).await;
        assert!(refused.contains("lifetime"), "{days} days: {refused}");
    }
    assert!(
        app.admin
            .lifetime_refusal(time::Duration::days(3650))
            .await
            .is_empty()
    );
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
    an_expired_token_is_401_naming_its_expiry_while_a_live_one_works,
    tokens_about_to_expire_are_warned_about_and_counted,
    a_lifetime_beyond_ten_years_or_not_positive_is_refused,
);
