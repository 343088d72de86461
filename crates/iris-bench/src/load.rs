//! Closed-loop (capacity) and open-loop (latency, coordinated-omission corrected) runners.
//!
//! A workload hands each worker a sequence of operations; an operation is one or more requests
//! sent back to back on the worker's own keep-alive connection (Entra's filter-then-POST pair is
//! one operation). Every request of every run is checked against its expected status and timed;
//! only operations that end inside the measurement window count towards rates and percentiles.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use hdrhistogram::Histogram;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::client::{Conn, Req, Resp};
use crate::procstat::{self, CpuSource};

/// A stream of operations per worker.
pub trait Workload: Send + Sync + 'static {
    /// The `seq`-th operation of worker `worker`; `None` when the workload is exhausted.
    fn next(&self, worker: usize, seq: u64) -> Option<Vec<Req>>;
    /// Sees every successful response (e.g. to collect created ids).
    fn on_response(&self, _worker: usize, _req: &Req, _resp: &Resp) {}
    /// Sees the latency of every request, in microseconds.
    fn on_latency(&self, _req: &Req, _us: u64) {}
}

/// Reads the server's CPU time around a measurement window.
#[derive(Debug, Clone)]
pub struct Probe {
    pub source: CpuSource,
    pub ticks: f64,
    /// Also read the PostgreSQL cluster's CPU time.
    pub postgres: bool,
}

#[derive(Debug, Clone, Copy, Default)]
struct CpuSample {
    server: Option<f64>,
    postgres: Option<f64>,
}

impl Probe {
    fn sample(&self) -> CpuSample {
        CpuSample {
            server: procstat::cpu_seconds(&self.source, self.ticks),
            postgres: self
                .postgres
                .then(|| procstat::postgres_cpu_seconds(self.ticks)),
        }
    }
}

/// The result of one run.
#[derive(Debug, Clone)]
pub struct RunStats {
    /// Operations that ended inside the window.
    pub ops: u64,
    /// Requests of those operations.
    pub requests: u64,
    /// Length of the window in seconds.
    pub secs: f64,
    /// Operation latency in microseconds (open loop: from the scheduled start).
    pub hist: Histogram<u64>,
    /// Every request sent, warm-up included.
    pub all_requests: u64,
    /// Requests answered with an unexpected status, or not answered.
    pub errors: u64,
    pub error_samples: Vec<String>,
    /// Requests that took longer than a second.
    pub slow: u64,
    /// The slowest single request, in microseconds.
    pub max_request_us: u64,
    /// Open loop: operations still due when the backlog drain stopped (never sent).
    pub unsent: u64,
    /// Server CPU seconds during the window.
    pub server_cpu: Option<f64>,
    /// PostgreSQL CPU seconds during the window.
    pub postgres_cpu: Option<f64>,
}

impl RunStats {
    pub fn ops_per_sec(&self) -> f64 {
        if self.secs > 0.0 {
            self.ops as f64 / self.secs
        } else {
            0.0
        }
    }

    pub fn requests_per_sec(&self) -> f64 {
        if self.secs > 0.0 {
            self.requests as f64 / self.secs
        } else {
            0.0
        }
    }

    /// Latency quantile in milliseconds.
    pub fn ms(&self, q: f64) -> f64 {
        self.hist.value_at_quantile(q) as f64 / 1000.0
    }

    pub fn max_ms(&self) -> f64 {
        self.hist.max() as f64 / 1000.0
    }

    /// Server CPU microseconds per request in the window.
    pub fn cpu_us_per_request(&self) -> Option<f64> {
        let cpu = self.server_cpu?;
        (self.requests > 0).then(|| cpu * 1e6 / self.requests as f64)
    }

    pub fn postgres_cpu_us_per_request(&self) -> Option<f64> {
        let cpu = self.postgres_cpu?;
        (self.requests > 0).then(|| cpu * 1e6 / self.requests as f64)
    }
}

fn new_hist() -> Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, 600_000_000, 3).context("histogram bounds")
}

struct WorkerOut {
    ops: u64,
    requests: u64,
    hist: Histogram<u64>,
    all_requests: u64,
    errors: u64,
    error_samples: Vec<String>,
    slow: u64,
    max_request_us: u64,
    last_end: Option<Instant>,
    unsent: u64,
}

impl WorkerOut {
    fn new() -> Result<Self> {
        Ok(Self {
            ops: 0,
            requests: 0,
            hist: new_hist()?,
            all_requests: 0,
            errors: 0,
            error_samples: Vec::new(),
            slow: 0,
            max_request_us: 0,
            last_end: None,
            unsent: 0,
        })
    }

    fn sample(&mut self, text: String) {
        if self.error_samples.len() < 5 {
            self.error_samples.push(text);
        }
    }
}

/// Sends the requests of one operation; `false` if the connection is gone for good.
async fn run_op(
    conn: &mut Conn,
    reqs: &[Req],
    workload: &dyn Workload,
    worker: usize,
    out: &mut WorkerOut,
) -> bool {
    for req in reqs {
        let started = Instant::now();
        let result = conn.send(req).await;
        let us = started.elapsed().as_micros() as u64;
        out.all_requests += 1;
        workload.on_latency(req, us);
        out.max_request_us = out.max_request_us.max(us);
        if us > 1_000_000 {
            out.slow += 1;
            if out.slow <= 3 {
                out.sample(format!(
                    "slow: {} {} took {:.0} ms",
                    req.method,
                    short(&req.uri),
                    us as f64 / 1000.0
                ));
            }
        }
        match result {
            Ok(resp) if resp.status == req.expect || Some(resp.status) == req.tolerated => {
                workload.on_response(worker, req, &resp)
            }
            Ok(resp) => {
                out.errors += 1;
                out.sample(format!(
                    "{} {} -> {} (expected {}): {}",
                    req.method,
                    short(&req.uri),
                    resp.status.as_u16(),
                    req.expect.as_u16(),
                    String::from_utf8_lossy(&resp.body)
                        .chars()
                        .take(200)
                        .collect::<String>()
                ));
            }
            Err(e) => {
                out.errors += 1;
                out.sample(format!("{} {} -> {e:#}", req.method, short(&req.uri)));
                if conn.reconnect().await.is_err() {
                    return false;
                }
            }
        }
    }
    true
}

fn short(uri: &str) -> String {
    uri.chars().take(120).collect()
}

async fn closed_worker(
    mut conn: Conn,
    workload: Arc<dyn Workload>,
    worker: usize,
    window_start: Instant,
    window_end: Instant,
) -> Result<WorkerOut> {
    let mut out = WorkerOut::new()?;
    let mut seq = 0u64;
    loop {
        let started = Instant::now();
        if started >= window_end {
            break;
        }
        let Some(reqs) = workload.next(worker, seq) else {
            break;
        };
        seq += 1;
        let alive = run_op(&mut conn, &reqs, workload.as_ref(), worker, &mut out).await;
        let ended = Instant::now();
        if ended >= window_start && ended < window_end {
            out.ops += 1;
            out.requests += reqs.len() as u64;
            out.hist
                .saturating_record((ended - started).as_micros().max(1) as u64);
            out.last_end = Some(ended);
        }
        if !alive {
            out.sample("connection lost and could not be re-established".into());
            break;
        }
    }
    Ok(out)
}

async fn open_worker(
    mut conn: Conn,
    workload: Arc<dyn Workload>,
    worker: usize,
    first: Instant,
    interval: Duration,
    window_start: Instant,
    window_end: Instant,
) -> Result<WorkerOut> {
    let mut out = WorkerOut::new()?;
    let mut previous_end = first;
    // An overloaded server leaves a backlog; it is drained for at most this long after the
    // window, then every operation still due is recorded with the latency it has reached so far
    // (a lower bound), so an overload shows in the percentiles instead of stretching the run.
    let hard_stop = window_end + (window_end - window_start).max(Duration::from_secs(2));
    for seq in 0u64.. {
        let scheduled = first + interval.mul_f64(seq as f64);
        if scheduled >= window_end {
            break;
        }
        if Instant::now() >= hard_stop {
            if scheduled >= window_start {
                out.ops += 1;
                out.unsent += 1;
                out.hist
                    .saturating_record((Instant::now() - scheduled).as_micros().max(1) as u64);
            }
            continue;
        }
        let Some(reqs) = workload.next(worker, seq) else {
            break;
        };
        // Behind schedule because the previous answer came late: this request "was due" at its
        // scheduled time, and that is where its latency starts (coordinated-omission
        // correction). On time: it starts when it is actually sent, so the generator's timer
        // slack is not charged to the server.
        let backlogged = previous_end > scheduled;
        if !backlogged {
            tokio::time::sleep_until(scheduled).await;
        }
        let sent = Instant::now();
        let alive = run_op(&mut conn, &reqs, workload.as_ref(), worker, &mut out).await;
        let ended = Instant::now();
        previous_end = ended;
        let latency = if backlogged {
            ended - scheduled
        } else {
            ended - sent
        };
        if scheduled >= window_start {
            out.ops += 1;
            out.requests += reqs.len() as u64;
            out.hist
                .saturating_record(latency.as_micros().max(1) as u64);
            out.last_end = Some(ended);
        }
        if !alive {
            out.sample("connection lost and could not be re-established".into());
            break;
        }
    }
    Ok(out)
}

/// How to drive a run.
#[derive(Debug, Clone, Copy)]
pub enum Mode {
    /// `concurrency` workers, each sending its next operation as soon as the previous answered.
    Closed { concurrency: usize },
    /// `connections` workers sharing `rate` operations per second on a fixed schedule.
    Open { connections: usize, rate: f64 },
}

pub async fn run(
    addr: SocketAddr,
    workload: Arc<dyn Workload>,
    mode: Mode,
    warmup: Duration,
    window: Duration,
    probe: &Probe,
) -> Result<RunStats> {
    let workers = match mode {
        Mode::Closed { concurrency } => concurrency,
        Mode::Open { connections, .. } => connections,
    };
    let mut conns = Vec::with_capacity(workers);
    for _ in 0..workers {
        conns.push(Conn::connect(addr).await?);
    }
    let t0 = Instant::now() + Duration::from_millis(5);
    let window_start = t0 + warmup;
    let window_end = window_start + window;
    let mut set = JoinSet::new();
    for (worker, conn) in conns.into_iter().enumerate() {
        let workload = workload.clone();
        match mode {
            Mode::Closed { .. } => {
                set.spawn(closed_worker(
                    conn,
                    workload,
                    worker,
                    window_start,
                    window_end,
                ));
            }
            Mode::Open { connections, rate } => {
                let interval = Duration::from_secs_f64(connections as f64 / rate.max(0.001));
                let first = t0 + interval.mul_f64(worker as f64 / connections as f64);
                set.spawn(open_worker(
                    conn,
                    workload,
                    worker,
                    first,
                    interval,
                    window_start,
                    window_end,
                ));
            }
        }
    }
    let mut outs = Vec::with_capacity(workers);
    let mut before = None;
    let mut finished_early = false;
    // Sample CPU at the window's start (or when every worker has ended, if earlier).
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(window_start), if before.is_none() => {
                before = Some((probe.sample(), Instant::now()));
            }
            () = tokio::time::sleep_until(window_end), if before.is_some() => break,
            joined = set.join_next() => match joined {
                Some(r) => outs.push(r.context("a load worker failed")??),
                None => { finished_early = true; break; }
            },
        }
    }
    let after = (probe.sample(), Instant::now());
    while let Some(r) = set.join_next().await {
        outs.push(r.context("a load worker failed")??);
    }
    let (before, started) = before.unwrap_or((after.0, window_start));
    let mut stats = RunStats {
        ops: 0,
        requests: 0,
        secs: 0.0,
        hist: new_hist()?,
        all_requests: 0,
        errors: 0,
        error_samples: Vec::new(),
        slow: 0,
        max_request_us: 0,
        unsent: 0,
        server_cpu: None,
        postgres_cpu: None,
    };
    let mut last_end = None;
    for out in outs {
        stats.ops += out.ops;
        stats.requests += out.requests;
        stats.hist.add(&out.hist).context("merging histograms")?;
        stats.all_requests += out.all_requests;
        stats.errors += out.errors;
        stats.slow += out.slow;
        stats.unsent += out.unsent;
        stats.max_request_us = stats.max_request_us.max(out.max_request_us);
        for s in out.error_samples {
            if stats.error_samples.len() < 5 {
                stats.error_samples.push(s);
            }
        }
        last_end = last_end.max(out.last_end);
    }
    let end = if finished_early {
        last_end.unwrap_or(after.1).min(after.1)
    } else {
        window_end.min(after.1)
    };
    stats.secs = end.saturating_duration_since(started).as_secs_f64();
    stats.server_cpu = match (before.server, after.0.server) {
        (Some(a), Some(b)) => Some((b - a).max(0.0)),
        _ => None,
    };
    stats.postgres_cpu = match (before.postgres, after.0.postgres) {
        (Some(a), Some(b)) => Some((b - a).max(0.0)),
        _ => None,
    };
    Ok(stats)
}
