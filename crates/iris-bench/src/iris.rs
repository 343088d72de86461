//! The Iris side: the release binary, `iris import` seeding, and one `iris serve` child process.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tokio::process::{Child, Command};

use crate::client::{self, Req};
use crate::procstat;

/// Finds (building it first, unless given) the release binary of Iris.
pub fn binary(explicit: Option<&Path>, build: bool) -> Result<PathBuf> {
    if let Some(path) = explicit {
        return Ok(path.to_owned());
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(Path::parent)
        .context("workspace root")?
        .to_owned();
    if build {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        eprintln!("building the Iris release binary (cargo build --release -p iris)…");
        let status = std::process::Command::new(cargo)
            .args(["build", "--release", "-p", "iris"])
            .current_dir(&workspace)
            .status()
            .context("running cargo build")?;
        if !status.success() {
            bail!("cargo build --release -p iris failed");
        }
    }
    // Next to this binary when run by `cargo run --release`; else the workspace's target dir.
    let sibling = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("iris")));
    let candidates = [
        sibling,
        std::env::var_os("CARGO_TARGET_DIR").map(|d| PathBuf::from(d).join("release/iris")),
        Some(workspace.join("target/release/iris")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|p| p.is_file())
        .context("no target/release/iris: run `cargo build --release -p iris`")
}

/// `iris --database URL migrate`, then `iris --database URL import FILE` (admin commands never
/// create a database). On PostgreSQL the import session runs with `synchronous_commit=off`
/// (seeding is setup, not measured; `iris import` commits once per user, which on this machine's
/// disk would take minutes for 100k users).
pub async fn import(bin: &Path, database: &str, file: &Path) -> Result<()> {
    let migrated = Command::new(bin)
        .arg("--database")
        .arg(database)
        .arg("migrate")
        .env("IRIS_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .await
        .context("running iris migrate")?;
    if !migrated.status.success() {
        bail!(
            "iris migrate failed: {}",
            String::from_utf8_lossy(&migrated.stderr)
        );
    }
    let mut command = Command::new(bin);
    if database.starts_with("postgres") {
        command.env("PGOPTIONS", "-c synchronous_commit=off");
    }
    let output = command
        .arg("--database")
        .arg(database)
        .arg("import")
        .arg(file)
        .env("IRIS_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .await
        .context("running iris import")?;
    if !output.status.success() {
        bail!(
            "iris import {} failed: {}{}",
            file.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// A running `iris serve`.
pub struct IrisServer {
    child: Child,
    pub pid: u32,
    pub addr: SocketAddr,
    pub log: PathBuf,
}

fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

impl IrisServer {
    /// `iris serve` on `database` with the extra flags `args`, once it answers `/healthz`.
    pub async fn start(bin: &Path, database: &str, log: PathBuf, args: &[&str]) -> Result<Self> {
        let port = free_port()?;
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
        let log_file = std::fs::File::create(&log)?;
        let child = Command::new(bin)
            .arg("--database")
            .arg(database)
            .arg("serve")
            .arg("--listen")
            .arg(addr.to_string())
            .arg("--no-bootstrap")
            .args(args)
            .env_remove("PGOPTIONS")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
            .context("starting iris serve")?;
        let pid = child.id().context("iris exited at once")?;
        let mut server = Self {
            child,
            pid,
            addr,
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = server.child.try_wait()? {
                bail!(
                    "iris serve exited with {status}; log:\n{}",
                    server.log_tail()
                );
            }
            let probe = Req::get(
                "/healthz".into(),
                &hyper::header::HeaderValue::from_static("Bearer none"),
            );
            if client::once(addr, &probe).await.is_ok() {
                return Ok(server);
            }
            if Instant::now() > deadline {
                bail!("iris serve did not answer /healthz within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Fails if the server has exited (a crash during a workload).
    pub fn check_alive(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("iris serve died ({status}); log:\n{}", self.log_tail());
        }
        Ok(())
    }

    pub fn peak_rss_kib(&self) -> Result<u64> {
        procstat::peak_rss_kib(self.pid)
    }

    pub fn rss_kib(&self) -> Option<u64> {
        procstat::rss_kib(self.pid)
    }

    /// Stops this server and starts another on `database` with the extra flags `args`.
    pub async fn restart(
        &mut self,
        bin: &Path,
        database: &str,
        log: PathBuf,
        args: &[&str],
    ) -> Result<()> {
        self.terminate().await?;
        *self = Self::start(bin, database, log, args).await?;
        Ok(())
    }

    /// SIGTERM and wait (graceful shutdown), SIGKILL after 10 s.
    pub async fn stop(mut self) -> Result<()> {
        self.terminate().await
    }

    async fn terminate(&mut self) -> Result<()> {
        let _ = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .status();
        match tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await {
            Ok(status) => {
                status?;
            }
            Err(_) => {
                self.child.start_kill()?;
                self.child.wait().await?;
            }
        }
        Ok(())
    }
}
