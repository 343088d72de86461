//! CPU-heavy request work off the async workers. A maximal PATCH (1,000 operations on a resource
//! with 1,000 values), a group body of 10,000 members or a page of users with hundreds of values
//! each takes tens of milliseconds of CPU; run on an async worker, two of them stall every other
//! tenant's requests on a 2-core machine. Work
//! whose weight passes [`HEAVY_WEIGHT`] runs under `block_in_place`: the worker's other tasks
//! move to another thread while this one computes. (`block_in_place` rather than
//! `spawn_blocking` because the work runs inside a store transaction's callback, borrows the
//! current version, and reports dialect quirks through a thread-local.)

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::store::TenantId;

/// The weight (operations plus values they carry, or members of a body) from which work is
/// handed off; below it the hand-off costs more than the work (Entra's PATCHes weigh 1–10).
pub const HEAVY_WEIGHT: usize = 256;

/// Runs `work`, off the async worker when `weight` is heavy and the runtime can spare one.
pub fn run<T>(weight: usize, work: impl FnOnce() -> T) -> T {
    let multi_threaded = Handle::try_current()
        .is_ok_and(|runtime| runtime.runtime_flavor() == RuntimeFlavor::MultiThread);
    if weight >= HEAVY_WEIGHT && multi_threaded {
        tokio::task::block_in_place(work)
    } else {
        work()
    }
}

/// Admission for heavy requests, so that one tenant's maximal requests cannot take the machine
/// from everyone else: a tenant runs one heavy request at a time (its others wait, they are not
/// refused), and after each its lane stays closed for as long again (at most [`MAX_PACING`]), so
/// one tenant's heavy work takes at most about half a core; the process runs at most one fewer
/// than it has cores at once, leaving a core to the light requests Entra sends. A heavy request
/// waits here before it reads or locks anything, so waiting holds no database lock and the
/// request deadline still applies.
#[derive(Debug)]
pub struct HeavyLanes {
    process: Arc<Semaphore>,
    tenants: Mutex<HashMap<TenantId, Arc<Semaphore>>>,
}

/// The longest a tenant's lane stays closed after a heavy request (a request slowed by a lock
/// wait, not by its own work, should not hold its tenant up for long).
pub const MAX_PACING: Duration = Duration::from_millis(500);

/// A heavy request's admission; dropping it lets other tenants' heavy requests in at once and
/// this tenant's next one after the pacing pause.
#[derive(Debug)]
pub struct HeavyPass {
    lanes: Arc<HeavyLanes>,
    tenant: TenantId,
    admitted: Instant,
    // `None` only if a semaphore were closed, which none ever is (and after the drop).
    tenant_permit: Option<OwnedSemaphorePermit>,
    process_permit: Option<OwnedSemaphorePermit>,
}

impl Default for HeavyLanes {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Self::new(cores.saturating_sub(1).max(1))
    }
}

impl HeavyLanes {
    /// Lanes admitting at most `process_lanes` heavy requests at once (one per tenant).
    pub fn new(process_lanes: usize) -> Self {
        Self {
            process: Arc::new(Semaphore::new(process_lanes.max(1))),
            tenants: Mutex::new(HashMap::new()),
        }
    }

    /// Waits for the tenant's lane, then for one of the process's.
    pub async fn enter(self: &Arc<Self>, tenant: &TenantId) -> HeavyPass {
        let lane = self
            .tenants
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(tenant.clone())
            .or_insert_with(|| Arc::new(Semaphore::new(1)))
            .clone();
        let tenant_permit = lane.acquire_owned().await.ok();
        let process_permit = self.process.clone().acquire_owned().await.ok();
        HeavyPass {
            lanes: self.clone(),
            tenant: tenant.clone(),
            admitted: Instant::now(),
            tenant_permit,
            process_permit,
        }
    }

    /// Gives the tenant's lane back, and forgets it if nobody else holds or waits for it.
    fn release(&self, tenant: &TenantId, permit: Option<OwnedSemaphorePermit>) {
        let mut tenants = self
            .tenants
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Held by the map and by this permit only: nobody else waits for the lane.
        let idle = permit.is_some()
            && tenants
                .get(tenant)
                .is_some_and(|lane| Arc::strong_count(lane) <= 2);
        if idle {
            tenants.remove(tenant);
        }
        drop(permit);
    }

    /// Tenants with a lane in use or waited for (lanes of idle tenants are dropped).
    pub fn busy_tenants(&self) -> usize {
        self.tenants
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }
}

impl Drop for HeavyPass {
    fn drop(&mut self) {
        drop(self.process_permit.take());
        let permit = self.tenant_permit.take();
        let pause = self.admitted.elapsed().min(MAX_PACING);
        match Handle::try_current() {
            Ok(runtime) if !pause.is_zero() => {
                let (lanes, tenant) = (self.lanes.clone(), self.tenant.clone());
                runtime.spawn(async move {
                    tokio::time::sleep(pause).await;
                    lanes.release(&tenant, permit);
                });
            }
            _ => self.lanes.release(&self.tenant, permit),
        }
    }
}

/// The weight of a request body: its PATCH operations and the values they carry, or the
/// elements of its multi-valued attributes (a group's `members`, a user's `emails`).
pub fn weight_of(body: &Value) -> usize {
    body.as_object().map_or(0, weight_of_fields)
}

/// The weight of a document: [`weight_of`] for an object's fields (a stored resource to render).
pub fn weight_of_fields(fields: &Map<String, Value>) -> usize {
    fields
        .iter()
        .map(|(name, value)| match value {
            Value::Array(items) if name.eq_ignore_ascii_case("Operations") => {
                items.len()
                    + items
                        .iter()
                        .map(|op| elements(op.get("value")))
                        .sum::<usize>()
            }
            other => elements(Some(other)),
        })
        .sum()
}

fn elements(value: Option<&Value>) -> usize {
    match value {
        Some(Value::Array(items)) => items.len(),
        Some(Value::Object(fields)) => fields.values().map(|v| elements(Some(v))).sum(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn entra_sized_requests_are_light_and_maximal_ones_heavy() {
        let entra = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": "active", "value": "False"},
                           {"op": "Add", "path": "members", "value": [{"value": "u1"}]}]});
        assert!(weight_of(&entra) < HEAVY_WEIGHT);
        let ops: Vec<_> = (0..1000)
            .map(
                |i| json!({"op": "add", "path": "emails", "value": [{"value": format!("e{i}@x")}]}),
            )
            .collect();
        assert_eq!(weight_of(&json!({"Operations": ops})), 2000);
        let members: Vec<_> = (0..300)
            .map(|i| json!({"value": format!("u{i}")}))
            .collect();
        assert!(weight_of(&json!({"displayName": "G", "members": members})) >= HEAVY_WEIGHT);
        let path_less = json!({"Operations": [{"op": "replace", "value": {"emails": members}}]});
        assert!(weight_of(&path_less) >= HEAVY_WEIGHT);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn heavy_work_leaves_the_only_worker_free_for_other_tasks() {
        // On the runtime's only worker, a task spawned before heavy work can run during it only
        // if the worker was handed off. (The test body itself runs outside the workers.)
        let on_the_worker = tokio::spawn(async {
            let (sender, receiver) = std::sync::mpsc::channel();
            tokio::spawn(async move { sender.send(()).unwrap() });
            run(HEAVY_WEIGHT, || {
                receiver
                    .recv_timeout(std::time::Duration::from_secs(5))
                    .is_ok()
            })
        });
        assert!(on_the_worker.await.unwrap());
    }

    const BRIEFLY: Duration = Duration::from_millis(50);

    #[tokio::test]
    async fn a_tenant_runs_one_heavy_request_at_a_time_and_others_are_not_held_up() {
        let lanes = Arc::new(HeavyLanes::new(2));
        let (a, b) = (
            TenantId::from_row("a".into()),
            TenantId::from_row("b".into()),
        );
        let first = lanes.enter(&a).await;
        // A second heavy request of tenant a waits; tenant b's goes in.
        let waiting = tokio::time::timeout(BRIEFLY, lanes.enter(&a));
        assert!(
            waiting.await.is_err(),
            "a's second heavy request was admitted"
        );
        let other = tokio::time::timeout(BRIEFLY, lanes.enter(&b));
        let other = other.await.expect("b's heavy request waits for a's");
        drop(first);
        let second = tokio::time::timeout(MAX_PACING * 2, lanes.enter(&a));
        let second = second
            .await
            .expect("a's next heavy request goes in after the pause");
        drop((second, other));
        tokio::time::sleep(MAX_PACING * 2).await;
        assert_eq!(lanes.busy_tenants(), 0, "idle tenants' lanes are dropped");
    }

    #[tokio::test]
    async fn after_a_heavy_request_its_tenants_lane_stays_closed_as_long_again() {
        let lanes = Arc::new(HeavyLanes::new(2));
        let a = TenantId::from_row("a".into());
        let held = Duration::from_millis(200);
        let first = lanes.enter(&a).await;
        tokio::time::sleep(held).await;
        drop(first);
        let released = Instant::now();
        let _second = lanes.enter(&a).await;
        assert!(
            released.elapsed() >= held,
            "admitted after {:?}",
            released.elapsed()
        );
    }

    #[tokio::test]
    async fn the_process_lanes_bound_heavy_requests_across_tenants() {
        let lanes = Arc::new(HeavyLanes::new(1));
        let (a, b) = (
            TenantId::from_row("a".into()),
            TenantId::from_row("b".into()),
        );
        let first = lanes.enter(&a).await;
        let waiting = tokio::time::timeout(BRIEFLY, lanes.enter(&b));
        assert!(waiting.await.is_err(), "a second process lane was admitted");
        drop(first);
        // The process lane is given back at once; only tenant a's own lane pauses.
        let b_in = tokio::time::timeout(BRIEFLY, lanes.enter(&b));
        b_in.await.expect("b goes in as soon as a's request ends");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn light_work_and_single_threaded_runtimes_run_inline() {
        assert_eq!(run(1, || 7), 7);
        assert_eq!(run(HEAVY_WEIGHT, || 8), 8);
    }
}
