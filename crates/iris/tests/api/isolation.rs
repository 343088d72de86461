//! The tenant-isolation matrix: every SCIM route and every admin route, asked with another
//! tenant's token, ids and cursors, answers 401, 404 (or `400 invalidCursor` for a cursor) and
//! leaks nothing of the other tenant — no names, ids or counts in any body or header.
//!
//! The rows are not a hand-kept list of paths: the resource endpoints come from the server's own
//! `/ResourceTypes` (a new resource type is covered the moment it is served), each with every
//! operation the SCIM router serves on a resource endpoint; the discovery endpoints are the
//! harness's list; the admin routes come from the served OpenAPI document (every path and
//! method). A route that appears in neither is the gap: see the test's last assertion, which
//! pins how many rows there are so a new kind of route makes it fail until it has a row.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{GROUP, PATCH_OP, Reply, SEARCH_REQUEST, TestApp, USER, discovery_paths};

/// What the other tenant owns; none of it may show up in an answer to acme.
struct Other {
    url: String,
    token: String,
    user_ids: Vec<String>,
    group_id: String,
    /// A `nextCursor` of its `/Users` (and `/Groups`) listing.
    cursors: Vec<(String, String)>,
    /// Strings that must never appear in an answer to a request that did not name them.
    secrets: Vec<String>,
}

/// The operations a resource endpoint serves, for the endpoint `ep` (`/Users`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    List,
    Filter,
    Cursor,
    Search,
    Create,
    Get,
    Put,
    Patch,
    Delete,
}

const OPS: [Op; 9] = [
    Op::List,
    Op::Filter,
    Op::Cursor,
    Op::Search,
    Op::Create,
    Op::Get,
    Op::Put,
    Op::Patch,
    Op::Delete,
];

struct Row {
    what: String,
    method: Method,
    /// Path under a Tenant URL.
    path: String,
    body: Option<Value>,
    /// With acme's own token, what acme must get back for the other tenant's ids or cursor.
    own_token: Expect,
}

#[derive(Debug, Clone, Copy)]
enum Expect {
    /// A success that may only show acme's own resources (`totalResults` acme's count).
    Own(StatusCode),
    NotFound,
    InvalidCursor,
    /// Not asked with acme's token (it would change acme's data).
    Skip,
}

fn resource_rows(ep: &str, other: &Other) -> Vec<Row> {
    let foreign = if ep == "/Groups" {
        other.group_id.clone()
    } else {
        other.user_ids[0].clone()
    };
    let cursor = other
        .cursors
        .iter()
        .find(|(e, _)| e == ep)
        .map(|(_, c)| c.clone())
        .expect("a cursor of the other tenant for every endpoint");
    let schema = if ep == "/Groups" { GROUP } else { USER };
    let doc = if ep == "/Groups" {
        json!({"schemas": [schema], "displayName": "replaced"})
    } else {
        json!({"schemas": [schema], "userName": "replaced@example.com"})
    };
    OPS.iter()
        .map(|op| {
            let (method, path, body, own_token) = match op {
                Op::List => (Method::GET, ep.to_owned(), None, Expect::Own(StatusCode::OK)),
                Op::Filter => (
                    Method::GET,
                    format!("{ep}?filter=id%20eq%20%22{foreign}%22"),
                    None,
                    Expect::Own(StatusCode::OK),
                ),
                Op::Cursor => (
                    Method::GET,
                    format!("{ep}?count=1&cursor={cursor}"),
                    None,
                    Expect::InvalidCursor,
                ),
                Op::Search => (
                    Method::POST,
                    format!("{ep}/.search"),
                    Some(json!({"schemas": [SEARCH_REQUEST], "filter": format!("id eq \"{foreign}\"")})),
                    Expect::Own(StatusCode::OK),
                ),
                Op::Create => (Method::POST, ep.to_owned(), Some(doc.clone()), Expect::Skip),
                Op::Get => (Method::GET, format!("{ep}/{foreign}"), None, Expect::NotFound),
                Op::Put => (
                    Method::PUT,
                    format!("{ep}/{foreign}"),
                    Some(doc.clone()),
                    Expect::NotFound,
                ),
                Op::Patch => (
                    Method::PATCH,
                    format!("{ep}/{foreign}"),
                    Some(json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "externalId", "value": "x"}]})),
                    Expect::NotFound,
                ),
                Op::Delete => (Method::DELETE, format!("{ep}/{foreign}"), None, Expect::NotFound),
            };
            Row {
                what: format!("{method} {ep} ({op:?})"),
                method,
                path,
                body,
                own_token,
            }
        })
        .collect()
}

fn scim_rows(endpoints: &[String], other: &Other) -> Vec<Row> {
    let mut rows: Vec<Row> = endpoints
        .iter()
        .flat_map(|ep| resource_rows(ep, other))
        .collect();
    rows.push(Row {
        what: "POST /.search".into(),
        method: Method::POST,
        path: "/.search".into(),
        body: Some(json!({"schemas": [SEARCH_REQUEST], "filter": format!("id eq \"{}\"", other.user_ids[0])})),
        own_token: Expect::Own(StatusCode::OK),
    });
    for path in discovery_paths() {
        rows.push(Row {
            what: format!("GET {path}"),
            method: Method::GET,
            path,
            body: None,
            own_token: Expect::Own(StatusCode::OK),
        });
    }
    rows
}

async fn send(
    app: &TestApp,
    token: Option<&str>,
    method: Method,
    url: &str,
    body: Option<&Value>,
) -> Reply {
    let mut req = app.http.request(method, url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req
            .header("content-type", "application/scim+json")
            .body(b.to_string());
    }
    Reply::from(req.send().await.expect("request")).await
}

/// Nothing of the other tenant that the request did not itself name, in the body or a header.
#[track_caller]
fn assert_no_leak(what: &str, asked: &str, reply: &Reply, other: &Other) {
    let mut seen = reply.text.clone();
    for (name, value) in &reply.headers {
        seen.push_str(&format!("\n{name}: {}", value.to_str().unwrap_or_default()));
    }
    for secret in &other.secrets {
        if asked.contains(secret.as_str()) {
            continue;
        }
        assert!(
            !seen.contains(secret.as_str()),
            "{what}: the answer leaks '{secret}' of the other tenant:\n{seen}"
        );
    }
}

#[track_caller]
fn assert_401(what: &str, reply: &Reply) {
    assert_eq!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "{what}: {}",
        reply.text
    );
}

async fn setup_other(app: &TestApp) -> Other {
    let (url, token) = app.other_tenant("globex").await;
    let mut user_ids = Vec::new();
    let mut secrets = vec!["globex".to_owned()];
    for i in 0..3 {
        let name = format!("globex-secret-{i}@globex.example");
        let reply = send(
            app,
            Some(&token),
            Method::POST,
            &format!("{url}/Users"),
            Some(
                &json!({"schemas": [USER], "userName": name, "externalId": format!("gx-ext-{i}")}),
            ),
        )
        .await
        .expect(StatusCode::CREATED);
        user_ids.push(reply.id());
        secrets.push(name);
        secrets.push(format!("gx-ext-{i}"));
    }
    let group = send(app, Some(&token), Method::POST, &format!("{url}/Groups"), Some(&json!({"schemas": [GROUP], "displayName": "Globex Secret Group", "members": [{"value": user_ids[0]}]}))).await.expect(StatusCode::CREATED);
    let group_id = group.id();
    send(
        app,
        Some(&token),
        Method::POST,
        &format!("{url}/Groups"),
        Some(&json!({"schemas": [GROUP], "displayName": "Globex Second Group"})),
    )
    .await
    .expect(StatusCode::CREATED);
    secrets.extend([
        "Globex Secret Group".to_owned(),
        "Globex Second Group".to_owned(),
    ]);
    secrets.extend(user_ids.iter().cloned());
    secrets.push(group_id.clone());
    let mut cursors = Vec::new();
    for ep in ["/Users", "/Groups"] {
        let page = send(
            app,
            Some(&token),
            Method::GET,
            &format!("{url}{ep}?count=1&cursor="),
            None,
        )
        .await
        .expect(StatusCode::OK);
        let next = page.body["nextCursor"]
            .as_str()
            .expect("a next cursor")
            .to_owned();
        cursors.push((ep.to_owned(), next));
    }
    Other {
        url,
        token,
        user_ids,
        group_id,
        cursors,
        secrets,
    }
}

/// The versions of the other tenant's resources, as it reads them.
async fn other_versions(app: &TestApp, other: &Other) -> Vec<Value> {
    let mut paths: Vec<String> = other
        .user_ids
        .iter()
        .map(|id| format!("/Users/{id}"))
        .collect();
    paths.push(format!("/Groups/{}", other.group_id));
    let mut versions = Vec::new();
    for path in paths {
        let reply = send(
            app,
            Some(&other.token),
            Method::GET,
            &format!("{}{path}", other.url),
            None,
        )
        .await
        .expect(StatusCode::OK);
        versions.push(reply.body["meta"]["version"].clone());
    }
    versions
}

async fn every_route_refuses_and_hides_another_tenant(app: TestApp) -> TestApp {
    let other = setup_other(&app).await;
    let before = other_versions(&app, &other).await;
    // An OAuth access token of acme is just as confined as its Secret Token.
    let (client_id, _, secret) = app.admin.create_oauth_client("entra").await;
    let acme_oauth = app
        .admin
        .grant_access_token(&client_id, &secret, time::Duration::minutes(5))
        .await;
    app.create_user(&json!({"schemas": [USER], "userName": "acme-only@acme.example"}))
        .await;
    let acme_counts = [("/Users", 1), ("/Groups", 0)];

    let types = app.get("/ResourceTypes").await.expect(StatusCode::OK);
    let endpoints: Vec<String> = types
        .resources()
        .iter()
        .map(|t| t["endpoint"].as_str().unwrap().to_owned())
        .collect();
    assert!(endpoints.contains(&"/Users".to_owned()) && endpoints.contains(&"/Groups".to_owned()));
    let rows = scim_rows(&endpoints, &other);

    for row in &rows {
        let acme_url = format!("{}{}", app.tenant_url, row.path);
        let other_url = format!("{}{}", other.url, row.path);
        // The other tenant's token on acme's URL, and acme's token on the other's URL.
        for (token, url) in [
            (other.token.as_str(), &acme_url),
            (app.token.as_str(), &other_url),
            (acme_oauth.as_str(), &other_url),
        ] {
            let reply = send(
                &app,
                Some(token),
                row.method.clone(),
                url,
                row.body.as_ref(),
            )
            .await;
            assert_401(&row.what, &reply);
            assert_no_leak(&row.what, url, &reply, &other);
        }
        // No token at all.
        let reply = send(&app, None, row.method.clone(), &acme_url, row.body.as_ref()).await;
        assert_401(&row.what, &reply);
        // Acme's own token with the other tenant's ids and cursors.
        let reply = match row.own_token {
            Expect::Skip => continue,
            _ => {
                send(
                    &app,
                    Some(&app.token),
                    row.method.clone(),
                    &acme_url,
                    row.body.as_ref(),
                )
                .await
            }
        };
        match row.own_token {
            Expect::Own(status) => {
                assert_eq!(reply.status, status, "{}: {}", row.what, reply.text);
                if let Some(total) = reply.body.get("totalResults") {
                    let own = acme_counts
                        .iter()
                        .find(|(ep, _)| row.path.starts_with(ep))
                        .map(|(_, n)| *n);
                    match own {
                        // A filter on the other tenant's id finds nothing.
                        _ if row.path.contains("filter") || row.body.is_some() => {
                            assert_eq!(total, 0, "{}: {}", row.what, reply.text);
                        }
                        Some(n) => assert_eq!(total, n, "{}: {}", row.what, reply.text),
                        None => {}
                    }
                }
            }
            Expect::NotFound => {
                assert_eq!(
                    reply.status,
                    StatusCode::NOT_FOUND,
                    "{}: {}",
                    row.what,
                    reply.text
                );
            }
            Expect::InvalidCursor => {
                assert_eq!(
                    reply.status,
                    StatusCode::BAD_REQUEST,
                    "{}: {}",
                    row.what,
                    reply.text
                );
                assert_eq!(reply.body["scimType"], "invalidCursor", "{}", row.what);
            }
            Expect::Skip => unreachable!(),
        }
        assert_no_leak(&row.what, &row.path, &reply, &other);
    }

    // Nothing of the other tenant was changed by acme's PUT, PATCH and DELETE.
    assert_eq!(other_versions(&app, &other).await, before);

    // Admin routes, every path and method of the served OpenAPI document: a tenant token (of
    // either tenant) is no operator token.
    let document = iris_http::admin::openapi();
    let mut admin_rows = 0;
    for (template, item) in &document.paths.paths {
        let path = template
            .replace("{tenant}", "globex")
            .replace("{id}", &other.user_ids[0])
            .replace("{token_id}", "0123456789abcdef");
        let methods = [
            (Method::GET, item.get.is_some()),
            (Method::POST, item.post.is_some()),
            (Method::PUT, item.put.is_some()),
            (Method::PATCH, item.patch.is_some()),
            (Method::DELETE, item.delete.is_some()),
        ];
        for (method, served) in methods {
            if !served {
                continue;
            }
            admin_rows += 1;
            let url = format!("{}{path}", app.base_url);
            for token in [
                Some(app.token.as_str()),
                Some(other.token.as_str()),
                Some(acme_oauth.as_str()),
                None,
            ] {
                let body = (method == Method::POST).then(|| json!({"name": "x"}));
                let reply = send(&app, token, method.clone(), &url, body.as_ref()).await;
                let what = format!("{method} {template}");
                assert_401(&what, &reply);
                assert_no_leak(&what, &url, &reply, &other);
            }
        }
    }
    assert!(
        admin_rows >= 16,
        "the OpenAPI document lists the admin routes"
    );
    // A new kind of SCIM route (beyond resource endpoints × operations, root search and
    // discovery) needs rows here: this pins the shape of the router the table covers.
    assert_eq!(
        rows.len(),
        endpoints.len() * OPS.len() + 1 + discovery_paths().len()
    );
    app
}

crate::on_both_backends!(every_route_refuses_and_hides_another_tenant);
