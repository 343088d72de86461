//! The workloads of issue 7, as streams of Entra-shaped requests. The same requests go to Iris and
//! to the limit server (which ignores the token and answers with fixed bodies).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use hdrhistogram::Histogram;
use hyper::{Method, StatusCode};

use crate::client::{Req, Resp};
use crate::data::{self, Tenant, mix};
use crate::load::Workload;

fn pick(nonce: u64, worker: usize, seq: u64, n: usize) -> u64 {
    mix(nonce ^ ((worker as u64) << 40) ^ seq) % (n.max(1) as u64)
}

fn lookup(tenant: &Tenant, user_name: &str) -> Req {
    Req::get(
        format!(
            "{}/Users?{}",
            tenant.base(),
            data::filter_query("userName", user_name)
        ),
        &tenant.auth,
    )
}

fn user_uri(tenant: &Tenant, id: &str) -> String {
    format!("{}/Users/{id}", tenant.base())
}

/// W1: `GET /Users?filter=userName eq "…"`, hit or miss.
pub struct Lookup {
    pub tenant: Tenant,
    pub hit: bool,
    pub nonce: u64,
}

impl Workload for Lookup {
    fn next(&self, worker: usize, seq: u64) -> Option<Vec<Req>> {
        let key = pick(self.nonce, worker, seq, self.tenant.users);
        let name = if self.hit {
            data::user_name(&self.tenant.name, key)
        } else {
            data::missing_user_name(mix(self.nonce ^ ((worker as u64) << 32) ^ seq))
        };
        Some(vec![lookup(&self.tenant, &name)])
    }
}

/// W2: Entra's initial cycle — filter (miss) then POST — worker `w` provisioning tenant `w % J`.
pub struct InitialCycle {
    pub tenants: Vec<Tenant>,
    pub nonce: u64,
}

impl Workload for InitialCycle {
    fn next(&self, worker: usize, seq: u64) -> Option<Vec<Req>> {
        let tenant = &self.tenants[worker % self.tenants.len()];
        let name = format!(
            "new{}-{worker}-{seq}@{}.example.com",
            self.nonce, tenant.name
        );
        let post = Req::with_body(
            Method::POST,
            format!("{}/Users", tenant.base()),
            &tenant.auth,
            data::body(&data::entra_user(&name, seq)),
            StatusCode::CREATED,
        );
        Some(vec![lookup(tenant, &name), post])
    }
}

/// W2b: the match path — filter (hit) then PATCH of the matched user.
pub struct MatchCycle {
    pub tenants: Vec<Tenant>,
    pub nonce: u64,
}

impl Workload for MatchCycle {
    fn next(&self, worker: usize, seq: u64) -> Option<Vec<Req>> {
        let tenant = &self.tenants[worker % self.tenants.len()];
        let i = pick(self.nonce, worker, seq, tenant.users);
        let name = data::user_name(&tenant.name, i);
        let patch = Req::with_body(
            Method::PATCH,
            user_uri(tenant, &data::user_id(tenant.index, i)),
            &tenant.auth,
            data::patch_match_update(&name, seq),
            StatusCode::OK,
        );
        Some(vec![lookup(tenant, &name), patch])
    }
}

/// W3: incremental PATCHes (`active` "False", `displayName`, `emails[type eq "work"].value`).
pub struct IncrementalPatch {
    pub tenant: Tenant,
    pub nonce: u64,
}

impl Workload for IncrementalPatch {
    fn next(&self, worker: usize, seq: u64) -> Option<Vec<Req>> {
        let i = pick(self.nonce, worker, seq, self.tenant.users);
        let name = data::user_name(&self.tenant.name, i);
        Some(vec![Req::with_body(
            Method::PATCH,
            user_uri(&self.tenant, &data::user_id(self.tenant.index, i)),
            &self.tenant.auth,
            data::patch_incremental(seq + worker as u64, &name, seq),
            StatusCode::OK,
        )])
    }
}

/// W8: `POST /Users` alone (durable create); collects the created ids for W3's DELETE.
pub struct Create {
    pub tenant: Tenant,
    pub nonce: u64,
    pub created: Mutex<Vec<String>>,
}

impl Workload for Create {
    fn next(&self, worker: usize, seq: u64) -> Option<Vec<Req>> {
        let name = format!(
            "post{}-{worker}-{seq}@{}.example.com",
            self.nonce, self.tenant.name
        );
        Some(vec![Req::with_body(
            Method::POST,
            format!("{}/Users", self.tenant.base()),
            &self.tenant.auth,
            data::body(&data::entra_user(&name, seq)),
            StatusCode::CREATED,
        )])
    }

    fn on_response(&self, _worker: usize, _req: &Req, resp: &Resp) {
        if let Some(id) = resp.location.as_deref().and_then(|l| l.rsplit('/').next())
            && let Ok(mut created) = self.created.lock()
        {
            created.push(id.to_owned());
        }
    }
}

/// W3: `DELETE /Users/{id}` of the given users, each once.
pub struct Delete {
    pub tenant: Tenant,
    pub ids: Vec<String>,
    pub cursor: AtomicUsize,
}

impl Workload for Delete {
    fn next(&self, _worker: usize, _seq: u64) -> Option<Vec<Req>> {
        let id = self.ids.get(self.cursor.fetch_add(1, Ordering::Relaxed))?;
        Some(vec![Req::delete(
            user_uri(&self.tenant, id),
            &self.tenant.auth,
        )])
    }
}

/// W6: one page of 100 users at `startIndex`.
pub struct Page {
    pub tenant: Tenant,
    pub start_index: u64,
}

impl Workload for Page {
    fn next(&self, _worker: usize, _seq: u64) -> Option<Vec<Req>> {
        Some(vec![Req::get(
            format!(
                "{}/Users?startIndex={}&count=100",
                self.tenant.base(),
                self.start_index
            ),
            &self.tenant.auth,
        )])
    }
}

/// W11: `userName` lookups of one tenant as fast as its clients can send them, past its rate
/// limit; counts how many were served and how many refused with `429`.
pub struct Flood {
    pub tenant: Tenant,
    pub nonce: u64,
    pub served: AtomicU64,
    pub refused: AtomicU64,
}

impl Workload for Flood {
    fn next(&self, worker: usize, seq: u64) -> Option<Vec<Req>> {
        let key = pick(self.nonce, worker, seq, self.tenant.users);
        let name = data::user_name(&self.tenant.name, key);
        Some(vec![
            lookup(&self.tenant, &name).tolerating(StatusCode::TOO_MANY_REQUESTS),
        ])
    }

    fn on_response(&self, _worker: usize, _req: &Req, resp: &Resp) {
        let counter = if resp.status == StatusCode::TOO_MANY_REQUESTS {
            &self.refused
        } else {
            &self.served
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// W7: one worker per tenant, three filter lookups to one incremental PATCH.
pub struct Mixed {
    pub tenants: Vec<Tenant>,
    pub nonce: u64,
}

impl Workload for Mixed {
    fn next(&self, worker: usize, seq: u64) -> Option<Vec<Req>> {
        let tenant = &self.tenants[worker % self.tenants.len()];
        let i = pick(self.nonce, worker, seq, tenant.users);
        let name = data::user_name(&tenant.name, i);
        if seq % 4 == 3 {
            Some(vec![Req::with_body(
                Method::PATCH,
                user_uri(tenant, &data::user_id(tenant.index, i)),
                &tenant.auth,
                data::patch_incremental(seq / 4, &name, seq),
                StatusCode::OK,
            )])
        } else {
            Some(vec![lookup(tenant, &name)])
        }
    }
}

/// W10's noise: maximal PATCHes ([`data::patch_maximal`]), each worker on a user of its own.
pub struct MaximalPatch {
    pub tenant: Tenant,
}

impl Workload for MaximalPatch {
    fn next(&self, worker: usize, seq: u64) -> Option<Vec<Req>> {
        let user = (worker % self.tenant.users.max(1)) as u64;
        Some(vec![Req::with_body(
            Method::PATCH,
            user_uri(&self.tenant, &data::user_id(self.tenant.index, user)),
            &self.tenant.auth,
            data::patch_maximal(seq),
            StatusCode::OK,
        )])
    }
}

fn group_uri(tenant: &Tenant, id: &str) -> String {
    format!("{}/Groups/{id}", tenant.base())
}

/// W4: one PATCH adding `members` to a group, then one removing them, `reps` times; the two
/// latencies are kept apart.
pub struct MemberBatch {
    pub tenant: Tenant,
    pub group_id: String,
    pub add: bytes::Bytes,
    pub remove: bytes::Bytes,
    pub reps: u64,
    pub add_hist: Mutex<Histogram<u64>>,
    pub remove_hist: Mutex<Histogram<u64>>,
}

impl MemberBatch {
    pub fn new(
        tenant: Tenant,
        group_id: String,
        members: &[String],
        reps: u64,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            tenant,
            group_id,
            add: data::group_members_patch("Add", members),
            remove: data::group_members_patch("Remove", members),
            reps,
            add_hist: Mutex::new(Histogram::new_with_bounds(1, 600_000_000, 3)?),
            remove_hist: Mutex::new(Histogram::new_with_bounds(1, 600_000_000, 3)?),
        })
    }
}

impl Workload for MemberBatch {
    fn next(&self, _worker: usize, seq: u64) -> Option<Vec<Req>> {
        if seq >= self.reps {
            return None;
        }
        let uri = group_uri(&self.tenant, &self.group_id);
        Some(vec![
            Req::with_body(
                Method::PATCH,
                uri.clone(),
                &self.tenant.auth,
                self.add.clone(),
                StatusCode::NO_CONTENT,
            ),
            Req::with_body(
                Method::PATCH,
                uri,
                &self.tenant.auth,
                self.remove.clone(),
                StatusCode::NO_CONTENT,
            ),
        ])
    }

    fn on_latency(&self, req: &Req, us: u64) {
        let Some(body) = &req.body else { return };
        let hist = if body == &self.add {
            &self.add_hist
        } else {
            &self.remove_hist
        };
        if let Ok(mut h) = hist.lock() {
            h.saturating_record(us.max(1));
        }
    }
}

/// W4b: single-member PATCHes — each worker adds one member, then removes it (the
/// `aadOptscim062020` form).
pub struct SingleMember {
    pub tenant: Tenant,
    pub group_id: String,
    pub members: usize,
}

impl Workload for SingleMember {
    fn next(&self, worker: usize, seq: u64) -> Option<Vec<Req>> {
        let slot = (worker as u64 * 1_000_003 + seq / 2) % self.members.max(1) as u64;
        let member = data::user_id(self.tenant.index, slot);
        let body = if seq.is_multiple_of(2) {
            data::group_members_patch("Add", std::slice::from_ref(&member))
        } else {
            data::group_member_remove_flag(&member)
        };
        Some(vec![Req::with_body(
            Method::PATCH,
            group_uri(&self.tenant, &self.group_id),
            &self.tenant.auth,
            body,
            StatusCode::NO_CONTENT,
        )])
    }
}

/// W5: `GET /Groups/{id}?excludedAttributes=members`.
pub struct GroupGet {
    pub tenant: Tenant,
    pub group_id: String,
}

impl Workload for GroupGet {
    fn next(&self, _worker: usize, _seq: u64) -> Option<Vec<Req>> {
        Some(vec![Req::get(
            format!(
                "{}?excludedAttributes=members",
                group_uri(&self.tenant, &self.group_id)
            ),
            &self.tenant.auth,
        )])
    }
}
