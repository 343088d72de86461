//! Scale-out: several `iris serve` processes on one database behave as one server. Two real
//! processes (the built binary) share a fresh database, on PostgreSQL and on one SQLite file too
//! (on one machine); the checks go over HTTP.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::patch_body;
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
        let created = Operator::new(database).create_tenant("acme").await;
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

    /// The process that serves the `i`-th request of a scenario: the two take turns.
    fn node(&self, i: usize) -> &Server {
        if i.is_multiple_of(2) {
            &self.a
        } else {
            &self.b
        }
    }

    /// `path` under the tenant URL of `node`.
    fn url(node: &Server, path: &str) -> String {
        format!("{}/scim/v2/acme{path}", node.url)
    }

    /// A request with the tenant's token (and a JSON body): the status and the JSON answer.
    async fn send(&self, method: Method, url: String, body: Option<&Value>) -> (StatusCode, Value) {
        let mut req = self.http.request(method, url).bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(b);
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Creates a resource through `node` (at `/Users` or `/Groups`); returns its id.
    async fn create(&self, node: &Server, endpoint: &str, body: Value) -> String {
        let (status, created) = self
            .send(Method::POST, Self::url(node, endpoint), Some(&body))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        created["id"].as_str().unwrap().to_owned()
    }

    /// Sends every `(url, PatchOp operations)` at once; returns the statuses.
    async fn patch_at_once(&self, patches: Vec<(String, Value)>) -> Vec<StatusCode> {
        let mut tasks = Vec::new();
        for (url, ops) in patches {
            let req = self
                .http
                .patch(url)
                .bearer_auth(&self.token)
                .json(&patch_body(ops));
            tasks.push(tokio::spawn(
                async move { req.send().await.unwrap().status() },
            ));
        }
        let mut statuses = Vec::new();
        for t in tasks {
            statuses.push(t.await.unwrap());
        }
        statuses
    }
}

async fn racing_creates_of_one_user_name_give_one_201_and_one_409(database: String) {
    let cluster = Cluster::start(&database).await;
    for i in 0..20 {
        let body = json!({"userName": format!("race-{i}@example.com")});
        let twin = json!({"userName": format!("RACE-{i}@example.com")});
        let (x, y) = tokio::join!(
            cluster.send(
                Method::POST,
                Cluster::url(&cluster.a, "/Users"),
                Some(&body)
            ),
            cluster.send(
                Method::POST,
                Cluster::url(&cluster.b, "/Users"),
                Some(&twin)
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
            Method::GET,
            Cluster::url(&cluster.b, "/Users?count=0"),
            None,
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
    let id = cluster
        .create(&cluster.a, "/Users", json!({"userName": "shared"}))
        .await;
    let patches = (0..24)
        .map(|i| {
            let url = Cluster::url(cluster.node(i), &format!("/Users/{id}"));
            let ops = json!([{"op": "add", "path": attribute, "value": [{"value": format!("e{i}{suffix}")}]}]);
            (url, ops)
        })
        .collect();
    for status in cluster.patch_at_once(patches).await {
        assert_eq!(status, StatusCode::OK);
    }
    let (_, user) = cluster
        .send(
            Method::GET,
            Cluster::url(&cluster.b, &format!("/Users/{id}")),
            None,
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
        let body = json!({"userName": format!("m{i}@example.com")});
        members.push(cluster.create(cluster.node(i), "/Users", body).await);
    }
    let id = cluster
        .create(&cluster.b, "/Groups", json!({"displayName": "shared"}))
        .await;
    let patches = members
        .iter()
        .enumerate()
        .map(|(i, member)| {
            let url = Cluster::url(cluster.node(i), &format!("/Groups/{id}"));
            let ops = json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": member}]}]);
            (url, ops)
        })
        .collect();
    for status in cluster.patch_at_once(patches).await {
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
    let (_, group) = cluster
        .send(
            Method::GET,
            Cluster::url(&cluster.a, &format!("/Groups/{id}")),
            None,
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
            .send(Method::GET, Cluster::url(node, "/Users"), None)
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    Operator::new(&database)
        .run(&["token", "revoke", &cluster.token_id])
        .await
        .ok();
    for node in [&cluster.a, &cluster.b] {
        let (status, body) = cluster
            .send(Method::GET, Cluster::url(node, "/Users"), None)
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
