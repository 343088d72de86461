//! The summary table (workload, Iris, limit, ratio, target, verdict), the per-run detail table,
//! and BENCHMARKS.md.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};

use crate::load::RunStats;
use crate::procstat::Machine;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Miss,
    Info,
    NotRun,
}

impl Verdict {
    fn text(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Miss => "**MISS**",
            Verdict::Info => "—",
            Verdict::NotRun => "not run",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Row {
    pub backend: String,
    pub id: String,
    pub label: String,
    pub iris: String,
    pub limit: String,
    pub ratio: String,
    pub target: String,
    pub verdict: Verdict,
}

/// A whole number with thousands separators: `1,000,000`.
pub fn count(v: f64) -> String {
    let s = (v.round() as u64).to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn rate(v: f64) -> String {
    if v >= 100.0 {
        format!("{}/s", count(v))
    } else {
        format!("{v:.1}/s")
    }
}

pub fn ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0} ms")
    } else if v >= 10.0 {
        format!("{v:.1} ms")
    } else {
        format!("{v:.2} ms")
    }
}

fn ratio(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.2}×")
    } else {
        "—".into()
    }
}

/// Applies a target only at the given points; elsewhere the figure is informational.
pub enum Target {
    AtLeast(f64),
    AtMost(f64),
    None,
}

impl Row {
    /// Higher is better; ratio = Iris / limit.
    pub fn throughput(
        backend: &str,
        id: &str,
        label: &str,
        iris: f64,
        limit: f64,
        target: Target,
    ) -> Self {
        let r = if limit > 0.0 { iris / limit } else { f64::NAN };
        let (target_text, verdict) = judge(r, &target);
        Self {
            backend: backend.into(),
            id: id.into(),
            label: label.into(),
            iris: rate(iris),
            limit: rate(limit),
            ratio: ratio(r),
            target: target_text,
            verdict,
        }
    }

    /// Lower is better; ratio = Iris / limit.
    pub fn latency(
        backend: &str,
        id: &str,
        label: &str,
        iris_ms: f64,
        limit_ms: f64,
        target: Target,
    ) -> Self {
        let r = if limit_ms > 0.0 {
            iris_ms / limit_ms
        } else {
            f64::NAN
        };
        let (target_text, verdict) = judge(r, &target);
        Self {
            backend: backend.into(),
            id: id.into(),
            label: label.into(),
            iris: ms(iris_ms),
            limit: ms(limit_ms),
            ratio: ratio(r),
            target: target_text,
            verdict,
        }
    }

    /// A figure judged on its own (e.g. an absolute latency bound or a ratio within Iris).
    #[allow(clippy::too_many_arguments)]
    pub fn custom(
        backend: &str,
        id: &str,
        label: &str,
        iris: String,
        limit: String,
        ratio: String,
        target: &str,
        pass: Option<bool>,
    ) -> Self {
        Self {
            backend: backend.into(),
            id: id.into(),
            label: label.into(),
            iris,
            limit,
            ratio,
            target: target.into(),
            verdict: match pass {
                Some(true) => Verdict::Pass,
                Some(false) => Verdict::Miss,
                None => Verdict::Info,
            },
        }
    }

    pub fn not_run(backend: &str, id: &str, label: &str, why: &str) -> Self {
        Self {
            backend: backend.into(),
            id: id.into(),
            label: label.into(),
            iris: why.into(),
            limit: "—".into(),
            ratio: "—".into(),
            target: "—".into(),
            verdict: Verdict::NotRun,
        }
    }
}

fn judge(r: f64, target: &Target) -> (String, Verdict) {
    match *target {
        Target::AtLeast(t) => (
            format!("≥ {t}×"),
            if r >= t { Verdict::Pass } else { Verdict::Miss },
        ),
        Target::AtMost(t) => (
            format!("≤ {t}×"),
            if r <= t { Verdict::Pass } else { Verdict::Miss },
        ),
        Target::None => ("—".into(), Verdict::Info),
    }
}

/// One run against one server, for the detail table.
#[derive(Debug, Clone)]
pub struct Detail {
    pub backend: String,
    pub id: String,
    pub label: String,
    pub server: &'static str,
    pub mode: String,
    pub ops_per_sec: f64,
    pub requests_per_sec: f64,
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
    pub requests: u64,
    pub errors: u64,
    pub slow: u64,
    pub cpu_us: Option<f64>,
    pub pg_cpu_us: Option<f64>,
}

impl Detail {
    pub fn new(
        backend: &str,
        id: &str,
        label: &str,
        server: &'static str,
        mode: String,
        s: &RunStats,
    ) -> Self {
        Self {
            backend: backend.into(),
            id: id.into(),
            label: label.into(),
            server,
            mode,
            ops_per_sec: s.ops_per_sec(),
            requests_per_sec: s.requests_per_sec(),
            p50: s.ms(0.5),
            p99: s.ms(0.99),
            max: s.max_ms(),
            requests: s.all_requests,
            errors: s.errors,
            slow: s.slow,
            cpu_us: s.cpu_us_per_request(),
            pg_cpu_us: s.postgres_cpu_us_per_request(),
        }
    }
}

#[derive(Default)]
pub struct Report {
    pub rows: Vec<Row>,
    pub details: Vec<Detail>,
    /// Seeding times, RSS, and other facts per backend.
    pub notes: Vec<String>,
    pub iris_errors: u64,
    pub limit_errors: u64,
    pub error_samples: Vec<String>,
}

impl Report {
    pub fn record_errors(&mut self, server: &str, label: &str, s: &RunStats) {
        if server == "iris" {
            self.iris_errors += s.errors;
        } else {
            self.limit_errors += s.errors;
        }
        for e in &s.error_samples {
            if self.error_samples.len() < 30 {
                self.error_samples.push(format!("[{server}] {label}: {e}"));
            }
        }
    }

    pub fn summary_table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "| backend | workload | figure | Iris | limit | ratio | target | result |"
        );
        let _ = writeln!(out, "|---|---|---|---:|---:|---:|---|---|");
        for r in &self.rows {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                r.backend,
                r.id,
                r.label,
                r.iris,
                r.limit,
                r.ratio,
                r.target,
                r.verdict.text()
            );
        }
        out
    }

    pub fn detail_table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "| backend | workload | run | server | load | ops/s | req/s | p50 | p99 | max | requests | errors | >1 s | server CPU µs/req | PostgreSQL CPU µs/req |"
        );
        let _ = writeln!(
            out,
            "|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for d in &self.details {
            let cpu = d.cpu_us.map_or("—".into(), |v| format!("{v:.0}"));
            let pg = d.pg_cpu_us.map_or("—".into(), |v| format!("{v:.0}"));
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                d.backend,
                d.id,
                d.label,
                d.server,
                d.mode,
                rate(d.ops_per_sec),
                rate(d.requests_per_sec),
                ms(d.p50),
                ms(d.p99),
                ms(d.max),
                d.requests,
                d.errors,
                d.slow,
                cpu,
                pg
            );
        }
        out
    }

    pub fn counts(&self) -> (usize, usize) {
        let pass = self
            .rows
            .iter()
            .filter(|r| r.verdict == Verdict::Pass)
            .count();
        let miss = self
            .rows
            .iter()
            .filter(|r| r.verdict == Verdict::Miss)
            .count();
        (pass, miss)
    }
}

const BEGIN: &str =
    "<!-- BEGIN iris-bench output: regenerated by `--markdown`; edit outside these markers -->";
const END: &str = "<!-- END iris-bench output -->";

/// Writes the generated part of BENCHMARKS.md between markers, keeping any text outside them.
pub fn write_markdown(
    path: &Path,
    report: &Report,
    machine: &Machine,
    command: &str,
    date: &str,
    elapsed_secs: f64,
) -> Result<()> {
    let (pass, miss) = report.counts();
    let mut g = String::new();
    let _ = writeln!(g, "{BEGIN}");
    let _ = writeln!(g);
    let _ = writeln!(g, "## Results of the last run");
    let _ = writeln!(g);
    let _ = writeln!(g, "- Date: {date}");
    let _ = writeln!(g, "- Command: `{command}` (took {elapsed_secs:.0} s)");
    let _ = writeln!(
        g,
        "- Machine: {} cores ({}), {:.1} GiB memory, Linux {}; load generator, Iris, limit server and database all on this one machine",
        machine.cores, machine.cpu_model, machine.memory_gib, machine.kernel
    );
    let _ = writeln!(
        g,
        "- Targets: {pass} pass, {miss} missed; errors: Iris {}, limit server {}",
        report.iris_errors, report.limit_errors
    );
    let _ = writeln!(g);
    let _ = writeln!(g, "### Summary");
    let _ = writeln!(g);
    let _ = writeln!(
        g,
        "Ratios are Iris ÷ limit. For rates higher is better; for latencies (ms) lower is better."
    );
    let _ = writeln!(g);
    g.push_str(&report.summary_table());
    let _ = writeln!(g);
    let _ = writeln!(g, "### Seeding, memory and CPU");
    let _ = writeln!(g);
    for n in &report.notes {
        let _ = writeln!(g, "- {n}");
    }
    let _ = writeln!(g);
    let _ = writeln!(g, "### Every run");
    let _ = writeln!(g);
    let _ = writeln!(
        g,
        "Closed loop: `cN` = N workers each with one keep-alive connection. Open loop: `R/s over N conns`, latency from the scheduled send time. Server CPU: Iris = the `iris serve` process (all threads); limit = its runtime and SQLite threads in this process. PostgreSQL CPU = all `postgres` processes."
    );
    let _ = writeln!(g);
    g.push_str(&report.detail_table());
    if !report.error_samples.is_empty() {
        let _ = writeln!(g);
        let _ = writeln!(g, "### Error and slow-request samples");
        let _ = writeln!(g);
        for e in &report.error_samples {
            let _ = writeln!(g, "- `{}`", e.replace('`', "'"));
        }
    }
    let _ = writeln!(g);
    let _ = writeln!(g, "{END}");

    let existing = std::fs::read_to_string(path).unwrap_or_default();
    let text = match (existing.find(BEGIN), existing.find(END)) {
        (Some(b), Some(e)) if e > b => {
            format!(
                "{}{}{}",
                &existing[..b],
                g,
                &existing[e + END.len()..].trim_start_matches('\n')
            )
        }
        _ if existing.is_empty() => format!(
            "# Benchmarks\n\nIris against a bare limit server doing the same database work, measured in the same run by `iris-bench` (issue 7).\n\n{g}"
        ),
        _ => format!("{existing}\n{g}"),
    };
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}
