//! `/metrics` on the metrics listener: requests by tenant, route template, method and status;
//! latency histograms; the tenant label cap; pool, group-commit, event and cycle series; and
//! nothing of it on the SCIM listener.
//!
//! The recorder is one per process and every test server of the suite records into it, so each
//! test works on tenants named for it alone and compares counts before and after.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::{Backend, TestApp};

/// A tenant name no other test uses.
fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

/// The value of the series `name{labels}` (exactly), if the page has it.
fn sample(page: &str, series: &str) -> Option<f64> {
    page.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

/// The sum of every series of `name` whose labels contain `label`.
fn sum(page: &str, name: &str, label: &str) -> f64 {
    page.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) && l.contains(label))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

fn requests(tenant: &str, route: &str, method: &str, status: u16) -> String {
    format!(
        "iris_http_requests_total{{tenant=\"{tenant}\",route=\"{route}\",method=\"{method}\",status=\"{status}\"}}"
    )
}

async fn scim_requests_are_counted_by_tenant_route_method_and_status(app: TestApp) -> TestApp {
    let name = unique("counted");
    let (tenant_url, token) = app.other_tenant(&name).await;
    let users = format!("{tenant_url}/Users");
    app.send_as(Some(&token), Method::GET, &users, None)
        .await
        .expect(StatusCode::OK);
    let body = json!({"userName": "counted@example.com"});
    let id = app
        .send_as(Some(&token), Method::POST, &users, Some(&body))
        .await
        .expect(StatusCode::CREATED)
        .id();
    app.send_as(Some(&token), Method::GET, &format!("{users}/{id}"), None)
        .await
        .expect(StatusCode::OK);
    app.send_as(Some(&token), Method::GET, &format!("{users}/nobody"), None)
        .await
        .expect(StatusCode::NOT_FOUND);
    // A bad token, once the tenant has its label: counted under it, and as unauthenticated.
    app.send_as(
        Some("iris_0123456789abcdef_nope"),
        Method::POST,
        &users,
        Some(&body),
    )
    .await
    .expect(StatusCode::UNAUTHORIZED);
    app.http
        .get(format!("{}/no/such/route", app.base_url))
        .send()
        .await
        .unwrap();

    let page = app.scrape().await;
    let users_route = "/scim/v2/{tenant}/Users";
    let user_route = "/scim/v2/{tenant}/Users/{id}";
    for (route, method, status) in [
        (users_route, "GET", 200),
        (users_route, "POST", 201),
        (user_route, "GET", 200),
        (user_route, "GET", 404),
        (users_route, "POST", 401),
    ] {
        let series = requests(&name, route, method, status);
        assert_eq!(sample(&page, &series), Some(1.0), "{series} in\n{page}");
    }
    let refused = format!("iris_unauthenticated_requests_total{{api=\"scim\",tenant=\"{name}\"}}");
    assert_eq!(sample(&page, &refused), Some(1.0), "{refused}");
    assert!(
        sum(&page, "iris_http_requests_total", "route=\"unmatched\"") >= 1.0,
        "unmatched routes have one label"
    );
    assert!(
        !page.contains("/no/such/route") && !page.contains(&id),
        "never a raw path"
    );
    // Latency: a real histogram (buckets, not a summary), by route template and method.
    let bucket = format!(
        "iris_http_request_duration_seconds_bucket{{route=\"{users_route}\",method=\"POST\",le=\"10\"}}"
    );
    assert!(sample(&page, &bucket).is_some_and(|n| n >= 1.0), "{bucket}");
    assert!(page.contains("iris_http_request_duration_seconds_bucket{route=\"/scim/v2/{tenant}/Users\",method=\"POST\",le=\"0.0005\"}"));
    assert!(!page.contains("iris_http_request_duration_seconds{quantile"));

    // The refused request was counted, and nothing of it was stored: no event with its body.
    let operator = app.admin.issue_operator_token("metrics").await.token;
    let events = app
        .admin_send(
            Some(&operator),
            Method::GET,
            &format!("/tenants/{name}/events?status=401"),
            None,
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(events.body["events"], json!([]), "{}", events.text);
    app
}

async fn metrics_are_not_served_on_the_scim_listener(app: TestApp) -> TestApp {
    let on_scim = app
        .http
        .get(format!("{}/metrics", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(on_scim.status(), StatusCode::NOT_FOUND);
    assert!(
        !on_scim
            .text()
            .await
            .unwrap()
            .contains("iris_http_requests_total")
    );
    // The metrics listener serves /metrics and nothing else.
    let elsewhere = app
        .http
        .get(app.metrics_url.replace("/metrics", "/scim/v2/acme/Users"))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), StatusCode::NOT_FOUND);
    app
}

async fn pool_group_commit_event_and_cycle_series_are_present(app: TestApp) -> TestApp {
    let before = app.scrape().await;
    let written =
        |page: &str| sample(page, "iris_provisioning_events_written_total").unwrap_or(0.0);
    let opened = |page: &str| sample(page, "iris_provisioning_cycles_opened_total").unwrap_or(0.0);
    let closed = |page: &str| sum(page, "iris_provisioning_cycles_closed_total", "kind=");
    let name = unique("series");
    let (tenant_url, token) = app.other_tenant(&name).await;
    let users = format!("{tenant_url}/Users");
    let body = json!({"userName": "series@example.com"});
    app.send_as(Some(&token), Method::POST, &users, Some(&body))
        .await
        .expect(StatusCode::CREATED);
    // A quiet second (the test servers' idle gap) ends that cycle; the next request opens one.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    app.send_as(Some(&token), Method::GET, &users, None)
        .await
        .expect(StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = app.scrape().await;

    assert!(written(&after) > written(&before), "events written");
    assert!(opened(&after) >= opened(&before) + 2.0, "two cycles opened");
    assert!(closed(&after) > closed(&before), "one cycle closed");
    assert!(after.contains("iris_provisioning_events_purged_total"));
    assert!(after.contains("# HELP iris_http_requests_total"));
    let pools: &[&str] = match app.backend {
        Backend::Sqlite => &["reader", "writer"],
        Backend::Postgres => &["main"],
    };
    for pool in pools {
        for state in ["idle", "in_use"] {
            let series = format!("iris_db_pool_connections{{pool=\"{pool}\",state=\"{state}\"}}");
            assert!(sample(&after, &series).is_some(), "{series}");
        }
        let max = format!("iris_db_pool_max_connections{{pool=\"{pool}\"}}");
        assert!(sample(&after, &max).is_some_and(|n| n >= 1.0), "{max}");
    }
    let waited = match app.backend {
        Backend::Sqlite => "iris_db_pool_acquire_seconds_count{pool=\"writer\"}",
        Backend::Postgres => "iris_db_pool_acquire_seconds_count{pool=\"main\"}",
    };
    assert!(sample(&after, waited).is_some_and(|n| n >= 1.0), "{waited}");
    if app.backend == Backend::Sqlite {
        assert!(sample(&after, "iris_sqlite_group_commit_flushes_total").is_some_and(|n| n >= 1.0));
        let flushes = sample(&after, "iris_sqlite_group_commit_writes_per_flush_count");
        let writes = sample(&after, "iris_sqlite_group_commit_writes_per_flush_sum");
        assert!(
            matches!((flushes, writes), (Some(f), Some(w)) if f >= 1.0 && w >= f),
            "every flush makes at least one write durable"
        );
        assert!(after.contains("iris_sqlite_group_commit_writes_per_flush_bucket{le=\"256\"}"));
    }
    app
}

crate::on_both_backends!(
    scim_requests_are_counted_by_tenant_route_method_and_status,
    metrics_are_not_served_on_the_scim_listener,
    pool_group_commit_event_and_cycle_series_are_present,
);

/// With `metrics_tenant_label_cap = 2`, a third tenant's requests count as `other`.
mod capped {
    use super::*;

    fn two_tenant_labels(config: &mut iris::config::Config) {
        config.metrics_tenant_label_cap = 2;
    }

    async fn tenants_beyond_the_cap_are_counted_as_other(app: TestApp) -> TestApp {
        let names = [unique("first"), unique("second"), unique("third")];
        let before = app.scrape().await;
        let route = "/scim/v2/{tenant}/Users";
        let others =
            |page: &str| sample(page, &requests("other", route, "GET", 200)).unwrap_or(0.0);
        for name in &names {
            let (tenant_url, token) = app.other_tenant(name).await;
            app.send_as(
                Some(&token),
                Method::GET,
                &format!("{tenant_url}/Users"),
                None,
            )
            .await
            .expect(StatusCode::OK);
        }
        let after = app.scrape().await;
        for admitted in &names[..2] {
            let series = requests(admitted, route, "GET", 200);
            assert_eq!(sample(&after, &series), Some(1.0), "{series}");
        }
        assert!(!after.contains(&names[2]), "the third tenant has no label");
        assert!(
            others(&after) >= others(&before) + 1.0,
            "it counts as other"
        );
        app
    }

    crate::on_both_backends_with!(two_tenant_labels => tenants_beyond_the_cap_are_counted_as_other);
}
