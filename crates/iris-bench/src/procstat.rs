//! CPU time and peak memory from `/proc`: the Iris process by pid, the in-process limit server by
//! its thread names, PostgreSQL by its processes' names.

use std::fs;

use anyhow::{Context, Result};

/// Clock ticks per second of `utime`/`stime` (USER_HZ; 100 on every Linux this runs on, checked
/// with `getconf CLK_TCK` once).
pub fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

/// `(comm, utime + stime in ticks)` from a `/proc/.../stat` text.
fn parse_stat(text: &str) -> Option<(String, u64)> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_owned();
    let rest: Vec<&str> = text.get(close + 2..)?.split_whitespace().collect();
    // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
    let utime: u64 = rest.get(11)?.parse().ok()?;
    let stime: u64 = rest.get(12)?.parse().ok()?;
    Some((comm, utime + stime))
}

/// Where server CPU time is read from.
#[derive(Debug, Clone)]
pub enum CpuSource {
    /// A whole process (all its threads).
    Pid(u32),
    /// Threads of this process whose name starts with the prefix.
    OwnThreads(String),
}

/// CPU seconds used so far by the source.
pub fn cpu_seconds(source: &CpuSource, ticks: f64) -> Option<f64> {
    match source {
        CpuSource::Pid(pid) => {
            let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            parse_stat(&text).map(|(_, t)| t as f64 / ticks)
        }
        CpuSource::OwnThreads(prefix) => {
            let mut total = 0u64;
            for entry in fs::read_dir("/proc/self/task").ok()?.flatten() {
                let Ok(text) = fs::read_to_string(entry.path().join("stat")) else {
                    continue;
                };
                if let Some((comm, t)) = parse_stat(&text)
                    && comm.starts_with(prefix.as_str())
                {
                    total += t;
                }
            }
            Some(total as f64 / ticks)
        }
    }
}

/// CPU seconds used so far by every process named `postgres` (the whole cluster).
pub fn postgres_cpu_seconds(ticks: f64) -> f64 {
    let mut total = 0u64;
    let Ok(dir) = fs::read_dir("/proc") else {
        return 0.0;
    };
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(text) = fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        if let Some((comm, t)) = parse_stat(&text)
            && comm == "postgres"
        {
            total += t;
        }
    }
    total as f64 / ticks
}

/// Peak resident set size (VmHWM) of a process, in KiB.
pub fn peak_rss_kib(pid: u32) -> Result<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    status_field_kib(&text, "VmHWM:").context("no VmHWM in /proc/<pid>/status")
}

/// Current resident set size (VmRSS) of a process, in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status_field_kib(&text, "VmRSS:")
}

fn status_field_kib(text: &str, field: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// The 1-, 5- and 15-minute load averages (other work on the machine disturbs the figures).
pub fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|t| t.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// The machine: cores, memory, CPU model.
pub struct Machine {
    pub cores: usize,
    pub memory_gib: f64,
    pub cpu_model: String,
    pub kernel: String,
}

pub fn machine() -> Machine {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let memory_gib = fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| status_field_kib(&t, "MemTotal:"))
        .map_or(0.0, |kib| kib as f64 / 1024.0 / 1024.0);
    let cpu_model = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    Machine {
        cores,
        memory_gib,
        cpu_model,
        kernel,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_spaces_in_names_parse() -> Result<()> {
        let line = "42 (tokio runtime) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 4 0 100 0 0";
        let (comm, ticks) = parse_stat(line).context("parse")?;
        assert_eq!(comm, "tokio runtime");
        assert_eq!(ticks, 300);
        Ok(())
    }
}
