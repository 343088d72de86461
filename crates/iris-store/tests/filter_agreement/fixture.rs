//! A tenant seeded through the real store, and the agreement check: the ids the store returns
//! for a filter (compiled to SQL) against the ids the in-memory evaluator accepts. The only place
//! this test calls iris-core's services.

use std::collections::BTreeSet;
use std::sync::Arc;

use iris_core::listing::{ListParams, PageLimits};
use iris_core::{
    RequestContext, ResourceKind, ResourceService, Store, Tenant, TenantName, TenantService,
};
use iris_scim::filter::{self, FilterLimits};
use iris_scim::resource::{self, Document, Meta};
use iris_scim::schema::user_type;
use serde_json::Value;

use crate::database::Backend;

pub(crate) struct Fixture {
    backend: Backend,
    tenant: Tenant,
    users: ResourceService,
    /// Every stored user, rendered as a client reads it: `(id, resource)`.
    pub(crate) rendered: Vec<(String, Value)>,
}

impl Fixture {
    /// Creates tenant `name` holding one user per body (`userName` must be unique).
    pub(crate) async fn seed(
        store: &Arc<dyn Store>,
        backend: Backend,
        name: &str,
        bodies: &[Value],
    ) -> Self {
        let tenants = TenantService::new(store.clone());
        let (tenant, _) = tenants
            .create(&TenantName::parse(name).expect("tenant name"))
            .await
            .expect("create tenant");
        let users = ResourceService::new(
            store.clone(),
            FilterLimits::default(),
            PageLimits {
                default_count: 1000,
                max_count: 1000,
            },
        );
        for body in bodies {
            users
                .create(
                    &tenant,
                    &RequestContext::command("test"),
                    ResourceKind::User,
                    body,
                )
                .await
                .unwrap_or_else(|e| panic!("cannot create user {body}: {e:?}"));
        }
        let all = users
            .list(&tenant, ResourceKind::User, &ListParams::default())
            .await
            .expect("list all");
        assert_eq!(all.page.records.len(), bodies.len());
        let rendered = all
            .page
            .records
            .iter()
            .map(|r| {
                let meta = Meta {
                    created: r.created.clone(),
                    last_modified: r.last_modified.clone(),
                    version: r.version,
                    location: format!("https://iris.example/scim/v2/{name}/Users/{}", r.id),
                };
                let resource = resource::render(user_type(), &r.id, &r.doc, Document::new(), &meta);
                (r.id.clone(), resource)
            })
            .collect();
        Self {
            backend,
            tenant,
            users,
            rendered,
        }
    }

    /// Compares the ids the store returns for `filter` with the ids the evaluator accepts.
    pub(crate) async fn check(&self, raw: &str) -> Result<(), String> {
        let parsed = filter::parse_filter(raw, &FilterLimits::default())
            .map_err(|e| format!("generated filter does not parse: {raw}\n  {e}"))?;
        let resolved = filter::resolve(&parsed, user_type())
            .map_err(|e| format!("generated filter does not resolve: {raw}\n  {e}"))?;
        let in_memory: BTreeSet<&str> = self
            .rendered
            .iter()
            .filter(|(_, r)| filter::matches(&resolved, r))
            .map(|(id, _)| id.as_str())
            .collect();
        let params = ListParams {
            filter: Some(raw.to_owned()),
            count: Some(1000),
            ..ListParams::default()
        };
        let result = self
            .users
            .list(&self.tenant, ResourceKind::User, &params)
            .await
            .map_err(|e| format!("{:?} list failed for {raw}: {e:?}", self.backend))?;
        let sql: BTreeSet<&str> = result.page.records.iter().map(|r| r.id.as_str()).collect();
        let mut problems = Vec::new();
        if result.page.total != sql.len() as u64 {
            problems.push(format!(
                "totalResults {} but {} records returned",
                result.page.total,
                sql.len()
            ));
        }
        let describe = |ids: Vec<&&str>| -> String {
            ids.iter()
                .map(|id| {
                    let doc = self
                        .rendered
                        .iter()
                        .find(|(i, _)| i == **id)
                        .map(|(_, r)| without_noise(r))
                        .unwrap_or_default();
                    format!("    {doc}")
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        let only_sql: Vec<&&str> = sql.difference(&in_memory).collect();
        let only_memory: Vec<&&str> = in_memory.difference(&sql).collect();
        if !only_sql.is_empty() {
            problems.push(format!(
                "matched by SQL only ({}):\n{}",
                only_sql.len(),
                describe(only_sql)
            ));
        }
        if !only_memory.is_empty() {
            problems.push(format!(
                "matched in memory only ({}):\n{}",
                only_memory.len(),
                describe(only_memory)
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{:?}: filter {raw}\n  canonical: {parsed}\n  SQL matched {}, in-memory matched {}\n  {}",
                self.backend,
                sql.len(),
                in_memory.len(),
                problems.join("\n  ")
            ))
        }
    }
}

/// The resource without `schemas` and `meta.location`, to keep failure reports readable.
fn without_noise(resource: &Value) -> Value {
    let mut r = resource.clone();
    if let Some(obj) = r.as_object_mut() {
        obj.remove("schemas");
        if let Some(meta) = obj.get_mut("meta").and_then(Value::as_object_mut) {
            meta.remove("location");
            meta.remove("resourceType");
        }
    }
    r
}
