//! The Iris domain: tenants and their tokens, users and groups, the `Store` trait both database backends implement,
//! and the services that the HTTP API and the admin CLI share. Nothing here knows which database
//! or which transport is in use.

pub mod clock;
pub mod error;
pub mod groups;
pub mod listing;
pub mod rejections;
pub mod store;
pub mod tenants;
pub mod tokens;
pub mod transfer;
pub mod users;

pub use error::{CoreError, StoreError};
pub use groups::GroupService;
pub use store::{Store, TenantId};
pub use tenants::{Tenant, TenantName, TenantService};
pub use tokens::{IssuedToken, TokenId};
pub use users::UserService;
