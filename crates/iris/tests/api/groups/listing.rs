//! Reading groups in bulk: filters, sorting and paging compiled to SQL, a large group's members
//! streamed in pages, and the root `/.search` across users and groups.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{TestApp, id_set};

async fn group_filters_sorting_and_paging_run_in_sql(app: TestApp) -> TestApp {
    let users = app.create_users("f", 2).await;
    let mut ids = Vec::new();
    for (name, ext) in [("Alpha", "e-1"), ("beta", "E-2"), ("Gamma", "e-3")] {
        ids.push(
            app.create_group(&json!({"displayName": name, "externalId": ext}))
                .await,
        );
    }
    let (alpha, beta, gamma) = (&ids[0], &ids[1], &ids[2]);
    app.add_members(alpha, &[&users[0], &users[1]]).await;
    app.add_members(beta, &[&users[1]]).await;
    let (u0, u1) = (&users[0], &users[1]);
    let cases: Vec<(String, BTreeSet<String>)> = vec![
        ("displayName eq \"ALPHA\"".into(), id_set(&[alpha])),
        ("displayName sw \"g\"".into(), id_set(&[gamma])),
        ("externalId eq \"E-2\"".into(), id_set(&[beta])),
        ("externalId eq \"e-2\"".into(), BTreeSet::new()),
        (format!("id eq \"{gamma}\""), id_set(&[gamma])),
        (format!("members eq \"{u0}\""), id_set(&[alpha])),
        (format!("members.value eq \"{u1}\""), id_set(&[alpha, beta])),
        (
            format!("members[value eq \"{u1}\"]"),
            id_set(&[alpha, beta]),
        ),
        (
            format!("members[value eq \"{}\"]", u1.to_uppercase()),
            id_set(&[alpha, beta]),
        ),
        ("members.type eq \"User\"".into(), id_set(&[alpha, beta])),
        ("members pr".into(), id_set(&[alpha, beta])),
        ("not (members pr)".into(), id_set(&[gamma])),
        (
            format!("not (members[value eq \"{u0}\"])"),
            id_set(&[beta, gamma]),
        ),
        (
            format!("members[value eq \"{u0}\"] or displayName eq \"gamma\""),
            id_set(&[alpha, gamma]),
        ),
        (
            format!("id eq \"{beta}\" and members[value eq \"{u0}\"]"),
            BTreeSet::new(),
        ),
        ("meta.created pr".into(), id_set(&[alpha, beta, gamma])),
        ("members.display pr".into(), BTreeSet::new()),
    ];
    for (filter, expected) in &cases {
        let listed = app
            .list_groups(&[
                ("filter", filter.as_str()),
                ("excludedAttributes", "members"),
            ])
            .await
            .expect(StatusCode::OK);
        assert_eq!(&listed.ids(), expected, "GET filter {filter}");
        let searched = app
            .post(
                "/Groups/.search",
                &json!({"filter": filter, "excludedAttributes": ["members"]}),
            )
            .await
            .expect(StatusCode::OK);
        assert_eq!(&searched.ids(), expected, "POST .search filter {filter}");
        for r in searched.resources() {
            assert!(r.get("members").is_none());
        }
    }
    app.list_groups(&[("filter", "userName eq \"x\"")])
        .await
        .expect_error(StatusCode::BAD_REQUEST, Some("invalidFilter"));

    // Sorted by displayName (case-insensitively), paged.
    let sorted = app
        .list_groups(&[
            ("sortBy", "displayName"),
            ("sortOrder", "descending"),
            ("excludedAttributes", "members"),
        ])
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        sorted.id_list(),
        vec![gamma.clone(), beta.clone(), alpha.clone()]
    );
    let page = app
        .list_groups(&[
            ("sortBy", "displayName"),
            ("startIndex", "2"),
            ("count", "1"),
        ])
        .await
        .expect(StatusCode::OK);
    assert_eq!(page.body["totalResults"], 3);
    assert_eq!(page.body["startIndex"], 2);
    assert_eq!(page.body["itemsPerPage"], 1);
    assert_eq!(page.id_list(), vec![beta.clone()]);
    assert_eq!(page.resources()[0]["members"][0]["value"], u1.as_str());
    // A list with members streams every group's members.
    let all = app
        .list_groups(&[("sortBy", "displayName")])
        .await
        .expect(StatusCode::OK);
    let counts: Vec<usize> = all
        .resources()
        .iter()
        .map(|g| g["members"].as_array().unwrap().len())
        .collect();
    assert_eq!(counts, [2, 1, 0]);
    let only_count = app
        .list_groups(&[("count", "0")])
        .await
        .expect(StatusCode::OK);
    assert_eq!(only_count.body["totalResults"], 3);
    assert_eq!(only_count.body["Resources"], json!([]));
    app
}

async fn a_large_groups_members_stream_in_pages(app: TestApp) -> TestApp {
    // More members than two pages of the membership table (1,000 rows per query).
    const N: usize = 2345;
    let mut users = Vec::with_capacity(N);
    for chunk in 0..N.div_ceil(500) {
        let batch: Vec<Value> = (chunk * 500..((chunk + 1) * 500).min(N))
            .map(|i| json!({"userName": format!("bulk{i}@example.com")}))
            .collect();
        users.extend(app.admin.import_users(&batch).await);
    }
    let g = app.create_group_named("Everyone").await;
    for chunk in users.chunks(1000) {
        let value: Vec<Value> = chunk.iter().map(|u| json!({"value": u})).collect();
        app.patch_group(
            &g,
            json!([{"op": "Add", "path": "members", "value": value}]),
        )
        .await
        .expect(StatusCode::NO_CONTENT);
    }
    let expected: BTreeSet<String> = users.iter().cloned().collect();
    let got = app
        .get(&format!("/Groups/{g}"))
        .await
        .expect(StatusCode::OK);
    let members = got.body["members"].as_array().unwrap();
    assert_eq!(members.len(), N, "every member, once");
    let ids: BTreeSet<String> = members
        .iter()
        .map(|m| m["value"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, expected);
    assert!(members.iter().all(|m| m["type"] == "User"));
    assert_eq!(got.body["meta"]["version"], "W/\"4\"");
    assert!(got.text.ends_with('}'));
    // Projected sub-attributes apply to every page.
    let values = app
        .get(&format!("/Groups/{g}?attributes=members.value"))
        .await
        .expect(StatusCode::OK);
    let members = values.body["members"].as_array().unwrap();
    assert_eq!(members.len(), N);
    assert!(members.iter().all(|m| m.as_object().unwrap().len() == 1));
    // Removing a batch by value array removes exactly those.
    let gone: Vec<Value> = users[..1200].iter().map(|u| json!({"value": u})).collect();
    app.patch_group(
        &g,
        json!([{"op": "Remove", "path": "members", "value": gone}]),
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    let left = app.members_of(&g).await;
    assert_eq!(left, users[1200..].iter().cloned().collect::<BTreeSet<_>>());
    // The membership check stays a lookup either way.
    assert!(app.is_member(&g, &users[N - 1]).await);
    assert!(!app.is_member(&g, &users[0]).await);
    app
}

async fn the_root_search_spans_users_and_groups(app: TestApp) -> TestApp {
    let u = app
        .create_user(&json!({"userName": "root@example.com", "displayName": "Shared"}))
        .await;
    let v = app
        .create_user(&json!({"userName": "other@example.com"}))
        .await;
    let g = app
        .create_group(&json!({"displayName": "Shared", "members": [{"value": u}]}))
        .await;
    let h = app.create_group_named("Lonely").await;

    let all = app
        .post("/.search", &json!({}))
        .await
        .expect(StatusCode::OK);
    assert_eq!(all.body["totalResults"], 4);
    let types: Vec<&str> = all
        .resources()
        .iter()
        .map(|r| r["meta"]["resourceType"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["User", "User", "Group", "Group"]);
    // A filter both types understand.
    let shared = app
        .post(
            "/.search",
            &json!({"filter": "displayName eq \"shared\"", "excludedAttributes": ["members", "groups"]}),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(shared.ids(), id_set(&[&u, &g]));
    for r in shared.resources() {
        assert!(r.get("members").is_none() && r.get("groups").is_none());
    }
    // Attributes of one type only select that type.
    let users_only = app
        .post(
            "/.search",
            &json!({"filter": "userName ew \"@example.com\""}),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(users_only.ids(), id_set(&[&u, &v]));
    let groups_only = app
        .post("/.search", &json!({"filter": "members pr"}))
        .await
        .expect(StatusCode::OK);
    assert_eq!(groups_only.ids(), id_set(&[&g]));
    assert_eq!(
        groups_only.resources()[0]["members"][0]["value"],
        u.as_str()
    );
    // Paging runs across the types.
    let page = app
        .post(
            "/.search",
            &json!({"startIndex": 2, "count": 2, "sortBy": "displayName"}),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(page.body["totalResults"], 4);
    assert_eq!(page.body["itemsPerPage"], 2);
    let kinds: Vec<&str> = page
        .resources()
        .iter()
        .map(|r| r["meta"]["resourceType"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["User", "Group"]);
    let tail = app
        .post("/.search", &json!({"startIndex": 4, "count": 10}))
        .await
        .expect(StatusCode::OK);
    assert_eq!(tail.resources().len(), 1);
    assert_eq!(tail.resources()[0]["meta"]["resourceType"], "Group");
    let _ = h;
    app.post("/.search", &json!({"filter": "nothing eq 1"}))
        .await
        .expect_error(StatusCode::BAD_REQUEST, Some("invalidFilter"));
    app.post("/.search", &json!({"filter": "(("}))
        .await
        .expect_error(StatusCode::BAD_REQUEST, Some("invalidFilter"));
    app
}

crate::on_both_backends!(
    group_filters_sorting_and_paging_run_in_sql,
    a_large_groups_members_stream_in_pages,
    the_root_search_spans_users_and_groups,
);
