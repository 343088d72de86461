//! CPU-heavy request work off the async workers. A maximal PATCH (1,000 operations on a resource
//! with 1,000 values), a group body of 10,000 members or a page of users with hundreds of values
//! each takes tens of milliseconds of CPU; run on an async worker, two of them stall every other
//! tenant's requests on a 2-core machine. Work
//! whose weight passes [`HEAVY_WEIGHT`] runs under `block_in_place`: the worker's other tasks
//! move to another thread while this one computes. (`block_in_place` rather than
//! `spawn_blocking` because the work runs inside a store transaction's callback, borrows the
//! current version, and reports dialect quirks through a thread-local.)

use serde_json::{Map, Value};
use tokio::runtime::{Handle, RuntimeFlavor};

/// The weight (operations plus values they carry, or members of a body) from which work is
/// handed off; below it the hand-off costs more than the work (Entra's PATCHes weigh 1–10).
pub const HEAVY_WEIGHT: usize = 256;

/// Runs `work`, off the async worker when `weight` is heavy and the runtime can spare one.
pub fn run<T>(weight: usize, work: impl FnOnce() -> T) -> T {
    let multi_threaded = Handle::try_current()
        .is_ok_and(|runtime| runtime.runtime_flavor() == RuntimeFlavor::MultiThread);
    if weight >= HEAVY_WEIGHT && multi_threaded {
        tokio::task::block_in_place(work)
    } else {
        work()
    }
}

/// The weight of a request body: its PATCH operations and the values they carry, or the
/// elements of its multi-valued attributes (a group's `members`, a user's `emails`).
pub fn weight_of(body: &Value) -> usize {
    body.as_object().map_or(0, weight_of_fields)
}

/// The weight of a document: [`weight_of`] for an object's fields (a stored resource to render).
pub fn weight_of_fields(fields: &Map<String, Value>) -> usize {
    fields
        .iter()
        .map(|(name, value)| match value {
            Value::Array(items) if name.eq_ignore_ascii_case("Operations") => {
                items.len()
                    + items
                        .iter()
                        .map(|op| elements(op.get("value")))
                        .sum::<usize>()
            }
            other => elements(Some(other)),
        })
        .sum()
}

fn elements(value: Option<&Value>) -> usize {
    match value {
        Some(Value::Array(items)) => items.len(),
        Some(Value::Object(fields)) => fields.values().map(|v| elements(Some(v))).sum(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn entra_sized_requests_are_light_and_maximal_ones_heavy() {
        let entra = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": "active", "value": "False"},
                           {"op": "Add", "path": "members", "value": [{"value": "u1"}]}]});
        assert!(weight_of(&entra) < HEAVY_WEIGHT);
        let ops: Vec<_> = (0..1000)
            .map(
                |i| json!({"op": "add", "path": "emails", "value": [{"value": format!("e{i}@x")}]}),
            )
            .collect();
        assert_eq!(weight_of(&json!({"Operations": ops})), 2000);
        let members: Vec<_> = (0..300)
            .map(|i| json!({"value": format!("u{i}")}))
            .collect();
        assert!(weight_of(&json!({"displayName": "G", "members": members})) >= HEAVY_WEIGHT);
        let path_less = json!({"Operations": [{"op": "replace", "value": {"emails": members}}]});
        assert!(weight_of(&path_less) >= HEAVY_WEIGHT);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn heavy_work_leaves_the_only_worker_free_for_other_tasks() {
        // On the runtime's only worker, a task spawned before heavy work can run during it only
        // if the worker was handed off. (The test body itself runs outside the workers.)
        let on_the_worker = tokio::spawn(async {
            let (sender, receiver) = std::sync::mpsc::channel();
            tokio::spawn(async move { sender.send(()).unwrap() });
            run(HEAVY_WEIGHT, || {
                receiver
                    .recv_timeout(std::time::Duration::from_secs(5))
                    .is_ok()
            })
        });
        assert!(on_the_worker.await.unwrap());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn light_work_and_single_threaded_runtimes_run_inline() {
        assert_eq!(run(1, || 7), 7);
        assert_eq!(run(HEAVY_WEIGHT, || 8), 8);
    }
}
