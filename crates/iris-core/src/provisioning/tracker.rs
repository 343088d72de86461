//! Counting requests into cycles without a write per request: each process keeps what it served
//! per tenant in memory and adds it to the tenant's cycle in the database every few seconds, under
//! the tenant's row lock, so any number of processes behind one PostgreSQL build one record.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::cycles::{CycleCounts, CycleSettings, RequestKind};
use crate::clock;
use crate::error::CoreResult;
use crate::store::Store;
use crate::tenants::Tenant;

/// A run of requests of one tenant with no quiet gap longer than the idle gap inside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivitySegment {
    pub first_at: String,
    pub last_at: String,
    pub first_was_probe: bool,
    /// Request counts only; the store adds the changes from the events.
    pub counts: CycleCounts,
}

/// A run of requests as counted in memory; an [`ActivitySegment`] once flushed.
struct Run {
    first_at: OffsetDateTime,
    last_at: OffsetDateTime,
    first_was_probe: bool,
    counts: CycleCounts,
}

impl Run {
    fn segment(&self) -> ActivitySegment {
        ActivitySegment {
            first_at: clock::format(self.first_at),
            last_at: clock::format(self.last_at),
            first_was_probe: self.first_was_probe,
            counts: self.counts,
        }
    }
}

#[derive(Default)]
struct Pending {
    tenant: Option<Tenant>,
    runs: Vec<Run>,
}

/// How long after its last flush a tenant's cycle is flushed once more, with no new requests:
/// changes are counted only once their transactions are surely done (see `record_activity`), so
/// the last ones of a burst need a later pass.
const SETTLE: std::time::Duration = std::time::Duration::from_secs(3);

/// What this process served since the last flush, per tenant name.
#[derive(Clone)]
pub struct ActivityTracker {
    store: Arc<dyn Store>,
    settings: CycleSettings,
    pending: Arc<Mutex<HashMap<String, Pending>>>,
    /// Tenants flushed recently, and when to flush them once more.
    settling: Arc<Mutex<HashMap<String, (Tenant, std::time::Instant)>>>,
}

impl ActivityTracker {
    pub fn new(store: Arc<dyn Store>, settings: CycleSettings) -> Self {
        Self {
            store,
            settings,
            pending: Arc::default(),
            settling: Arc::default(),
        }
    }

    pub fn settings(&self) -> CycleSettings {
        self.settings
    }

    /// Counts one request to the tenant named `tenant_name`; `tenant` when its token proved it.
    /// On the request path: one short lock, no allocation once the tenant is known.
    pub fn note(
        &self,
        tenant_name: &str,
        tenant: Option<&Tenant>,
        kind: RequestKind,
        failed: bool,
    ) {
        let now = OffsetDateTime::now_utc();
        let idle = time::Duration::try_from(self.settings.idle_gap).unwrap_or(time::Duration::MAX);
        let Ok(mut pending) = self.pending.lock() else {
            return;
        };
        if !pending.contains_key(tenant_name) {
            pending.insert(tenant_name.to_owned(), Pending::default());
        }
        let Some(entry) = pending.get_mut(tenant_name) else {
            return;
        };
        if entry.tenant.is_none()
            && let Some(t) = tenant
        {
            entry.tenant = Some(t.clone());
        }
        let continues = entry
            .runs
            .last()
            .is_some_and(|run| now - run.last_at <= idle);
        if !continues {
            entry.runs.push(Run {
                first_at: now,
                last_at: now,
                first_was_probe: kind == RequestKind::Probe,
                counts: CycleCounts::default(),
            });
        }
        if let Some(run) = entry.runs.last_mut() {
            run.last_at = now;
            let c = &mut run.counts;
            match kind {
                RequestKind::Unauthorized => c.unauthorized += 1,
                counted => {
                    c.requests += 1;
                    match counted {
                        RequestKind::Probe => c.probes += 1,
                        RequestKind::Query => c.queries += 1,
                        _ => {}
                    }
                    if failed {
                        c.failures += 1;
                    }
                }
            }
        }
    }

    /// Adds everything pending to the tenants' cycles. A tenant named only by refused requests is
    /// looked up; an unknown name is dropped (metrics still counted the requests).
    pub async fn flush(&self) -> CoreResult<()> {
        let mut drained: Vec<(String, Pending)> = match self.pending.lock() {
            Ok(mut pending) => pending.drain().collect(),
            Err(_) => return Ok(()),
        };
        let now = std::time::Instant::now();
        if let Ok(mut settling) = self.settling.lock() {
            let due: Vec<String> = settling
                .iter()
                .filter(|(name, (_, at))| *at <= now && !drained.iter().any(|(n, _)| n == *name))
                .map(|(name, _)| name.clone())
                .collect();
            for name in due {
                if let Some((tenant, _)) = settling.remove(&name) {
                    drained.push((
                        name,
                        Pending {
                            tenant: Some(tenant),
                            runs: Vec::new(),
                        },
                    ));
                }
            }
        }
        for (name, pending) in drained {
            let tenant = match pending.tenant {
                Some(t) => Some(t),
                None => self
                    .store
                    .tenant_by_name(&name)
                    .await?
                    .map(Tenant::from_row),
            };
            let Some(tenant) = tenant else { continue };
            let segments: Vec<ActivitySegment> = pending.runs.iter().map(Run::segment).collect();
            if !segments.is_empty()
                && let Ok(mut settling) = self.settling.lock()
            {
                settling.insert(name.clone(), (tenant.clone(), now + SETTLE));
            }
            if let Err(e) = self
                .store
                .record_activity(tenant.scope(), &segments, &self.settings)
                .await
            {
                tracing::error!(tenant = %name, error = %e, "could not record provisioning cycles");
            }
        }
        Ok(())
    }

    /// Flushes every `every` until `stop` resolves, then once more.
    pub async fn run(
        self,
        every: std::time::Duration,
        stop: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(stop);
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = &mut stop => break,
            }
            if let Err(e) = self.flush().await {
                tracing::error!(error = %e, "flushing provisioning activity failed");
            }
        }
        if let Err(e) = self.flush().await {
            tracing::error!(error = %e, "flushing provisioning activity failed");
        }
    }
}
