//! Moving a tenant between databases (SQLite to PostgreSQL, or one server to another): a JSON
//! Lines stream of the tenant, its tokens (hashes only, so the Secret Token pasted into Entra keeps
//! working after the move) and its resources with their ids, timestamps and versions.
//!
//! Format version 1. Groups were added as a new line kind (`group`, with its members) after the
//! first release; a file without groups is read exactly as before.

use std::collections::HashSet;
use std::sync::Arc;

use iris_scim::ScimError;
use iris_scim::patch::MemberRef;
use iris_scim::resource::Document;
use iris_scim::schema::ResourceKind;
use serde::{Deserialize, Serialize};

use crate::error::{CoreError, CoreResult, StoreError};
use crate::resources::{MEMBER_PAGE, resource_write, split_document, unique_attribute};
use crate::store::{Imported, ListQuery, SortKey, Store, TenantId, TenantRow, TokenRow};
use crate::tenants::Tenant;

/// The format version written in the header line.
pub const FORMAT_VERSION: u32 = 1;

/// Users (and groups) read per page while exporting.
const EXPORT_PAGE: u64 = 500;

/// Users written per transaction while importing.
const IMPORT_BATCH: usize = 500;

/// Members added per transaction while importing.
const IMPORT_MEMBER_BATCH: usize = 5000;

/// One member of an exported group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberLine {
    pub value: String,
    #[serde(rename = "type")]
    pub member_type: String,
}

/// One line of an export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Line {
    Header {
        format: String,
        version: u32,
    },
    Tenant {
        id: String,
        name: String,
        created: String,
        disabled_at: Option<String>,
        /// Added after the first release; an older export keeps the default.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        log_retention_days: Option<u32>,
    },
    Token {
        id: String,
        label: Option<String>,
        secret_hash: String,
        created: String,
        last_used: Option<String>,
        revoked_at: Option<String>,
        /// Added with token lifetimes; an older export's tokens never expire.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expires_at: Option<String>,
    },
    User {
        id: String,
        created: String,
        last_modified: String,
        version: i64,
        doc: Document,
    },
    /// A group and all its members. Groups follow the users in an export.
    Group {
        id: String,
        created: String,
        last_modified: String,
        version: i64,
        doc: Document,
        members: Vec<MemberLine>,
    },
}

const FORMAT_NAME: &str = "iris-tenant-export";

/// What an import wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ImportSummary {
    pub tokens: usize,
    pub users: usize,
    pub groups: usize,
    pub memberships: usize,
}

#[derive(Clone)]
pub struct TransferService {
    store: Arc<dyn Store>,
}

impl TransferService {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// Streams one tenant to `emit`, a line at a time, in a consistent order: header, tenant,
    /// tokens, users by id, groups by id (each with its members). Returns the number of users.
    pub async fn export(
        &self,
        tenant_name: &str,
        mut emit: impl FnMut(&Line) -> std::io::Result<()>,
    ) -> CoreResult<usize> {
        let row = self
            .store
            .tenant_by_name(tenant_name)
            .await?
            .ok_or_else(|| ScimError::not_found(format!("no tenant named '{tenant_name}'")))?;
        emit(&Line::Header {
            format: FORMAT_NAME.into(),
            version: FORMAT_VERSION,
        })
        .map_err(write_failed)?;
        emit(&Line::Tenant {
            id: row.id.as_str().to_owned(),
            name: row.name.clone(),
            created: row.created.clone(),
            disabled_at: row.disabled_at.clone(),
            log_retention_days: Some(row.log_retention_days),
        })
        .map_err(write_failed)?;
        for t in self.store.tokens(&row.id).await? {
            emit(&Line::Token {
                id: t.id,
                label: t.label,
                secret_hash: t.secret_hash,
                created: t.created,
                last_used: t.last_used,
                revoked_at: t.revoked_at,
                expires_at: t.expires_at,
            })
            .map_err(write_failed)?;
        }
        let tenant = Tenant::from_row(row);
        let mut users = 0;
        for kind in ResourceKind::ALL {
            let written = self.export_kind(&tenant, kind, &mut emit).await?;
            if kind == ResourceKind::User {
                users = written;
            }
        }
        Ok(users)
    }

    /// Every resource of `kind` by id, a page at a time; groups with their members.
    async fn export_kind(
        &self,
        tenant: &Tenant,
        kind: ResourceKind,
        emit: &mut impl FnMut(&Line) -> std::io::Result<()>,
    ) -> CoreResult<usize> {
        let mut written = 0;
        let mut after: Option<SortKey> = None;
        loop {
            let query = ListQuery::scan(after.as_ref(), EXPORT_PAGE);
            let page = self.store.list(tenant.scope(), kind, &query).await?;
            after = page.edges.map(|(_, last)| last);
            for r in page.records {
                let line = match kind {
                    ResourceKind::User => Line::User {
                        id: r.id,
                        created: r.created,
                        last_modified: r.last_modified,
                        version: r.version,
                        doc: r.doc,
                    },
                    ResourceKind::Group => Line::Group {
                        members: self.all_members(tenant, &r.id).await?,
                        id: r.id,
                        created: r.created,
                        last_modified: r.last_modified,
                        version: r.version,
                        doc: r.doc,
                    },
                };
                emit(&line).map_err(write_failed)?;
                written += 1;
            }
            if !page.more {
                return Ok(written);
            }
        }
    }

    async fn all_members(&self, tenant: &Tenant, group_id: &str) -> CoreResult<Vec<MemberLine>> {
        let mut members = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let chunk = self
                .store
                .members_page(tenant.scope(), group_id, after.as_deref(), MEMBER_PAGE)
                .await?;
            let full = chunk.len() == MEMBER_PAGE as usize;
            after = chunk.last().map(|m| m.id.clone());
            members.extend(chunk.into_iter().map(|m| MemberLine {
                value: m.id,
                member_type: m.kind.name().to_owned(),
            }));
            if !full {
                return Ok(members);
            }
        }
    }

    /// Imports an export into this database. The tenant must not exist here yet; every user is
    /// validated again as if it were created, so a damaged file cannot store what the API would
    /// refuse.
    ///
    /// `lines` is read as it is written (a million-user export never sits in memory); a line that
    /// cannot be read fails the import like any other error, and nothing of it is kept.
    pub async fn import(
        &self,
        lines: impl IntoIterator<Item = CoreResult<Line>>,
    ) -> CoreResult<ImportSummary> {
        let mut lines = lines.into_iter();
        match lines.next().transpose()? {
            Some(Line::Header { format, version })
                if format == FORMAT_NAME && version == FORMAT_VERSION => {}
            _ => {
                return Err(ScimError::invalid_syntax(format!(
                    "not an {FORMAT_NAME} version {FORMAT_VERSION} file"
                ))
                .into());
            }
        }
        let Some(Line::Tenant {
            id,
            name,
            created,
            disabled_at,
            log_retention_days,
        }) = lines.next().transpose()?
        else {
            return Err(ScimError::invalid_syntax("the export has no tenant line").into());
        };
        let row = TenantRow {
            id: TenantId::from_row(id),
            name: name.clone(),
            created,
            disabled_at,
            log_retention_days: log_retention_days
                .unwrap_or(crate::store::DEFAULT_LOG_RETENTION_DAYS),
        };
        self.store.insert_tenant(&row).await.map_err(|e| match e {
            StoreError::Conflict => CoreError::Scim(ScimError::uniqueness(format!(
                "tenant '{name}' already exists in this database"
            ))),
            other => other.into(),
        })?;
        let tenant = Tenant::from_row(row);
        match self.import_into(&tenant, lines).await {
            Ok(summary) => {
                // The first queries after a large import should not run without statistics.
                self.store.refresh_statistics().await?;
                Ok(summary)
            }
            Err(e) => {
                // Leave nothing half-imported: the tenant and all it received go again.
                if let Err(cleanup) = self.store.delete_tenant(tenant.id()).await {
                    tracing::error!(error = %cleanup, "could not remove a partially imported tenant");
                }
                Err(e)
            }
        }
    }

    async fn import_into(
        &self,
        tenant: &Tenant,
        lines: impl Iterator<Item = CoreResult<Line>>,
    ) -> CoreResult<ImportSummary> {
        let mut summary = ImportSummary::default();
        let mut batch = ImportBatch::default();
        // Members are added once every user and group exists (a group may contain a group that
        // comes later in the file).
        let mut memberships: Vec<(String, Vec<MemberRef>)> = Vec::new();
        for line in lines {
            let (kind, resource) = match line? {
                Line::Token {
                    id,
                    label,
                    secret_hash,
                    created,
                    last_used,
                    revoked_at,
                    expires_at,
                } => {
                    let row = TokenRow {
                        id,
                        tenant_id: tenant.id().clone(),
                        label,
                        secret_hash,
                        created,
                        last_used,
                        revoked_at,
                        expires_at,
                        oauth_client_id: None,
                    };
                    self.store.insert_token(&row).await?;
                    summary.tokens += 1;
                    continue;
                }
                Line::User {
                    id,
                    created,
                    last_modified,
                    version,
                    doc,
                } => {
                    summary.users += 1;
                    let resource = ExportedResource {
                        id,
                        created,
                        last_modified,
                        version,
                        doc,
                    };
                    (ResourceKind::User, resource)
                }
                Line::Group {
                    id,
                    created,
                    last_modified,
                    version,
                    doc,
                    members,
                } => {
                    summary.groups += 1;
                    let refs = members
                        .into_iter()
                        .map(|m| MemberRef {
                            value: m.value,
                            member_type: Some(m.member_type),
                        })
                        .collect();
                    memberships.push((id.clone(), refs));
                    let resource = ExportedResource {
                        id,
                        created,
                        last_modified,
                        version,
                        doc,
                    };
                    (ResourceKind::Group, resource)
                }
                Line::Header { .. } | Line::Tenant { .. } => {
                    return Err(
                        ScimError::invalid_syntax("an export holds exactly one tenant").into(),
                    );
                }
            };
            if batch.kind.is_some_and(|k| k != kind) {
                self.flush(tenant, &mut batch).await?;
            }
            if batch.push(kind, resource)? == IMPORT_BATCH {
                self.flush(tenant, &mut batch).await?;
            }
        }
        self.flush(tenant, &mut batch).await?;
        for (group_id, refs) in memberships {
            for chunk in refs.chunks(IMPORT_MEMBER_BATCH) {
                if let Some(rejected) = self
                    .store
                    .import_members(tenant.scope(), &group_id, chunk)
                    .await?
                {
                    return Err(ScimError::invalid_value(format!(
                        "group {group_id}: {}",
                        rejected.detail
                    ))
                    .into());
                }
                summary.memberships += chunk.len();
            }
        }
        Ok(summary)
    }

    async fn flush(&self, tenant: &Tenant, batch: &mut ImportBatch) -> CoreResult<()> {
        let Some(kind) = batch.kind.take() else {
            return Ok(());
        };
        self.store
            .import(tenant.scope(), kind, &batch.pending)
            .await
            .map_err(|e| match e {
                StoreError::Conflict => CoreError::Scim(ScimError::uniqueness(format!(
                    "a {} of the export clashes with another of the export",
                    kind.name().to_lowercase()
                ))),
                other => other.into(),
            })?;
        batch.pending.clear();
        Ok(())
    }
}

fn write_failed(e: std::io::Error) -> CoreError {
    CoreError::Store(StoreError::Database(format!("writing the export: {e}")))
}

/// A user or group line of an export.
struct ExportedResource {
    id: String,
    created: String,
    last_modified: String,
    version: i64,
    doc: Document,
}

/// Resources of one kind waiting to be written together, and the unique names seen so far: the
/// tenant is new here, so a clash can only be inside the export, and finding it in memory names
/// the culprit precisely.
#[derive(Default)]
struct ImportBatch {
    kind: Option<ResourceKind>,
    pending: Vec<Imported>,
    unique_names: HashSet<(ResourceKind, String)>,
}

impl ImportBatch {
    /// Validates `resource` as if it were created now and queues it (the caller flushes a queue
    /// of another kind first); returns the queue's length.
    fn push(&mut self, kind: ResourceKind, resource: ExportedResource) -> CoreResult<usize> {
        let body = serde_json::Value::Object(resource.doc);
        // Members travel beside the document, never in it.
        let (doc, _) = split_document(kind, &body)?;
        let unique = doc
            .get(unique_attribute(kind))
            .and_then(serde_json::Value::as_str)
            .map(str::to_lowercase)
            .unwrap_or_default();
        let write = resource_write(kind, resource.id, doc, resource.last_modified)?;
        if !self.unique_names.insert((kind, unique)) {
            let noun = kind.name().to_lowercase();
            return Err(ScimError::uniqueness(format!(
                "{noun} {} clashes with another {noun} of the export",
                write.id
            ))
            .into());
        }
        self.kind = Some(kind);
        self.pending.push(Imported {
            write,
            created: resource.created,
            version: resource.version,
        });
        Ok(self.pending.len())
    }
}
