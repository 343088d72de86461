//! Cursor paging (RFC 9865): `cursor` and `count` in, `nextCursor` and `previousCursor` out, over
//! GET and `.search`, sorted or not, and stable while other clients write.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Reply, SEARCH_REQUEST, TestApp};

/// 17 users; every third has no title and titles repeat, so sorting by title has ties and
/// missing values. Returns `(id, userName)` in creation order.
async fn seed(app: &TestApp) -> Vec<(String, String)> {
    let mut users = Vec::new();
    for i in 0..17 {
        let n = (i * 5) % 17;
        let user_name = format!("cursor-{n:02}@Example.com");
        let mut body = json!({"userName": user_name, "active": n % 2 == 0});
        if n % 3 != 0 {
            body["title"] = json!(format!("Title {}", n % 4));
        }
        users.push((app.create_user(&body).await, user_name));
    }
    users
}

fn query(extra: &str, cursor: Option<&str>) -> String {
    match cursor {
        Some(c) => format!("/Users?{extra}&cursor={c}"),
        None => format!("/Users?{extra}&cursor="),
    }
}

fn cursor_of(reply: &Reply, name: &str) -> Option<String> {
    reply.body.get(name).map(|c| {
        let c = c.as_str().expect("cursors are strings");
        assert!(
            c.chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "-._~".contains(ch)),
            "RFC 9865: a cursor uses unreserved characters only: {c}"
        );
        c.to_owned()
    })
}

/// Walks forwards from the first page; returns every page's ids and the replies.
async fn walk_forwards(app: &TestApp, extra: &str) -> Vec<Reply> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let reply = app
            .get(&query(extra, cursor.as_deref()))
            .await
            .expect(StatusCode::OK);
        assert!(
            reply.body.get("startIndex").is_none(),
            "startIndex belongs to index paging"
        );
        cursor = cursor_of(&reply, "nextCursor");
        pages.push(reply);
        assert!(pages.len() < 100, "the walk does not end");
        if cursor.is_none() {
            return pages;
        }
    }
}

/// The same query in one index-paged page.
async fn ids_in_index_order(app: &TestApp, extra: &str) -> Vec<String> {
    let params: Vec<&str> = extra
        .split('&')
        .filter(|p| !p.starts_with("count="))
        .collect();
    app.get(&format!("/Users?{}&count=1000", params.join("&")))
        .await
        .expect(StatusCode::OK)
        .id_list()
}

async fn next_cursor_walks_every_user_once_and_previous_walks_back(app: TestApp) -> TestApp {
    let users = seed(&app).await;
    for extra in [
        "count=5",
        "count=4&sortBy=userName",
        "count=3&sortBy=title",
        "count=3&sortBy=title&sortOrder=descending",
        "count=2&sortBy=active&sortOrder=descending",
        "count=6&sortBy=meta.created",
        "count=5&filter=title%20pr&sortBy=name.familyName",
    ] {
        let expected = ids_in_index_order(&app, extra).await;
        let pages = walk_forwards(&app, extra).await;
        let walked: Vec<String> = pages.iter().flat_map(Reply::id_list).collect();
        assert_eq!(
            walked, expected,
            "{extra}: the cursor walk follows the sort order"
        );
        if !extra.contains("filter") {
            assert_eq!(walked.len(), users.len(), "{extra}");
        }
        let total = expected.len();
        for page in &pages {
            assert_eq!(page.body["totalResults"], total, "{extra}");
            assert_eq!(page.body["itemsPerPage"], page.resources().len(), "{extra}");
        }
        assert!(cursor_of(&pages[0], "previousCursor").is_none(), "{extra}");
        assert!(
            cursor_of(pages.last().unwrap(), "nextCursor").is_none(),
            "{extra}"
        );

        // Back from the last page, previousCursor gives the same pages in reverse.
        let mut back = vec![pages.last().unwrap().id_list()];
        let mut cursor = cursor_of(pages.last().unwrap(), "previousCursor");
        while let Some(c) = cursor {
            let reply = app
                .get(&query(extra, Some(&c)))
                .await
                .expect(StatusCode::OK);
            back.push(reply.id_list());
            cursor = cursor_of(&reply, "previousCursor");
            // Every page reached backwards offers the way forward again.
            assert!(cursor_of(&reply, "nextCursor").is_some(), "{extra}");
        }
        back.reverse();
        let forward: Vec<Vec<String>> = pages.iter().map(Reply::id_list).collect();
        assert_eq!(back, forward, "{extra}: walking back retraces the pages");
    }
    app
}

async fn a_cursor_walk_is_stable_while_others_write(app: TestApp) -> TestApp {
    let users = seed(&app).await;
    let mut seen = Vec::new();
    let first = app
        .get(&query("count=4&sortBy=userName", None))
        .await
        .expect(StatusCode::OK);
    seen.extend(first.id_list());
    let seen_before: BTreeSet<String> = seen.iter().cloned().collect();
    let unseen: Vec<&(String, String)> = users
        .iter()
        .filter(|(id, _)| !seen_before.contains(id))
        .collect();

    // Between pages: a user sorting before the cursor and one after it appear, one user already
    // seen and one not yet seen are deleted, and one not yet seen is renamed to sort first.
    app.create_user(&json!({"userName": "aaa-new@example.com"}))
        .await;
    let late = app
        .create_user(&json!({"userName": "zzz-new@example.com"}))
        .await;
    app.delete(&format!("/Users/{}", seen[0]))
        .await
        .expect(StatusCode::NO_CONTENT);
    let deleted_unseen = unseen[0].0.clone();
    app.delete(&format!("/Users/{deleted_unseen}"))
        .await
        .expect(StatusCode::NO_CONTENT);

    let mut cursor = cursor_of(&first, "nextCursor");
    while let Some(c) = cursor {
        let reply = app
            .get(&query("count=4&sortBy=userName", Some(&c)))
            .await
            .expect(StatusCode::OK);
        seen.extend(reply.id_list());
        cursor = cursor_of(&reply, "nextCursor");
    }
    let distinct: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(distinct.len(), seen.len(), "no user is returned twice");
    for (id, _) in &unseen[1..] {
        assert!(
            distinct.contains(id),
            "a user present throughout is never skipped"
        );
    }
    assert!(!distinct.contains(&deleted_unseen));
    assert!(
        distinct.contains(&late),
        "a user created ahead of the cursor is reached"
    );
    app
}

async fn bad_cursors_and_counts_are_precise_errors(app: TestApp) -> TestApp {
    seed(&app).await;
    let first = app
        .get(&query("count=3&filter=title%20pr", None))
        .await
        .expect(StatusCode::OK);
    let next = cursor_of(&first, "nextCursor").unwrap();
    for bad in [
        "garbage".to_owned(),
        "e30".to_owned(), // `{}`
        format!("{next}x"),
    ] {
        app.get(&query("count=3&filter=title%20pr", Some(&bad)))
            .await
            .expect_error(StatusCode::BAD_REQUEST, Some("invalidCursor"));
    }
    // A cursor belongs to its query: another filter or sort order refuses it.
    app.get(&query("count=3&filter=title%20eq%20%22x%22", Some(&next)))
        .await
        .expect_error(StatusCode::BAD_REQUEST, Some("invalidCursor"));
    app.get(&query(
        "count=3&filter=title%20pr&sortBy=userName",
        Some(&next),
    ))
    .await
    .expect_error(StatusCode::BAD_REQUEST, Some("invalidCursor"));
    // The page size may change between pages.
    app.get(&query("count=7&filter=title%20pr", Some(&next)))
        .await
        .expect(StatusCode::OK);
    for count in ["0", "-1", "1001"] {
        app.get(&query(&format!("count={count}"), None))
            .await
            .expect_error(StatusCode::BAD_REQUEST, Some("invalidCount"));
    }
    app.get("/Users?startIndex=1&cursor=")
        .await
        .expect_error(StatusCode::BAD_REQUEST, Some("invalidValue"));
    for bad in ["garbage", "e30"] {
        app.post(
            "/.search",
            &json!({"schemas": [SEARCH_REQUEST],
                    "cursor": bad}),
        )
        .await
        .expect_error(StatusCode::BAD_REQUEST, Some("invalidCursor"));
    }
    app.post(
        "/.search",
        &json!({"schemas": [SEARCH_REQUEST],
                "cursor": "", "count": 0}),
    )
    .await
    .expect_error(StatusCode::BAD_REQUEST, Some("invalidCount"));
    app
}

/// Walks the root `/.search` by `nextCursor`; returns each page's ids.
async fn walk_root(app: &TestApp, filter: Option<&str>, count: u64) -> Vec<Reply> {
    let mut pages = Vec::new();
    let mut cursor = json!("");
    loop {
        let mut body = json!({"schemas": [SEARCH_REQUEST],
                              "count": count, "cursor": cursor, "sortBy": "meta.created"});
        if let Some(f) = filter {
            body["filter"] = json!(f);
        }
        let reply = app.post("/.search", &body).await.expect(StatusCode::OK);
        assert!(reply.body.get("startIndex").is_none());
        let next = cursor_of(&reply, "nextCursor");
        pages.push(reply);
        assert!(pages.len() < 50, "the walk does not end");
        match next {
            Some(c) => cursor = json!(c),
            None => return pages,
        }
    }
}

async fn the_root_search_pages_users_then_groups_by_cursor(app: TestApp) -> TestApp {
    let users = seed(&app).await;
    let mut groups = Vec::new();
    for i in 0..5 {
        groups.push(app.create_group_named(&format!("Root group {i}")).await);
    }
    let users: Vec<String> = users.into_iter().map(|(id, _)| id).collect();
    // 17 users then 5 groups, in creation order (sorted by meta.created); page sizes that end a
    // page inside the users, exactly at their end, and inside the groups.
    for count in [4, 17, 5, 100] {
        let pages = walk_root(&app, None, count).await;
        let walked: Vec<String> = pages.iter().flat_map(Reply::id_list).collect();
        let expected: Vec<String> = users.iter().chain(&groups).cloned().collect();
        assert_eq!(walked, expected, "count={count}");
        for page in &pages {
            assert_eq!(page.body["totalResults"], 22, "count={count}");
            assert!(page.resources().len() as u64 <= count);
        }
        assert!(
            pages.iter().all(|p| !p.resources().is_empty()),
            "no empty page (count={count})"
        );
    }
    // A filter only groups have: the users contribute nothing, the groups page on.
    let pages = walk_root(&app, Some("displayName sw \"Root\""), 2).await;
    let walked: Vec<String> = pages.iter().flat_map(Reply::id_list).collect();
    assert_eq!(walked, groups);
    // A filter neither type has is the client's error.
    app.post(
        "/.search",
        &json!({"schemas": [SEARCH_REQUEST],
                "cursor": "", "filter": "noSuchAttribute eq 1"}),
    )
    .await
    .expect_error(StatusCode::BAD_REQUEST, Some("invalidFilter"));
    app
}

async fn search_by_post_pages_by_cursor_like_get(app: TestApp) -> TestApp {
    seed(&app).await;
    let search = |cursor: Value| {
        json!({"schemas": [SEARCH_REQUEST],
               "count": 4, "sortBy": "userName", "cursor": cursor,
               "attributes": ["userName"]})
    };
    let mut cursor = json!("");
    let mut pages = 0;
    loop {
        let by_post = app
            .post("/Users/.search", &search(cursor.clone()))
            .await
            .expect(StatusCode::OK);
        let c = cursor.as_str().unwrap();
        let by_get = app
            .get(&format!(
                "/Users?count=4&sortBy=userName&attributes=userName&cursor={c}"
            ))
            .await
            .expect(StatusCode::OK);
        assert_eq!(by_post.body, by_get.body);
        pages += 1;
        match by_post.body.get("nextCursor") {
            Some(next) => cursor = next.clone(),
            None => break,
        }
    }
    assert_eq!(pages, 5, "17 users, 4 a page");
    app
}

async fn groups_page_by_cursor(app: TestApp) -> TestApp {
    let mut ids = BTreeSet::new();
    for i in 0..7 {
        ids.insert(app.create_group_named(&format!("Cursor group {i}")).await);
    }
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let reply = app
            .get(&format!(
                "/Groups?count=3&sortBy=displayName&excludedAttributes=members&cursor={cursor}"
            ))
            .await
            .expect(StatusCode::OK);
        assert_eq!(reply.body["totalResults"], 7);
        seen.extend(reply.id_list());
        match cursor_of(&reply, "nextCursor") {
            Some(c) => cursor = c,
            None => break,
        }
    }
    assert_eq!(seen.len(), 7);
    assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), ids);
    app
}

async fn service_provider_config_advertises_both_paging_methods(app: TestApp) -> TestApp {
    let spc = app
        .get("/ServiceProviderConfig")
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        spc.body["pagination"],
        json!({"cursor": true, "index": true, "defaultPaginationMethod": "index",
               "defaultPageSize": 100, "maxPageSize": 1000})
    );
    // Without a cursor parameter, paging stays index-based.
    let reply = app.get("/Users?count=1").await.expect(StatusCode::OK);
    assert_eq!(reply.body["startIndex"], 1);
    assert!(reply.body.get("nextCursor").is_none());
    app
}

crate::on_both_backends!(
    next_cursor_walks_every_user_once_and_previous_walks_back,
    a_cursor_walk_is_stable_while_others_write,
    bad_cursors_and_counts_are_precise_errors,
    search_by_post_pages_by_cursor_like_get,
    groups_page_by_cursor,
    the_root_search_pages_users_then_groups_by_cursor,
    service_provider_config_advertises_both_paging_methods,
);
