//! Bad filters, paging and sorting: 400 `invalidFilter` with a detail that says where, and 400
//! `invalidValue`.

use reqwest::StatusCode;
use serde_json::json;

use super::assert_scim_client_error;
use crate::harness::TestApp;

async fn invalid_filters_are_400_invalid_filter_with_a_useful_detail(app: TestApp) -> TestApp {
    app.create_user(&json!({"userName": "a@example.com"})).await;
    // Syntax errors say where (the column); unknown attributes say which.
    let cases = [
        ("userName eq", "column"),
        ("userName xx \"a\"", "column"),
        ("(userName eq \"a\"", "column"),
        ("userName eq \"a\")", "column"),
        ("((userName eq \"a\") or (userName eq \"b\")", "column"),
        ("emails[type eq \"work\"", "column"),
        ("userName eq \"a\" and", "column"),
        ("userName eq \"unterminated", "column"),
        ("and userName eq \"a\"", "column"),
        ("nope eq \"x\"", "nope"),
        ("name.nope eq \"x\"", "nope"),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:nope eq \"x\"",
            "nope",
        ),
        ("name eq \"x\"", "name"),
        ("active gt true", "active"),
        ("meta.lastModified gt \"yesterday\"", "lastModified"),
    ];
    for (filter, needle) in cases {
        for reply in [
            app.filter_users(filter).await,
            app.post("/Users/.search", &json!({"filter": filter})).await,
        ] {
            assert_scim_client_error(&reply, filter);
            let reply = reply.expect_error(StatusCode::BAD_REQUEST, Some("invalidFilter"));
            let detail = reply.body["detail"].as_str().unwrap();
            assert!(
                detail.contains(needle),
                "{filter}: detail {detail:?} does not mention {needle:?}"
            );
        }
    }
    app
}

async fn non_integer_paging_and_bad_sorting_are_400_invalid_value(app: TestApp) -> TestApp {
    app.create_user(&json!({"userName": "a@example.com"})).await;
    for query in [
        "startIndex=abc",
        "startIndex=1.5",
        "startIndex=1e3",
        "count=ten",
        "count=2.0",
        "count=99999999999999999999",
        "startIndex=%FF",
        "sortBy=nope",
        "sortBy=emails%5Btype%20eq%20%22work%22%5D.value",
        "sortBy=userName&sortOrder=sideways",
    ] {
        let reply = app.get(&format!("/Users?{query}")).await;
        assert_scim_client_error(&reply, query);
        reply.expect_error(StatusCode::BAD_REQUEST, Some("invalidValue"));
    }
    for body in [
        json!({"startIndex": "abc"}),
        json!({"count": 1.5}),
        json!({"count": {"n": 1}}),
        json!({"filter": 5}),
        json!({"sortOrder": "sideways", "sortBy": "userName"}),
    ] {
        let reply = app.post("/Users/.search", &body).await;
        assert_scim_client_error(&reply, &body.to_string());
        reply.expect_error(StatusCode::BAD_REQUEST, Some("invalidValue"));
    }
    app
}

crate::on_both_backends!(
    invalid_filters_are_400_invalid_filter_with_a_useful_detail,
    non_integer_paging_and_bad_sorting_are_400_invalid_value,
);
