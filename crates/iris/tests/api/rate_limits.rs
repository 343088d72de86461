//! Rate limits per tenant and per token, and the global in-flight limit (issue 13): a tenant past
//! its limit gets `429` with `Retry-After` and a SCIM error while another tenant is served; it is
//! served again once it waited; a token's limit is its own; a saturated server sheds with `503`
//! but still answers its health probes; the metrics and the provisioning log show all of it.
//!
//! Limits are set small here so a test can reach them with a few sequential requests. Rates of
//! one request per second keep the arithmetic robust on a slow machine: in `t` seconds a limiter
//! with burst `b` admits at most `b + ceil(t)` requests.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::harness::{Backend, Reply, TestApp};

/// A tenant name no other test uses (the metrics recorder is shared by the whole suite).
fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

/// The sum of every series of `name` whose labels contain all of `labels`.
fn sum(page: &str, name: &str, labels: &[&str]) -> f64 {
    page.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .filter(|l| labels.iter().all(|label| l.contains(label)))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

/// Asserts a rate-limit refusal and returns its `Retry-After`, in seconds.
#[track_caller]
fn expect_rate_limited(reply: Reply, detail: &str) -> u64 {
    let reply = reply.expect_error(StatusCode::TOO_MANY_REQUESTS, None);
    let text = reply.body["detail"].as_str().unwrap_or_default();
    assert!(text.contains(detail), "{text}");
    let retry: u64 = reply
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no Retry-After in {:?}", reply.headers));
    assert!((1..=5).contains(&retry), "Retry-After: {retry}");
    retry
}

fn seconds_ceil(d: Duration) -> usize {
    d.as_secs() as usize + usize::from(d.subsec_nanos() > 0)
}

/// The tenant's provisioning-log events with status 429, through the admin API.
async fn rate_limited_events(app: &TestApp, tenant: &str) -> Vec<Value> {
    let operator = app.admin.issue_operator_token("rate-limits").await.token;
    let reply = app
        .admin_send(
            Some(&operator),
            Method::GET,
            &format!("/tenants/{tenant}/events?status=429"),
            None,
        )
        .await
        .expect(StatusCode::OK);
    reply.body["events"].as_array().cloned().unwrap_or_default()
}

/// Per tenant: one request a second, bursts of five.
mod tenant_limit {
    use super::*;

    fn one_per_second_bursts_of_five(config: &mut iris::config::Config) {
        config.rate_limit_tenant_per_second = 1;
        config.rate_limit_tenant_burst = 5;
    }

    async fn a_burst_past_the_tenant_limit_is_429_while_another_tenant_is_served(
        app: TestApp,
    ) -> TestApp {
        let flood = unique("flood");
        let calm = unique("calm");
        let (flood_url, flood_token) = app.other_tenant(&flood).await;
        let (calm_url, calm_token) = app.other_tenant(&calm).await;
        let users = format!("{flood_url}/Users");
        let get = |url: String, token: String| {
            let app = &app;
            async move { app.send_as(Some(&token), Method::GET, &url, None).await }
        };

        let started = Instant::now();
        let mut statuses = Vec::new();
        let mut refusals = Vec::new();
        for _ in 0..12 {
            let reply = get(users.clone(), flood_token.clone()).await;
            statuses.push(reply.status);
            if reply.status == StatusCode::TOO_MANY_REQUESTS {
                refusals.push(reply);
            }
        }
        // Discovery counts against the limit too.
        let discovery = get(
            format!("{flood_url}/ServiceProviderConfig"),
            flood_token.clone(),
        )
        .await;
        // Meanwhile the other tenant is served as usual.
        for _ in 0..3 {
            get(format!("{calm_url}/Users"), calm_token.clone())
                .await
                .expect(StatusCode::OK);
        }
        let elapsed = started.elapsed();

        assert!(
            statuses[..5].iter().all(|s| *s == StatusCode::OK),
            "the burst is served: {statuses:?}"
        );
        let admitted = statuses.iter().filter(|s| **s == StatusCode::OK).count();
        assert!(
            admitted <= 5 + seconds_ceil(elapsed),
            "{admitted} admitted in {elapsed:?}: {statuses:?}"
        );
        assert_eq!(admitted + refusals.len(), statuses.len(), "{statuses:?}");
        assert!(refusals.len() >= 3, "{statuses:?} in {elapsed:?}");
        let named = format!("rate limit of tenant '{flood}'");
        let refused_users = refusals.len();
        let mut retry = 1;
        for refusal in refusals {
            retry = expect_rate_limited(refusal, &named);
        }
        let discovery_refused = discovery.status == StatusCode::TOO_MANY_REQUESTS;
        if discovery_refused {
            expect_rate_limited(discovery, &named);
        } else {
            // Only if a second passed since the last refusal.
            assert!(elapsed >= Duration::from_secs(1), "{}", discovery.text);
        }

        // Once it waited as told, the tenant is served again.
        tokio::time::sleep(Duration::from_secs(retry)).await;
        get(users.clone(), flood_token.clone())
            .await
            .expect(StatusCode::OK);

        // Every refusal is counted; the log keeps at most one a second.
        let page = app.scrape().await;
        let counted = sum(
            &page,
            "iris_requests_rate_limited_total",
            &[&format!("tenant=\"{flood}\""), "limit=\"tenant\""],
        );
        let refused = refused_users + usize::from(discovery_refused);
        assert_eq!(counted, refused as f64, "{page}");
        assert_eq!(
            sum(
                &page,
                "iris_requests_rate_limited_total",
                &[&format!("tenant=\"{calm}\"")],
            ),
            0.0
        );
        let events = rate_limited_events(&app, &flood).await;
        assert!(!events.is_empty(), "no 429 in the log");
        assert!(
            events.len() <= seconds_ceil(elapsed) + 1,
            "{} events in {elapsed:?}",
            events.len()
        );
        assert!(events.len() < refused_users, "{events:?}");
        for event in &events {
            assert_eq!(event["status"], 429, "{event}");
            assert!(event.get("scim_type").is_none_or(Value::is_null), "{event}");
            assert!(
                event["detail"]
                    .as_str()
                    .unwrap_or_default()
                    .contains(&named),
                "{event}"
            );
            assert!(event.get("body").is_none_or(Value::is_null), "{event}");
        }
        assert!(rate_limited_events(&app, &calm).await.is_empty());
        app
    }

    crate::on_both_backends_with!(one_per_second_bursts_of_five =>
        a_burst_past_the_tenant_limit_is_429_while_another_tenant_is_served,
    );
}

/// A token a limit refused is refused again without its lookup until the limiter would admit
/// it, and that memory admits nothing: not another bearer value, not another tenant's URL, not
/// the token once its window has passed and it was revoked.
mod refused_before_lookup {
    use super::*;

    fn one_per_second_no_burst(config: &mut iris::config::Config) {
        config.rate_limit_tenant_per_second = 1;
        config.rate_limit_tenant_burst = 1;
    }

    fn unlooked(page: &str, tenant: &str) -> f64 {
        sum(
            page,
            "iris_requests_rate_limited_before_token_lookup_total",
            &[&format!("tenant=\"{tenant}\"")],
        )
    }

    async fn a_refused_token_is_refused_from_memory_only_for_itself(app: TestApp) -> TestApp {
        let flood = unique("early");
        let (flood_url, flood_token) = app.other_tenant(&flood).await;
        let (other_url, _) = app.other_tenant(&unique("beside")).await;
        let users = format!("{flood_url}/Users");
        let get = |url: String, token: String| {
            let app = &app;
            async move { app.send_as(Some(&token), Method::GET, &url, None).await }
        };
        let named = format!("rate limit of tenant '{flood}'");

        // Admitted at `t0` (after `sent`), the limiter admits this tenant again at `t0 + 1 s`:
        // every request sent before `sent + 1 s` falls within the refusal's window.
        let sent = Instant::now();
        get(users.clone(), flood_token.clone())
            .await
            .expect(StatusCode::OK);
        let first = get(users.clone(), flood_token.clone()).await;
        expect_rate_limited(first, &named);
        let again = get(users.clone(), flood_token.clone()).await;
        let within_window = sent.elapsed() < Duration::from_millis(900);

        // The same token id with another secret, and the token at another tenant's URL, are
        // looked up and refused as invalid, never answered from memory.
        let (token_id, secret) = flood_token
            .strip_prefix("iris_")
            .and_then(|rest| rest.split_once('_'))
            .expect("iris_<id>_<secret>");
        let forged = format!("iris_{token_id}_{}", "0".repeat(secret.len()));
        get(users.clone(), forged)
            .await
            .expect_error(StatusCode::UNAUTHORIZED, None);
        get(format!("{other_url}/Users"), flood_token.clone())
            .await
            .expect_error(StatusCode::UNAUTHORIZED, None);

        expect_rate_limited(again, &named);
        let page = app.scrape().await;
        if within_window {
            assert_eq!(unlooked(&page, &flood), 1.0, "{page}");
        } else {
            eprintln!(
                "the machine took {:?} for three requests: the refusal's window had passed, so the count of refusals from memory is not checked",
                sent.elapsed()
            );
        }

        // Once the window has passed, the token is looked up again: revoked, it is refused
        // as such.
        app.admin.revoke_token(token_id).await;
        tokio::time::sleep(Duration::from_millis(1000).saturating_sub(sent.elapsed())).await;
        let deadline = Instant::now() + Duration::from_secs(5);
        let after = loop {
            let reply = get(users.clone(), flood_token.clone()).await;
            if reply.status != StatusCode::TOO_MANY_REQUESTS || Instant::now() > deadline {
                break reply;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        after.expect_error(StatusCode::UNAUTHORIZED, None);
        app
    }

    crate::on_both_backends_with!(one_per_second_no_burst =>
        a_refused_token_is_refused_from_memory_only_for_itself,
    );
}

/// Per token: one request a second, bursts of three; no tenant limit.
mod token_limit {
    use super::*;

    fn one_per_second_per_token(config: &mut iris::config::Config) {
        config.rate_limit_tenant_per_second = 0;
        config.rate_limit_token_per_second = 1;
        config.rate_limit_token_burst = 3;
    }

    async fn each_token_of_a_tenant_has_its_own_limit(app: TestApp) -> TestApp {
        let before = app.scrape().await;
        let second = app.admin.issue_token("second client").await;
        let started = Instant::now();
        let mut first_statuses = Vec::new();
        let mut refused: u32 = 0;
        for _ in 0..8 {
            let reply = app.get("/Users").await;
            first_statuses.push(reply.status);
            if reply.status == StatusCode::TOO_MANY_REQUESTS {
                expect_rate_limited(reply, "rate limit of this token");
                refused += 1;
            }
        }
        // The tenant's other token still has its whole burst.
        for _ in 0..3 {
            app.send_as(
                Some(&second),
                Method::GET,
                &format!("{}/Users", app.tenant_url),
                None,
            )
            .await
            .expect(StatusCode::OK);
        }
        let elapsed = started.elapsed();
        assert!(
            first_statuses[..3].iter().all(|s| *s == StatusCode::OK),
            "{first_statuses:?}"
        );
        assert!(
            8 - refused as usize <= 3 + seconds_ceil(elapsed),
            "{first_statuses:?} in {elapsed:?}"
        );
        assert!(refused >= 2, "{first_statuses:?} in {elapsed:?}");

        // Both engines' runs of this test share the default tenant's name, so the count grows by
        // at least this run's refusals.
        let label = format!("tenant=\"{}\"", app.tenant_name);
        let series = ["limit=\"token\"", label.as_str()];
        let name = "iris_requests_rate_limited_total";
        let grown = sum(&app.scrape().await, name, &series) - sum(&before, name, &series);
        assert!(grown >= f64::from(refused), "{grown} < {refused}");
        app
    }

    crate::on_both_backends_with!(one_per_second_per_token =>
        each_token_of_a_tenant_has_its_own_limit,
    );
}

/// Two requests at once at most; no rate limits.
mod in_flight {
    use super::*;
    use crate::deadlines::{Blocker, user_and_group, waiting_on_locks};

    fn two_at_once(config: &mut iris::config::Config) {
        config.rate_limit_tenant_per_second = 0;
        config.max_in_flight_requests = 2;
    }

    async fn a_third_request_beside_two_held_ones_is_shed_but_health_is_answered(
        app: TestApp,
    ) -> TestApp {
        let (user, group, add) = user_and_group(&app).await;
        let before = app.scrape().await;
        let blocker = Blocker::lock_user(&app, &user).await;
        let path = format!("/Groups/{group}");
        let held: Vec<_> = (0..2)
            .map(|_| {
                let request = app
                    .request(Method::PATCH, &path)
                    .header("content-type", "application/scim+json")
                    .body(add.to_string());
                tokio::spawn(async move { request.send().await.map(|r| r.status()) })
            })
            .collect();
        // Both are in the server, waiting for the lock.
        if app.backend == Backend::Postgres {
            for _ in 0..100 {
                if waiting_on_locks(&app).await >= 2 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        } else {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }

        let shed = app
            .get("/Users")
            .await
            .expect_error(StatusCode::SERVICE_UNAVAILABLE, None);
        assert_eq!(shed.header("retry-after"), Some("1"));
        assert!(
            shed.body["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("maximum of 2 requests at once"),
            "{}",
            shed.text
        );
        for probe in ["/healthz", "/readyz"] {
            let reply = app
                .send_as(None, Method::GET, &format!("{}{probe}", app.base_url), None)
                .await;
            assert_eq!(reply.status, StatusCode::OK, "{probe}: {}", reply.text);
        }

        blocker.release().await;
        for request in held {
            let status = request.await.unwrap().unwrap();
            assert!(status.is_success(), "{status}");
        }
        app.get("/Users").await.expect(StatusCode::OK);
        let name = "iris_requests_shed_total";
        let grown = sum(&app.scrape().await, name, &[]) - sum(&before, name, &[]);
        assert!(grown >= 1.0, "{grown}");
        app
    }

    crate::on_both_backends_with!(two_at_once =>
        a_third_request_beside_two_held_ones_is_shed_but_health_is_answered,
    );
}
