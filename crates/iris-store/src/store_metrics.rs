//! What the store counts for `/metrics`: provisioning events written and purged, cycles opened
//! and closed, and the wait for the write connection. The handles are registered once, when the
//! store opens, so counting is an atomic add (no registry lookup per write); a store opened
//! before a recorder is installed counts into nothing.

use std::time::Duration;

use iris_core::provisioning::CycleKind;
use metrics::{Counter, Histogram, counter, histogram};

pub const EVENTS_WRITTEN: &str = "iris_provisioning_events_written_total";
pub const EVENTS_PURGED: &str = "iris_provisioning_events_purged_total";
pub const CYCLES_OPENED: &str = "iris_provisioning_cycles_opened_total";
pub const CYCLES_CLOSED: &str = "iris_provisioning_cycles_closed_total";
pub const WRITE_ACQUIRE: &str = "iris_db_pool_acquire_seconds";
pub const GROUP_COMMIT_FLUSHES: &str = "iris_sqlite_group_commit_flushes_total";
pub const GROUP_COMMIT_WRITES_PER_FLUSH: &str = "iris_sqlite_group_commit_writes_per_flush";

/// Upper bounds of the writes-per-flush buckets.
pub const WRITES_PER_FLUSH_BUCKETS: [f64; 9] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// Gives the store's series their help text (call once, after installing a recorder).
pub fn describe_metrics() {
    metrics::describe_counter!(
        EVENTS_WRITTEN,
        "Provisioning events written (one per change to one resource, or per refused request)"
    );
    metrics::describe_counter!(
        EVENTS_PURGED,
        "Provisioning events deleted past their tenant's retention"
    );
    metrics::describe_counter!(CYCLES_OPENED, "Provisioning cycles opened by this process");
    metrics::describe_counter!(
        CYCLES_CLOSED,
        "Provisioning cycles closed by this process (when the tenant's next cycle began), by their final kind"
    );
    metrics::describe_histogram!(
        WRITE_ACQUIRE,
        metrics::Unit::Seconds,
        "Time to get the write connection and begin a write transaction (SQLite: the in-process write queue)"
    );
    metrics::describe_counter!(
        GROUP_COMMIT_FLUSHES,
        "WAL flushes (fsync) of SQLite's group commit"
    );
    metrics::describe_histogram!(
        GROUP_COMMIT_WRITES_PER_FLUSH,
        "Write transactions made durable by one group-commit flush"
    );
}

pub(crate) struct StoreMetrics {
    events_written: Counter,
    events_purged: Counter,
    cycles_opened: Counter,
    /// In the order of [`CycleKind::ALL`].
    cycles_closed: [Counter; 4],
    write_acquire: Histogram,
}

impl StoreMetrics {
    pub(crate) fn register(pool: &'static str) -> Self {
        Self {
            events_written: counter!(EVENTS_WRITTEN),
            events_purged: counter!(EVENTS_PURGED),
            cycles_opened: counter!(CYCLES_OPENED),
            cycles_closed: CycleKind::ALL
                .map(|kind| counter!(CYCLES_CLOSED, "kind" => kind.as_str())),
            write_acquire: histogram!(WRITE_ACQUIRE, "pool" => pool),
        }
    }

    pub(crate) fn events_written(&self, n: usize) {
        self.events_written.increment(n as u64);
    }

    pub(crate) fn events_purged(&self, n: u64) {
        self.events_purged.increment(n);
    }

    pub(crate) fn cycles_opened(&self, n: u64) {
        self.cycles_opened.increment(n);
    }

    pub(crate) fn cycle_closed(&self, kind: CycleKind) {
        let at = CycleKind::ALL.iter().position(|k| *k == kind);
        if let Some(counter) = at.and_then(|i| self.cycles_closed.get(i)) {
            counter.increment(1);
        }
    }

    pub(crate) fn write_acquired(&self, waited: Duration) {
        self.write_acquire.record(waited.as_secs_f64());
    }
}

/// The group commit's series.
pub(crate) struct GroupCommitMetrics {
    flushes: Counter,
    writes_per_flush: Histogram,
}

impl GroupCommitMetrics {
    pub(crate) fn register() -> Self {
        Self {
            flushes: counter!(GROUP_COMMIT_FLUSHES),
            writes_per_flush: histogram!(GROUP_COMMIT_WRITES_PER_FLUSH),
        }
    }

    pub(crate) fn flushed(&self, writes: u64) {
        self.flushes.increment(1);
        self.writes_per_flush.record(writes as f64);
    }
}
