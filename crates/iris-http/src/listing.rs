//! The list parameters of a request, from a query string or a SearchRequest body (RFC 7644
//! §3.4.2–3.4.3, RFC 9865), and the head of a ListResponse.

use iris_core::ResourceKind;
use iris_core::listing::{ListParams, ListResult};
use iris_scim::ScimError;
use iris_scim::projection::Projection;
use iris_scim::schema::LIST_RESPONSE;
use serde_json::{Value, json};

use crate::error::ApiResult;
use crate::extract::QueryParams;

/// The projection (`attributes`, `excludedAttributes`) a query string asks for.
pub(crate) fn projection(kind: ResourceKind, params: &QueryParams) -> Projection {
    Projection::parse(
        kind.resource_type(),
        params.get("attributes"),
        params.get("excludedAttributes"),
    )
}

/// The list parameters of a GET query string.
pub(crate) fn list_params(params: &QueryParams) -> ApiResult<ListParams> {
    Ok(ListParams {
        filter: params.get("filter").map(str::to_owned),
        start_index: params.int("startIndex")?,
        count: params.int("count")?,
        sort_by: params.get("sortBy").map(str::to_owned),
        sort_order: params.get("sortOrder").map(str::to_owned),
        cursor: params.get("cursor").map(str::to_owned),
    })
}

/// The ListResponse without its resources: `startIndex` for index paging, `nextCursor` and
/// `previousCursor` (each only when that page exists) for cursor paging (RFC 9865).
pub(crate) fn list_head(result: &ListResult, items: usize) -> Value {
    let mut head = json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": result.page.total,
        "itemsPerPage": items,
    });
    match &result.cursors {
        None => head["startIndex"] = json!(result.start_index),
        Some(cursors) => {
            if let Some(next) = &cursors.next {
                head["nextCursor"] = json!(next);
            }
            if let Some(previous) = &cursors.previous {
                head["previousCursor"] = json!(previous);
            }
        }
    }
    head
}

/// What a SearchRequest body asks for.
pub(crate) struct SearchRequest {
    pub params: ListParams,
    pub attributes: Option<String>,
    pub excluded: Option<String>,
}

impl SearchRequest {
    /// The projection for resources of `kind`.
    pub(crate) fn projection(&self, kind: ResourceKind) -> Projection {
        Projection::parse(
            kind.resource_type(),
            self.attributes.as_deref(),
            self.excluded.as_deref(),
        )
    }

    /// Reads a SearchRequest body (RFC 7644 §3.4.3). Field names match case-insensitively;
    /// `attributes` may be a list or a comma-separated string; integers may come as strings.
    pub(crate) fn parse(body: &Value) -> ApiResult<Self> {
        let Some(fields) = body.as_object() else {
            return Err(ScimError::invalid_syntax("a SearchRequest must be a JSON object").into());
        };
        let field = |name: &str| {
            fields
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        };
        let text = |name: &str| -> ApiResult<Option<String>> {
            match field(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(Value::Array(items)) => Ok(Some(
                    items
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(","),
                )),
                Some(_) => {
                    Err(ScimError::invalid_value(format!("'{name}' must be a string")).into())
                }
            }
        };
        let int = |name: &str| -> ApiResult<Option<i64>> {
            match field(name) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v
                    .as_i64()
                    .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                    .map(Some)
                    .ok_or_else(|| {
                        ScimError::invalid_value(format!("'{name}' must be an integer")).into()
                    }),
            }
        };
        Ok(Self {
            params: ListParams {
                filter: text("filter")?,
                start_index: int("startIndex")?,
                count: int("count")?,
                sort_by: text("sortBy")?,
                sort_order: text("sortOrder")?,
                cursor: text("cursor")?,
            },
            attributes: text("attributes")?,
            excluded: text("excludedAttributes")?,
        })
    }
}
