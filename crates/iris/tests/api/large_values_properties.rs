//! Property: users with large multi-valued attributes are stored whole or refused whole. For
//! random POST and PUT bodies whose `emails`, `phoneNumbers`, `addresses` and `x509Certificates`
//! hold from none to 2,500 values (of varied length, some repeated, some malformed), the server
//! answers 2xx or a 4xx SCIM error, never a 5xx; it agrees with the validation in memory on which
//! (`document_from_request`, then the indexed-value lengths of `resource_write`); after a 2xx a
//! GET returns the attributes as that validation normalised them; after a 4xx the user is exactly
//! as it was (a refused POST created nothing, a refused PUT changed nothing).

use iris_core::ResourceKind;
use iris_core::resources::resource_write;
use iris_scim::ScimResult;
use iris_scim::resource::{Document, document_from_request};
use iris_scim::schema::user_type;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use reqwest::StatusCode;
use serde_json::{Map, Value, json};

use crate::errors::assert_scim_client_error;
use crate::harness::{Reply, TestApp};

/// Cases per engine: each is a POST and a PUT of up to 10,000 values.
const CASES: usize = 20;

const ATTRIBUTES: [&str; 4] = ["emails", "phoneNumbers", "addresses", "x509Certificates"];

/// How one attribute's values are made.
#[derive(Debug, Clone)]
struct Shape {
    count: usize,
    /// Every n-th value repeats the one before it (never when 0).
    repeat_every: usize,
    /// Most values are 1 to `max_len` characters long; every `long_every`-th is 2,000.
    max_len: usize,
    long_every: usize,
    /// A malformed value at this position, of this kind.
    malformed: Option<(usize, u8)>,
}

fn shape() -> impl Strategy<Value = Shape> {
    let count = prop_oneof![0..6_usize, 995..=1_005_usize, 0..=2_500_usize,];
    (
        count,
        prop_oneof![Just(0_usize), 2..20_usize],
        1..80_usize,
        prop_oneof![Just(usize::MAX), 50..500_usize],
        proptest::option::weighted(0.2, (any::<prop::sample::Index>(), 0..4_u8)),
    )
        .prop_map(
            |(count, repeat_every, max_len, long_every, malformed)| Shape {
                count,
                repeat_every,
                max_len,
                long_every,
                malformed: malformed
                    .filter(|_| count > 0)
                    .map(|(at, kind)| (at.index(count), kind)),
            },
        )
}

/// `len` characters from `alphabet`, varying with `seed`.
fn text(seed: usize, len: usize, alphabet: &[u8]) -> String {
    (0..len)
        .map(|i| alphabet[(seed * 31 + i * 7) % alphabet.len()] as char)
        .collect()
}

const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const BASE64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Value `i` of `attribute`, well formed.
fn value(attribute: &str, i: usize, len: usize) -> Value {
    match attribute {
        "emails" => {
            json!({"value": format!("{}{i}@x.example", text(i, len, LETTERS)), "type": "work"})
        }
        "phoneNumbers" => {
            json!({"value": format!("+1 555 {i} {}", text(i, len, b"0123456789")), "type": "mobile"})
        }
        "addresses" => {
            json!({"streetAddress": format!("{i} {}", text(i, len, LETTERS)), "locality": "Springfield", "type": "home"})
        }
        // Base64 text: a multiple of four characters.
        _ => json!({"value": format!("MIIC{}", text(i, len.div_ceil(4) * 4, BASE64))}),
    }
}

fn malformed(kind: u8) -> Value {
    match kind {
        0 => json!({"value": 42}),
        1 => json!("a bare string"),
        2 => json!({"value": "x@x.example", "primary": "perhaps"}),
        _ => json!({"value": ["nested"]}),
    }
}

fn values(attribute: &str, shape: &Shape) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::with_capacity(shape.count);
    for i in 0..shape.count {
        let v = if shape.repeat_every > 0 && i > 0 && i % shape.repeat_every == 0 {
            out[i - 1].clone()
        } else if i % shape.long_every == shape.long_every - 1 {
            value(attribute, i, 2_000)
        } else {
            value(attribute, i, 1 + (i * 7_919) % shape.max_len)
        };
        out.push(v);
    }
    if let Some((at, kind)) = shape.malformed {
        out[at] = malformed(kind);
    }
    out
}

fn user_body(user_name: &str, shapes: &[Shape]) -> Value {
    let mut body = Map::new();
    body.insert("userName".into(), json!(user_name));
    for (attribute, shape) in ATTRIBUTES.iter().zip(shapes) {
        // An attribute without values is sent as `[]` or left out, by the shape.
        if shape.count > 0 || shape.repeat_every == 0 {
            body.insert((*attribute).into(), Value::Array(values(attribute, shape)));
        }
    }
    Value::Object(body)
}

fn case() -> impl Strategy<Value = (Vec<Shape>, Vec<Shape>)> {
    (
        proptest::collection::vec(shape(), 4),
        proptest::collection::vec(shape(), 4),
    )
}

/// What the server should store of `body`, or the error it should answer with.
fn validated(body: &Value) -> ScimResult<Document> {
    let doc = document_from_request(user_type(), body)?;
    resource_write(ResourceKind::User, "id".into(), doc.clone(), "now".into())?;
    Ok(doc)
}

/// Asserts the server's answer to `body` agrees with the validation in memory: on success, the
/// user read back holds the attributes as validated; on a refusal, the status matches.
#[track_caller]
fn assert_agrees(reply: &Reply, body: &Value, success: StatusCode, what: &str) -> bool {
    assert!(
        !reply.status.is_server_error(),
        "{what}: {} {}",
        reply.status,
        reply.text
    );
    match validated(body) {
        Ok(_) => {
            assert_eq!(reply.status, success, "{what}: {}", reply.text);
            true
        }
        Err(e) => {
            assert_scim_client_error(reply, what);
            assert_eq!(reply.status.as_u16(), e.status, "{what}: {}", reply.text);
            false
        }
    }
}

/// The user read back holds exactly the four attributes `body` had after validation.
async fn assert_stored_as_sent(app: &TestApp, id: &str, body: &Value, what: &str) {
    let doc = validated(body).unwrap();
    let stored = app.get_user(id).await;
    for attribute in ATTRIBUTES {
        assert_eq!(
            stored.get(attribute),
            doc.get(attribute),
            "{what}: {attribute} as validated"
        );
    }
    assert_eq!(stored["userName"], body["userName"], "{what}");
}

async fn large_multi_valued_users_are_written_whole_or_not_at_all(app: TestApp) -> TestApp {
    let mut runner = TestRunner::deterministic();
    // The user every refused POST's PUT goes to.
    let seeded = app
        .create_user(
            &json!({"userName": "seeded@example.com", "emails": [{"value": "s@x.example"}]}),
        )
        .await;
    let (mut written, mut refused) = (0, 0);
    for n in 0..CASES {
        let (posted, replaced) = case().new_tree(&mut runner).unwrap().current();
        let user_name = format!("case{n}@example.com");
        let what = format!("case {n} POST {posted:?}");
        let body = user_body(&user_name, &posted);
        let reply = app.post("/Users", &body).await;
        let target = if assert_agrees(&reply, &body, StatusCode::CREATED, &what) {
            let id = reply.body["id"].as_str().unwrap().to_owned();
            assert_stored_as_sent(&app, &id, &body, &what).await;
            id
        } else {
            let found = app
                .filter_users(&format!("userName eq \"{user_name}\""))
                .await
                .expect(StatusCode::OK);
            assert_eq!(found.body["totalResults"], 0, "{what}: nothing created");
            seeded.clone()
        };
        let before = app.get_user(&target).await;
        let what = format!("case {n} PUT {replaced:?}");
        let body = user_body(before["userName"].as_str().unwrap(), &replaced);
        let reply = app.put(&format!("/Users/{target}"), &body).await;
        if assert_agrees(&reply, &body, StatusCode::OK, &what) {
            assert_stored_as_sent(&app, &target, &body, &what).await;
            written += 1;
        } else {
            refused += 1;
            assert_eq!(
                app.get_user(&target).await,
                before,
                "{what}: a refused PUT changed the user"
            );
        }
    }
    // The cases reach both sides of the limits.
    assert!(
        written > 0 && refused > 0,
        "{written} PUTs written, {refused} refused"
    );
    app
}

/// The server's default body limit (4 MiB), so the values, not the body size, decide.
fn default_body_limit(config: &mut iris::config::Config) {
    config.max_body_bytes = iris::config::Config::default().max_body_bytes;
}

crate::on_both_backends_with!(default_body_limit =>
    large_multi_valued_users_are_written_whole_or_not_at_all,
);
