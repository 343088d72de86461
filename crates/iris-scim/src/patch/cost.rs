//! How PATCH's cost grows (issue 18): a measurement, not a test. It prints the time per operation
//! for growing requests and never asserts on time; BENCHMARKS.md holds the numbers measured
//! through the HTTP API. Run it with
//! `cargo test --release -p iris-scim patch::cost -- --ignored --nocapture`.

use std::time::Instant;

use serde_json::{Value, json};

use super::apply_patch;
use crate::resource::Document;
use crate::schema::{PATCH_OP, user_type};

fn user_with_emails(n: usize) -> Document {
    let emails: Vec<Value> = (0..n)
        .map(|i| json!({"value": format!("e{i}@x"), "type": "work"}))
        .collect();
    let v = json!({"userName": "u", "emails": emails});
    v.as_object().cloned().unwrap_or_default()
}

fn request(ops: Vec<Value>) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

/// Microseconds per operation of applying `ops` to `doc`, and whether it was accepted.
fn per_op_micros(doc: &Document, ops: Vec<Value>) -> (f64, bool) {
    let n = ops.len();
    let body = request(ops);
    let mut doc = doc.clone();
    let started = Instant::now();
    let accepted = apply_patch(user_type(), &mut doc, &body).is_ok();
    let micros = started.elapsed().as_secs_f64() * 1e6;
    #[allow(clippy::cast_precision_loss)]
    (micros / n as f64, accepted)
}

#[test]
#[ignore = "a measurement: run explicitly, in release mode"]
fn patch_cost_per_operation() {
    // The request: every operation appends another e-mail address, so the attribute the
    // operations work on grows with the request. Beyond the limits it is refused before any work.
    for n in [250, 500, 1_000, 3_000, 8_000] {
        let ops = (0..n)
            .map(
                |i| json!({"op": "add", "path": "emails", "value": [{"value": format!("e{i}@x")}]}),
            )
            .collect();
        let (micros, accepted) = per_op_micros(&user_with_emails(0), ops);
        eprintln!(
            "append {n:>5} new e-mails:              {micros:>8.2} µs/op (accepted: {accepted})"
        );
    }
    // Resources of fixed size, many operations on each: value-path updates and re-adds of stored
    // values (a merge), each of which has to look through the whole attribute.
    for stored in [100, 500, 1_000] {
        let doc = user_with_emails(stored);
        for n in [250, 500, 1_000] {
            let ops = (0..n)
                .map(|i| {
                    let target = format!("e{}@x", i % stored);
                    if i % 2 == 0 {
                        json!({"op": "replace", "path": format!("emails[value eq \"{target}\"].display"), "value": format!("d{i}")})
                    } else {
                        json!({"op": "add", "path": "emails", "value": [{"value": target, "type": "work", "display": format!("d{i}")}]})
                    }
                })
                .collect();
            let (micros, accepted) = per_op_micros(&doc, ops);
            eprintln!(
                "{n:>5} ops on {stored:>5} stored e-mails:      {micros:>8.2} µs/op (accepted: {accepted})"
            );
        }
    }
}
