//! The HTTP integration suite: every test starts a real `iris` server on a free port with a fresh
//! database and speaks HTTP to it, once on SQLite and once on PostgreSQL.

// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::panic)]

// Not every test module uses every helper.
#[allow(dead_code)]
mod harness;

mod admin_api;
mod auth;
mod cli;
mod connections;
mod console;
mod console_browser;
mod crash;
mod cursor_paging;
mod deadlines;
mod discovery;
mod entra_patch;
mod errors;
mod fault_proxy;
mod filters;
mod forwarded;
mod fuzz_corpus;
mod groups;
mod groups_bench;
mod isolation;
mod large_values_properties;
mod limits;
mod logs_and_admin;
mod membership_versions;
mod metrics;
mod oauth;
mod oauth_cli;
mod operator;
mod paging;
mod patch_properties;
mod pg_restart;
mod provisioning_log;
mod rate_limits;
mod rejected_requests;
mod scale_out;
mod simulate;
mod statement_limits;
mod sync;
mod tls;
mod transfer;
mod users_crud;
mod users_lifecycle;
