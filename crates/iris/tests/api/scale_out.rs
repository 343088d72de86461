//! Scale-out: several `iris serve` processes on one database behave as one server. Two real
//! processes (the built binary) share a fresh database, on PostgreSQL and on one SQLite file too
//! (on one machine); the checks go over HTTP.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::PATCH_OP;
use crate::operator::{Operator, Server, str_field};

/// Two `iris serve` processes on one database, and the token of their tenant.
struct Cluster {
    a: Server,
    b: Server,
    token: String,
    token_id: String,
    http: reqwest::Client,
    /// Where the two processes write their output.
    _logs: [tempfile::TempDir; 2],
}

impl Cluster {
    async fn start(database: &str) -> Self {
        let created = Operator::new(database)
            .run(&["tenant", "create", "acme", "--json"])
            .await
            .ok()
            .json();
        let logs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
        let (a, b) = (Operator::new(database), Operator::new(database));
        let (a, b) = tokio::join!(
            a.serve(logs[0].path(), &["--no-bootstrap"]),
            b.serve(logs[1].path(), &["--no-bootstrap"])
        );
        Self {
            a,
            b,
            token: str_field(&created, "token").to_owned(),
            token_id: str_field(&created, "token_id").to_owned(),
            http: reqwest::Client::new(),
            _logs: logs,
        }
    }

    fn users_url(node: &Server) -> String {
        format!("{}/scim/v2/acme/Users", node.url)
    }

    fn groups_url(node: &Server) -> String {
        format!("{}/scim/v2/acme/Groups", node.url)
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let r = req.bearer_auth(&self.token).send().await.unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

async fn racing_creates_of_one_user_name_give_one_201_and_one_409(database: String) {
    let cluster = Cluster::start(&database).await;
    for i in 0..20 {
        let body = json!({"userName": format!("race-{i}@example.com")});
        let twin = json!({"userName": format!("RACE-{i}@example.com")});
        let (x, y) = tokio::join!(
            cluster.send(
                cluster
                    .http
                    .post(Cluster::users_url(&cluster.a))
                    .json(&body)
            ),
            cluster.send(
                cluster
                    .http
                    .post(Cluster::users_url(&cluster.b))
                    .json(&twin)
            ),
        );
        let mut statuses = [x.0, y.0];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::CREATED, StatusCode::CONFLICT],
            "round {i}: {x:?} {y:?}"
        );
        let loser = if x.0 == StatusCode::CONFLICT {
            &x.1
        } else {
            &y.1
        };
        assert_eq!(loser["scimType"], "uniqueness");
    }
    let (status, list) = cluster
        .send(
            cluster
                .http
                .get(format!("{}?count=0", Cluster::users_url(&cluster.b))),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["totalResults"], 20);
}

async fn concurrent_patches_of_one_user_through_two_processes_lose_no_update(database: String) {
    // E-mails are indexed: these PATCHes take the row-locked path.
    concurrent_adds_to_one_user_land(&database, "emails", "@example.com").await;
}

async fn concurrent_optimistic_patches_of_one_user_lose_no_update(database: String) {
    // `ims` is not indexed: these PATCHes take the optimistic path (conditional UPDATE, retried
    // on a lost race, the row lock after a few losses), under heavy contention.
    concurrent_adds_to_one_user_land(&database, "ims", "@im.example").await;
}

/// 24 PATCHes through two processes at once, each adding its own element to `attribute` of one
/// user: every element lands, and the version counts every write.
async fn concurrent_adds_to_one_user_land(database: &str, attribute: &str, suffix: &str) {
    let cluster = Cluster::start(database).await;
    let (status, user) = cluster
        .send(
            cluster
                .http
                .post(Cluster::users_url(&cluster.a))
                .json(&json!({"userName": "shared"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = user["id"].as_str().unwrap().to_owned();
    let mut tasks = Vec::new();
    for i in 0..24 {
        let node = if i % 2 == 0 { &cluster.a } else { &cluster.b };
        let url = format!("{}/{id}", Cluster::users_url(node));
        let body = json!({"schemas": [PATCH_OP],
            "Operations": [{"op": "add", "path": attribute, "value": [{"value": format!("e{i}{suffix}")}]}]});
        let req = cluster
            .http
            .patch(url)
            .bearer_auth(&cluster.token)
            .json(&body);
        tasks.push(tokio::spawn(
            async move { req.send().await.unwrap().status() },
        ));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::OK);
    }
    let (_, user) = cluster
        .send(
            cluster
                .http
                .get(format!("{}/{id}", Cluster::users_url(&cluster.b))),
        )
        .await;
    let mut values: Vec<&str> = user[attribute]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["value"].as_str().unwrap())
        .collect();
    values.sort_unstable();
    let mut expected: Vec<String> = (0..24).map(|i| format!("e{i}{suffix}")).collect();
    expected.sort_unstable();
    assert_eq!(
        values, expected,
        "every concurrent PATCH of {attribute} landed"
    );
    assert_eq!(user["meta"]["version"], "W/\"25\"");
}

async fn concurrent_member_adds_to_one_group_through_two_processes_lose_no_member(
    database: String,
) {
    let cluster = Cluster::start(&database).await;
    let mut members = Vec::new();
    for i in 0..24 {
        let node = if i % 2 == 0 { &cluster.a } else { &cluster.b };
        let (status, user) = cluster
            .send(
                cluster
                    .http
                    .post(Cluster::users_url(node))
                    .json(&json!({"userName": format!("m{i}@example.com")})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{user}");
        members.push(user["id"].as_str().unwrap().to_owned());
    }
    let (status, group) = cluster
        .send(
            cluster
                .http
                .post(Cluster::groups_url(&cluster.b))
                .json(&json!({"displayName": "shared"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    let id = group["id"].as_str().unwrap().to_owned();
    let mut tasks = Vec::new();
    for (i, member) in members.iter().enumerate() {
        let node = if i % 2 == 0 { &cluster.a } else { &cluster.b };
        let url = format!("{}/{id}", Cluster::groups_url(node));
        let body = json!({"schemas": [PATCH_OP],
            "Operations": [{"op": "Add", "path": "members", "value": [{"$ref": null, "value": member}]}]});
        let req = cluster
            .http
            .patch(url)
            .bearer_auth(&cluster.token)
            .json(&body);
        tasks.push(tokio::spawn(
            async move { req.send().await.unwrap().status() },
        ));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::NO_CONTENT);
    }
    let (_, group) = cluster
        .send(
            cluster
                .http
                .get(format!("{}/{id}", Cluster::groups_url(&cluster.a))),
        )
        .await;
    let mut got: Vec<&str> = group["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    got.sort_unstable();
    let mut expected: Vec<&str> = members.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(got, expected, "every concurrent PATCH landed");
    assert_eq!(group["meta"]["version"], "W/\"25\"");
}

async fn a_token_revoked_by_the_cli_is_refused_by_every_process_at_once(database: String) {
    let cluster = Cluster::start(&database).await;
    for node in [&cluster.a, &cluster.b] {
        let (status, _) = cluster
            .send(cluster.http.get(Cluster::users_url(node)))
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    Operator::new(&database)
        .run(&["token", "revoke", &cluster.token_id])
        .await
        .ok();
    for node in [&cluster.a, &cluster.b] {
        let (status, body) = cluster
            .send(cluster.http.get(Cluster::users_url(node)))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    }
}

crate::on_both_databases!(
    racing_creates_of_one_user_name_give_one_201_and_one_409,
    concurrent_patches_of_one_user_through_two_processes_lose_no_update,
    concurrent_optimistic_patches_of_one_user_lose_no_update,
    concurrent_member_adds_to_one_group_through_two_processes_lose_no_member,
    a_token_revoked_by_the_cli_is_refused_by_every_process_at_once,
);
