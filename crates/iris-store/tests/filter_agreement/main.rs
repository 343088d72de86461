//! The SQL filter path and the in-memory evaluator must agree.
//!
//! Random user documents (mixed case, Unicode, empty strings, missing attributes, several emails
//! and phone numbers, the enterprise extension) are written through the real store; random
//! filters over those attributes (every operator, `and`/`or`/`not`, value paths, Entra's
//! `emails[type eq "work"].value eq "…"`, values drawn from the stored data with their case
//! changed so that matches happen) are then answered twice: by `ResourceService::list` (compiled to
//! SQL) and by `iris_scim::filter::matches` over each rendered resource. The two id sets must be
//! equal. Runs on SQLite (a temporary file) always and on PostgreSQL (a database created and
//! dropped by the test) when reachable.
//!
//! Reproduce a run with `IRIS_AGREEMENT_SEED=<seed>` (printed by every run); deepen it with
//! `PROPTEST_CASES=<filters per dataset>`.

#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

mod database;
mod filters;
mod fixture;
mod random;
mod regressions;
mod users;

const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
