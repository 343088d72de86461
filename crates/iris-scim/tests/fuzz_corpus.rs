//! Replays every file of the fuzz corpora (`fuzz/corpus/<target>/`) through the checks the fuzz
//! targets run, on stable Rust, so CI exercises the corpora (and every crash input added to
//! them) without nightly or libFuzzer.

#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

#[path = "../../../fuzz/src/checks.rs"]
mod checks;

use std::path::PathBuf;

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect();
    files.sort();
    // An empty or missing corpus would make this test pass vacuously.
    assert!(
        files.len() >= 20,
        "{} holds only {} files",
        dir.display(),
        files.len()
    );
    files
}

/// Runs `check` on every file, reporting all failing files at once.
fn replay(target: &str, check: fn(&[u8])) {
    let mut failures = Vec::new();
    for (path, bytes) in corpus(target) {
        if let Err(panic) = std::panic::catch_unwind(|| check(&bytes)) {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            failures.push(format!("{}: {message}", path.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn filter_parser_corpus_replays_cleanly() {
    replay("filter_parser", checks::check_filter);
}

#[test]
fn patch_apply_corpus_replays_cleanly() {
    replay("patch_apply", checks::check_patch);
}

/// The corpus files that are meant to be valid stay valid (a parser change that starts
/// rejecting an RFC or Entra example would otherwise only show up as a smaller fuzz coverage).
#[test]
fn seed_filters_named_valid_are_accepted() {
    use iris_scim::filter::{FilterLimits, parse_filter, parse_path};
    for (path, bytes) in corpus("filter_parser") {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = String::from_utf8(bytes).unwrap();
        let limits = FilterLimits::default();
        if name.starts_with("rfc-") || name.starts_with("entra-") || name.starts_with("misc-") {
            assert!(parse_filter(&text, &limits).is_ok(), "{name}: {text}");
        } else if name.starts_with("path-") {
            assert!(parse_path(&text, &limits).is_ok(), "{name}: {text}");
        } else if name.starts_with("invalid-") {
            assert!(parse_filter(&text, &limits).is_err(), "{name}: {text}");
        }
    }
}
