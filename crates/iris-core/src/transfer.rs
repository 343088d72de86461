//! Moving a tenant between databases (SQLite to PostgreSQL, or one server to another): a JSON
//! Lines stream of the tenant, its tokens (hashes only, so the Secret Token pasted into Entra keeps
//! working after the move) and its resources with their ids, timestamps and versions.
//!
//! Format version 1. Groups were added as a new line kind (`group`, with its members) after the
//! first release; a file without groups is read exactly as before.

use std::sync::Arc;

use iris_scim::ScimError;
use iris_scim::resource::Document;
use serde::{Deserialize, Serialize};

use std::collections::HashSet;

use iris_scim::patch::MemberRef;

use crate::error::{CoreError, CoreResult, StoreError};
use crate::groups::{MEMBER_PAGE, group_write};
use crate::store::{Imported, ListQuery, SortKey, Store, TenantId, TenantRow, TokenRow};
use crate::users::user_write;

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
    },
    Token {
        id: String,
        label: Option<String>,
        secret_hash: String,
        created: String,
        last_used: Option<String>,
        revoked_at: Option<String>,
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
        let io = |e: std::io::Error| {
            CoreError::Store(StoreError::Database(format!("writing the export: {e}")))
        };
        let tenant = self
            .store
            .tenant_by_name(tenant_name)
            .await?
            .ok_or_else(|| ScimError::not_found(format!("no tenant named '{tenant_name}'")))?;
        emit(&Line::Header {
            format: FORMAT_NAME.into(),
            version: FORMAT_VERSION,
        })
        .map_err(io)?;
        emit(&Line::Tenant {
            id: tenant.id.as_str().to_owned(),
            name: tenant.name.clone(),
            created: tenant.created.clone(),
            disabled_at: tenant.disabled_at.clone(),
        })
        .map_err(io)?;
        for t in self.store.tokens(&tenant.id).await? {
            emit(&Line::Token {
                id: t.id,
                label: t.label,
                secret_hash: t.secret_hash,
                created: t.created,
                last_used: t.last_used,
                revoked_at: t.revoked_at,
            })
            .map_err(io)?;
        }
        let mut written = 0;
        let mut after: Option<SortKey> = None;
        loop {
            let query = ListQuery::scan(after.as_ref(), EXPORT_PAGE);
            let page = self.store.list_users(&tenant.id, &query).await?;
            after = page.edges.map(|(_, last)| last);
            for r in page.records {
                emit(&Line::User {
                    id: r.id,
                    created: r.created,
                    last_modified: r.last_modified,
                    version: r.version,
                    doc: r.doc,
                })
                .map_err(io)?;
                written += 1;
            }
            if !page.more {
                break;
            }
        }
        self.export_groups(&tenant.id, &mut emit).await?;
        Ok(written)
    }

    async fn export_groups(
        &self,
        tenant: &TenantId,
        emit: &mut impl FnMut(&Line) -> std::io::Result<()>,
    ) -> CoreResult<()> {
        let io = |e: std::io::Error| {
            CoreError::Store(StoreError::Database(format!("writing the export: {e}")))
        };
        let mut after_group: Option<SortKey> = None;
        loop {
            let query = ListQuery::scan(after_group.as_ref(), EXPORT_PAGE);
            let page = self.store.list_groups(tenant, &query).await?;
            after_group = page.edges.map(|(_, last)| last);
            for r in page.records {
                let mut members = Vec::new();
                let mut after: Option<String> = None;
                loop {
                    let chunk = self
                        .store
                        .group_members(tenant, &r.id, after.as_deref(), MEMBER_PAGE)
                        .await?;
                    let full = chunk.len() == MEMBER_PAGE as usize;
                    after = chunk.last().map(|m| m.id.clone());
                    members.extend(chunk.into_iter().map(|m| MemberLine {
                        value: m.id,
                        member_type: m.member_type.as_str().to_owned(),
                    }));
                    if !full {
                        break;
                    }
                }
                emit(&Line::Group {
                    id: r.id,
                    created: r.created,
                    last_modified: r.last_modified,
                    version: r.version,
                    doc: r.doc,
                    members,
                })
                .map_err(io)?;
            }
            if !page.more {
                return Ok(());
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
        }) = lines.next().transpose()?
        else {
            return Err(ScimError::invalid_syntax("the export has no tenant line").into());
        };
        let tenant = TenantId::from_row(id);
        self.store
            .insert_tenant(&TenantRow {
                id: tenant.clone(),
                name: name.clone(),
                created,
                disabled_at,
            })
            .await
            .map_err(|e| match e {
                StoreError::Conflict => CoreError::Scim(ScimError::uniqueness(format!(
                    "tenant '{name}' already exists in this database"
                ))),
                other => other.into(),
            })?;
        match self.import_into(&tenant, lines).await {
            Ok(summary) => {
                // The first queries after a large import should not run without statistics.
                self.store.refresh_statistics().await?;
                Ok(summary)
            }
            Err(e) => {
                // Leave nothing half-imported: the tenant and all it received go again.
                if let Err(cleanup) = self.store.delete_tenant(&tenant).await {
                    tracing::error!(error = %cleanup, "could not remove a partially imported tenant");
                }
                Err(e)
            }
        }
    }

    async fn import_into(
        &self,
        tenant: &TenantId,
        lines: impl Iterator<Item = CoreResult<Line>>,
    ) -> CoreResult<ImportSummary> {
        let mut summary = ImportSummary::default();
        let mut users = Vec::with_capacity(IMPORT_BATCH);
        // The tenant is new here, so a clash can only be inside the export; finding it in memory
        // names the culprit precisely.
        let mut user_names = HashSet::new();
        let mut display_names = HashSet::new();
        // Members are added once every user and group exists (a group may contain a group that
        // comes later in the file).
        let mut memberships: Vec<(String, Vec<MemberRef>)> = Vec::new();
        for line in lines {
            match line? {
                Line::Token {
                    id,
                    label,
                    secret_hash,
                    created,
                    last_used,
                    revoked_at,
                } => {
                    let row = TokenRow {
                        id,
                        tenant_id: tenant.clone(),
                        label,
                        secret_hash,
                        created,
                        last_used,
                        revoked_at,
                    };
                    self.store.insert_token(&row).await?;
                    summary.tokens += 1;
                }
                Line::User {
                    id,
                    created,
                    last_modified,
                    version,
                    doc,
                } => {
                    let body = serde_json::Value::Object(doc);
                    let doc = iris_scim::resource::document_from_request(
                        iris_scim::schema::user_type(),
                        &body,
                    )?;
                    let write = user_write(id, doc, last_modified)?;
                    if !user_names.insert(write.shadow.user_name_lower.clone()) {
                        return Err(ScimError::uniqueness(format!(
                            "user {} clashes with another user of the export",
                            write.id
                        ))
                        .into());
                    }
                    users.push(Imported {
                        write,
                        created,
                        version,
                    });
                    summary.users += 1;
                    if users.len() == IMPORT_BATCH {
                        self.flush_users(tenant, &mut users).await?;
                    }
                }
                Line::Group {
                    id,
                    created,
                    last_modified,
                    version,
                    doc,
                    members,
                } => {
                    self.flush_users(tenant, &mut users).await?;
                    let body = serde_json::Value::Object(doc);
                    let mut doc = iris_scim::resource::document_from_request(
                        iris_scim::schema::group_type(),
                        &body,
                    )?;
                    // Members travel beside the document, never in it.
                    doc.shift_remove("members");
                    let write = group_write(id, doc, last_modified)?;
                    if !display_names.insert(write.shadow.display_name_lower.clone()) {
                        return Err(ScimError::uniqueness(format!(
                            "group {} clashes with another group of the export",
                            write.id
                        ))
                        .into());
                    }
                    let refs = members
                        .into_iter()
                        .map(|m| MemberRef {
                            value: m.value,
                            member_type: Some(m.member_type),
                        })
                        .collect();
                    memberships.push((write.id.clone(), refs));
                    self.store
                        .import_group(
                            tenant,
                            &Imported {
                                write,
                                created,
                                version,
                            },
                        )
                        .await?;
                    summary.groups += 1;
                }
                Line::Header { .. } | Line::Tenant { .. } => {
                    return Err(
                        ScimError::invalid_syntax("an export holds exactly one tenant").into(),
                    );
                }
            }
        }
        self.flush_users(tenant, &mut users).await?;
        for (group_id, refs) in memberships {
            for chunk in refs.chunks(IMPORT_MEMBER_BATCH) {
                if let Some(rejected) = self.store.import_members(tenant, &group_id, chunk).await? {
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

    async fn flush_users(
        &self,
        tenant: &TenantId,
        users: &mut Vec<Imported<crate::store::UserWrite>>,
    ) -> CoreResult<()> {
        if users.is_empty() {
            return Ok(());
        }
        self.store
            .import_users(tenant, users)
            .await
            .map_err(|e| match e {
                StoreError::Conflict => CoreError::Scim(ScimError::uniqueness(
                    "a user of the export clashes with another user of the export",
                )),
                other => other.into(),
            })?;
        users.clear();
        Ok(())
    }
}
