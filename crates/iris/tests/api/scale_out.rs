//! Scale-out: several `iris serve` processes on one database behave as one server. Two real
//! processes (the built binary) share a fresh database; the checks go over HTTP.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Backend, TestDatabase};

const IRIS: &str = env!("CARGO_BIN_EXE_iris");

/// An `iris serve` child process, killed when dropped.
struct ServeProcess {
    child: Child,
    url: String,
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn iris(database: &str, args: &[&str]) -> std::process::Output {
    Command::new(IRIS)
        .arg("--database")
        .arg(database)
        .args(args)
        .env("IRIS_LOG", "warn")
        .output()
        .expect("run iris")
}

async fn serve(database: &str) -> ServeProcess {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let child = Command::new(IRIS)
        .args([
            "--database",
            database,
            "--public-url",
            &url,
            "serve",
            "--no-bootstrap",
        ])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("IRIS_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn iris serve");
    let process = ServeProcess { child, url };
    let client = reqwest::Client::new();
    for _ in 0..200 {
        let ready = client.get(format!("{}/readyz", process.url)).send().await;
        if ready.is_ok_and(|r| r.status() == StatusCode::OK) {
            return process;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("iris serve on {} did not become ready", process.url);
}

struct Cluster {
    a: ServeProcess,
    b: ServeProcess,
    token: String,
    token_id: String,
    http: reqwest::Client,
}

impl Cluster {
    async fn start(database: &str) -> Self {
        // Admin commands work on an existing database; `iris migrate` creates one.
        let migrated = iris(database, &["migrate"]);
        assert!(
            migrated.status.success(),
            "{}",
            String::from_utf8_lossy(&migrated.stderr)
        );
        let created = iris(database, &["tenant", "create", "acme", "--json"]);
        assert!(
            created.status.success(),
            "{}",
            String::from_utf8_lossy(&created.stderr)
        );
        let out: Value = serde_json::from_slice(&created.stdout).unwrap();
        let (a, b) = tokio::join!(serve(database), serve(database));
        Self {
            a,
            b,
            token: out["token"].as_str().unwrap().to_owned(),
            token_id: out["token_id"].as_str().unwrap().to_owned(),
            http: reqwest::Client::new(),
        }
    }

    fn users_url(node: &ServeProcess) -> String {
        format!("{}/scim/v2/acme/Users", node.url)
    }

    fn groups_url(node: &ServeProcess) -> String {
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
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
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
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
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
    let revoked = iris(&database, &["token", "revoke", &cluster.token_id]);
    assert!(
        revoked.status.success(),
        "{}",
        String::from_utf8_lossy(&revoked.stderr)
    );
    for node in [&cluster.a, &cluster.b] {
        let (status, body) = cluster
            .send(cluster.http.get(Cluster::users_url(node)))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    }
}

/// Runs a scale-out scenario on a fresh database of `backend`.
async fn on<F, Fut>(backend: Backend, scenario: F)
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let Some(db) = TestDatabase::create(backend).await else {
        return;
    };
    let outcome = tokio::spawn(scenario(db.url.clone())).await;
    db.drop_database().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

macro_rules! scale_out_tests {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::on(crate::harness::Backend::Postgres, super::$name).await;
                }
            )*
        }
        /// Several processes may share one SQLite file too (on one machine).
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::on(crate::harness::Backend::Sqlite, super::$name).await;
                }
            )*
        }
    };
}

scale_out_tests!(
    racing_creates_of_one_user_name_give_one_201_and_one_409,
    concurrent_patches_of_one_user_through_two_processes_lose_no_update,
    concurrent_optimistic_patches_of_one_user_lose_no_update,
    concurrent_member_adds_to_one_group_through_two_processes_lose_no_member,
    a_token_revoked_by_the_cli_is_refused_by_every_process_at_once,
);
