//! One service for every resource type: create, read, replace, patch, delete and list users and
//! groups alike, driven by the SCIM resource type. Validation and PATCH happen here, in memory and
//! outside any database lock; the store only checks versions, uniqueness and member ids, and
//! writes. What differs between the kinds is data (their schema, their unique attribute, whether
//! they hold members), not code.

mod membership;
mod shadow;

use std::sync::Arc;

use iris_scim::filter::FilterLimits;
use iris_scim::patch;
use iris_scim::schema::ResourceKind;
use iris_scim::{ScimError, ScimResult};
use serde_json::Value;

use crate::error::{CoreError, CoreResult, StoreError};
use crate::listing::{ListParams, ListResult, PageLimits, PreparedList};
use crate::provisioning::{
    self, MembersDelta, Operation, ProvisioningEvent, RequestContext, identity_of,
};
use crate::store::{
    Change, DirectGroup, Inserted, Member, MembershipChange, Modified, Mutation, ResourceRecord,
    Store,
};
use crate::tenants::Tenant;
use crate::{clock, offload};

pub use membership::net_membership;
pub(crate) use membership::split_document;
pub use shadow::{MAX_INDEXED_VALUE_BYTES, resource_write, search_projection, unique_attribute};

/// A precondition from `If-Match`: the version the client last saw.
pub type ExpectedVersion = Option<i64>;

/// Members read per query when a group's members are listed in full.
pub const MEMBER_PAGE: u32 = 1000;

#[derive(Clone)]
pub struct ResourceService {
    store: Arc<dyn Store>,
    filter_limits: FilterLimits,
    page_limits: PageLimits,
    heavy: Arc<offload::HeavyLanes>,
}

impl ResourceService {
    pub fn new(
        store: Arc<dyn Store>,
        filter_limits: FilterLimits,
        page_limits: PageLimits,
    ) -> Self {
        Self {
            store,
            filter_limits,
            page_limits,
            heavy: Arc::new(offload::HeavyLanes::default()),
        }
    }

    /// Admission for a request of `weight`: heavy ones wait for their tenant's lane (see
    /// [`offload::HeavyLanes`]); light ones, nearly all of them, go straight in.
    async fn admit(&self, tenant: &Tenant, weight: usize) -> Option<offload::HeavyPass> {
        if weight >= offload::HEAVY_WEIGHT {
            Some(self.heavy.enter(tenant.id()).await)
        } else {
            None
        }
    }

    pub fn page_limits(&self) -> PageLimits {
        self.page_limits
    }

    /// POST: the resource and, for a group, its initial members (checked in the same
    /// transaction), with their events.
    pub async fn create(
        &self,
        tenant: &Tenant,
        context: &RequestContext,
        kind: ResourceKind,
        body: &Value,
    ) -> CoreResult<ResourceRecord> {
        let weight = offload::weight_of(body);
        let _admitted = self.admit(tenant, weight).await;
        let ((doc, members), quirks) = offload::run(weight, || read_body(kind, body))?;
        let members = members.unwrap_or_default();
        let write = resource_write(kind, uuid::Uuid::now_v7().to_string(), doc, clock::now())?;
        membership::check_not_self(&write.id, &members)?;
        let identity = identity_of(kind, &write.doc);
        let mut created =
            ProvisioningEvent::new(context, Operation::Create, kind, &write.id, &identity)
                .with_status(201);
        created.changes = provisioning::created(&write.doc);
        created.quirks = quirks;
        let mut events = vec![created];
        if !members.is_empty() {
            let mut added = ProvisioningEvent::new(
                context,
                Operation::MembersAdded,
                kind,
                &write.id,
                &identity,
            )
            .with_status(201);
            added.members = Some(MembersDelta::default());
            events.push(added);
        }
        match self
            .store
            .insert(tenant.scope(), kind, &write, &members, &events)
            .await
        {
            Ok(Inserted::Created(record)) => Ok(record),
            Ok(Inserted::Rejected(e)) => Err(e.into()),
            Err(StoreError::Conflict) => Err(taken(kind, unique_value(kind, &write.doc))),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn get(
        &self,
        tenant: &Tenant,
        kind: ResourceKind,
        id: &str,
    ) -> CoreResult<ResourceRecord> {
        check_id(kind, id)?;
        self.store
            .get(tenant.scope(), kind, id)
            .await?
            .ok_or_else(|| not_found(kind, id))
    }

    pub async fn list(
        &self,
        tenant: &Tenant,
        kind: ResourceKind,
        params: &ListParams,
    ) -> CoreResult<ListResult> {
        let prepared = PreparedList::new(
            tenant.scope(),
            kind.resource_type(),
            params,
            &self.filter_limits,
            self.page_limits,
        )?;
        let page = self
            .store
            .list(tenant.scope(), kind, &prepared.query())
            .await?;
        Ok(prepared.finish(page))
    }

    /// PUT: replaces every writable attribute (RFC 7644 §3.5.1); `id` and `meta.created` stay.
    /// A group body's `members` replaces the membership exactly (`[]` or `null` empties it); a
    /// body without `members` leaves the membership as it is (RFC 7644 §3.5.1 lets omitted
    /// attributes be "not asserted"), so a client that read the group with
    /// `excludedAttributes=members` and puts it back does not empty it.
    pub async fn replace(
        &self,
        tenant: &Tenant,
        context: &RequestContext,
        kind: ResourceKind,
        id: &str,
        body: &Value,
        expected: ExpectedVersion,
    ) -> CoreResult<ResourceRecord> {
        // Validation happens before any lock is taken.
        let weight = offload::weight_of(body);
        let _admitted = self.admit(tenant, weight).await;
        let ((doc, members), quirks) = offload::run(weight, || read_body(kind, body))?;
        let now = clock::now();
        let write = resource_write(kind, id.to_owned(), doc, now.clone())?;
        let unique = unique_value(kind, &write.doc).to_owned();
        let members = match members {
            Some(refs) => {
                membership::check_not_self(id, &refs)?;
                MembershipChange::exactly(refs, true)
            }
            None => MembershipChange::default(),
        };
        let mutate = move |current: &ResourceRecord| {
            check_precondition(current, expected)?;
            let events = provisioning::modification(
                context,
                kind,
                id,
                &current.doc,
                Some(&write.doc),
                !members.is_empty(),
                &quirks,
            );
            Ok(Some(Change {
                write: Some(shadow::over_current(current, write.clone())),
                members: members.clone(),
                now: now.clone(),
                events,
            }))
        };
        self.modify(tenant, kind, id, &mutate, &unique).await
    }

    /// PATCH: applies all operations or none, to the version it is written over, so concurrent
    /// PATCHes of one resource (from any process) never lose an update. Membership operations
    /// never load the member list.
    pub async fn patch(
        &self,
        tenant: &Tenant,
        context: &RequestContext,
        kind: ResourceKind,
        id: &str,
        body: &Value,
        expected: ExpectedVersion,
    ) -> CoreResult<ResourceRecord> {
        // The operations apply under the row's lock, so a heavy request computes off the async
        // workers rather than stalling every other tenant's requests.
        let weight = offload::weight_of(body);
        let _admitted = self.admit(tenant, weight).await;
        let mutate = |current: &ResourceRecord| {
            offload::run(weight, || {
                check_precondition(current, expected)?;
                let mut doc = current.doc.clone();
                let outcome = patch::apply_patch(kind.resource_type(), &mut doc, body)?;
                let members = net_membership(&outcome.member_ops);
                membership::check_not_self(&current.id, &members.check)?;
                let now = clock::now();
                let write = if doc == current.doc {
                    None
                } else {
                    let write = resource_write(kind, current.id.clone(), doc, now.clone())?;
                    Some(shadow::over_current(current, write))
                };
                if write.is_none() && members.is_empty() {
                    return Ok(None);
                }
                let events = provisioning::modification(
                    context,
                    kind,
                    &current.id,
                    &current.doc,
                    write.as_ref().map(|w| &w.doc),
                    !members.is_empty(),
                    &quirk_names(&outcome.quirks),
                );
                Ok(Some(Change {
                    write,
                    members,
                    now,
                    events,
                }))
            })
        };
        self.modify(tenant, kind, id, &mutate, "").await
    }

    async fn modify(
        &self,
        tenant: &Tenant,
        kind: ResourceKind,
        id: &str,
        mutate: Mutation<'_>,
        unique: &str,
    ) -> CoreResult<ResourceRecord> {
        check_id(kind, id)?;
        match self.store.modify(tenant.scope(), kind, id, mutate).await {
            Ok(Modified::Updated(record) | Modified::Unchanged(record)) => Ok(record),
            Ok(Modified::Rejected(e)) => Err(e.into()),
            Err(StoreError::NotFound) => Err(not_found(kind, id)),
            Err(StoreError::Conflict) => Err(taken(kind, unique)),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn delete(
        &self,
        tenant: &Tenant,
        context: &RequestContext,
        kind: ResourceKind,
        id: &str,
        expected: ExpectedVersion,
    ) -> CoreResult<()> {
        check_id(kind, id)?;
        let describe = |deleted: &ResourceRecord| {
            let identity = identity_of(kind, &deleted.doc);
            vec![
                ProvisioningEvent::new(context, Operation::Delete, kind, &deleted.id, &identity)
                    .with_status(204),
            ]
        };
        match self
            .store
            .delete(tenant.scope(), kind, id, expected, &describe)
            .await
        {
            Err(StoreError::NotFound) => Err(not_found(kind, id)),
            other => Ok(other?),
        }
    }

    /// One page of a group's members (ids greater than `after`, in id order). Reading a group's
    /// members in full means calling this until a page comes back short.
    pub async fn members_page(
        &self,
        tenant: &Tenant,
        group_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> CoreResult<Vec<Member>> {
        Ok(self
            .store
            .members_page(tenant.scope(), group_id, after, limit.clamp(1, 10_000))
            .await?)
    }

    /// The direct groups of each of `member_ids` (a page of users): one query per page.
    pub async fn direct_groups(
        &self,
        tenant: &Tenant,
        member_ids: &[String],
    ) -> CoreResult<Vec<DirectGroup>> {
        if member_ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self.store.direct_groups(tenant.scope(), member_ids).await?)
    }
}

/// A POST/PUT body read: the stored document and, for a group, its members.
type ReadBody = (
    iris_scim::resource::Document,
    Option<Vec<iris_scim::patch::MemberRef>>,
);

/// The stored document and members of a POST/PUT body, and the dialect quirks it used.
fn read_body(kind: ResourceKind, body: &Value) -> ScimResult<(ReadBody, Vec<String>)> {
    let (read, quirks) = iris_scim::quirks::observe(|| membership::split_document(kind, body));
    Ok((read?, quirk_names(&quirks)))
}

fn quirk_names(quirks: &[iris_scim::quirks::Quirk]) -> Vec<String> {
    quirks.iter().map(|q| q.as_str().to_owned()).collect()
}

pub(crate) fn check_precondition(
    current: &ResourceRecord,
    expected: ExpectedVersion,
) -> ScimResult<()> {
    match expected {
        Some(v) if v != current.version => Err(ScimError::precondition_failed(format!(
            "the resource is at version W/\"{}\", not W/\"{v}\"",
            current.version
        ))),
        _ => Ok(()),
    }
}

fn not_found(kind: ResourceKind, id: &str) -> CoreError {
    ScimError::not_found(format!("{} {} not found", kind.name(), id.escape_debug())).into()
}

/// Ids are assigned by Iris (UUIDs); anything that could not be one is answered without a
/// database round trip, and control characters never reach SQL.
fn check_id(kind: ResourceKind, id: &str) -> CoreResult<()> {
    let plausible = !id.is_empty() && id.len() <= 128 && !id.chars().any(char::is_control);
    if plausible {
        Ok(())
    } else {
        Err(not_found(kind, id))
    }
}

fn unique_value(kind: ResourceKind, doc: &iris_scim::resource::Document) -> &str {
    doc.get(unique_attribute(kind))
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn taken(kind: ResourceKind, value: &str) -> CoreError {
    let noun = kind.name().to_lowercase();
    let attribute = unique_attribute(kind);
    let detail = if value.is_empty() {
        format!("another {noun} of this tenant already has that {attribute}")
    } else {
        format!("a {noun} with {attribute} '{value}' already exists")
    };
    ScimError::uniqueness(detail).into()
}
