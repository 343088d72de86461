//! A response read whole, and the assertions every test makes on one.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::Value;

use super::fixtures::{ERROR, SCIM_JSON};

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    pub async fn from(r: reqwest::Response) -> Self {
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Self {
            status,
            headers,
            body,
            text,
        }
    }

    /// Asserts the status, printing the body when it differs.
    #[track_caller]
    pub fn expect(self, status: StatusCode) -> Self {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        self
    }

    /// Asserts a SCIM error with this status and scimType.
    #[track_caller]
    pub fn expect_error(self, status: StatusCode, scim_type: Option<&str>) -> Self {
        let reply = self.expect(status);
        assert_eq!(reply.content_type(), SCIM_JSON);
        assert_eq!(reply.body["schemas"][0], ERROR, "{}", reply.text);
        assert_eq!(
            reply.body["status"],
            status.as_u16().to_string(),
            "{}",
            reply.text
        );
        match scim_type {
            Some(t) => assert_eq!(reply.body["scimType"], t, "{}", reply.text),
            None => assert!(reply.body.get("scimType").is_none(), "{}", reply.text),
        }
        reply
    }

    pub fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `id` of the resource in the body (a created user or group).
    #[track_caller]
    pub fn id(&self) -> String {
        self.body["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no id in {}", self.text))
            .to_owned()
    }

    /// The `Resources` of a ListResponse.
    pub fn resources(&self) -> &Vec<Value> {
        self.body["Resources"].as_array().expect("Resources array")
    }

    /// The ids of a ListResponse's `Resources`, in order.
    pub fn id_list(&self) -> Vec<String> {
        self.resources()
            .iter()
            .map(|r| r["id"].as_str().expect("id").to_owned())
            .collect()
    }

    /// The ids of a ListResponse's `Resources`, as a set.
    pub fn ids(&self) -> BTreeSet<String> {
        self.id_list().into_iter().collect()
    }
}
