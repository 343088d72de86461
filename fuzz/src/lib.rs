//! The properties the fuzz targets check. The stable test
//! `crates/iris-scim/tests/fuzz_corpus.rs` includes `checks.rs` too and replays every corpus file
//! through the same functions, so CI runs the corpora without nightly.

pub mod checks;
pub mod http;
