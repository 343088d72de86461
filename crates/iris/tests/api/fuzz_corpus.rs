//! Replays every file of the `http_request` fuzz corpus (`fuzz/corpus/http_request/`) through the
//! fuzz target's own check (`fuzz/src/http.rs`, included below) on stable Rust: the router over a
//! temporary SQLite store, asserting no panic, no hang, no 5xx but documented 503s, and JSON
//! error bodies. CI runs it with the rest of the suite, so every crash input added to the corpus
//! stays fixed.

#[path = "../../../../fuzz/src/http.rs"]
mod http;

use std::path::PathBuf;

#[test]
fn the_http_request_corpus_replays_cleanly() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/http_request");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    // An empty or missing corpus would make this test pass vacuously.
    assert!(
        files.len() >= 30,
        "{} holds only {} files",
        dir.display(),
        files.len()
    );
    let mut failures = Vec::new();
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        if let Err(panic) = std::panic::catch_unwind(|| http::check_http_request(&bytes)) {
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
