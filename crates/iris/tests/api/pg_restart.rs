//! PostgreSQL restarted under load: `iris serve` runs on a private PostgreSQL cluster of the
//! test's own (initdb into a temporary directory, on a free port — never the machine's shared
//! cluster), with writers creating users all along. While the cluster is down, every request is
//! answered `503` with `Retry-After` and a SCIM error within the request deadline, and `/readyz`
//! says not ready (`/healthz`, liveness, stays `200` so an orchestrator does not kill a process
//! that will recover). Once the cluster is back, Iris recovers by itself, and every write it
//! acknowledged with `201` is there.
//!
//! Skipped with a visible message when the PostgreSQL server binaries are missing;
//! IRIS_REQUIRE_POSTGRES=1 makes that a failure.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::operator::{Operator, free_port, str_field};

/// The request deadline of the server under test: short, so the test is too.
const DEADLINE_SECONDS: u64 = 4;

/// A PostgreSQL cluster of this test alone, stopped (immediately) and removed when dropped.
struct PrivateCluster {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    /// `Some(user)` when running as root: PostgreSQL refuses to, so it runs as that user.
    run_as: Option<String>,
    _dir: tempfile::TempDir,
}

impl PrivateCluster {
    /// The newest installed server binaries, if any.
    fn binaries() -> Option<PathBuf> {
        let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|bin| bin.join("initdb").exists() && bin.join("pg_ctl").exists())
            .collect();
        found.sort_by_key(|p| {
            p.parent()
                .and_then(|v| v.file_name())
                .and_then(|v| v.to_str())
                .and_then(|v| v.parse::<u32>().ok())
                .unwrap_or(0)
        });
        found.pop()
    }

    fn create(bin: PathBuf) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        let probe = dir.path().join("probe");
        std::fs::write(&probe, b"").unwrap();
        let root = std::fs::metadata(&probe).unwrap().uid() == 0;
        let run_as = root.then(|| "postgres".to_owned());
        if root {
            // The directory must belong to the user the server runs as.
            let uid = id_of("-u");
            let gid = id_of("-g");
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
        }
        let port = free_port();
        let cluster = Self {
            bin,
            data,
            port,
            run_as,
            _dir: dir,
        };
        let data = cluster.data.display().to_string();
        cluster.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        cluster.start();
        cluster
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let exe = self.bin.join(tool);
        let mut cmd = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        let out = cmd.args(args).output().expect("run a PostgreSQL tool");
        assert!(
            out.status.success(),
            "{tool} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn start(&self) {
        let data = self.data.display().to_string();
        let log = self.data.with_file_name("server.log").display().to_string();
        let socket_dir = self.data.parent().unwrap().display().to_string();
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {socket_dir} -c max_connections=50",
            self.port
        );
        self.run(
            "pg_ctl",
            &[
                "-D", &data, "-l", &log, "-o", &options, "-w", "-t", "60", "start",
            ],
        );
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let data = self.data.display().to_string();
        let exe = self.bin.join("pg_ctl");
        let args = ["-D", data.as_str(), "-m", "immediate", "stop"];
        let _ = match &self.run_as {
            Some(user) => Command::new("runuser")
                .args(["-u", user, "--"])
                .arg(&exe)
                .args(args)
                .output(),
            None => Command::new(&exe).args(args).output(),
        };
    }
}

fn id_of(flag: &str) -> u32 {
    let out = Command::new("id")
        .args([flag, "postgres"])
        .output()
        .expect("id");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("the postgres user exists")
}

/// What the writers saw.
#[derive(Default)]
struct Seen {
    /// Ids (and names) of users acknowledged with 201.
    acknowledged: Vec<(String, String)>,
    /// 503s, each checked for Retry-After and a SCIM body.
    unavailable: usize,
    /// Anything else, with its body: must stay empty.
    unexpected: Vec<String>,
    /// The slowest answer.
    slowest: Duration,
}

async fn write_until(
    http: reqwest::Client,
    tenant_url: String,
    token: String,
    writer: usize,
    stop: Arc<AtomicBool>,
) -> Seen {
    let mut seen = Seen::default();
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let name = format!("w{writer}-{n}@example.com");
        let started = Instant::now();
        let reply = http
            .post(format!("{tenant_url}/Users"))
            .bearer_auth(&token)
            .header("content-type", "application/scim+json")
            .body(json!({"userName": name}).to_string())
            .timeout(Duration::from_secs(DEADLINE_SECONDS + 3))
            .send()
            .await;
        let elapsed = started.elapsed();
        seen.slowest = seen.slowest.max(elapsed);
        let reply = match reply {
            Ok(r) => r,
            Err(e) => {
                seen.unexpected
                    .push(format!("{name}: no answer after {elapsed:?}: {e}"));
                continue;
            }
        };
        let status = reply.status();
        let retry_after = reply.headers().get("retry-after").is_some();
        let body: serde_json::Value = reply.json().await.unwrap_or_default();
        match status {
            StatusCode::CREATED => {
                seen.acknowledged
                    .push((str_field(&body, "id").to_owned(), name));
            }
            StatusCode::SERVICE_UNAVAILABLE if retry_after && body["status"] == "503" => {
                seen.unavailable += 1;
                // Back off as a client told to retry would (not the full Retry-After: the test
                // wants to see the recovery promptly).
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => seen.unexpected.push(format!("{name}: {other} {body}")),
        }
    }
    seen
}

async fn status_of(http: &reqwest::Client, url: &str) -> Option<StatusCode> {
    http.get(url)
        .timeout(Duration::from_secs(DEADLINE_SECONDS + 3))
        .send()
        .await
        .ok()
        .map(|r| r.status())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iris_answers_503_while_postgres_is_down_and_recovers_without_losing_a_write() {
    let Some(bin) = PrivateCluster::binaries() else {
        let msg =
            "pg_restart: no PostgreSQL server binaries under /usr/lib/postgresql/*/bin; skipped";
        if std::env::var("IRIS_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
            panic!("{msg} (IRIS_REQUIRE_POSTGRES=1)");
        }
        eprintln!("{msg}");
        return;
    };
    let cluster = PrivateCluster::create(bin);
    let op = Operator::new(&cluster.url());
    let tenant = op.create_tenant("acme").await;
    let tenant_url = str_field(&tenant, "tenant_url").to_owned();
    let token = str_field(&tenant, "token").to_owned();
    let dir = tempfile::tempdir().unwrap();
    let deadline = DEADLINE_SECONDS.to_string();
    let server = op
        .serve(
            dir.path(),
            &[
                "--request-timeout-seconds",
                &deadline,
                "--rate-limit-tenant-per-second",
                "0",
            ],
        )
        .await;
    let http = reqwest::Client::new();

    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            tokio::spawn(write_until(
                http.clone(),
                tenant_url.clone(),
                token.clone(),
                w,
                stop.clone(),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(800)).await;

    // Down: answers are 503 (the writers check each), readiness says so, liveness does not.
    let stopped_at = Instant::now();
    tokio::task::spawn_blocking({
        let data = cluster.data.clone();
        let bin = cluster.bin.clone();
        let run_as = cluster.run_as.clone();
        move || stop_cluster(&bin, &data, run_as.as_deref())
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        status_of(&http, &format!("{}/readyz", op.public_url)).await,
        Some(StatusCode::SERVICE_UNAVAILABLE)
    );
    assert_eq!(
        status_of(&http, &format!("{}/healthz", op.public_url)).await,
        Some(StatusCode::OK)
    );
    let read = http
        .get(format!("{tenant_url}/Users?count=1"))
        .bearer_auth(&token)
        .timeout(Duration::from_secs(DEADLINE_SECONDS + 3))
        .send()
        .await
        .expect("an answer while the database is down");
    assert_eq!(read.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(read.headers().get("retry-after").is_some());
    tokio::time::sleep(Duration::from_secs(1)).await;
    let down_for = stopped_at.elapsed();

    // Up again: Iris recovers by itself.
    cluster.start();
    let recovered = Instant::now();
    loop {
        let ready = status_of(&http, &format!("{}/readyz", op.public_url)).await;
        if ready == Some(StatusCode::OK) {
            break;
        }
        assert!(
            recovered.elapsed() < Duration::from_secs(30),
            "Iris did not recover within 30 s of the database's return:\n{}",
            server.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Writes go through again.
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    let mut seen = Seen::default();
    for w in writers {
        let s = w.await.unwrap();
        seen.acknowledged.extend(s.acknowledged);
        seen.unavailable += s.unavailable;
        seen.unexpected.extend(s.unexpected);
        seen.slowest = seen.slowest.max(s.slowest);
    }
    assert!(
        seen.unexpected.is_empty(),
        "answers other than 201 and 503 (down for {down_for:?}):\n{}\n{}",
        seen.unexpected.join("\n"),
        server.logs()
    );
    eprintln!(
        "pg_restart: {} writes acknowledged, {} answered 503 during a {down_for:?} outage, slowest answer {:?}",
        seen.acknowledged.len(),
        seen.unavailable,
        seen.slowest
    );
    assert!(seen.unavailable > 0, "no write saw the outage");
    assert!(
        seen.slowest <= Duration::from_secs(DEADLINE_SECONDS + 1),
        "an answer took {:?}, past the {DEADLINE_SECONDS} s deadline",
        seen.slowest
    );
    // Every acknowledged write is there, after the restart.
    assert!(
        seen.acknowledged.len() > 10,
        "too few writes to mean anything"
    );
    let after = http
        .get(format!("{tenant_url}/Users?count=1"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), StatusCode::OK);
    let total = after.json::<serde_json::Value>().await.unwrap()["totalResults"]
        .as_u64()
        .unwrap();
    assert!(total >= seen.acknowledged.len() as u64);
    for (id, name) in &seen.acknowledged {
        let reply = http
            .get(format!("{tenant_url}/Users/{id}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(
            reply.status(),
            StatusCode::OK,
            "acknowledged user {name} is lost"
        );
    }
    let status = server.terminate().await;
    assert!(status.success(), "{status}");
    drop(cluster);
}

fn stop_cluster(bin: &Path, data: &Path, run_as: Option<&str>) {
    let exe = bin.join("pg_ctl");
    let data = data.display().to_string();
    let args = ["-D", data.as_str(), "-m", "fast", "-w", "stop"];
    let out = match run_as {
        Some(user) => Command::new("runuser")
            .args(["-u", user, "--"])
            .arg(&exe)
            .args(args)
            .output(),
        None => Command::new(&exe).args(args).output(),
    }
    .expect("pg_ctl stop");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
