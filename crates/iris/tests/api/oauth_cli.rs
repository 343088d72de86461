//! `iris oauth client …` as an operator runs it, against a separate `iris serve`: the printed
//! client id and secret obtain tokens at the printed Token Endpoint, rotation and revocation take
//! effect at once, and no secret or access token is ever listed or logged.

use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::{Backend, run_on_database};
use crate::operator::{Operator, str_field, users_status};

async fn obtain(endpoint: &str, client_id: &str, secret: &str) -> (StatusCode, Value) {
    let body = serde_urlencoded::to_string([
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
        ("client_secret", secret),
    ])
    .unwrap();
    let reply = reqwest::Client::new()
        .post(endpoint)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = reply.status();
    (status, reply.json().await.unwrap())
}

async fn oauth_clients_from_the_cli(database: String) {
    let dir = tempfile::tempdir().unwrap();
    let op = Operator::new(&database);
    let tenant = op.create_tenant("acme").await;
    let tenant_url = str_field(&tenant, "tenant_url").to_owned();
    let server = op
        .serve(dir.path(), &["--oauth-token-lifetime-minutes", "90"])
        .await;

    let created = op
        .run(&[
            "oauth", "client", "create", "acme", "--label", "entra", "--json",
        ])
        .await
        .ok()
        .json();
    let client_id = str_field(&created, "client_id").to_owned();
    let first = str_field(&created, "client_secret").to_owned();
    let first_id = str_field(&created, "secret_id").to_owned();
    let endpoint = str_field(&created, "token_endpoint").to_owned();
    assert_eq!(endpoint, format!("{}/oauth/token", op.public_url));

    let (status, granted) = obtain(&endpoint, &client_id, &first).await;
    assert_eq!(status, StatusCode::OK, "{granted}");
    assert_eq!(granted["expires_in"], 90 * 60);
    let first_token = str_field(&granted, "access_token").to_owned();
    assert_eq!(
        users_status(&tenant_url, &first_token).await,
        StatusCode::OK
    );

    // Rotation: a second secret, then the first revoked with what it obtained.
    let added = op
        .run(&["oauth", "client", "secret", "add", &client_id, "--json"])
        .await
        .ok()
        .json();
    let second = str_field(&added, "client_secret").to_owned();
    let (status, granted) = obtain(&endpoint, &client_id, &second).await;
    assert_eq!(status, StatusCode::OK);
    let second_token = str_field(&granted, "access_token").to_owned();
    op.run(&["oauth", "client", "secret", "revoke", &client_id, &first_id])
        .await
        .ok();
    assert_eq!(
        obtain(&endpoint, &client_id, &first).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        users_status(&tenant_url, &first_token).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        users_status(&tenant_url, &second_token).await,
        StatusCode::OK
    );

    // Listing shows ids, never secrets.
    let listed = op
        .run(&["oauth", "client", "list", "acme"])
        .await
        .ok()
        .stdout;
    assert!(
        listed.contains(&client_id) && listed.contains(&first_id),
        "{listed}"
    );
    assert!(listed.contains("entra"), "{listed}");
    let listed_json = op
        .run(&["oauth", "client", "list", "acme", "--json"])
        .await
        .ok();
    assert_eq!(
        listed_json.json()[0]["secrets"].as_array().unwrap().len(),
        2
    );
    // Unknown ids fail with a clear message.
    let refused = op
        .run(&["oauth", "client", "revoke", "irisoc_0123456789abcdef"])
        .await;
    assert!(!refused.status.success());
    assert!(
        refused.stderr.contains("no live OAuth client"),
        "{}",
        refused.stderr
    );

    // Revoking the client ends everything at once.
    op.run(&["oauth", "client", "revoke", &client_id])
        .await
        .ok();
    assert_eq!(
        users_status(&tenant_url, &second_token).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        obtain(&endpoint, &client_id, &second).await.0,
        StatusCode::UNAUTHORIZED
    );

    let logs = server.logs();
    for secret in [&first, &second, &first_token, &second_token] {
        let raw = secret.rsplit('_').next().unwrap();
        assert!(!logs.contains(raw), "a secret was logged:\n{logs}");
        assert!(!listed.contains(raw) && !listed_json.stdout.contains(raw));
    }
    let status = server.terminate().await;
    assert!(status.success(), "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_clients_from_the_cli_on_sqlite() {
    run_on_database(Backend::Sqlite, oauth_clients_from_the_cli).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_clients_from_the_cli_on_postgres() {
    run_on_database(Backend::Postgres, oauth_clients_from_the_cli).await;
}
