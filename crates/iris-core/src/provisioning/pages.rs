//! Walking the log and the cycles a page at a time, for the admin API and any other caller that
//! pages: the cursor is the id of the last item of the previous page. Ids are time-ordered
//! (UUIDv7), so a cursor never skips or repeats an item while new ones are written.

use iris_scim::ScimError;
use iris_scim::error::ScimType;

use super::{Cycle, EventQuery, ProvisioningEvent, ProvisioningLog};
use crate::error::CoreResult;
use crate::tenants::Tenant;

/// Items per page at most.
pub const MAX_PAGE: u32 = 1000;

/// A page and the cursor of the next one (`None` on the last page).
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// A cursor must be an id Iris gave out (a UUID); anything else is a client error, not an empty
/// page.
fn checked_cursor(cursor: Option<&str>) -> CoreResult<Option<String>> {
    match cursor.map(str::trim).filter(|c| !c.is_empty()) {
        None => Ok(None),
        Some(c) if uuid::Uuid::try_parse(c).is_ok() => Ok(Some(c.to_ascii_lowercase())),
        Some(c) => Err(ScimError::new(
            400,
            Some(ScimType::InvalidCursor),
            format!("'{c}' is not a cursor: pass the next_cursor of the previous page"),
        )
        .into()),
    }
}

fn checked_limit(limit: u32) -> CoreResult<u32> {
    if (1..=MAX_PAGE).contains(&limit) {
        Ok(limit)
    } else {
        Err(ScimError::invalid_value(format!("limit must be 1 to {MAX_PAGE}, not {limit}")).into())
    }
}

/// The page of the `limit + 1` items read: the extra item only tells that a next page exists.
fn page_of<T>(mut items: Vec<T>, limit: u32, id: impl Fn(&T) -> String) -> Page<T> {
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let next_cursor = if more { items.last().map(id) } else { None };
    Page { items, next_cursor }
}

impl ProvisioningLog {
    /// A page of the events `query` selects (in its order, up to its limit), after the event
    /// named by `cursor`.
    pub async fn event_page(
        &self,
        tenant: &Tenant,
        mut query: EventQuery,
        cursor: Option<&str>,
    ) -> CoreResult<Page<ProvisioningEvent>> {
        let limit = checked_limit(query.limit)?;
        if let Some(cursor) = checked_cursor(cursor)? {
            // Past the cursor in the walk's direction, and still within the query's own bound.
            let bound = if query.newest_first {
                &mut query.before_id
            } else {
                &mut query.after_id
            };
            let tighter = match bound.take() {
                Some(b) if query.newest_first => b.min(cursor),
                Some(b) => b.max(cursor),
                None => cursor,
            };
            *bound = Some(tighter);
        }
        query.limit = limit + 1;
        let events = self.events(tenant, &query).await?;
        Ok(page_of(events, limit, |e| e.id.clone()))
    }

    /// A page of the tenant's cycles, newest first, older than the cycle named by `cursor`.
    pub async fn cycle_page(
        &self,
        tenant: &Tenant,
        cursor: Option<&str>,
        limit: u32,
    ) -> CoreResult<Page<Cycle>> {
        let limit = checked_limit(limit)?;
        let cursor = checked_cursor(cursor)?;
        let cycles = self
            .store
            .cycles(tenant.scope(), cursor.as_deref(), limit + 1)
            .await?;
        Ok(page_of(cycles, limit, |c| c.id.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_names_its_last_item_only_when_more_follow() {
        let full = page_of(vec![1, 2, 3], 2, |n| n.to_string());
        assert_eq!(full.items, vec![1, 2]);
        assert_eq!(full.next_cursor.as_deref(), Some("2"));
        let last = page_of(vec![1, 2], 2, |n| n.to_string());
        assert_eq!(last.next_cursor, None);
    }

    #[test]
    fn cursors_are_ids_and_limits_bounded() {
        assert!(checked_cursor(Some("nope")).is_err());
        assert_eq!(checked_cursor(Some("")).unwrap(), None);
        let id = uuid::Uuid::now_v7().to_string();
        assert_eq!(checked_cursor(Some(&id)).unwrap(), Some(id));
        assert!(checked_limit(0).is_err());
        assert!(checked_limit(1001).is_err());
        assert_eq!(checked_limit(50).unwrap(), 50);
    }
}
