//! Index paging and sorting (RFC 7644 §3.4.2.3–§3.4.2.4), including the page arithmetic that other
//! SCIM servers get wrong (lessons.md item 7) and Entra's pagination check (entra-compat §7.3:
//! `startIndex` echoed as `page*5+1`).

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{LIST_RESPONSE, Reply, SCIM_JSON, SEARCH_REQUEST, TestApp};

const USERS: usize = 23;

/// 23 users whose userNames (mixed case) are not in creation order; returns them as
/// `(id, userName)` in creation order.
async fn seed(app: &TestApp) -> Vec<(String, String)> {
    let mut users = Vec::with_capacity(USERS);
    for i in 0..USERS {
        let n = (i * 7) % USERS;
        let user_name = if n.is_multiple_of(2) {
            format!("User-{n:02}@example.com")
        } else {
            format!("user-{n:02}@Example.com")
        };
        let id = app
            .create_user(&json!({"userName": user_name, "active": !n.is_multiple_of(3)}))
            .await;
        users.push((id, user_name));
    }
    users
}

async fn page(app: &TestApp, query: &str) -> Reply {
    let reply = app
        .get(&format!("/Users?{query}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(reply.body["schemas"], json!([LIST_RESPONSE]));
    reply
}

/// `Resources` may be omitted only when there are none (RFC 7644 §3.4.2).
fn resources(reply: &Reply) -> Vec<Value> {
    match reply.body.get("Resources") {
        None => Vec::new(),
        Some(r) => r.as_array().expect("Resources array").clone(),
    }
}

async fn walking_pages_of_five_returns_every_user_exactly_once(app: TestApp) -> TestApp {
    let users = seed(&app).await;
    let all: BTreeSet<String> = users.iter().map(|(id, _)| id.clone()).collect();
    let full = page(&app, "count=100").await;
    assert_eq!(full.body["totalResults"], USERS);
    assert_eq!(full.body["itemsPerPage"], USERS);
    let order = full.id_list();
    assert_eq!(order.iter().cloned().collect::<BTreeSet<_>>(), all);

    let mut walked = Vec::new();
    for p in 0..5 {
        let start = p * 5 + 1;
        let reply = page(&app, &format!("startIndex={start}&count=5")).await;
        let expected_items = if p < 4 { 5 } else { 3 };
        assert_eq!(reply.body["totalResults"], USERS, "page {p}");
        assert_eq!(reply.body["startIndex"], start, "page {p}");
        assert_eq!(reply.body["itemsPerPage"], expected_items, "page {p}");
        assert_eq!(reply.resources().len(), expected_items, "page {p}");
        walked.extend(reply.id_list());
    }
    // Same order as the unpaged list: no user twice, none skipped.
    assert_eq!(walked, order);

    // Pages that do not start on a multiple of the page size.
    let reply = page(&app, "startIndex=3&count=4").await;
    assert_eq!(reply.id_list(), order[2..6].to_vec());
    assert_eq!(reply.body["startIndex"], 3);
    let reply = page(&app, "startIndex=22&count=5").await;
    assert_eq!(reply.id_list(), order[21..].to_vec());
    assert_eq!(reply.body["itemsPerPage"], 2);
    // Paging combines with a filter: totalResults counts the filtered set.
    let active: Vec<String> = page(&app, "count=100&filter=active%20eq%20true")
        .await
        .id_list();
    assert_eq!(
        active.len(),
        (0..USERS).filter(|n| !n.is_multiple_of(3)).count()
    );
    let reply = page(&app, "startIndex=6&count=5&filter=active%20eq%20true").await;
    assert_eq!(reply.body["totalResults"], active.len());
    assert_eq!(reply.id_list(), active[5..10].to_vec());
    app
}

async fn count_zero_gives_only_the_total(app: TestApp) -> TestApp {
    seed(&app).await;
    for query in ["count=0", "count=0&startIndex=5", "count=-3"] {
        let reply = page(&app, query).await;
        assert_eq!(reply.body["totalResults"], USERS, "{query}");
        assert_eq!(reply.body["itemsPerPage"], 0, "{query}");
        assert!(resources(&reply).is_empty(), "{query}: {}", reply.text);
    }
    app
}

async fn a_start_index_below_one_is_read_as_one(app: TestApp) -> TestApp {
    seed(&app).await;
    let first = page(&app, "startIndex=1&count=5").await;
    for start in ["0", "-1", "-9999"] {
        let reply = page(&app, &format!("startIndex={start}&count=5")).await;
        assert_eq!(reply.body["startIndex"], 1, "startIndex={start}");
        assert_eq!(reply.id_list(), first.id_list(), "startIndex={start}");
        assert_eq!(reply.body["totalResults"], USERS);
    }
    app
}

async fn past_the_end_is_an_empty_page_with_the_right_total(app: TestApp) -> TestApp {
    seed(&app).await;
    for start in [24_u64, 25, 1000, i64::MAX as u64] {
        let reply = page(&app, &format!("startIndex={start}&count=5")).await;
        assert_eq!(reply.body["totalResults"], USERS, "startIndex={start}");
        assert_eq!(reply.body["startIndex"], start, "startIndex={start}");
        assert_eq!(reply.body["itemsPerPage"], 0, "startIndex={start}");
        assert!(resources(&reply).is_empty(), "startIndex={start}");
    }
    // The last user exactly.
    let reply = page(&app, "startIndex=23&count=5").await;
    assert_eq!(reply.body["itemsPerPage"], 1);
    // An empty filter result has totalResults 0 and no resources.
    let reply = page(&app, "filter=userName%20eq%20%22nobody%22&startIndex=3").await;
    assert_eq!(reply.body["totalResults"], 0);
    assert!(resources(&reply).is_empty());
    app
}

async fn count_is_capped_at_the_advertised_max_results(app: TestApp) -> TestApp {
    let max = app.get("/ServiceProviderConfig").await.body["filter"]["maxResults"]
        .as_u64()
        .unwrap() as usize;
    // More users than one page may hold, created a few at a time.
    let total = max + 5;
    let mut pending = tokio::task::JoinSet::new();
    for i in 0..total {
        let req = app
            .request(Method::POST, "/Users")
            .header("content-type", SCIM_JSON)
            .body(json!({"userName": format!("bulk-{i:05}@example.com")}).to_string());
        pending.spawn(async move { req.send().await.map(|r| r.status()) });
        if pending.len() >= 8 || i + 1 == total {
            while let Some(done) = pending.join_next().await {
                assert_eq!(done.unwrap().unwrap(), StatusCode::CREATED);
            }
        }
    }
    for query in [
        format!("count={}", max + 1),
        "count=1000000".to_owned(),
        format!("count={}", i64::MAX),
    ] {
        let reply = page(&app, &query).await;
        assert_eq!(reply.body["totalResults"], total, "{query}");
        assert_eq!(reply.body["itemsPerPage"], max, "{query}");
        assert_eq!(reply.resources().len(), max, "{query}");
    }
    // The rest is on the next page.
    let reply = page(&app, &format!("startIndex={}&count={}", max + 1, max)).await;
    assert_eq!(reply.resources().len(), 5);
    // Without count, a page is never larger than the maximum either.
    let reply = page(&app, "").await;
    assert!(reply.resources().len() <= max);
    assert_eq!(reply.body["itemsPerPage"], reply.resources().len());
    app
}

async fn sorting_by_user_name_orders_pages(app: TestApp) -> TestApp {
    let users = seed(&app).await;
    let mut by_name = users.clone();
    by_name.sort_by_key(|(_, name)| name.to_lowercase());
    let ascending: Vec<String> = by_name.iter().map(|(id, _)| id.clone()).collect();
    let descending: Vec<String> = ascending.iter().rev().cloned().collect();
    assert_ne!(
        ascending,
        users.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(),
        "seed order is not name order"
    );

    assert_eq!(
        page(&app, "sortBy=userName&count=100").await.id_list(),
        ascending
    );
    assert_eq!(
        page(&app, "sortBy=userName&sortOrder=ascending&count=100")
            .await
            .id_list(),
        ascending
    );
    assert_eq!(
        page(&app, "sortBy=USERNAME&sortOrder=Descending&count=100")
            .await
            .id_list(),
        descending
    );
    let mut walked = Vec::new();
    for start in [1, 6, 11, 16, 21] {
        let reply = page(
            &app,
            &format!("sortBy=userName&sortOrder=descending&startIndex={start}&count=5"),
        )
        .await;
        walked.extend(reply.id_list());
    }
    assert_eq!(walked, descending);
    // The sorted resources carry the names in order.
    let names: Vec<String> = page(&app, "sortBy=userName&sortOrder=descending&count=100")
        .await
        .resources()
        .iter()
        .map(|r| r["userName"].as_str().unwrap().to_lowercase())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    sorted.reverse();
    assert_eq!(names, sorted);
    app
}

async fn search_by_post_answers_exactly_like_get(app: TestApp) -> TestApp {
    seed(&app).await;
    let cases = [
        (
            "startIndex=6&count=5&sortBy=userName&sortOrder=descending",
            json!({"startIndex": 6, "count": 5, "sortBy": "userName", "sortOrder": "descending"}),
        ),
        (
            "filter=userName%20sw%20%22user-1%22&sortBy=userName&count=3&startIndex=2",
            json!({"filter": "userName sw \"user-1\"", "sortBy": "userName", "count": 3, "startIndex": 2}),
        ),
        (
            "filter=active%20eq%20false&attributes=userName",
            json!({"filter": "active eq false", "attributes": ["userName"]}),
        ),
        (
            "excludedAttributes=active&count=4",
            json!({"excludedAttributes": ["active"], "count": 4}),
        ),
        ("count=0", json!({"count": 0})),
        ("startIndex=30", json!({"startIndex": 30})),
    ];
    for (query, mut body) in cases {
        body["schemas"] = json!([SEARCH_REQUEST]);
        let by_get = page(&app, query).await;
        let by_post = app
            .post("/Users/.search", &body)
            .await
            .expect(StatusCode::OK);
        assert_eq!(by_post.body, by_get.body, "{query} vs {body}");
        assert!(by_get.body["totalResults"].as_u64().unwrap() > 0, "{query}");
    }
    app
}

crate::on_both_backends!(
    walking_pages_of_five_returns_every_user_exactly_once,
    count_zero_gives_only_the_total,
    a_start_index_below_one_is_read_as_one,
    past_the_end_is_an_empty_page_with_the_right_total,
    count_is_capped_at_the_advertised_max_results,
    sorting_by_user_name_orders_pages,
    search_by_post_answers_exactly_like_get,
);
