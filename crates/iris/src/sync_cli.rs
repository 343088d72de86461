//! `iris sync …`: define provisioning jobs and run them with the engine of `iris-sync`, its state
//! in the same database as `iris serve` (`--database`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand};
use iris_scim::provisioning_log;
use iris_sync::engine::{self, CycleReport, Progress, RunOptions};
use iris_sync::job::{JobDefinition, MatchMode, QuarantinePolicy, SourceConfig, TargetConfig};
use iris_sync::mapping::Dialect;
use iris_sync::source::{FileOptions, Format};
use iris_sync::state::StateStore;
use iris_sync::target::TargetLimits;
use serde_json::json;

use crate::config::Config;

#[derive(Debug, Subcommand)]
pub enum SyncCommand {
    /// Define, list, show, restart and delete sync jobs.
    #[command(subcommand)]
    Job(JobCommand),
    /// Run a job: one cycle with --once, else cycles at its interval until stopped.
    Run {
        job: String,
        #[arg(long)]
        once: bool,
        /// Print what would change; send nothing, record nothing.
        #[arg(long)]
        dry_run: bool,
        /// The cycle report as JSON instead of text (and no progress bar).
        #[arg(long)]
        json: bool,
    },
    /// Run every job (or the ones named) in cycles until SIGINT/SIGTERM; a quarantined job runs
    /// once a day.
    Start {
        jobs: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Jobs, their last cycle, escrows and quarantine.
    Status {
        job: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// The provisioning log (CSV in Entra's layout, or JSON lines).
    Log {
        job: String,
        /// Only this cycle.
        #[arg(long)]
        cycle: Option<String>,
        /// Only failures.
        #[arg(long)]
        failures: bool,
        #[arg(long, default_value_t = 1000)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SimulateCommand {
    /// Run Microsoft Entra ID's provisioning against a SCIM server: Test Connection, an initial
    /// and an incremental cycle with Entra's request shapes, a verdict per step, and whether
    /// Entra would quarantine the job. Exits non-zero when a step fails or it would quarantine.
    Entra {
        /// The Tenant URL, as pasted into Entra (http://…).
        #[arg(long)]
        url: String,
        /// The Secret Token (or IRIS_SIMULATE_TOKEN).
        #[arg(long, env = "IRIS_SIMULATE_TOKEN", hide_env_values = true)]
        token: String,
        /// How many users the cycles provision (at least 4).
        #[arg(long, default_value_t = 5)]
        users: usize,
        /// `aad` (Entra's default PATCH) or `rfc` (aadOptscim062020); default from the URL.
        #[arg(long)]
        dialect: Option<String>,
        /// Skip the group steps (for user-only servers).
        #[arg(long)]
        no_groups: bool,
        /// Leave the simulated users and groups in the target.
        #[arg(long)]
        keep: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum JobCommand {
    /// Define a job.
    Create(Box<JobArgs>),
    /// List jobs.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show a job's definition (the token is never shown).
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Forget the job's watermark, escrows and quarantine (Entra's "Restart provisioning"): the
    /// next cycle looks at every object again. The objects it created stay known.
    Restart { name: String },
    /// Delete a job and its state (not what it provisioned).
    Delete { name: String },
}

#[derive(Debug, Args)]
pub struct JobArgs {
    pub name: String,
    /// The directory export to read.
    #[arg(long)]
    pub source: PathBuf,
    /// `csv` or `jsonl`.
    #[arg(long, default_value = "csv")]
    pub format: String,
    /// The SCIM Tenant URL (http://…; `?aadOptscim062020` selects the RFC PATCH dialect).
    #[arg(long)]
    pub url: String,
    /// The bearer token (or IRIS_SYNC_TOKEN).
    #[arg(long, env = "IRIS_SYNC_TOKEN", hide_env_values = true)]
    pub token: String,
    /// Attribute mappings (TOML or JSON); Iris's default mapping when omitted.
    #[arg(long)]
    pub mapping: Option<PathBuf>,
    /// Scoping filters and assigned groups (TOML or JSON); everyone when omitted.
    #[arg(long)]
    pub scope: Option<PathBuf>,
    /// `aad` (Entra's default PATCH) or `rfc` (Entra with aadOptscim062020).
    #[arg(long)]
    pub dialect: Option<String>,
    /// Minutes between cycles of `sync start`.
    #[arg(long, default_value_t = 40)]
    pub interval: u64,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Requests per second at most (0: unlimited).
    #[arg(long, default_value_t = 0.0)]
    pub rate_limit: f64,
    /// Retries of a request after 429, 5xx or a connection failure.
    #[arg(long, default_value_t = 4)]
    pub max_retries: u32,
    /// The first retry's backoff in milliseconds (doubling).
    #[arg(long, default_value_t = 250)]
    pub backoff_ms: u64,
    /// `query` (Entra: a matching query before each create) or `create-first`.
    #[arg(long, default_value = "query")]
    pub match_mode: String,
    /// Do not provision groups and memberships.
    #[arg(long)]
    pub no_groups: bool,
    /// Share of failed requests in a cycle that quarantines the job.
    #[arg(long, default_value_t = 0.4)]
    pub quarantine_threshold: f64,
    /// Requests a cycle must have made before the share counts.
    #[arg(long, default_value_t = 20)]
    pub quarantine_min_events: u64,
}

fn read(path: &PathBuf) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn definition(args: &JobArgs) -> anyhow::Result<JobDefinition> {
    let format = Format::parse(&args.format)
        .ok_or_else(|| anyhow!("--format must be csv or jsonl, not {:?}", args.format))?;
    let dialect = match &args.dialect {
        Some(d) => Some(Dialect::parse(d).ok_or_else(|| anyhow!("--dialect must be aad or rfc"))?),
        None => None,
    };
    let match_mode = match args.match_mode.as_str() {
        "query" => MatchMode::Query,
        "create-first" | "create_first" => MatchMode::CreateFirst,
        other => bail!("--match-mode must be query or create-first, not {other:?}"),
    };
    let source = std::path::absolute(&args.source)
        .with_context(|| format!("source {}", args.source.display()))?;
    Ok(JobDefinition {
        source: SourceConfig {
            path: source,
            format,
            options: FileOptions::default(),
        },
        target: TargetConfig {
            url: args.url.clone(),
            token: args.token.clone(),
            dialect,
            limits: TargetLimits {
                concurrency: args.concurrency.max(1),
                rate_limit: args.rate_limit,
                max_retries: args.max_retries,
                backoff_ms: args.backoff_ms,
                ..TargetLimits::default()
            },
        },
        mapping: args.mapping.as_ref().map(read).transpose()?,
        scope: args.scope.as_ref().map(read).transpose()?,
        interval_minutes: args.interval.max(1),
        groups: !args.no_groups,
        match_mode,
        quarantine: QuarantinePolicy {
            threshold: args.quarantine_threshold,
            min_events: args.quarantine_min_events,
        },
    })
}

async fn store(config: &Config) -> anyhow::Result<StateStore> {
    StateStore::connect(&config.database)
        .await
        .with_context(|| "cannot open the sync state in the database")
}

pub async fn sync(config: &Config, command: SyncCommand) -> anyhow::Result<()> {
    let store = store(config).await?;
    let result = match command {
        SyncCommand::Job(c) => job(&store, c).await,
        SyncCommand::Run {
            job,
            once,
            dry_run,
            json,
        } => {
            if once || dry_run {
                run_once(&store, &job, dry_run, json).await
            } else {
                start(&store, vec![job], json).await
            }
        }
        SyncCommand::Start { jobs, json } => start(&store, jobs, json).await,
        SyncCommand::Status { job, json } => status(&store, job.as_deref(), json).await,
        SyncCommand::Log {
            job,
            cycle,
            failures,
            limit,
            json,
        } => log(&store, &job, cycle.as_deref(), failures, limit, json).await,
    };
    store.close().await;
    result
}

async fn job(store: &StateStore, command: JobCommand) -> anyhow::Result<()> {
    match command {
        JobCommand::Create(args) => {
            let def = definition(&args)?;
            engine::create_job(store, &args.name, &def).await?;
            println!("created sync job '{}'", args.name);
            Ok(())
        }
        JobCommand::List { json } => {
            for row in store.jobs().await? {
                if json {
                    println!(
                        "{}",
                        json!({"name": row.name, "status": row.status, "last_finished": row.last_finished})
                    );
                } else {
                    println!(
                        "{}\t{}\tlast cycle finished {}",
                        row.name,
                        row.status,
                        row.last_finished.as_deref().unwrap_or("never")
                    );
                }
            }
            Ok(())
        }
        JobCommand::Show { name, json } => {
            let row = store.job(&name).await?;
            let mut def: serde_json::Value = serde_json::from_str(&row.definition)?;
            def["target"]["token"] = json!("(hidden)");
            if json {
                println!("{def}");
            } else {
                println!("{}", serde_json::to_string_pretty(&def)?);
            }
            Ok(())
        }
        JobCommand::Restart { name } => {
            store.restart(&name).await?;
            println!("sync job '{name}' restarted: the next cycle looks at every object again");
            Ok(())
        }
        JobCommand::Delete { name } => {
            store.delete_job(&name).await?;
            println!("deleted sync job '{name}'");
            Ok(())
        }
    }
}

/// A progress bar on standard error.
struct Bar(indicatif::ProgressBar);

impl Progress for Bar {
    fn phase(&self, name: &str, total: u64) {
        self.0.set_length(total);
        self.0.set_position(0);
        self.0.set_message(name.to_owned());
    }
    fn advance(&self, n: u64) {
        self.0.inc(n);
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

fn progress_bar() -> Option<Arc<dyn Progress>> {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(0);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{msg:>7} [{bar:40}] {pos}/{len} ({per_sec}, eta {eta})",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    Some(Arc::new(Bar(bar)))
}

fn print_report(report: &CycleReport, json: bool) {
    if json {
        println!("{}", serde_json::to_string(report).unwrap_or_default());
        return;
    }
    let c = |name: &str, c: &engine::Counts| {
        format!(
            "{name}: {} created, {} updated, {} disabled, {} enabled, {} deleted, {} unchanged, {} out of scope, {} failed",
            c.created,
            c.updated,
            c.disabled,
            c.enabled,
            c.deleted,
            c.unchanged,
            c.out_of_scope,
            c.failed
        )
    };
    let verb = if report.dry_run {
        "would be (dry run)"
    } else {
        "done"
    };
    println!(
        "{} cycle {} of job '{}' {verb} in {} ms",
        report.kind, report.cycle_id, report.job, report.duration_ms
    );
    for p in &report.planned {
        println!(
            "  would {} {} {} ({}){}",
            p.action,
            p.kind,
            p.identity,
            p.source_id,
            if p.changes.is_empty() {
                String::new()
            } else {
                format!(": {}", p.changes.join("; "))
            }
        );
    }
    println!("  {}", c("users", &report.users));
    println!("  {}", c("groups", &report.groups));
    println!(
        "  memberships: {} added, {} removed; {} requests, {} failed",
        report.membership_adds, report.membership_removes, report.requests, report.failed_requests
    );
    for e in &report.source_errors {
        println!("  source error: {e}");
    }
    if !report.source_errors.is_empty() {
        println!("  (no deletions this cycle: the source could not be read whole)");
    }
    if let Some(q) = &report.quarantine {
        println!("  QUARANTINED: {} ({})", q.reason, q.detail);
    }
}

async fn run_once(store: &StateStore, job: &str, dry_run: bool, json: bool) -> anyhow::Result<()> {
    let progress = if json { None } else { progress_bar() };
    let report = engine::run_cycle(store, job, &RunOptions { dry_run }, progress).await?;
    print_report(&report, json);
    if let Some(q) = &report.quarantine {
        bail!("job '{job}' is quarantined: {} ({})", q.reason, q.detail);
    }
    Ok(())
}

async fn start(store: &StateStore, mut jobs: Vec<String>, json: bool) -> anyhow::Result<()> {
    if jobs.is_empty() {
        jobs = store.jobs().await?.into_iter().map(|j| j.name).collect();
    }
    if jobs.is_empty() {
        bail!("no sync jobs (create one with `iris sync job create`)");
    }
    let mut next: Vec<(String, tokio::time::Instant)> = jobs
        .into_iter()
        .map(|j| (j, tokio::time::Instant::now()))
        .collect();
    let shutdown = crate::server::shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        next.sort_by_key(|(_, at)| *at);
        let Some((name, at)) = next.first().cloned() else {
            return Ok(());
        };
        tokio::select! {
            () = &mut shutdown => {
                eprintln!("stopping: no cycle is running");
                return Ok(());
            }
            () = tokio::time::sleep_until(at) => {}
        }
        // A cycle in progress finishes before a shutdown takes effect, as Entra's does.
        let outcome = engine::run_cycle(store, &name, &RunOptions::default(), None).await;
        let interval = match &outcome {
            Ok(report) => {
                print_report(report, json);
                let def = engine::load_job(store, &name).await?;
                if report.quarantine.is_some() {
                    Duration::from_secs(24 * 3600)
                } else {
                    Duration::from_secs(def.definition.interval_minutes * 60)
                }
            }
            Err(e) => {
                eprintln!("job '{name}': {e}");
                Duration::from_secs(600)
            }
        };
        next[0].1 = tokio::time::Instant::now() + interval;
        if tokio::time::timeout(Duration::ZERO, &mut shutdown)
            .await
            .is_ok()
        {
            return Ok(());
        }
    }
}

async fn status(store: &StateStore, job: Option<&str>, json: bool) -> anyhow::Result<()> {
    let rows = match job {
        Some(j) => vec![store.job(j).await?],
        None => store.jobs().await?,
    };
    for row in rows {
        let escrows = store.escrows(&row.name).await?;
        let users = store
            .object_count(&row.name, iris_sync::source::ObjectKind::User)
            .await?;
        let groups = store
            .object_count(&row.name, iris_sync::source::ObjectKind::Group)
            .await?;
        let summary: serde_json::Value = row
            .last_summary
            .as_deref()
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or(serde_json::Value::Null);
        if json {
            println!(
                "{}",
                json!({
                    "name": row.name,
                    "status": row.status,
                    "quarantine": row.quarantine_reason.as_ref().map(|r| json!({
                        "reason": r, "detail": row.quarantine_detail, "since": row.quarantined_at})),
                    "watermark": row.watermark,
                    "last_cycle": {"id": row.last_cycle_id, "kind": row.last_cycle_kind,
                                   "started": row.last_started, "finished": row.last_finished,
                                   "summary": summary},
                    "managed": {"users": users, "groups": groups},
                    "escrows": escrows.iter().map(|e| json!({
                        "kind": e.kind.as_str(), "source_id": e.source_id, "attempts": e.attempts,
                        "first_failed": e.first_failed, "last_failed": e.last_failed,
                        "error_code": e.error_code, "error": e.error})).collect::<Vec<_>>(),
                })
            );
            continue;
        }
        println!("job {}: {}", row.name, row.status);
        if let Some(r) = &row.quarantine_reason {
            println!(
                "  quarantined since {}: {r} ({})",
                row.quarantined_at.as_deref().unwrap_or("?"),
                row.quarantine_detail.as_deref().unwrap_or("")
            );
        }
        println!(
            "  last cycle: {} {} (started {}, finished {})",
            row.last_cycle_kind.as_deref().unwrap_or("-"),
            row.last_cycle_id.as_deref().unwrap_or("-"),
            row.last_started.as_deref().unwrap_or("never"),
            row.last_finished.as_deref().unwrap_or("never"),
        );
        println!("  watermark: {}", row.watermark.as_deref().unwrap_or("-"));
        println!("  managed in the target: {users} users, {groups} groups");
        println!("  escrowed objects: {}", escrows.len());
        for e in escrows.iter().take(20) {
            println!(
                "    {} {}: {} attempt(s), {}: {}",
                e.kind.as_str(),
                e.source_id,
                e.attempts,
                e.error_code,
                e.error
            );
        }
    }
    Ok(())
}

async fn log(
    store: &StateStore,
    job: &str,
    cycle: Option<&str>,
    failures: bool,
    limit: i64,
    json: bool,
) -> anyhow::Result<()> {
    store.job(job).await?;
    let mut records = store.log(job, cycle, limit.max(1)).await?;
    if failures {
        records.retain(|r| r.status == provisioning_log::Status::Failure);
    }
    if json {
        for r in &records {
            let fields = r.fields();
            let obj: serde_json::Map<String, serde_json::Value> = provisioning_log::HEADER
                .iter()
                .zip(fields)
                .map(|(k, v)| ((*k).to_owned(), json!(v)))
                .collect();
            println!("{}", serde_json::Value::Object(obj));
        }
    } else {
        print!("{}", provisioning_log::render_csv(&records));
    }
    Ok(())
}

pub async fn simulate(command: SimulateCommand) -> anyhow::Result<()> {
    let SimulateCommand::Entra {
        url,
        token,
        users,
        dialect,
        no_groups,
        keep,
        json,
    } = command;
    let dialect = match dialect {
        Some(d) => Some(Dialect::parse(&d).ok_or_else(|| anyhow!("--dialect must be aad or rfc"))?),
        None => None,
    };
    let options = iris_sync::simulate::Options {
        url,
        token,
        users,
        dialect,
        groups: !no_groups,
        keep,
    };
    let report = iris_sync::simulate::run(&options)
        .await
        .map_err(|e| anyhow!(e))?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", report.text());
    }
    if report.worst() == iris_sync::simulate::Verdict::Fail || report.quarantine.would_quarantine {
        bail!("the simulated Entra job would not run cleanly against this server");
    }
    Ok(())
}
