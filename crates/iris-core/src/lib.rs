//! The Iris domain: tenants and their tokens, resources of every kind, the `Store` seam both
//! database backends implement, and the services that the HTTP API and the admin CLI share.
//! Nothing here knows which database or which transport is in use.

pub mod accounts;
pub mod clock;
pub mod error;
pub mod listing;
pub mod oauth;
pub mod offload;
pub mod operators;
pub mod provisioning;
pub mod resources;
pub mod store;
pub mod tenants;
pub mod tokens;
pub mod transfer;

pub use accounts::{AccountName, AccountService, Password};
pub use error::{CoreError, StoreError};
pub use iris_scim::schema::ResourceKind;
pub use oauth::OAuthService;
pub use operators::{Operator, OperatorService};
pub use provisioning::{ProvisioningLog, RequestContext};
pub use resources::ResourceService;
pub use store::{Store, TenantId, TenantScope};
pub use tenants::{Tenant, TenantName, TenantService};
pub use tokens::{IssuedToken, TokenId};
