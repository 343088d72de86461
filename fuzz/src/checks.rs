//! What must hold for any input, checked by the fuzz targets and by the stable corpus replay
//! (`crates/iris-scim/tests/fuzz_corpus.rs` includes this file). Only `iris_scim` and
//! `serde_json` are used, so the file compiles in both places.

use std::sync::OnceLock;

use iris_scim::filter::{self, FilterLimits, Resolved};
use iris_scim::patch::apply_patch;
use iris_scim::resource::{self, Document, Meta};
use iris_scim::schema::{group_type, user_type};
use serde_json::{Value, json};

/// Limits for re-parsing canonical text: the canonical form of an accepted filter may be longer
/// (escapes) and one level deeper (`a[x or y].b eq 1` becomes `a[(x or y) and b eq 1]`) than the
/// input, but never by more than this.
const REPARSE: FilterLimits = FilterLimits {
    max_length: usize::MAX,
    max_depth: 64,
    max_terms: 1024,
};

/// A user with most attribute shapes: multi-valued, complex, extension, booleans, empty values.
fn user_body() -> Value {
    json!({
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        ],
        "externalId": "Bjensen",
        "userName": "bjensen@example.com",
        "name": {"familyName": "Jensen", "givenName": "Barbara", "formatted": "Ms. Barbara J Jensen III"},
        "displayName": "Babs Jensen",
        "title": "",
        "userType": "Employee",
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "phoneNumbers": [{"value": "555-555-8377", "type": "work"}],
        "addresses": [{"type": "work", "locality": "Hollywood", "primary": true}],
        "roles": [{"value": "Admin", "primary": true}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "employeeNumber": "701984",
            "department": "Tour Operations",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}
        }
    })
}

/// The stored document of [`user_body`].
pub fn user_document() -> &'static Document {
    static DOC: OnceLock<Document> = OnceLock::new();
    DOC.get_or_init(|| {
        resource::document_from_request(user_type(), &user_body())
            .unwrap_or_else(|e| panic!("the fixed user is invalid: {e}"))
    })
}

/// [`user_document`] as a client reads it (with `id`, `schemas` and `meta`).
fn user_resource() -> &'static Value {
    static RESOURCE: OnceLock<Value> = OnceLock::new();
    RESOURCE.get_or_init(|| {
        let meta = Meta {
            created: "2010-01-23T04:56:22.000Z".into(),
            last_modified: "2011-05-13T04:42:34.000Z".into(),
            version: 3,
            location: "https://example.com/scim/v2/Users/2819c223".into(),
        };
        resource::render(
            user_type(),
            "2819c223",
            user_document(),
            Document::new(),
            &meta,
        )
    })
}

/// Filter parser: parsing never panics; an accepted filter's canonical text (`Display`) parses
/// back to an equal AST and is a fixed point; resolution against the User and Group types never
/// panics and gives the same result for the canonical text; evaluation never panics. PATCH paths:
/// the same round trip.
pub fn check_filter(data: &[u8]) {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let limits = FilterLimits::default();
    if let Ok(parsed) = filter::parse_filter(input, &limits) {
        let canonical = parsed.to_string();
        let reparsed = filter::parse_filter(&canonical, &REPARSE).unwrap_or_else(|e| {
            panic!("canonical form {canonical:?} of {input:?} does not parse: {e}")
        });
        assert_eq!(
            reparsed, parsed,
            "canonical form {canonical:?} of {input:?} parses to another AST"
        );
        assert_eq!(
            reparsed.to_string(),
            canonical,
            "canonical form of {input:?} is not a fixed point"
        );
        for rt in [user_type(), group_type()] {
            let resolved = filter::resolve(&parsed, rt);
            let again = filter::resolve(&reparsed, rt);
            match (&resolved, &again) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{input:?} resolves differently"),
                (Err(a), Err(b)) => assert_eq!(a.detail, b.detail, "{input:?}"),
                _ => panic!("{input:?} and its canonical form {canonical:?} resolve differently"),
            }
            if let Ok(resolved) = resolved {
                evaluate(&resolved);
            }
        }
    }
    if let Ok(path) = filter::parse_path(input, &limits) {
        let canonical = path.to_string();
        let reparsed = filter::parse_path(&canonical, &REPARSE).unwrap_or_else(|e| {
            panic!("canonical path {canonical:?} of {input:?} does not parse: {e}")
        });
        assert_eq!(
            reparsed, path,
            "canonical path {canonical:?} of {input:?} parses to another path"
        );
    }
}

fn evaluate(resolved: &Resolved) {
    // Whatever the answer, evaluation must terminate without panicking, and a filter and its
    // negation must disagree (two-valued logic).
    let yes = filter::matches(resolved, user_resource());
    let negated = Resolved::Not(Box::new(resolved.clone()));
    assert_ne!(yes, filter::matches(&negated, user_resource()));
    filter::matches(resolved, &json!({}));
}

/// PATCH: any JSON body applied to the fixed user never panics; a rejected PATCH leaves the
/// document exactly as it was; an accepted one leaves a canonical document (one that a POST of
/// it would store unchanged).
pub fn check_patch(data: &[u8]) {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let mut doc = user_document().clone();
    match apply_patch(user_type(), &mut doc, &body) {
        Err(_) => assert_eq!(
            &doc,
            user_document(),
            "a rejected PATCH changed the document: {body}"
        ),
        Ok(outcome) => {
            assert_eq!(
                outcome.changed,
                &doc != user_document(),
                "`changed` is wrong for {body}"
            );
            let stored = resource::document_from_request(user_type(), &Value::Object(doc.clone()))
                .unwrap_or_else(|e| panic!("PATCH {body} left a document POST refuses: {e}"));
            assert_eq!(stored, doc, "PATCH {body} left a non-canonical document");
        }
    }
}
