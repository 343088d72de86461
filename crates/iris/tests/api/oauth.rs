//! OAuth 2.0 client credentials over HTTP: `POST /oauth/token` (RFC 6749 §4.4) issues short-lived
//! bearer tokens that the SCIM endpoints accept like the tenant's own; every refusal is RFC 6749
//! §5.2 JSON.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::harness::{Reply, TestApp};

/// Form-encodes `pairs` (as an identity provider does).
fn form(pairs: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(pairs).unwrap()
}

async fn token_request(app: &TestApp, basic: Option<(&str, &str)>, body: &str) -> Reply {
    let mut req = app
        .http
        .post(format!("{}/oauth/token", app.base_url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_owned());
    if let Some((id, secret)) = basic {
        // RFC 6749 §2.3.1: each part form-encoded, then Basic.
        let enc = |s: &str| form(&[("x", s)])[2..].to_owned();
        let raw = format!("{}:{}", enc(id), enc(secret));
        req = req.header("authorization", format!("Basic {}", STANDARD.encode(raw)));
    }
    Reply::from(req.send().await.expect("token request")).await
}

/// A token obtained with the credentials in the body.
async fn obtain(app: &TestApp, client_id: &str, secret: &str) -> String {
    let body = form(&[
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
        ("client_secret", secret),
    ]);
    let reply = token_request(app, None, &body).await.expect(StatusCode::OK);
    reply.body["access_token"].as_str().unwrap().to_owned()
}

#[track_caller]
fn assert_oauth_error(reply: &Reply, status: StatusCode, code: &str) {
    assert_eq!(reply.status, status, "body: {}", reply.text);
    assert_eq!(reply.body["error"], code, "body: {}", reply.text);
    assert!(reply.body["error_description"].is_string());
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert!(reply.content_type().starts_with("application/json"));
}

async fn users_with(app: &TestApp, url: &str, token: &str) -> Reply {
    app.send_as(Some(token), Method::GET, &format!("{url}/Users"), None)
        .await
}

async fn a_client_obtains_a_token_in_the_body_or_by_basic_and_scim_accepts_it(
    app: TestApp,
) -> TestApp {
    let (client_id, _, secret) = app.admin.create_oauth_client("entra").await;
    let body = form(&[
        ("grant_type", "client_credentials"),
        ("client_id", &client_id),
        ("client_secret", &secret),
    ]);
    let reply = token_request(&app, None, &body)
        .await
        .expect(StatusCode::OK);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(reply.body["token_type"], "Bearer");
    assert_eq!(reply.body["expires_in"], 3600);
    let in_body = reply.body["access_token"].as_str().unwrap().to_owned();
    users_with(&app, &app.tenant_url, &in_body)
        .await
        .expect(StatusCode::OK);

    // Basic, with Entra's `scope=scim`.
    let body = form(&[("grant_type", "client_credentials"), ("scope", "scim")]);
    let reply = token_request(&app, Some((&client_id, &secret)), &body)
        .await
        .expect(StatusCode::OK);
    let by_basic = reply.body["access_token"].as_str().unwrap().to_owned();
    assert_ne!(by_basic, in_body);
    let created = app
        .send_as(
            Some(&by_basic),
            Method::POST,
            "/Users",
            Some(&serde_json::json!({"schemas": [crate::harness::USER], "userName": "oauth@example.com"})),
        )
        .await
        .expect(StatusCode::CREATED);
    app.get(&format!("/Users/{}", created.id()))
        .await
        .expect(StatusCode::OK);

    // Scoped to the client's tenant: another tenant's URL refuses it.
    let (other_url, _) = app.other_tenant("globex").await;
    users_with(&app, &other_url, &by_basic)
        .await
        .expect_error(StatusCode::UNAUTHORIZED, None);
    // Neither the secret nor the access tokens are listed as the tenant's tokens.
    assert_eq!(app.admin.token_secret_hashes().await.len(), 1);
    app
}

async fn bad_token_requests_get_rfc_6749_errors(app: TestApp) -> TestApp {
    let (client_id, _, secret) = app.admin.create_oauth_client("entra").await;
    let good = [
        ("grant_type", "client_credentials"),
        ("client_id", client_id.as_str()),
        ("client_secret", secret.as_str()),
    ];
    let wrong_secret = format!("{}x", &secret[..secret.len() - 1]);

    // A wrong secret in the body: 401 invalid_client, no Basic challenge.
    let body = form(&[good[0], good[1], ("client_secret", &wrong_secret)]);
    let reply = token_request(&app, None, &body).await;
    assert_oauth_error(&reply, StatusCode::UNAUTHORIZED, "invalid_client");
    // The same by Basic: 401 with `WWW-Authenticate: Basic`.
    let body = form(&[good[0]]);
    let reply = token_request(&app, Some((&client_id, &wrong_secret)), &body).await;
    assert_oauth_error(&reply, StatusCode::UNAUTHORIZED, "invalid_client");
    assert!(
        reply
            .header("www-authenticate")
            .unwrap()
            .starts_with("Basic")
    );
    // An unknown client, a made-up secret, no credentials at all: the same answer.
    for body in [
        form(&[good[0], ("client_id", "irisoc_0123456789abcdef"), good[2]]),
        form(&[
            good[0],
            good[1],
            ("client_secret", "iriscs_0123456789abcdef_x"),
        ]),
        form(&[good[0], good[1], ("client_secret", "hunter2")]),
        form(&[good[0]]),
    ] {
        let reply = token_request(&app, None, &body).await;
        assert_oauth_error(&reply, StatusCode::UNAUTHORIZED, "invalid_client");
        assert!(!reply.text.contains(&client_id) || body.contains(&client_id));
    }
    // Basic and body credentials together.
    let reply = token_request(&app, Some((&client_id, &secret)), &form(&good)).await;
    assert_oauth_error(&reply, StatusCode::BAD_REQUEST, "invalid_request");
    // Grant types.
    let reply = token_request(&app, None, &form(&good[1..])).await;
    assert_oauth_error(&reply, StatusCode::BAD_REQUEST, "invalid_request");
    let reply = token_request(
        &app,
        None,
        &form(&[("grant_type", "password"), good[1], good[2]]),
    )
    .await;
    assert_oauth_error(&reply, StatusCode::BAD_REQUEST, "unsupported_grant_type");
    // Scopes other than `scim`.
    let reply = token_request(
        &app,
        None,
        &form(&[good[0], good[1], good[2], ("scope", "admin")]),
    )
    .await;
    assert_oauth_error(&reply, StatusCode::BAD_REQUEST, "invalid_scope");
    // A repeated parameter.
    let reply = token_request(
        &app,
        None,
        &format!("{}&grant_type=client_credentials", form(&good)),
    )
    .await;
    assert_oauth_error(&reply, StatusCode::BAD_REQUEST, "invalid_request");
    // JSON instead of a form; a GET.
    let reply = Reply::from(
        app.http
            .post(format!("{}/oauth/token", app.base_url))
            .header("content-type", "application/json")
            .body(r#"{"grant_type":"client_credentials"}"#)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_oauth_error(&reply, StatusCode::BAD_REQUEST, "invalid_request");
    let reply = Reply::from(
        app.http
            .get(format!("{}/oauth/token", app.base_url))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_oauth_error(&reply, StatusCode::METHOD_NOT_ALLOWED, "invalid_request");
    // The good request still works after all that.
    token_request(&app, None, &form(&good))
        .await
        .expect(StatusCode::OK);
    app
}

async fn secrets_rotate_and_a_revoked_secret_kills_its_access_tokens(app: TestApp) -> TestApp {
    let (client_id, first_id, first) = app.admin.create_oauth_client("entra").await;
    let (_, second) = app.admin.add_oauth_secret(&client_id).await;
    let old_token = obtain(&app, &client_id, &first).await;
    let new_token = obtain(&app, &client_id, &second).await;
    users_with(&app, &app.tenant_url, &old_token)
        .await
        .expect(StatusCode::OK);

    app.admin.revoke_oauth_secret(&client_id, &first_id).await;
    // The revoked secret obtains nothing, and what it obtained is refused at once.
    let body = form(&[
        ("grant_type", "client_credentials"),
        ("client_id", &client_id),
        ("client_secret", &first),
    ]);
    let reply = token_request(&app, None, &body).await;
    assert_oauth_error(&reply, StatusCode::UNAUTHORIZED, "invalid_client");
    users_with(&app, &app.tenant_url, &old_token)
        .await
        .expect_error(StatusCode::UNAUTHORIZED, None);
    // The other secret and its token go on.
    users_with(&app, &app.tenant_url, &new_token)
        .await
        .expect(StatusCode::OK);
    obtain(&app, &client_id, &second).await;
    let clients = app.admin.oauth_clients().await;
    assert_eq!(clients.len(), 1);
    assert_eq!(clients[0].secrets.len(), 2);
    assert!(clients[0].secrets.iter().any(|s| s.last_used.is_some()));
    app
}

async fn a_revoked_client_gets_no_tokens_and_its_tokens_die_at_once(app: TestApp) -> TestApp {
    let (client_id, _, secret) = app.admin.create_oauth_client("entra").await;
    let (other_id, _, other_secret) = app.admin.create_oauth_client("second").await;
    let token = obtain(&app, &client_id, &secret).await;
    let other = obtain(&app, &other_id, &other_secret).await;
    app.admin.revoke_oauth_client(&client_id).await;
    users_with(&app, &app.tenant_url, &token)
        .await
        .expect_error(StatusCode::UNAUTHORIZED, None);
    let body = form(&[("grant_type", "client_credentials")]);
    let reply = token_request(&app, Some((&client_id, &secret)), &body).await;
    assert_oauth_error(&reply, StatusCode::UNAUTHORIZED, "invalid_client");
    // Another client of the tenant is untouched, as is the tenant's own token.
    users_with(&app, &app.tenant_url, &other)
        .await
        .expect(StatusCode::OK);
    app.get("/Users").await.expect(StatusCode::OK);
    app
}

async fn an_expired_access_token_is_401_naming_its_expiry_and_is_purged_later(
    app: TestApp,
) -> TestApp {
    let (client_id, _, secret) = app.admin.create_oauth_client("entra").await;
    let expired = app
        .admin
        .grant_access_token(&client_id, &secret, time::Duration::seconds(-1))
        .await;
    let reply = users_with(&app, &app.tenant_url, &expired)
        .await
        .expect_error(StatusCode::UNAUTHORIZED, None);
    let detail = reply.body["detail"].as_str().unwrap();
    assert!(detail.contains("expired"), "{detail}");
    assert!(detail.contains("/oauth/token"), "{detail}");

    // Long expired tokens are deleted; recently expired and live ones are kept.
    let ancient = app
        .admin
        .grant_access_token(&client_id, &secret, time::Duration::days(-2))
        .await;
    let live = obtain(&app, &client_id, &secret).await;
    assert_eq!(app.admin.purge_access_tokens().await, 1);
    let reply = users_with(&app, &app.tenant_url, &ancient)
        .await
        .expect_error(StatusCode::UNAUTHORIZED, None);
    assert!(!reply.body["detail"].as_str().unwrap().contains("expired"));
    users_with(&app, &app.tenant_url, &expired)
        .await
        .expect_error(StatusCode::UNAUTHORIZED, None);
    users_with(&app, &app.tenant_url, &live)
        .await
        .expect(StatusCode::OK);
    app
}

async fn issued_and_refused_tokens_are_counted(app: TestApp) -> TestApp {
    let (client_id, _, secret) = app.admin.create_oauth_client("entra").await;
    obtain(&app, &client_id, &secret).await;
    let body = form(&[
        ("grant_type", "client_credentials"),
        ("client_id", &client_id),
        ("client_secret", "nope"),
    ]);
    token_request(&app, None, &body).await;
    let page = app.scrape().await;
    let value = |prefix: &str| -> f64 {
        page.lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    assert!(value("iris_oauth_tokens_issued_total") >= 1.0, "{page}");
    assert!(
        value("iris_oauth_token_refusals_total{error=\"invalid_client\"}") >= 1.0,
        "{page}"
    );
    // The secret never appears in the metrics.
    assert!(!page.contains(&secret));
    app
}

fn slow_token_endpoint(config: &mut iris::config::Config) {
    config.oauth_token_rate_per_second = 1;
    config.oauth_token_burst = 3;
}

async fn guessing_at_the_token_endpoint_is_rate_limited(app: TestApp) -> TestApp {
    let (client_id, _, secret) = app.admin.create_oauth_client("entra").await;
    let body = form(&[
        ("grant_type", "client_credentials"),
        ("client_id", &client_id),
        ("client_secret", "guess"),
    ]);
    let mut limited = None;
    for _ in 0..10 {
        let reply = token_request(&app, None, &body).await;
        if reply.status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(reply);
            break;
        }
        assert_oauth_error(&reply, StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let reply = limited.expect("guessing was never limited");
    assert_oauth_error(
        &reply,
        StatusCode::TOO_MANY_REQUESTS,
        "temporarily_unavailable",
    );
    let wait: u64 = reply.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&wait));
    // Even the right secret waits its turn, then gets its token.
    tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
    let body = form(&[
        ("grant_type", "client_credentials"),
        ("client_id", &client_id),
        ("client_secret", &secret),
    ]);
    token_request(&app, None, &body)
        .await
        .expect(StatusCode::OK);
    let _: Value = Value::Null;
    app
}

crate::on_both_backends!(
    a_client_obtains_a_token_in_the_body_or_by_basic_and_scim_accepts_it,
    bad_token_requests_get_rfc_6749_errors,
    secrets_rotate_and_a_revoked_secret_kills_its_access_tokens,
    a_revoked_client_gets_no_tokens_and_its_tokens_die_at_once,
    an_expired_access_token_is_401_naming_its_expiry_and_is_purged_later,
    issued_and_refused_tokens_are_counted,
);

mod limited {
    use super::*;
    crate::on_both_backends_with!(slow_token_endpoint => guessing_at_the_token_endpoint_is_rate_limited);
}
