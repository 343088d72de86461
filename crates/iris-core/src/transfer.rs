//! Moving a tenant between databases (SQLite to PostgreSQL, or one server to another): a JSON
//! Lines stream of the tenant, its tokens (hashes only, so the Secret Token pasted into Entra keeps
//! working after the move) and its resources with their ids, timestamps and versions.

use std::sync::Arc;

use iris_scim::ScimError;
use iris_scim::resource::Document;
use serde::{Deserialize, Serialize};

use crate::error::{CoreError, CoreResult, StoreError};
use crate::store::{ListQuery, SortOrder, Store, TenantId, TenantRow, TokenRow};
use crate::users::user_write;

/// The format version written in the header line.
pub const FORMAT_VERSION: u32 = 1;

/// Users read per page while exporting.
const EXPORT_PAGE: u64 = 500;

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
}

const FORMAT_NAME: &str = "iris-tenant-export";

/// What an import wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ImportSummary {
    pub tokens: usize,
    pub users: usize,
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
    /// tokens, users by id.
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
        let mut start_index = 1;
        loop {
            let query = ListQuery {
                filter: None,
                start_index,
                count: EXPORT_PAGE,
                sort_by: None,
                sort_order: SortOrder::Ascending,
            };
            let page = self.store.list_users(&tenant.id, &query).await?;
            let n = page.records.len() as u64;
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
            if n < EXPORT_PAGE {
                break;
            }
            start_index += n;
        }
        Ok(written)
    }

    /// Imports an export into this database. The tenant must not exist here yet; every user is
    /// validated again as if it were created, so a damaged file cannot store what the API would
    /// refuse.
    pub async fn import(&self, lines: impl IntoIterator<Item = Line>) -> CoreResult<ImportSummary> {
        let mut lines = lines.into_iter();
        match lines.next() {
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
        }) = lines.next()
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
            Ok(summary) => Ok(summary),
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
        lines: impl Iterator<Item = Line>,
    ) -> CoreResult<ImportSummary> {
        let mut summary = ImportSummary::default();
        for line in lines {
            match line {
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
                    self.store
                        .import_user(tenant, &write, &created, version)
                        .await
                        .map_err(|e| match e {
                            StoreError::Conflict => {
                                CoreError::Scim(ScimError::uniqueness(format!(
                                    "user {} clashes with another user of the export",
                                    write.id
                                )))
                            }
                            other => other.into(),
                        })?;
                    summary.users += 1;
                }
                Line::Header { .. } | Line::Tenant { .. } => {
                    return Err(
                        ScimError::invalid_syntax("an export holds exactly one tenant").into(),
                    );
                }
            }
        }
        Ok(summary)
    }
}
