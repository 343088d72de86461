//! `iris-bench`: Entra-shaped workloads against `iris serve` and against a bare limit server doing
//! the same database work, in one run, with the ratio of the two (issue 7).
//!
//! ```sh
//! cargo run --release -p iris-bench -- [--quick] [--markdown] [--backend sqlite|postgres|both]
//! ```
//!
//! Exits non-zero only on errors (unexpected statuses, transport failures, a crashed server),
//! never on a missed performance target.

mod client;
mod data;
mod iris;
mod limit;
mod load;
mod procstat;
mod report;
mod workloads;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Parser, ValueEnum};
use hyper::{Method, StatusCode};
use tokio::task::JoinSet;

use crate::client::Req;
use crate::data::{Tenant, TenantRef};
use crate::iris::IrisServer;
use crate::limit::{Engine, LimitSeed, LimitServer};
use crate::load::{Mode, Probe, RunStats, Workload};
use crate::procstat::CpuSource;
use crate::report::{Detail, Report, Row, Target};
use crate::workloads::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BackendArg {
    Sqlite,
    Postgres,
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "iris-bench",
    about = "Entra-shaped benchmark of Iris against a bare limit server doing the same database work"
)]
struct Args {
    /// Smoke mode for CI: small data, short runs, every workload path.
    #[arg(long)]
    quick: bool,
    /// Write the results into BENCHMARKS.md at the workspace root (or --output).
    #[arg(long)]
    markdown: bool,
    #[arg(long, value_enum, default_value = "sqlite")]
    backend: BackendArg,
    /// Users of the big tenant (default 100,000; --quick 2,000).
    #[arg(long)]
    users: Option<usize>,
    /// Measurement window of each closed-loop run, in seconds.
    #[arg(long)]
    window: Option<f64>,
    /// Only these workloads (comma-separated ids, e.g. W1,W6).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// The Iris binary (default: build and use target/release/iris).
    #[arg(long)]
    iris_bin: Option<PathBuf>,
    /// Do not run `cargo build --release -p iris` first.
    #[arg(long)]
    no_build: bool,
    /// PostgreSQL server to create the benchmark databases in.
    #[arg(
        long,
        env = "IRIS_BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    postgres_url: String,
    /// Where --markdown writes.
    #[arg(long)]
    output: Option<PathBuf>,
}

/// Sizes and durations of one run.
#[derive(Debug, Clone)]
struct Params {
    users: usize,
    /// Members per W4 PATCH (and users seeded beyond `users` to add).
    batch: usize,
    /// Members of the small group of W4/W5.
    small_group: usize,
    w4_reps: u64,
    j_tenants: usize,
    w7_tenants: usize,
    w7_users: usize,
    w7_rate: f64,
    w7_secs: f64,
    /// W10: the quiet tenant's rate, and the noisy tenant's concurrent maximal PATCHes.
    w10_rate: f64,
    w10_noise: usize,
    warmup: f64,
    window: f64,
    open_secs: f64,
    page_secs: f64,
    concurrencies: Vec<usize>,
}

impl Params {
    fn new(args: &Args) -> Self {
        let mut p = if args.quick {
            Params {
                users: 2_000,
                batch: 100,
                small_group: 100,
                w4_reps: 3,
                j_tenants: 4,
                w7_tenants: 10,
                w7_users: 40,
                w7_rate: 25.0,
                w7_secs: 1.0,
                w10_rate: 50.0,
                w10_noise: 2,
                warmup: 0.1,
                window: 0.3,
                open_secs: 0.5,
                page_secs: 0.2,
                concurrencies: vec![16],
            }
        } else {
            Params {
                users: 100_000,
                batch: 1_000,
                small_group: 1_000,
                w4_reps: 10,
                j_tenants: 16,
                w7_tenants: 100,
                w7_users: 100,
                w7_rate: 25.0,
                w7_secs: 10.0,
                w10_rate: 50.0,
                w10_noise: 4,
                warmup: 0.5,
                window: 3.0,
                open_secs: 5.0,
                page_secs: 2.0,
                concurrencies: vec![1, 16, 64],
            }
        };
        if let Some(u) = args.users {
            p.users = u.max(200);
            p.batch = p.batch.min(p.users / 2);
            p.small_group = p.small_group.min(p.users);
        }
        if let Some(w) = args.window {
            p.window = w.max(0.1);
        }
        p
    }
}

/// Which server a workload is built for (group ids differ between the two).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Iris,
    Limit,
}

#[derive(Debug, Clone, Default)]
struct GroupIds {
    big: String,
    small: String,
    single: String,
}

struct Bench<'a> {
    bin: &'a Path,
    log_dir: &'a Path,
    backend: Backend,
    params: &'a Params,
    report: &'a mut Report,
    iris: IrisServer,
    limit: LimitServer,
    iris_probe: Probe,
    limit_probe: Probe,
    only: &'a [String],
    /// Iris's database URL (PostgreSQL: to refresh statistics after seeding through the API).
    iris_db: &'a str,
}

fn mode_text(mode: Mode) -> String {
    match mode {
        Mode::Closed { concurrency } => format!("c{concurrency}"),
        Mode::Open { connections, rate } => format!("{rate:.0}/s over {connections} conns"),
    }
}

impl Bench<'_> {
    fn wants(&self, id: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| o.eq_ignore_ascii_case(id))
    }

    fn secs(v: f64) -> Duration {
        Duration::from_secs_f64(v)
    }

    /// One run on one side; records the detail row and errors.
    #[allow(clippy::too_many_arguments)]
    async fn run_side<W: Workload>(
        &mut self,
        side: Side,
        id: &str,
        label: &str,
        workload: Arc<W>,
        mode: Mode,
        warmup: f64,
        window: f64,
    ) -> Result<RunStats> {
        let (addr, probe, server) = match side {
            Side::Iris => (self.iris.addr, &self.iris_probe, "iris"),
            Side::Limit => (self.limit.addr, &self.limit_probe, "limit"),
        };
        let stats = load::run(
            addr,
            workload,
            mode,
            Self::secs(warmup),
            Self::secs(window),
            probe,
        )
        .await
        .with_context(|| format!("{id} {label} on {server}"))?;
        let backend = self.backend.name();
        self.report.details.push(Detail::new(
            backend,
            id,
            label,
            server,
            mode_text(mode),
            &stats,
        ));
        self.report
            .record_errors(server, &format!("{backend} {id} {label}"), &stats);
        eprintln!(
            "  {backend} {id} {label} [{server}, {}]: {} ops/s, p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms, errors {}, unsent {}",
            mode_text(mode),
            report::rate(stats.ops_per_sec()),
            stats.ms(0.5),
            stats.ms(0.99),
            stats.max_ms(),
            stats.errors,
            stats.unsent
        );
        if stats.unsent > 0 {
            self.report.notes.push(format!(
                "{backend} {id} {label} on {server}: overloaded at this rate; {} operations were still due when the backlog drain stopped (recorded at the latency they had reached)",
                stats.unsent
            ));
        }
        if side == Side::Iris {
            self.iris.check_alive()?;
        }
        Ok(stats)
    }

    /// The same workload on Iris, then on the limit server.
    #[allow(clippy::too_many_arguments)]
    async fn pair<W: Workload>(
        &mut self,
        id: &str,
        label: &str,
        make: impl Fn(Side) -> Result<Arc<W>>,
        mode: Mode,
        warmup: f64,
        window: f64,
    ) -> Result<(RunStats, Arc<W>, RunStats, Arc<W>)> {
        let wi = make(Side::Iris)?;
        let si = self
            .run_side(Side::Iris, id, label, wi.clone(), mode, warmup, window)
            .await?;
        let wl = make(Side::Limit)?;
        let sl = self
            .run_side(Side::Limit, id, label, wl.clone(), mode, warmup, window)
            .await?;
        Ok((si, wi, sl, wl))
    }

    fn row(&mut self, row: Row) {
        self.report.rows.push(row);
    }
}

/// Rounds to two significant digits.
fn round2(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 0.0;
    }
    let scale = 10f64.powf(v.log10().floor() - 1.0);
    (v / scale).round() * scale
}

fn nonce() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(7, |d| d.as_nanos() as u64)
}

struct Tenants {
    big: Tenant,
    /// 1,000 users: the reference size W1s compares the big tenant's lookups with.
    thousand: Tenant,
    w8: Tenant,
    w2: Vec<Tenant>,
    small: Vec<Tenant>,
}

fn tenants(p: &Params) -> Result<Tenants> {
    let big = Arc::new(TenantRef::new("big", 1, p.users + p.batch)?);
    let w8 = Arc::new(TenantRef::new("w8", 2, 0)?);
    let thousand = Arc::new(TenantRef::new("k1", 3, 1_000)?);
    let w2 = (0..p.j_tenants)
        .map(|j| TenantRef::new(&format!("w2-{j:02}"), 100 + j as u32, 0).map(Arc::new))
        .collect::<Result<Vec<_>>>()?;
    let small = (0..p.w7_tenants.max(p.j_tenants))
        .map(|k| TenantRef::new(&format!("t{k:03}"), 1000 + k as u32, p.w7_users).map(Arc::new))
        .collect::<Result<Vec<_>>>()?;
    Ok(Tenants {
        big,
        thousand,
        w8,
        w2,
        small,
    })
}

/// Group ids of the limit database (Iris assigns its own).
fn limit_group_ids() -> GroupIds {
    GroupIds {
        big: "0190b000-0000-7000-8000-000000000001".into(),
        small: "0190b000-0000-7000-8000-000000000002".into(),
        single: "0190b000-0000-7000-8000-000000000003".into(),
    }
}

/// Seeds Iris through `iris import`. SQLite: into a copy on tmpfs, then moved to the on-disk
/// path `iris serve` uses (durability applies from there on); PostgreSQL: directly, with the
/// import sessions' commits asynchronous.
async fn seed_iris(
    bin: &Path,
    database: &str,
    t: &Tenants,
    report: &mut Report,
    backend: Backend,
) -> Result<()> {
    let scratch = tempfile::Builder::new()
        .prefix("iris-bench-seed-")
        .tempdir_in("/dev/shm")
        .or_else(|_| {
            tempfile::Builder::new()
                .prefix("iris-bench-seed-")
                .tempdir()
        })?;
    let target_file = database.strip_prefix("sqlite://").map(PathBuf::from);
    let import_db = match &target_file {
        Some(_) => format!("sqlite://{}", scratch.path().join("seed.db").display()),
        None => database.to_owned(),
    };
    // The small tenants first, then (PostgreSQL) ANALYZE, then the big tenant: imported into a
    // never-analysed PostgreSQL table, the foreign-key checks of `user_values` can get a generic
    // plan that scans the tenant's whole `users_display_name` index per row, which makes a
    // 100k-user import quadratic (see BENCHMARKS.md).
    let mut others: Vec<Tenant> = vec![t.w8.clone(), t.thousand.clone()];
    others.extend(t.w2.iter().cloned());
    others.extend(t.small.iter().cloned());
    let started = Instant::now();
    let mut set = JoinSet::new();
    let mut total_users = 0;
    for (n, tenant) in others.iter().enumerate() {
        let file = scratch.path().join(format!("{}.jsonl", tenant.name));
        data::write_import_file(&file, tenant)?;
        total_users += tenant.users;
        let bin = bin.to_owned();
        let import_db = import_db.clone();
        set.spawn(async move { iris::import(&bin, &import_db, &file).await });
        if n == 0 || n % 4 == 3 {
            // The first import creates the schema alone.
            while let Some(r) = set.join_next().await {
                r??;
            }
        }
    }
    while let Some(r) = set.join_next().await {
        r??;
    }
    if backend == Backend::Postgres {
        limit::analyze_pg(&import_db).await?;
    }
    let rest_secs = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let big_file = scratch.path().join("big.jsonl");
    data::write_import_file(&big_file, &t.big)?;
    let generated = started.elapsed().as_secs_f64();
    let started = Instant::now();
    iris::import(bin, &import_db, &big_file).await?;
    let big_secs = started.elapsed().as_secs_f64();
    if backend == Backend::Postgres {
        // As the limit database gets after its seeding: planner statistics for what was loaded.
        limit::analyze_pg(&import_db).await?;
    }
    let _ = std::fs::remove_file(&big_file);
    if let Some(target) = &target_file {
        for suffix in ["", "-wal"] {
            let from = scratch.path().join(format!("seed.db{suffix}"));
            if from.exists() {
                let to = PathBuf::from(format!("{}{suffix}", target.display()));
                std::fs::copy(&from, &to)
                    .with_context(|| format!("copying the seeded database to {}", to.display()))?;
                std::fs::File::open(&to)?.sync_all()?;
            }
        }
    }
    let how = match backend {
        Backend::Sqlite => "on tmpfs, then copied to disk",
        Backend::Postgres => {
            "with synchronous_commit=off for the import sessions; small tenants, ANALYZE, the big tenant, ANALYZE"
        }
    };
    let note = format!(
        "{}: seeded by `iris import` ({how}): the big tenant, {} users (file generated in {generated:.1} s), in {big_secs:.1} s ({:.0} users/s); {} more tenants ({} users) in {rest_secs:.1} s",
        backend.name(),
        t.big.users,
        t.big.users as f64 / big_secs.max(0.001),
        others.len(),
        total_users
    );
    eprintln!("  {note}");
    report.notes.push(note);
    Ok(())
}

async fn groups_available(iris: &IrisServer, big: &Tenant) -> bool {
    let probe = Req::get(
        format!(
            "{}/Groups?excludedAttributes=members&{}",
            big.base(),
            data::filter_query("displayName", "iris-bench-probe")
        ),
        &big.auth,
    );
    client::once(iris.addr, &probe).await.is_ok()
}

/// Creates a group in Iris; returns its id.
async fn create_group(iris: &IrisServer, tenant: &Tenant, name: &str) -> Result<String> {
    let req = Req::with_body(
        Method::POST,
        format!("{}/Groups", tenant.base()),
        &tenant.auth,
        data::group_create(name, name.len() as u64),
        StatusCode::CREATED,
    );
    let resp = client::once(iris.addr, &req).await?;
    let v: serde_json::Value =
        serde_json::from_slice(&resp.body).context("group create response")?;
    v.get("id")
        .and_then(|i| i.as_str())
        .map(str::to_owned)
        .context("no id in the created group")
}

/// Adds users `range` to an Iris group, `batch` per PATCH; returns the PATCH latencies.
async fn fill_group(
    iris: &IrisServer,
    tenant: &Tenant,
    group: &str,
    range: std::ops::Range<u64>,
    batch: usize,
) -> Result<Vec<f64>> {
    let mut conn = client::Conn::connect(iris.addr).await?;
    let ids: Vec<String> = range.map(|i| data::user_id(tenant.index, i)).collect();
    let mut latencies = Vec::new();
    for chunk in ids.chunks(batch.max(1)) {
        let req = Req::with_body(
            Method::PATCH,
            format!("{}/Groups/{group}", tenant.base()),
            &tenant.auth,
            data::group_members_patch("Add", chunk),
            StatusCode::NO_CONTENT,
        );
        let started = Instant::now();
        let resp = conn.send(&req).await?;
        latencies.push(started.elapsed().as_secs_f64() * 1000.0);
        if resp.status != req.expect {
            bail!(
                "seeding group members answered {}: {}",
                resp.status,
                String::from_utf8_lossy(&resp.body)
            );
        }
    }
    Ok(latencies)
}

fn percentile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let i = ((v.len() - 1) as f64 * q).round() as usize;
    v[i.min(v.len() - 1)]
}

async fn run_backend(
    backend: Backend,
    args: &Args,
    p: &Params,
    bin: &Path,
    ticks: f64,
    report: &mut Report,
) -> Result<()> {
    let dir = tempfile::Builder::new().prefix("iris-bench-").tempdir()?;
    let pid = std::process::id();
    let names = [
        format!("iris_bench_{pid}_iris"),
        format!("iris_bench_{pid}_limit"),
    ];
    let (iris_db, limit_engine) = match backend {
        Backend::Sqlite => (
            format!("sqlite://{}", dir.path().join("iris.db").display()),
            Engine::Sqlite {
                path: dir.path().join("limit.db"),
                full_sync: true,
            },
        ),
        Backend::Postgres => {
            let iris_url = limit::create_pg_database(&args.postgres_url, &names[0]).await?;
            let limit_url = limit::create_pg_database(&args.postgres_url, &names[1]).await?;
            (iris_url, Engine::Postgres { url: limit_url })
        }
    };
    let result = run_backend_inner(
        backend,
        args,
        p,
        bin,
        ticks,
        report,
        dir.path(),
        &iris_db,
        limit_engine,
    )
    .await;
    if backend == Backend::Postgres {
        for name in &names {
            if let Err(e) = limit::drop_pg_database(&args.postgres_url, name).await {
                eprintln!("could not drop database {name}: {e:#}");
            }
        }
    }
    result
}

#[allow(clippy::too_many_arguments)]
async fn run_backend_inner(
    backend: Backend,
    args: &Args,
    p: &Params,
    bin: &Path,
    ticks: f64,
    report: &mut Report,
    dir: &Path,
    iris_db: &str,
    limit_engine: Engine,
) -> Result<()> {
    let b = backend.name();
    eprintln!("== {b}: seeding");
    let t = tenants(p)?;
    seed_iris(bin, iris_db, &t, report, backend).await?;
    let iris = IrisServer::start(bin, iris_db, dir.join("iris.log"), UNLIMITED).await?;
    let rss_seeded = iris.rss_kib().unwrap_or(0);

    let lg = limit_group_ids();
    let started = Instant::now();
    let mut seed = LimitSeed {
        tenants: vec![(&*t.big, t.big.users), (&*t.w8, 0)],
        groups: vec![
            (
                &*t.big,
                lg.big.clone(),
                "bench-big".into(),
                0..p.users as u64,
            ),
            (
                &*t.big,
                lg.small.clone(),
                "bench-small".into(),
                0..p.small_group as u64,
            ),
            (&*t.big, lg.single.clone(), "bench-single".into(), 0..0),
        ],
    };
    for x in t.w2.iter().chain(t.small.iter()) {
        seed.tenants.push((x, x.users));
    }
    limit::prepare(&limit_engine, &seed).await?;
    let limit_seed_secs = started.elapsed().as_secs_f64();
    let limit = LimitServer::start(limit_engine)?;
    eprintln!("== {b}: iris on {}, limit on {}", iris.addr, limit.addr);

    let postgres = backend == Backend::Postgres;
    let mut bench = Bench {
        backend,
        params: p,
        report,
        iris_probe: Probe {
            source: CpuSource::Pid(iris.pid),
            ticks,
            postgres,
        },
        limit_probe: Probe {
            source: LimitServer::cpu_source(),
            ticks,
            postgres,
        },
        iris,
        limit,
        only: &args.only,
        iris_db,
        bin,
        log_dir: dir,
    };
    let outcome = workloads_all(&mut bench, &t, dir, &lg).await;
    let peak = bench.iris.peak_rss_kib().unwrap_or(0);
    let rss_end = bench.iris.rss_kib().unwrap_or(0);
    bench.report.notes.push(format!(
        "{b}: limit database seeded directly in {limit_seed_secs:.1} s. Iris RSS after seeding {:.0} MiB, at the end {:.0} MiB, peak (VmHWM) {:.0} MiB",
        rss_seeded as f64 / 1024.0,
        rss_end as f64 / 1024.0,
        peak as f64 / 1024.0
    ));
    let Bench { iris, limit, .. } = bench;
    let stop_iris = iris.stop().await;
    let stop_limit = limit.stop();
    outcome?;
    stop_iris?;
    stop_limit?;
    Ok(())
}

async fn workloads_all(
    bench: &mut Bench<'_>,
    t: &Tenants,
    dir: &Path,
    lg: &GroupIds,
) -> Result<()> {
    let b = bench.backend.name();
    let p = bench.params.clone();
    let n = nonce();

    // W1: the hot read, hit and miss, closed loop for capacity.
    let mut hit_c16 = None;
    if bench.wants("W1") {
        eprintln!("== {b}: W1");
        for hit in [true, false] {
            for &c in &p.concurrencies {
                let what = if hit { "hit" } else { "miss" };
                let label = format!("GET filter userName eq ({what}), c{c}");
                let big = t.big.clone();
                let (si, _, sl, _) = bench
                    .pair(
                        "W1",
                        &label,
                        |_| {
                            Ok(Arc::new(Lookup {
                                tenant: big.clone(),
                                hit,
                                nonce: n,
                            }))
                        },
                        Mode::Closed { concurrency: c },
                        p.warmup,
                        p.window,
                    )
                    .await?;
                if hit && (c == 16 || hit_c16.is_none()) {
                    hit_c16 = Some(si.ops_per_sec());
                }
                let target = if c >= 16 {
                    Target::AtLeast(0.6)
                } else {
                    Target::None
                };
                bench.row(Row::throughput(
                    b,
                    "W1",
                    &format!("{label} (req/s)"),
                    si.ops_per_sec(),
                    sl.ops_per_sec(),
                    target,
                ));
            }
        }
        // Open loop at half of Iris's capacity: latency with coordinated-omission correction.
        let rate = round2(hit_c16.unwrap_or(1000.0) * 0.5).max(10.0);
        let label = format!("GET filter (hit), open loop {rate:.0}/s");
        let big = t.big.clone();
        let (si, _, sl, _) = bench
            .pair(
                "W1",
                &label,
                |_| {
                    Ok(Arc::new(Lookup {
                        tenant: big.clone(),
                        hit: true,
                        nonce: n ^ 1,
                    }))
                },
                Mode::Open {
                    connections: 16,
                    rate,
                },
                p.warmup,
                p.open_secs,
            )
            .await?;
        bench.row(Row::latency(
            b,
            "W1",
            &format!("{label}: p50"),
            si.ms(0.5),
            sl.ms(0.5),
            Target::None,
        ));
        bench.row(Row::latency(
            b,
            "W1",
            &format!("{label}: p99"),
            si.ms(0.99),
            sl.ms(0.99),
            Target::AtMost(2.0),
        ));
    }

    // W1s: does the matching lookup stay flat as a tenant grows? The same lookup on the big
    // tenant and on a 1,000-user tenant of the same database, Iris against itself.
    if bench.wants("W1s") {
        eprintln!("== {b}: W1s");
        let users = t.big.users;
        for c in [1, 16] {
            let mut figures = Vec::new();
            for tenant in [t.thousand.clone(), t.big.clone()] {
                let label = format!(
                    "GET filter userName eq (hit) at {} users, c{c}",
                    report::count(tenant.users as f64)
                );
                let workload = Arc::new(Lookup {
                    tenant,
                    hit: true,
                    nonce: n ^ 7,
                });
                let stats = bench
                    .run_side(
                        Side::Iris,
                        "W1s",
                        &label,
                        workload,
                        Mode::Closed { concurrency: c },
                        p.warmup,
                        p.window,
                    )
                    .await?;
                figures.push((stats.ops_per_sec(), stats.ms(0.5), stats.ms(0.99)));
            }
            let (small, big) = (figures[0], figures[1]);
            let slowdown = small.0 / big.0.max(1e-9);
            bench.row(Row::custom(
                b,
                "W1s",
                &format!(
                    "userName eq (hit), c{c}: {} users ÷ 1,000 users, time per request (Iris | figures: big | 1k req/s)",
                    report::count(users as f64)
                ),
                format!("{slowdown:.2}×"),
                format!("{} | {}", report::rate(big.0), report::rate(small.0)),
                "—".into(),
                "≤ 2×",
                Some(slowdown <= 2.0),
            ));
            bench.row(Row::custom(
                b,
                "W1s",
                &format!("userName eq (hit), c{c}: p50 | p99 at big vs 1k users"),
                format!("{} | {}", report::ms(big.1), report::ms(big.2)),
                format!("{} | {}", report::ms(small.1), report::ms(small.2)),
                format!("{:.2}×", big.1 / small.1.max(1e-9)),
                "—",
                None,
            ));
        }
    }

    // W6: paging 100 at a time at the first, middle and last page.
    if bench.wants("W6") {
        eprintln!("== {b}: W6");
        let total = t.big.users as u64;
        let mut p50s = Vec::new();
        for (what, start) in [
            ("first", 1),
            ("middle", total / 2 + 1),
            ("last", total.saturating_sub(99).max(1)),
        ] {
            let label = format!("GET /Users {what} page (startIndex={start}&count=100), c1");
            let big = t.big.clone();
            let (si, _, sl, _) = bench
                .pair(
                    "W6",
                    &label,
                    |_| {
                        Ok(Arc::new(Page {
                            tenant: big.clone(),
                            start_index: start,
                        }))
                    },
                    Mode::Closed { concurrency: 1 },
                    p.warmup,
                    p.page_secs,
                )
                .await?;
            bench.row(Row::latency(
                b,
                "W6",
                &format!("{what} page p50"),
                si.ms(0.5),
                sl.ms(0.5),
                Target::None,
            ));
            p50s.push((si.ms(0.5), sl.ms(0.5)));
        }
        if let (Some(first), Some(last)) = (p50s.first(), p50s.last()) {
            let iris_ratio = last.0 / first.0.max(1e-9);
            let limit_ratio = last.1 / first.1.max(1e-9);
            bench.row(Row::custom(
                b,
                "W6",
                "last page ÷ first page (p50), each server on its own",
                format!("{iris_ratio:.2}×"),
                format!("{limit_ratio:.2}×"),
                "—".into(),
                "Iris ≤ 2×",
                Some(iris_ratio <= 2.0),
            ));
        }
    }

    // W2: Entra's initial cycle, J tenants in parallel (one worker each).
    if bench.wants("W2") {
        eprintln!("== {b}: W2");
        let label = format!("filter (miss) + POST, {} tenants in parallel", t.w2.len());
        let w2 = t.w2.clone();
        let (si, _, sl, _) = bench
            .pair(
                "W2",
                &label,
                |_| {
                    Ok(Arc::new(InitialCycle {
                        tenants: w2.clone(),
                        nonce: n,
                    }))
                },
                Mode::Closed {
                    concurrency: t.w2.len(),
                },
                p.warmup,
                p.window,
            )
            .await?;
        bench.row(Row::throughput(
            b,
            "W2",
            &format!("{label} (pairs/s)"),
            si.ops_per_sec(),
            sl.ops_per_sec(),
            Target::AtLeast(0.6),
        ));
    }

    // W2b: the match path.
    if bench.wants("W2b") {
        eprintln!("== {b}: W2b");
        let tenants: Vec<Tenant> = t.small.iter().take(p.j_tenants).cloned().collect();
        let label = format!(
            "filter (hit) + PATCH, {} tenants in parallel",
            tenants.len()
        );
        let c = tenants.len();
        let (si, _, sl, _) = bench
            .pair(
                "W2b",
                &label,
                |_| {
                    Ok(Arc::new(MatchCycle {
                        tenants: tenants.clone(),
                        nonce: n,
                    }))
                },
                Mode::Closed { concurrency: c },
                p.warmup,
                p.window,
            )
            .await?;
        bench.row(Row::throughput(
            b,
            "W2b",
            &format!("{label} (pairs/s)"),
            si.ops_per_sec(),
            sl.ops_per_sec(),
            Target::AtLeast(0.6),
        ));
    }

    // W3: incremental PATCHes.
    if bench.wants("W3") {
        eprintln!("== {b}: W3 PATCH");
        for &c in &p.concurrencies {
            let label = format!("PATCH active/displayName/emails[work], c{c}");
            let big = t.big.clone();
            let (si, _, sl, _) = bench
                .pair(
                    "W3",
                    &label,
                    |_| {
                        Ok(Arc::new(IncrementalPatch {
                            tenant: big.clone(),
                            nonce: n,
                        }))
                    },
                    Mode::Closed { concurrency: c },
                    p.warmup,
                    p.window,
                )
                .await?;
            bench.row(Row::throughput(
                b,
                "W3",
                &format!("{label} (req/s)"),
                si.ops_per_sec(),
                sl.ops_per_sec(),
                if c >= 16 {
                    Target::AtLeast(0.6)
                } else {
                    Target::None
                },
            ));
        }
    }

    // W8: durable create (acknowledged = on disk), and the ids W3's DELETE removes.
    let mut created: (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
    let wants_delete = bench.wants("W3");
    if bench.wants("W8") || wants_delete {
        eprintln!("== {b}: W8 POST (durable)");
        let concurrencies = if bench.wants("W8") {
            p.concurrencies.clone()
        } else {
            vec![16]
        };
        for &c in &concurrencies {
            let label = format!("POST /Users (durable), c{c}");
            let w8 = t.w8.clone();
            let (si, wi, sl, wl) = bench
                .pair(
                    "W8",
                    &label,
                    |_| {
                        Ok(Arc::new(Create {
                            tenant: w8.clone(),
                            nonce: n ^ c as u64,
                            created: Mutex::new(Vec::new()),
                        }))
                    },
                    Mode::Closed { concurrency: c },
                    p.warmup,
                    p.window,
                )
                .await?;
            if let Ok(mut ids) = wi.created.lock() {
                created.0.append(&mut ids);
            }
            if let Ok(mut ids) = wl.created.lock() {
                created.1.append(&mut ids);
            }
            bench.row(Row::throughput(
                b,
                "W8",
                &format!("{label} vs single-row durable INSERT (req/s)"),
                si.ops_per_sec(),
                sl.ops_per_sec(),
                if c >= 16 {
                    Target::AtLeast(1.0)
                } else {
                    Target::None
                },
            ));
        }
        if bench.backend == Backend::Sqlite && bench.wants("W8") {
            // Context only: what the limit would do if it traded durability away.
            let path = dir.join("limit-normal.db");
            let engine = Engine::Sqlite {
                path,
                full_sync: false,
            };
            limit::prepare(
                &engine,
                &LimitSeed {
                    tenants: vec![(&*t.w8, 0)],
                    groups: Vec::new(),
                },
            )
            .await?;
            let normal = LimitServer::start(engine)?;
            let workload = Arc::new(Create {
                tenant: t.w8.clone(),
                nonce: n ^ 99,
                created: Mutex::new(Vec::new()),
            });
            let stats = load::run(
                normal.addr,
                workload,
                Mode::Closed { concurrency: 16 },
                Bench::secs(p.warmup),
                Bench::secs(p.window),
                &bench.limit_probe,
            )
            .await?;
            normal.stop()?;
            bench.report.details.push(Detail::new(
                b,
                "W8",
                "POST /Users, limit with synchronous=NORMAL (context)",
                "limit",
                "c16".into(),
                &stats,
            ));
            bench
                .report
                .record_errors("limit", "W8 NORMAL context", &stats);
            bench.row(Row::custom(
                b,
                "W8",
                "context: the limit's single-row INSERT with synchronous=NORMAL (not durable), c16",
                "—".into(),
                report::rate(stats.ops_per_sec()),
                "—".into(),
                "not a target",
                None,
            ));
        }
    }

    if wants_delete {
        eprintln!("== {b}: W3 DELETE");
        let c = 16;
        let label = format!("DELETE /Users/{{id}}, c{c}");
        let w8 = t.w8.clone();
        let ids = created.clone();
        let (si, _, sl, _) = bench
            .pair(
                "W3",
                &label,
                |side| {
                    Ok(Arc::new(Delete {
                        tenant: w8.clone(),
                        ids: if side == Side::Iris {
                            ids.0.clone()
                        } else {
                            ids.1.clone()
                        },
                        cursor: AtomicUsize::new(0),
                    }))
                },
                Mode::Closed { concurrency: c },
                0.0,
                p.window,
            )
            .await?;
        bench.row(Row::throughput(
            b,
            "W3",
            &format!("{label} (req/s)"),
            si.ops_per_sec(),
            sl.ops_per_sec(),
            Target::AtLeast(0.6),
        ));
    }

    // W7: many tenants at Entra's rate, open loop.
    if bench.wants("W7") {
        eprintln!("== {b}: W7");
        let tenants: Vec<Tenant> = t.small.iter().take(p.w7_tenants).cloned().collect();
        let rate = p.w7_rate * tenants.len() as f64;
        let label = format!(
            "{} tenants × {:.0} req/s = {:.0} req/s ({:.0} filter + {:.0} PATCH/s), open loop",
            tenants.len(),
            p.w7_rate,
            rate,
            rate * 0.75,
            rate * 0.25
        );
        let conns = tenants.len();
        let (si, _, sl, _) = bench
            .pair(
                "W7",
                &label,
                |_| {
                    Ok(Arc::new(Mixed {
                        tenants: tenants.clone(),
                        nonce: n,
                    }))
                },
                Mode::Open {
                    connections: conns,
                    rate,
                },
                p.warmup.max(0.5),
                p.w7_secs,
            )
            .await?;
        bench.row(Row::latency(
            b,
            "W7",
            &format!("{label}: p50"),
            si.ms(0.5),
            sl.ms(0.5),
            Target::None,
        ));
        let p99 = si.ms(0.99);
        bench.row(Row::custom(
            b,
            "W7",
            &format!("{label}: p99"),
            report::ms(p99),
            report::ms(sl.ms(0.99)),
            format!("{:.2}×", p99 / sl.ms(0.99).max(1e-9)),
            "Iris < 50 ms",
            Some(p99 < 50.0),
        ));
    }

    // W10: another tenant's maximal PATCHes beside Entra-shaped traffic (issue 18).
    if bench.wants("W10") {
        eprintln!("== {b}: W10");
        noisy_neighbour(bench, t).await?;
    }

    // W4, W4b, W5: groups, if this Iris serves them.
    let wants_groups = bench.wants("W4") || bench.wants("W4b") || bench.wants("W5");
    if wants_groups {
        if groups_available(&bench.iris, &t.big).await {
            groups(bench, t, lg).await?;
        } else {
            for (id, label) in [
                (
                    "W4",
                    "PATCH adding/removing 1,000 members of a 100k-member group",
                ),
                ("W4b", "single-member PATCHes, c16"),
                ("W5", "GET group with excludedAttributes=members"),
            ] {
                bench.row(Row::not_run(b, id, label, "not run: no /Groups"));
            }
        }
    }

    // W11: a flood on one tenant past its rate limit beside Entra-shaped traffic (issue 13). Last:
    // it restarts Iris with its default limits.
    if bench.wants("W11") {
        eprintln!("== {b}: W11");
        flood_beside_entra(bench, t).await?;
    }

    // Every request under a second, over every run of this backend.
    let (mut iris_max, mut iris_slow, mut limit_max, mut limit_slow) = (0.0f64, 0u64, 0.0f64, 0u64);
    for d in bench.report.details.iter().filter(|d| d.backend == b) {
        if d.server == "iris" {
            iris_max = iris_max.max(d.max);
            iris_slow += d.slow;
        } else {
            limit_max = limit_max.max(d.max);
            limit_slow += d.slow;
        }
    }
    bench.row(Row::custom(
        b,
        "all",
        "slowest operation of any run (requests over 1 s)",
        format!("{} ({iris_slow})", report::ms(iris_max)),
        format!("{} ({limit_slow})", report::ms(limit_max)),
        "—".into(),
        "every request < 1 s",
        Some(iris_slow == 0),
    ));
    Ok(())
}

/// Makes tenant A's workload of a W10 run, afresh for each run.
type QuietLoad = dyn Fn() -> Arc<dyn Workload>;

/// W10: tenant A's traffic alone, then while tenant B sends maximal PATCHes (1,000 operations
/// rewriting 999 e-mails) from several clients at once; twice: A sending W7's Entra mix (75 %
/// filter, 25 % PATCH), and A sending only `userName` lookups. Open loop, so A's rate does not
/// drop when it is slowed. Iris only: the limit server has no PATCH engine to load. Target: A's
/// p99 within 2× of alone.
async fn noisy_neighbour(bench: &mut Bench<'_>, t: &Tenants) -> Result<()> {
    let p = bench.params.clone();
    let (quiet, noisy) = (t.small[0].clone(), t.small[1].clone());
    let mixed = {
        let quiet = quiet.clone();
        move || -> Arc<dyn Workload> {
            Arc::new(Mixed {
                tenants: vec![quiet.clone()],
                nonce: nonce(),
            })
        }
    };
    let lookups = move || -> Arc<dyn Workload> {
        Arc::new(Lookup {
            tenant: quiet.clone(),
            hit: true,
            nonce: nonce(),
        })
    };
    let kinds: [(&str, Box<QuietLoad>); 2] = [
        ("75 % filter, 25 % PATCH", Box::new(mixed)),
        ("userName lookups only", Box::new(lookups)),
    ];
    for (what, quiet_load) in kinds {
        let label = format!("tenant A at {:.0} req/s ({what}), open loop", p.w10_rate);
        noisy_neighbour_run(bench, &p, &label, &*quiet_load, &noisy).await?;
    }
    Ok(())
}

async fn noisy_neighbour_run(
    bench: &mut Bench<'_>,
    p: &Params,
    label: &str,
    quiet_load: &QuietLoad,
    noisy: &Tenant,
) -> Result<()> {
    let b = bench.backend.name();
    let quiet_mode = Mode::Open {
        connections: 4,
        rate: p.w10_rate,
    };
    let (addr, probe) = (bench.iris.addr, bench.iris_probe.clone());
    let (warmup, window) = (Bench::secs(p.warmup.max(0.5)), Bench::secs(p.w7_secs));
    let run = |workload: Arc<dyn Workload>, mode: Mode| {
        let probe = probe.clone();
        async move { load::run(addr, workload, mode, warmup, window, &probe).await }
    };
    let alone = run(quiet_load(), quiet_mode).await?;
    let noise_mode = Mode::Closed {
        concurrency: p.w10_noise,
    };
    let noise_load = Arc::new(MaximalPatch {
        tenant: noisy.clone(),
    });
    let (beside, noise) = tokio::join!(run(quiet_load(), quiet_mode), run(noise_load, noise_mode));
    let (beside, noise) = (beside?, noise?);
    bench.iris.check_alive()?;
    let noise_label = format!(
        "tenant B: PATCHes of 1,000 operations (999 new e-mails), {}, beside {label}",
        mode_text(noise_mode)
    );
    record_neighbour_runs(
        bench,
        "W10",
        [
            (format!("{label}, alone"), quiet_mode, &alone),
            (
                format!("{label}, beside tenant B's noise"),
                quiet_mode,
                &beside,
            ),
            (noise_label, noise_mode, &noise),
        ],
        &format!("{label}: p99 beside tenant B's maximal PATCHes (limit column: alone)"),
    );
    bench.row(Row::custom(
        b,
        "W10",
        &format!(
            "context: tenant B's PATCHes beside it, {}: p50 (req/s)",
            mode_text(noise_mode)
        ),
        format!(
            "{} ({})",
            report::ms(noise.ms(0.5)),
            report::rate(noise.ops_per_sec())
        ),
        "—".into(),
        "—".into(),
        "not a target",
        None,
    ));
    Ok(())
}

/// The throughput workloads measure Iris's engine, one tenant at a time at thousands of requests
/// per second: far past the default per-tenant rate limit, so that limit is off for them (W11
/// turns it back on).
const UNLIMITED: &[&str] = &["--rate-limit-tenant-per-second", "0"];

/// W11: tenant B sending W7's Entra mix at Entra's rate, open loop, alone and then while tenant
/// A floods (closed loop, 16 clients, `userName` lookups) far past its rate limit. Iris runs with
/// its default limits (100 req/s, bursts of 200, per tenant), restarted for this. Iris only: the
/// limit server has no rate limits. Target: B's p99 within 2× of alone.
async fn flood_beside_entra(bench: &mut Bench<'_>, t: &Tenants) -> Result<()> {
    let b = bench.backend.name();
    let p = bench.params.clone();
    let log = bench.log_dir.join("iris-w11.log");
    bench
        .iris
        .restart(bench.bin, bench.iris_db, log, &[])
        .await?;
    bench.iris_probe.source = CpuSource::Pid(bench.iris.pid);
    let (flooding, quiet) = (t.small[2].clone(), t.small[3].clone());
    let quiet_mode = Mode::Open {
        connections: 4,
        rate: p.w7_rate,
    };
    let flood_mode = Mode::Closed { concurrency: 16 };
    let (addr, probe) = (bench.iris.addr, bench.iris_probe.clone());
    let (warmup, window) = (Bench::secs(p.warmup.max(0.5)), Bench::secs(p.w7_secs));
    let run = |workload: Arc<dyn Workload>, mode: Mode| {
        let probe = probe.clone();
        async move { load::run(addr, workload, mode, warmup, window, &probe).await }
    };
    let entra = || -> Arc<dyn Workload> {
        Arc::new(Mixed {
            tenants: vec![quiet.clone()],
            nonce: nonce(),
        })
    };
    let alone = run(entra(), quiet_mode).await?;
    let flood = Arc::new(Flood {
        tenant: flooding,
        nonce: nonce(),
        served: AtomicU64::new(0),
        refused: AtomicU64::new(0),
    });
    let (beside, flooded) = tokio::join!(run(entra(), quiet_mode), run(flood.clone(), flood_mode));
    let (beside, flooded) = (beside?, flooded?);
    bench.iris.check_alive()?;
    let label = format!(
        "tenant B at {:.0} req/s (75 % filter, 25 % PATCH), open loop",
        p.w7_rate
    );
    let flood_label = format!(
        "tenant A: userName lookups past its rate limit (100 req/s, bursts of 200), {}, beside {label}",
        mode_text(flood_mode)
    );
    record_neighbour_runs(
        bench,
        "W11",
        [
            (format!("{label}, alone"), quiet_mode, &alone),
            (
                format!("{label}, beside tenant A's flood"),
                quiet_mode,
                &beside,
            ),
            (flood_label, flood_mode, &flooded),
        ],
        &format!("{label}: p99 beside tenant A's flood (limit column: alone)"),
    );
    // Both counters include the warm-up; their ratio is what matters.
    let served = flood.served.load(std::sync::atomic::Ordering::Relaxed);
    let refused = flood.refused.load(std::sync::atomic::Ordering::Relaxed);
    let answered = (served + refused).max(1) as f64;
    bench.row(Row::custom(
        b,
        "W11",
        &format!(
            "context: tenant A's flood, {}: answered req/s (share refused with 429)",
            mode_text(flood_mode)
        ),
        format!(
            "{} ({:.1} % refused)",
            report::rate(flooded.ops_per_sec()),
            100.0 * refused as f64 / answered
        ),
        "—".into(),
        "—".into(),
        "not a target",
        None,
    ));
    Ok(())
}

/// Records a neighbour workload's three runs on Iris (the quiet tenant alone, the quiet tenant
/// beside the noisy one, the noisy one) and the row judging the quiet tenant's p99 beside the
/// noise against its p99 alone.
fn record_neighbour_runs(
    bench: &mut Bench<'_>,
    id: &str,
    runs: [(String, Mode, &RunStats); 3],
    verdict_label: &str,
) {
    let b = bench.backend.name();
    for (label, mode, stats) in &runs {
        bench
            .report
            .details
            .push(Detail::new(b, id, label, "iris", mode_text(*mode), stats));
        bench
            .report
            .record_errors("iris", &format!("{b} {id} {label}"), stats);
        eprintln!(
            "  {b} {id} {label} [iris]: {} ops/s, p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms, errors {}",
            report::rate(stats.ops_per_sec()),
            stats.ms(0.5),
            stats.ms(0.99),
            stats.max_ms(),
            stats.errors
        );
    }
    let (alone, beside) = (runs[0].2, runs[1].2);
    let ratio = beside.ms(0.99) / alone.ms(0.99).max(1e-9);
    bench.row(Row::custom(
        b,
        id,
        verdict_label,
        report::ms(beside.ms(0.99)),
        report::ms(alone.ms(0.99)),
        format!("{ratio:.2}×"),
        "≤ 2× alone",
        Some(ratio <= 2.0),
    ));
}

async fn groups(bench: &mut Bench<'_>, t: &Tenants, lg: &GroupIds) -> Result<()> {
    let b = bench.backend.name();
    let p = bench.params.clone();
    eprintln!("== {b}: groups: seeding Iris");
    let big_id = create_group(&bench.iris, &t.big, "bench-big").await?;
    let small_id = create_group(&bench.iris, &t.big, "bench-small").await?;
    let single_id = create_group(&bench.iris, &t.big, "bench-single").await?;
    let started = Instant::now();
    let seeded = fill_group(&bench.iris, &t.big, &big_id, 0..p.users as u64, p.batch).await?;
    let fill_secs = started.elapsed().as_secs_f64();
    fill_group(
        &bench.iris,
        &t.big,
        &small_id,
        0..p.small_group as u64,
        p.batch,
    )
    .await?;
    let note = format!(
        "{b}: the {}-member group was filled through Iris with {} PATCHes of {} members in {fill_secs:.1} s (PATCH p50 {:.0} ms, p99 {:.0} ms, last {:.0} ms)",
        p.users,
        seeded.len(),
        p.batch,
        percentile(&seeded, 0.5),
        percentile(&seeded, 0.99),
        seeded.last().copied().unwrap_or(0.0)
    );
    eprintln!("  {note}");
    bench.report.notes.push(note);
    bench.iris.check_alive()?;
    if bench.backend == Backend::Postgres {
        // The groups were filled after the import's ANALYZE; the limit database is analysed after
        // its seeding, and autovacuum would analyse Iris's within a minute (see the migration
        // that tunes it for group_members). Measure both with statistics for what they hold.
        limit::analyze_pg(bench.iris_db).await?;
    }
    let iris_ids = GroupIds {
        big: big_id,
        small: small_id,
        single: single_id,
    };
    let pick = |side: Side| {
        if side == Side::Iris {
            iris_ids.clone()
        } else {
            lg.clone()
        }
    };
    // Members to add and remove: users beyond the big group.
    let extra: Vec<String> = (p.users as u64..(p.users + p.batch) as u64)
        .map(|i| data::user_id(t.big.index, i))
        .collect();
    let big_label = format!("{}k", p.users / 1000);
    let small_label = if p.small_group >= 1000 {
        format!("{}k", p.small_group / 1000)
    } else {
        p.small_group.to_string()
    };

    if bench.wants("W4") {
        eprintln!("== {b}: W4");
        let mut add = Vec::new();
        let mut remove = Vec::new();
        for (which, size) in [("big", &big_label), ("small", &small_label)] {
            let label = format!(
                "PATCH add then remove {} members, {size}-member group",
                p.batch
            );
            let big = t.big.clone();
            let extra = extra.clone();
            let (_, wi, _, wl) = bench
                .pair(
                    "W4",
                    &label,
                    |side| {
                        let ids = pick(side);
                        let group = if which == "big" { ids.big } else { ids.small };
                        Ok(Arc::new(MemberBatch::new(
                            big.clone(),
                            group,
                            &extra,
                            p.w4_reps,
                        )?))
                    },
                    Mode::Closed { concurrency: 1 },
                    0.0,
                    600.0,
                )
                .await?;
            let q = |h: &Mutex<hdrhistogram::Histogram<u64>>| {
                h.lock()
                    .map(|h| h.value_at_quantile(0.5) as f64 / 1000.0)
                    .unwrap_or(0.0)
            };
            add.push((q(&wi.add_hist), q(&wl.add_hist)));
            remove.push((q(&wi.remove_hist), q(&wl.remove_hist)));
        }
        for (verb, v) in [("add", &add), ("remove", &remove)] {
            if let (Some(big), Some(small)) = (v.first(), v.get(1)) {
                bench.row(Row::latency(
                    b,
                    "W4",
                    &format!(
                        "PATCH {verb} {} members, {big_label}-member group, p50 (limit: one {}-row transaction)",
                        p.batch, p.batch
                    ),
                    big.0,
                    big.1,
                    Target::AtMost(4.0),
                ));
                bench.row(Row::latency(
                    b,
                    "W4",
                    &format!(
                        "PATCH {verb} {} members, {small_label}-member group, p50",
                        p.batch
                    ),
                    small.0,
                    small.1,
                    Target::None,
                ));
                let iris_ratio = big.0 / small.0.max(1e-9);
                bench.row(Row::custom(
                    b,
                    "W4",
                    &format!("{verb}: {big_label}-member ÷ {small_label}-member group (p50)"),
                    format!("{iris_ratio:.2}×"),
                    format!("{:.2}×", big.1 / small.1.max(1e-9)),
                    "—".into(),
                    "Iris ≤ 1.5×",
                    Some(iris_ratio <= 1.5),
                ));
            }
        }
    }

    if bench.wants("W4b") {
        eprintln!("== {b}: W4b");
        let label = "single-member PATCH add / remove, c16".to_owned();
        let big = t.big.clone();
        let members = p.users;
        let (si, _, sl, _) = bench
            .pair(
                "W4b",
                &label,
                |side| {
                    Ok(Arc::new(SingleMember {
                        tenant: big.clone(),
                        group_id: pick(side).single,
                        members,
                    }))
                },
                Mode::Closed { concurrency: 16 },
                p.warmup,
                p.window,
            )
            .await?;
        bench.row(Row::throughput(
            b,
            "W4b",
            &format!("{label} (req/s; limit: one-row INSERT/DELETE)"),
            si.ops_per_sec(),
            sl.ops_per_sec(),
            Target::None,
        ));
    }

    if bench.wants("W5") {
        eprintln!("== {b}: W5");
        let mut rates = Vec::new();
        for (which, size) in [("big", &big_label), ("small", &small_label)] {
            let label = format!("GET {size}-member group ?excludedAttributes=members, c16");
            let big = t.big.clone();
            let (si, _, sl, _) = bench
                .pair(
                    "W5",
                    &label,
                    |side| {
                        let ids = pick(side);
                        Ok(Arc::new(GroupGet {
                            tenant: big.clone(),
                            group_id: if which == "big" { ids.big } else { ids.small },
                        }))
                    },
                    Mode::Closed { concurrency: 16 },
                    p.warmup,
                    p.window,
                )
                .await?;
            bench.row(Row::throughput(
                b,
                "W5",
                &format!("{label} (req/s)"),
                si.ops_per_sec(),
                sl.ops_per_sec(),
                if which == "big" {
                    Target::AtLeast(0.6)
                } else {
                    Target::None
                },
            ));
            rates.push((si.ops_per_sec(), sl.ops_per_sec()));
        }
        if let (Some(big), Some(small)) = (rates.first(), rates.get(1)) {
            let iris_ratio = small.0 / big.0.max(1e-9);
            bench.row(Row::custom(
                b,
                "W5",
                &format!(
                    "{small_label}-member ÷ {big_label}-member group rate (size independence)"
                ),
                format!("{iris_ratio:.2}×"),
                format!("{:.2}×", small.1 / big.1.max(1e-9)),
                "—".into(),
                "Iris ≤ 1.2×",
                Some(iris_ratio <= 1.2),
            ));
        }
    }
    Ok(())
}

fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        "cargo run --release -p iris-bench".into()
    } else {
        format!("cargo run --release -p iris-bench -- {}", args.join(" "))
    }
}

async fn real_main(args: Args) -> Result<Report> {
    let started = Instant::now();
    let p = Params::new(&args);
    let bin = iris::binary(args.iris_bin.as_deref(), !args.no_build)?;
    let ticks = procstat::clock_ticks();
    let backends = match args.backend {
        BackendArg::Sqlite => vec![Backend::Sqlite],
        BackendArg::Postgres => vec![Backend::Postgres],
        BackendArg::Both => vec![Backend::Sqlite, Backend::Postgres],
    };
    let mut report = Report::default();
    let load_before = procstat::load_average();
    for backend in backends {
        let backend_started = Instant::now();
        run_backend(backend, &args, &p, &bin, ticks, &mut report)
            .await
            .with_context(|| format!("{} run", backend.name()))?;
        eprintln!(
            "== {} done in {:.0} s",
            backend.name(),
            backend_started.elapsed().as_secs_f64()
        );
    }
    let elapsed = started.elapsed().as_secs_f64();
    report.notes.push(format!(
        "load average (1/5/15 min) before the run: {load_before}; after: {} (anything else running on these two cores lowers both servers' figures)",
        procstat::load_average()
    ));
    let machine = procstat::machine();
    println!();
    println!(
        "iris-bench: {} cores ({}), {:.1} GiB; {:.0} s",
        machine.cores, machine.cpu_model, machine.memory_gib, elapsed
    );
    println!();
    print!("{}", report.summary_table());
    println!();
    for n in &report.notes {
        println!("- {n}");
    }
    println!();
    print!("{}", report.detail_table());
    if !report.error_samples.is_empty() {
        println!();
        println!("Errors and slow requests:");
        for e in &report.error_samples {
            println!("  {e}");
        }
    }
    let (pass, miss) = report.counts();
    println!();
    println!(
        "targets: {pass} pass, {miss} missed (misses never fail the run); errors: iris {}, limit {}",
        report.iris_errors, report.limit_errors
    );
    if args.markdown {
        let path = match &args.output {
            Some(p) => p.clone(),
            None => Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../BENCHMARKS.md")
                .canonicalize()
                .unwrap_or_else(|_| {
                    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../BENCHMARKS.md")
                }),
        };
        let date = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        report::write_markdown(&path, &report, &machine, &command_line(), &date, elapsed)?;
        println!("wrote {}", path.display());
    }
    Ok(report)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("bench-load")
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("iris-bench: cannot start a runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(real_main(args)) {
        Ok(report) if report.iris_errors == 0 && report.limit_errors == 0 => ExitCode::SUCCESS,
        Ok(_) => {
            eprintln!("iris-bench: requests failed (see above)");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("iris-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}
