//! The suite's only door into iris-core. Tests talk HTTP; what cannot go over HTTP goes through
//! here: the tenant and token a server starts with, operator actions (more tenants, token
//! rotation, disabling a tenant), bulk inserts that would take minutes as POSTs, and reads of what
//! the store holds. When iris-core's API changes, this file is the one to adapt.

use std::sync::Arc;

use iris::config::Config;
use iris_core::store::{Imported, ListQuery};
use iris_core::transfer::{Line, TransferService};
use iris_core::{OperatorService, ResourceKind, Store, Tenant, TenantName, TenantService};
use serde_json::Value;

/// Creation time of every imported user.
const IMPORTED_AT: &str = "2026-01-01T00:00:00Z";

/// A bearer token as issued.
pub struct Credentials {
    pub token: String,
    pub token_id: String,
}

/// The store behind a test's server, and the tenant the test runs as.
pub struct Admin {
    store: Arc<dyn Store>,
    tenants: TenantService,
    tenant: Tenant,
}

impl Admin {
    /// Opens the store `config` names and creates tenant `name` with its first token.
    pub async fn open(config: &Config, name: &str) -> (Self, Credentials) {
        let store = iris::server::open_store(config).await.expect("open store");
        let tenants = TenantService::new(store.clone());
        let name = TenantName::parse(name).expect("tenant name");
        let (tenant, token) = tenants.create(&name).await.expect("create tenant");
        let credentials = Credentials {
            token: token.token,
            token_id: token.id.as_str().to_owned(),
        };
        let admin = Self {
            store,
            tenants,
            tenant,
        };
        (admin, credentials)
    }

    /// Creates an operator account of the admin console.
    pub async fn create_console_account(&self, name: &str, password: &str) {
        let accounts = iris_core::AccountService::new(self.store.clone());
        let name = iris_core::AccountName::parse(name).expect("account name");
        let password = iris_core::Password::parse(password).expect("password");
        accounts
            .create(&name, password)
            .await
            .expect("create account");
    }

    /// Creates another tenant; returns its token.
    pub async fn create_tenant(&self, name: &str) -> String {
        let name = TenantName::parse(name).expect("tenant name");
        let (_, token) = self.tenants.create(&name).await.expect("create tenant");
        token.token
    }

    /// Issues a second token of the tenant; returns it.
    pub async fn issue_token(&self, label: &str) -> String {
        self.tenants
            .issue_token(&self.tenant, Some(label), None)
            .await
            .expect("issue token")
            .token
    }

    /// Issues a token of the tenant that expires `lifetime` from now; returns it and its expiry.
    pub async fn issue_expiring_token(
        &self,
        label: &str,
        lifetime: time::Duration,
    ) -> (String, String) {
        let issued = self
            .tenants
            .issue_token(&self.tenant, Some(label), Some(lifetime))
            .await
            .expect("issue token");
        (issued.token, issued.expires_at.expect("an expiry"))
    }

    /// Why issuing a token with `lifetime` is refused; empty if it is issued.
    pub async fn lifetime_refusal(&self, lifetime: time::Duration) -> String {
        match self
            .tenants
            .issue_token(&self.tenant, Some("lifetime"), Some(lifetime))
            .await
        {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    /// Labels of the tenant's live tokens that `iris tenant status` warns about, soonest first.
    pub async fn expiring_token_labels(&self) -> Vec<String> {
        self.tenants
            .expiring_tokens(&self.tenant, iris_core::tenants::TOKEN_EXPIRY_WARNING)
            .await
            .expect("expiring tokens")
            .into_iter()
            .filter_map(|t| t.label)
            .collect()
    }

    /// Per tenant, the live tokens expiring within the warning window (what the metrics show).
    pub async fn expiring_token_counts(&self) -> Vec<(String, u64)> {
        self.tenants
            .expiring_token_counts()
            .await
            .expect("expiring counts")
    }

    pub async fn revoke_token(&self, token_id: &str) {
        self.tenants
            .revoke_token(token_id)
            .await
            .expect("revoke token");
    }

    fn oauth(&self) -> iris_core::OAuthService {
        iris_core::OAuthService::new(self.store.clone())
    }

    /// Creates an OAuth client of the tenant (as `iris oauth client create` does): its id, and
    /// its first secret's id and value.
    pub async fn create_oauth_client(&self, label: &str) -> (String, String, String) {
        let issued = self
            .oauth()
            .create_client(&self.tenant, Some(label))
            .await
            .expect("create OAuth client");
        (issued.client_id, issued.secret_id, issued.secret)
    }

    /// Adds a secret to a client: its id and value.
    pub async fn add_oauth_secret(&self, client_id: &str) -> (String, String) {
        let issued = self
            .oauth()
            .add_secret(client_id)
            .await
            .expect("add OAuth secret");
        (issued.secret_id, issued.secret)
    }

    pub async fn revoke_oauth_secret(&self, client_id: &str, secret_id: &str) {
        self.oauth()
            .revoke_secret(client_id, secret_id)
            .await
            .expect("revoke OAuth secret");
    }

    pub async fn revoke_oauth_client(&self, client_id: &str) {
        self.oauth()
            .revoke_client(client_id)
            .await
            .expect("revoke OAuth client");
    }

    /// An access token granted with `lifetime` (which may be over already), as `/oauth/token`
    /// would grant it: for expiry tests that cannot wait a minute.
    pub async fn grant_access_token(
        &self,
        client_id: &str,
        secret: &str,
        lifetime: time::Duration,
    ) -> String {
        match self.oauth().grant(client_id, secret, lifetime).await {
            Ok(t) => t.token,
            Err(e) => panic!("grant refused: {e:?}"),
        }
    }

    /// Purges the access tokens past their grace (what `iris serve` does periodically).
    pub async fn purge_access_tokens(&self) -> u64 {
        self.oauth().purge_expired().await.expect("purge")
    }

    /// How many OAuth clients the tenant has, live or revoked, and their live secrets.
    pub async fn oauth_clients(&self) -> Vec<iris_core::oauth::ClientInfo> {
        self.oauth()
            .clients(&self.tenant)
            .await
            .expect("list OAuth clients")
    }

    /// Issues an operator token (as `iris admin token issue` does).
    pub async fn issue_operator_token(&self, label: &str) -> Credentials {
        let issued = OperatorService::new(self.store.clone())
            .issue(Some(label))
            .await
            .expect("issue operator token");
        Credentials {
            token: issued.token,
            token_id: issued.id.as_str().to_owned(),
        }
    }

    pub async fn revoke_operator_token(&self, token_id: &str) {
        OperatorService::new(self.store.clone())
            .revoke(token_id)
            .await
            .expect("revoke operator token");
    }

    pub async fn set_disabled(&self, disabled: bool) {
        self.tenants
            .set_disabled(self.tenant.name(), disabled)
            .await
            .expect("disable or enable the tenant");
    }

    /// What the store keeps of the tenant's tokens: their secret hashes.
    pub async fn token_secret_hashes(&self) -> Vec<String> {
        let tokens = self.store.tokens(self.tenant.id()).await.expect("tokens");
        tokens.into_iter().map(|t| t.secret_hash).collect()
    }

    /// Inserts users from their POST bodies as an import does, in one transaction (new ids,
    /// created [`IMPORTED_AT`], version 1): for sets too large to POST. Returns their ids in order.
    pub async fn import_users(&self, bodies: &[Value]) -> Vec<String> {
        let users: Vec<_> = bodies
            .iter()
            .map(|body| {
                let doc = iris_scim::resource::document_from_request(
                    iris_scim::schema::user_type(),
                    body,
                )
                .expect("a valid user");
                let write = iris_core::resources::resource_write(
                    ResourceKind::User,
                    uuid::Uuid::now_v7().to_string(),
                    doc,
                    IMPORTED_AT.into(),
                )
                .expect("a storable user");
                Imported {
                    write,
                    created: IMPORTED_AT.into(),
                    version: 1,
                }
            })
            .collect();
        self.store
            .import(self.tenant.scope(), ResourceKind::User, &users)
            .await
            .expect("import users");
        users.into_iter().map(|u| u.write.id).collect()
    }

    /// Adds members to a group as an import does (the version does not move); all must exist.
    pub async fn import_members(&self, group_id: &str, member_ids: &[String]) {
        let refs: Vec<_> = member_ids
            .iter()
            .map(|id| iris_scim::patch::MemberRef {
                value: id.clone(),
                member_type: None,
            })
            .collect();
        let rejected = self
            .store
            .import_members(self.tenant.scope(), group_id, &refs)
            .await
            .expect("import members");
        assert!(rejected.is_none(), "{rejected:?}");
    }

    /// The tenant's provisioning log as the store answers `query`.
    pub async fn events(
        &self,
        query: &iris_core::provisioning::EventQuery,
    ) -> Vec<iris_core::provisioning::ProvisioningEvent> {
        self.store
            .events(self.tenant.scope(), query)
            .await
            .expect("read events")
    }

    /// Writes events into the tenant's provisioning log as they are (for histories too long to
    /// make over HTTP).
    pub async fn record_events(&self, events: &[iris_core::provisioning::ProvisioningEvent]) {
        self.store
            .record_events(self.tenant.scope(), events)
            .await
            .expect("record events");
    }

    /// Exports the tenant, as `iris export` writes it.
    pub async fn export(&self) -> Export {
        let mut lines = Vec::new();
        TransferService::new(self.store.clone())
            .export(self.tenant.name(), |line| {
                lines.push(line.clone());
                Ok(())
            })
            .await
            .expect("export");
        Export(lines)
    }

    /// What the store of this server holds of the tenant.
    pub fn stored(&self) -> StoredTenant {
        StoredTenant {
            store: self.store.clone(),
            tenant: self.tenant.clone(),
        }
    }

    /// The same tenant in another database (for instance one an export was imported into).
    pub async fn stored_in(&self, database_url: &str) -> StoredTenant {
        let store = iris::server::open_store(&super::test_config(database_url))
            .await
            .expect("open store");
        // The same tenant id in the other database: the scope of this tenant reaches it there.
        StoredTenant {
            store,
            tenant: self.tenant.clone(),
        }
    }
}

/// An export: the lines of the file.
pub struct Export(Vec<Line>);

impl Export {
    /// How many groups it holds.
    pub fn groups(&self) -> usize {
        self.0
            .iter()
            .filter(|l| matches!(l, Line::Group { .. }))
            .count()
    }

    /// The lines as a file carries them: written as JSON and read back.
    pub fn through_json(self) -> Self {
        let lines = self
            .0
            .iter()
            .map(|l| serde_json::from_str(&serde_json::to_string(l).unwrap()).unwrap())
            .collect();
        Self(lines)
    }
}

/// A group as the store holds it, with its members as `(id, type)` in id order.
#[derive(Debug, PartialEq)]
pub struct StoredGroup {
    pub id: String,
    pub doc: Value,
    pub created: String,
    pub last_modified: String,
    pub version: i64,
    pub members: Vec<(String, &'static str)>,
}

/// One direct membership as the store holds it.
#[derive(Debug, PartialEq)]
pub struct StoredMembership {
    pub member_id: String,
    pub group_id: String,
    pub display_name: String,
}

/// Reads of one tenant's data in one store.
pub struct StoredTenant {
    store: Arc<dyn Store>,
    tenant: Tenant,
}

impl StoredTenant {
    /// Imports an export, as `iris import` does; returns how many users, groups and memberships
    /// it wrote.
    pub async fn import(&self, export: Export) -> (usize, usize, usize) {
        let summary = TransferService::new(self.store.clone())
            .import(export.0.into_iter().map(Ok))
            .await
            .expect("import");
        (summary.users, summary.groups, summary.memberships)
    }

    /// The first 100 groups, each with its first 100 members.
    pub async fn groups(&self) -> Vec<StoredGroup> {
        let page = self
            .store
            .list(
                self.tenant.scope(),
                ResourceKind::Group,
                &ListQuery::scan(None, 100),
            )
            .await
            .expect("list groups");
        let mut groups = Vec::new();
        for record in page.records {
            let members = self
                .store
                .members_page(self.tenant.scope(), &record.id, None, 100)
                .await
                .expect("group members");
            groups.push(StoredGroup {
                members: members.into_iter().map(|m| (m.id, m.kind.name())).collect(),
                id: record.id,
                doc: Value::Object(record.doc),
                created: record.created,
                last_modified: record.last_modified,
                version: record.version,
            });
        }
        groups
    }

    /// The direct memberships of these users or groups.
    pub async fn direct_groups(&self, member_ids: &[String]) -> Vec<StoredMembership> {
        self.store
            .direct_groups(self.tenant.scope(), member_ids)
            .await
            .expect("direct groups")
            .into_iter()
            .map(|g| StoredMembership {
                member_id: g.member_id,
                group_id: g.group_id,
                display_name: g.display_name,
            })
            .collect()
    }
}
