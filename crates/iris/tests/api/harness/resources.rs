//! Users and groups over HTTP: create them, read them back, PATCH them, manage memberships, and
//! compare what was stored with what was expected.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::app::TestApp;
use super::fixtures::{GROUP, patch_body};
use super::reply::Reply;

impl TestApp {
    /// Creates a user and returns its id.
    pub async fn create_user(&self, body: &Value) -> String {
        self.post("/Users", body)
            .await
            .expect(StatusCode::CREATED)
            .id()
    }

    /// Creates `n` users named `{prefix}{i}@example.com` and returns their ids in order.
    pub async fn create_users(&self, prefix: &str, n: usize) -> Vec<String> {
        let mut ids = Vec::with_capacity(n);
        for i in 0..n {
            ids.push(
                self.create_user(&json!({"userName": format!("{prefix}{i}@example.com")}))
                    .await,
            );
        }
        ids
    }

    /// `GET /Users/{id}`, which must succeed: the user as a client reads it.
    pub async fn get_user(&self, id: &str) -> Value {
        self.get(&format!("/Users/{id}"))
            .await
            .expect(StatusCode::OK)
            .body
    }

    /// `PATCH /Users/{id}` with a PatchOp of these operations.
    pub async fn patch_user(&self, id: &str, ops: Value) -> Reply {
        self.patch(&format!("/Users/{id}"), &patch_body(ops)).await
    }

    /// PATCHes a user with these operations, expects 200, and reads the user back with a GET.
    pub async fn patch_user_and_get(&self, id: &str, ops: Value) -> Value {
        self.patch_user(id, ops).await.expect(StatusCode::OK);
        self.get_user(id).await
    }

    /// `GET /Users?filter=…` (URL-encoded here) and the ListResponse.
    pub async fn filter_users(&self, filter: &str) -> Reply {
        self.list_users(&[("filter", filter)]).await
    }

    /// `GET /Users?…` with the given query parameters, URL-encoded here.
    pub async fn list_users(&self, params: &[(&str, &str)]) -> Reply {
        let q = serde_urlencoded::to_string(params).expect("encode");
        self.get(&format!("/Users?{q}")).await
    }

    /// The ids of every user of the tenant.
    pub async fn all_user_ids(&self) -> BTreeSet<String> {
        let reply = self.get("/Users?count=1000").await.expect(StatusCode::OK);
        reply.ids()
    }

    /// DELETEs `path` (`/Users/{id}`, `/Groups/{id}`), expects 204 with an empty body, and then
    /// 404 for a GET of it.
    pub async fn delete_and_expect_gone(&self, path: &str) {
        let reply = self.delete(path).await.expect(StatusCode::NO_CONTENT);
        assert!(reply.text.is_empty(), "{}", reply.text);
        self.get(path)
            .await
            .expect_error(StatusCode::NOT_FOUND, None);
    }

    /// Creates a group from this body and returns its id.
    pub async fn create_group(&self, body: &Value) -> String {
        self.post("/Groups", body)
            .await
            .expect(StatusCode::CREATED)
            .id()
    }

    /// Creates a group with only a display name and returns its id.
    pub async fn create_group_named(&self, name: &str) -> String {
        self.create_group(&json!({"schemas": [GROUP], "displayName": name}))
            .await
    }

    /// `PATCH /Groups/{id}` with a PatchOp of these operations.
    pub async fn patch_group(&self, id: &str, ops: Value) -> Reply {
        self.patch(&format!("/Groups/{id}"), &patch_body(ops)).await
    }

    /// Adds these members to a group with one `add` of a value array; expects 204.
    pub async fn add_members(&self, group: &str, members: &[&String]) {
        let value: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
        self.patch_group(
            group,
            json!([{"op": "add", "path": "members", "value": value}]),
        )
        .await
        .expect(StatusCode::NO_CONTENT);
    }

    /// `GET /Groups?…` with the given query parameters, URL-encoded here.
    pub async fn list_groups(&self, params: &[(&str, &str)]) -> Reply {
        let q = serde_urlencoded::to_string(params).expect("encode");
        self.get(&format!("/Groups?{q}")).await
    }

    /// The member ids of a group, read in full.
    pub async fn members_of(&self, id: &str) -> BTreeSet<String> {
        let group = self
            .get(&format!("/Groups/{id}"))
            .await
            .expect(StatusCode::OK)
            .body;
        group["members"]
            .as_array()
            .unwrap_or_else(|| panic!("no members array in {group}"))
            .iter()
            .map(|m| m["value"].as_str().expect("member value").to_owned())
            .collect()
    }

    /// Entra's membership check: `id eq "G" and members[value eq "U"]`, without members.
    pub async fn is_member(&self, group: &str, member: &str) -> bool {
        let filter = format!("id eq \"{group}\" and members[value eq \"{member}\"]");
        let reply = self
            .list_groups(&[("excludedAttributes", "members"), ("filter", &filter)])
            .await
            .expect(StatusCode::OK);
        for r in reply.resources() {
            assert!(r.get("members").is_none(), "{r}");
        }
        match reply.body["totalResults"].as_u64() {
            Some(0) => false,
            Some(1) => true,
            other => panic!("membership check returned {other:?}"),
        }
    }

    /// A group's `meta.version`, read without its members.
    pub async fn group_version(&self, id: &str) -> String {
        let g = self
            .get(&format!("/Groups/{id}?excludedAttributes=members"))
            .await
            .expect(StatusCode::OK);
        g.body["meta"]["version"]
            .as_str()
            .expect("meta.version")
            .to_owned()
    }
}

/// A set of ids, to compare with [`Reply::ids`] or [`TestApp::members_of`].
pub fn id_set(ids: &[&String]) -> BTreeSet<String> {
    ids.iter().map(|s| (*s).clone()).collect()
}

/// The resource without `meta` (which the server assigns and moves on every write).
pub fn without_meta(resource: &Value) -> Value {
    let mut out = resource.clone();
    out.as_object_mut()
        .unwrap_or_else(|| panic!("not an object: {resource}"))
        .shift_remove("meta");
    out
}

/// The resource without what the server assigns (`schemas`, `id`, `meta`).
pub fn client_part(resource: &Value) -> Value {
    let mut out = resource.clone();
    let map = out
        .as_object_mut()
        .unwrap_or_else(|| panic!("not an object: {resource}"));
    map.remove("schemas");
    map.remove("id");
    map.remove("meta");
    out
}
