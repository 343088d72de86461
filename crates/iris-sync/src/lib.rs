//! Iris's provisioning engine, the other half of the SCIM contract: it reads a directory export
//! (CSV or JSON Lines), decides who is in scope, maps attributes with Entra's expression
//! language, and drives any SCIM endpoint in cycles, recording its state and a provisioning log
//! in Iris's database. The Entra simulator rehearses Entra's exact requests against a server.
//!
//! Depends on `iris-scim` (the provisioning-log layout) and not on the store: the target is
//! reached over HTTP only.

pub mod engine;
pub mod expr;
pub mod job;
pub mod mapping;
pub mod scope;
pub mod simulate;
pub mod source;
pub mod state;
pub mod target;
