//! Running the real `iris` binary as an operator does: admin commands and `iris serve` processes
//! against a database, with the child processes killed by drop guards so a failing test leaves
//! nothing running.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

pub const IRIS: &str = env!("CARGO_BIN_EXE_iris");

/// Settings that would leak in from the environment of whoever runs the suite.
pub const IRIS_ENV: [&str; 24] = [
    "IRIS_CONFIG",
    "IRIS_DATABASE_URL",
    "IRIS_PUBLIC_URL",
    "IRIS_LOG_FORMAT",
    "IRIS_LISTEN",
    "IRIS_MAX_BODY_BYTES",
    "IRIS_DB_MAX_CONNECTIONS",
    "IRIS_NO_BOOTSTRAP",
    "IRIS_METRICS_LISTEN",
    "IRIS_METRICS_TENANT_LABEL_CAP",
    "IRIS_NO_ADMIN_API",
    "IRIS_LOG",
    "IRIS_CYCLE_IDLE_SECONDS",
    "IRIS_CYCLE_INTERVAL_MINUTES",
    "IRIS_REQUEST_TIMEOUT_SECONDS",
    "IRIS_HEADER_READ_TIMEOUT_SECONDS",
    "IRIS_IDLE_TIMEOUT_SECONDS",
    "IRIS_SHUTDOWN_GRACE_SECONDS",
    "IRIS_TLS_CERT",
    "IRIS_TLS_KEY",
    "IRIS_TRUSTED_PROXY",
    "IRIS_OAUTH_TOKEN_LIFETIME_MINUTES",
    "IRIS_OAUTH_TOKEN_RATE_PER_SECOND",
    "IRIS_OAUTH_TOKEN_BURST",
];

pub fn command(database: &str, public_url: &str) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(IRIS);
    for var in IRIS_ENV {
        cmd.env_remove(var);
    }
    cmd.arg("--database")
        .arg(database)
        .arg("--public-url")
        .arg(public_url)
        .kill_on_drop(true);
    cmd
}

/// A finished admin command.
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    #[track_caller]
    pub fn ok(self) -> Self {
        assert!(
            self.status.success(),
            "iris failed ({}): {}{}",
            self.status,
            self.stdout,
            self.stderr
        );
        self
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }
}

/// One operator's view: a database and the public URL its Tenant URLs are built from.
pub struct Operator {
    pub database: String,
    pub public_url: String,
    pub port: u16,
}

impl Operator {
    pub fn new(database: &str) -> Self {
        let port = free_port();
        Self {
            database: database.to_owned(),
            public_url: format!("http://127.0.0.1:{port}"),
            port,
        }
    }

    pub async fn run(&self, args: &[&str]) -> Output {
        let child = command(&self.database, &self.public_url)
            .args(args)
            .stdin(Stdio::null())
            .output();
        let out = tokio::time::timeout(Duration::from_secs(60), child)
            .await
            .unwrap_or_else(|_| panic!("iris {args:?} did not finish"))
            .expect("run iris");
        Output {
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// [`Operator::run`] with `input` on standard input.
    pub async fn run_with_stdin(&self, args: &[&str], input: &str) -> Output {
        use tokio::io::AsyncWriteExt;
        let mut child = command(&self.database, &self.public_url)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn iris");
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(input.as_bytes())
            .await
            .expect("write stdin");
        drop(stdin);
        let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("iris {args:?} did not finish"))
            .expect("run iris");
        Output {
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// `iris tenant create NAME --json`, which must succeed: the tenant's URL, token and token id.
    /// Creates tenant `name` (and the database first, if it is new: admin commands work only on
    /// an existing database, `iris migrate` creates one).
    pub async fn create_tenant(&self, name: &str) -> Value {
        self.run(&["migrate"]).await.ok();
        self.run(&["tenant", "create", name, "--json"])
            .await
            .ok()
            .json()
    }

    /// Starts `iris serve` on this operator's port, logging into `dir`, and waits until ready.
    pub async fn serve(&self, dir: &Path, extra: &[&str]) -> Server {
        let stdout = dir.join("serve.stdout");
        let stderr = dir.join("serve.stderr");
        let listen = format!("127.0.0.1:{}", self.port);
        let child = command(&self.database, &self.public_url)
            .args(["serve", "--listen", &listen])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("spawn iris serve");
        let mut server = Server {
            child,
            url: self.public_url.clone(),
            stdout,
            stderr,
        };
        server.wait_ready().await;
        server
    }
}

/// A port that was free a moment ago (the server binds it itself).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// A running `iris serve`, killed when dropped.
pub struct Server {
    pub child: tokio::process::Child,
    pub url: String,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
}

impl Server {
    pub fn logs(&self) -> String {
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        format!(
            "stdout:\n{}\nstderr:\n{}",
            read(&self.stdout),
            read(&self.stderr)
        )
    }

    pub async fn wait_ready(&mut self) {
        let http = reqwest::Client::new();
        for _ in 0..400 {
            if let Some(status) = self.child.try_wait().expect("poll child") {
                panic!("iris serve exited early ({status}):\n{}", self.logs());
            }
            let probe = http.get(format!("{}/readyz", self.url)).send().await;
            if probe.is_ok_and(|r| r.status() == StatusCode::OK) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("iris serve did not become ready:\n{}", self.logs());
    }

    /// Sends SIGTERM and waits for the exit.
    pub async fn terminate(mut self) -> ExitStatus {
        let pid = self.child.id().expect("running");
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill");
        assert!(sent.success());
        match tokio::time::timeout(Duration::from_secs(20), self.child.wait()).await {
            Ok(status) => status.expect("wait"),
            Err(_) => panic!("iris serve ignored SIGTERM:\n{}", self.logs()),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// `GET {tenant_url}/Users` with `token`: the status.
pub async fn users_status(tenant_url: &str, token: &str) -> StatusCode {
    reqwest::Client::new()
        .get(format!("{tenant_url}/Users"))
        .bearer_auth(token)
        .send()
        .await
        .expect("request")
        .status()
}

pub fn str_field<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("no string '{key}' in {v}"))
}

/// The secret part of `iris_<id>_<secret>`.
pub fn secret_of(token: &str) -> &str {
    let rest = token.strip_prefix("iris_").expect("iris_ prefix");
    rest.split_once('_').expect("id_secret").1
}
