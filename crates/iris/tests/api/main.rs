//! The HTTP integration suite: every test starts a real `iris` server on a free port with a fresh
//! database and speaks HTTP to it, once on SQLite and once on PostgreSQL.

mod harness;

mod auth;
mod users_lifecycle;
