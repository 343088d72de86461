//! The admin console in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`) driven over WebDriver by fantoccini. An operator signs in, creates a tenant,
//! issues and revokes a token, finds a user and opens a failed event; the live tail shows traffic
//! as it comes. Without Chromium the test says so on stderr and passes as skipped, unless
//! `IRIS_REQUIRE_BROWSER=1` (as `.ci/run` sets) makes that a failure.
//!
//! With `IRIS_CONSOLE_SCREENSHOTS=DIR` the same walk saves a 1280×800 screenshot of every page
//! (and a few at 390 px wide) into DIR: `.ci/console-screenshots` refreshes docs/console/ so.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::console::{ACCOUNT, PASSWORD};
use crate::harness::{TestApp, USER};
use crate::on_both_backends;
use crate::operator::free_port;

/// How long a page may take to show what the test waits for.
const PATIENCE: Duration = Duration::from_secs(20);
/// Entra's user agent, so the log's Source column says "Microsoft Entra ID".
const ENTRA_AGENT: &str = "Azure AD SCIM Client (test)";

fn executable(env: &str, candidates: &[&str]) -> Option<PathBuf> {
    match std::env::var(env) {
        Ok(path) => Some(PathBuf::from(path)).filter(|p| p.exists()),
        Err(_) => candidates.iter().map(PathBuf::from).find(|p| p.exists()),
    }
}

/// Headless Chromium behind chromedriver, stopped when dropped.
struct Browser {
    client: Client,
    driver: tokio::process::Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// `None` (after saying why) when this machine has no Chromium and none is required.
    async fn start() -> Option<Self> {
        let chromium = executable(
            "IRIS_CHROMIUM",
            &["/usr/bin/chromium", "/usr/bin/chromium-browser"],
        );
        let driver = executable("IRIS_CHROMEDRIVER", &["/usr/bin/chromedriver"]);
        let (Some(chromium), Some(driver)) = (chromium, driver) else {
            let required = std::env::var("IRIS_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
            assert!(
                !required,
                "IRIS_REQUIRE_BROWSER=1 but chromium or chromedriver is missing (apt-get install chromium chromium-driver)"
            );
            eprintln!(
                "SKIPPED: the console browser test needs chromium and chromedriver (apt-get install chromium chromium-driver)"
            );
            return None;
        };
        let port = free_port();
        let driver = tokio::process::Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start chromedriver");
        let url = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if reqwest::get(format!("{url}/status")).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        // The network is closed: without these flags Chromium waits on connections it tries to
        // make at startup (updates, sync, QUIC probes).
        let args = [
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--hide-scrollbars".to_owned(),
            "--force-device-scale-factor=1".to_owned(),
            "--window-size=1280,800".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({"binary": chromium, "args": args}),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&url)
            .await
            .expect("a WebDriver session with headless Chromium");
        Some(Self {
            client,
            driver,
            _profile: profile,
        })
    }

    async fn stop(mut self) {
        let _ = self.client.close().await;
        let _ = self.driver.kill().await;
    }
}

/// The walk through the console, with its screenshots when asked for.
struct Walk<'a> {
    c: &'a Client,
    base: String,
    shots: Option<PathBuf>,
}

impl Walk<'_> {
    async fn goto(&self, path: &str) {
        self.c.goto(&format!("{}{path}", self.base)).await.unwrap();
    }

    async fn source(&self) -> String {
        self.c.source().await.unwrap()
    }

    /// Waits until the page contains `text`.
    async fn expect_text(&self, text: &str) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let source = self.source().await;
            if source.contains(text) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the page never showed {text:?}; it shows:\n{source}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn fill(&self, id: &str, value: &str) {
        let field = self.c.find(Locator::Id(id)).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(value).await.unwrap();
    }

    async fn press(&self, button: &str) {
        let xpath = format!("//button[normalize-space()='{button}']");
        self.click(Locator::XPath(&xpath)).await;
    }

    async fn follow(&self, link: &str) {
        self.click(Locator::LinkText(link)).await;
    }

    /// Finds and clicks `locator`, again while the element found belongs to a page the browser
    /// is still replacing (a stale element) or is not there yet.
    async fn click(&self, locator: Locator<'_>) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let clicked = match self.c.find(locator).await {
                Ok(element) => element.click().await.map(drop),
                Err(e) => Err(e),
            };
            match clicked {
                Ok(()) => return,
                Err(e) if tokio::time::Instant::now() < deadline => {
                    eprintln!("retrying a click on {locator:?}: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("could not click {locator:?}: {e}"),
            }
        }
    }

    /// Waits until the browser's address holds `part` (a form's GET has landed).
    async fn expect_url_containing(&self, part: &str) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let url = self.c.current_url().await.unwrap();
            if url.as_str().contains(part) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the address never held {part:?}: {url}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn value_of(&self, id: &str) -> String {
        self.c
            .find(Locator::Id(id))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap()
            .unwrap_or_default()
    }

    async fn shot(&self, name: &str) {
        let Some(dir) = &self.shots else { return };
        let png = self.c.screenshot().await.unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    /// Sizes the window so that the page itself (the viewport) is `width` × `height`: the
    /// window's own frame takes some pixels even in headless mode.
    async fn viewport(&self, width: u32, height: u32) {
        self.c.set_window_size(width, height).await.unwrap();
        let inner = self
            .c
            .execute("return [window.innerWidth, window.innerHeight]", vec![])
            .await
            .unwrap();
        let inner_of = |i: usize| u32::try_from(inner[i].as_u64().unwrap()).unwrap();
        let (w, h) = (inner_of(0), inner_of(1));
        self.c
            .set_window_size(2 * width - w.min(width), 2 * height - h.min(height))
            .await
            .unwrap();
    }

    /// A screenshot 390 px wide (a phone), then back to 1280 × 800.
    async fn narrow_shot(&self, name: &str) {
        if self.shots.is_none() {
            return;
        }
        self.viewport(390, 844).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.shot(name).await;
        self.viewport(1280, 800).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn scim(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = app
        .http
        .request(method, format!("{}{path}", app.tenant_url))
        .bearer_auth(&app.token)
        .header("user-agent", ENTRA_AGENT);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/scim+json")
            .body(body.to_string());
    }
    let reply = request.send().await.unwrap();
    let status = reply.status();
    (status, reply.json().await.unwrap_or(Value::Null))
}

fn user(user_name: &str, display: &str, department: &str) -> Value {
    json!({
        "schemas": [USER, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "userName": user_name,
        "externalId": format!("ext-{}", user_name.split('@').next().unwrap()),
        "displayName": display,
        "active": true,
        "emails": [{"value": user_name, "type": "work", "primary": true}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": department}
    })
}

/// What an identity provider did to tenant acme before the operator looks: a Test Connection,
/// users and a group created, one user renamed and another disabled, and a refused duplicate.
/// Returns the id of the user the walk looks for.
async fn provision(app: &TestApp) -> String {
    let probe = "?filter=userName%20eq%20%22f3b1c2d4-0000-4a5b-9c8d-7e6f5a4b3c2d%22";
    assert_eq!(
        scim(app, reqwest::Method::GET, &format!("/Users{probe}"), None)
            .await
            .0,
        StatusCode::OK
    );
    let mut ids = Vec::new();
    for (name, display, dept) in [
        ("adele.vance@contoso.example", "Adele Vance", "Retail"),
        ("alex.wilber@contoso.example", "Alex Wilber", "Marketing"),
        ("diego.siciliani@contoso.example", "Diego Siciliani", "HR"),
        ("megan.bowen@contoso.example", "Megan Bowen", "Marketing"),
    ] {
        let (status, body) = scim(
            app,
            reqwest::Method::POST,
            "/Users",
            Some(user(name, display, dept)),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    let (status, group) = scim(
        app,
        reqwest::Method::POST,
        "/Groups",
        Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Marketing", "externalId": "grp-marketing",
                    "members": [{"value": ids[1]}, {"value": ids[3]}]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    let patch = |ops: Value| json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});
    let (status, _) = scim(
        app,
        reqwest::Method::PATCH,
        &format!("/Users/{}", ids[0]),
        Some(patch(
            json!([{"op": "Replace", "path": "displayName", "value": "Adele Vance-Smith"},
                          {"op": "Replace", "path": "title", "value": "Retail Manager"}]),
        )),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = scim(
        app,
        reqwest::Method::PATCH,
        &format!("/Users/{}", ids[2]),
        Some(patch(
            json!([{"op": "Replace", "path": "active", "value": "False"}]),
        )),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // Entra did not find Alex (a matching-attribute mistake) and tries to create him again.
    let (status, _) = scim(
        app,
        reqwest::Method::POST,
        "/Users",
        Some(user(
            "alex.wilber@contoso.example",
            "Alex Wilber",
            "Marketing",
        )),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    ids.swap_remove(1)
}

async fn walk_through_the_console(app: TestApp) -> TestApp {
    let Some(browser) = Browser::start().await else {
        return app;
    };
    app.admin.create_console_account(ACCOUNT, PASSWORD).await;
    let alex = provision(&app).await;
    let shots = std::env::var("IRIS_CONSOLE_SCREENSHOTS")
        .ok()
        .map(PathBuf::from);
    if let Some(dir) = &shots {
        std::fs::create_dir_all(dir).unwrap();
    }
    let w = Walk {
        c: &browser.client,
        base: format!("{}/console", app.base_url),
        shots,
    };
    // Sign in: any console page sends the operator to the sign-in page first.
    w.goto("/tenants").await;
    w.viewport(1280, 800).await;
    w.expect_text("Account name").await;
    w.shot("01-sign-in").await;
    w.fill("name", ACCOUNT).await;
    w.fill("password", PASSWORD).await;
    w.press("Sign in").await;
    w.expect_text("Signed in as").await;
    // Wait for the first cycle to be recorded, so the card has something to say.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    w.goto("/tenants").await;
    w.expect_text("Create a tenant").await;
    w.shot("02-tenants").await;
    w.narrow_shot("mobile-02-tenants").await;

    // Create a tenant: its Tenant URL and Secret Token, once.
    w.fill("tenant-name", "fabrikam").await;
    w.press("Create tenant").await;
    w.expect_text("Admin Credentials").await;
    let tenant_url = w.value_of("tenant-url").await;
    let secret = w.value_of("secret-token").await;
    assert_eq!(tenant_url, format!("{}/scim/v2/fabrikam", app.base_url));
    assert!(secret.starts_with("iris_"), "{secret}");
    w.shot("03-tenant-created").await;
    w.narrow_shot("mobile-03-tenant-created").await;
    let probe = reqwest::Client::new()
        .get(format!("{tenant_url}/Users"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(probe.status(), StatusCode::OK, "the shown token works");

    w.goto("/tenants/acme").await;
    w.expect_text("Disable tenant").await;
    w.shot("04-tenant-overview").await;

    // Issue a token, then revoke it after the confirmation.
    w.follow("Tokens").await;
    w.expect_text("Issue a Secret Token").await;
    w.fill("label", "Entra rotation").await;
    w.press("Issue token").await;
    w.expect_text("Admin Credentials").await;
    let issued = w.value_of("secret-token").await;
    assert!(issued.starts_with("iris_"));
    w.shot("06-token-issued").await;
    w.follow("Done: back to the tokens").await;
    w.expect_text("Entra rotation").await;
    assert!(
        !w.source()
            .await
            .contains(issued.splitn(3, '_').nth(2).unwrap()),
        "never shown twice"
    );
    w.shot("05-tokens").await;
    w.click(Locator::Css("a[aria-label='Revoke token Entra rotation']"))
        .await;
    w.expect_text("Revoke this token?").await;
    w.shot("07-token-revoke").await;
    w.press("Revoke token").await;
    w.expect_text("revoked").await;
    let refused = reqwest::Client::new()
        .get(format!("{}/Users", app.tenant_url))
        .bearer_auth(&issued)
        .send()
        .await
        .unwrap();
    assert_eq!(
        refused.status(),
        StatusCode::UNAUTHORIZED,
        "the revoked token is refused"
    );

    // Find a user by SCIM filter and open their page.
    w.follow("Users").await;
    w.expect_text("SCIM filter").await;
    w.shot("08-users").await;
    w.fill("filter", r#"userName sw "alex""#).await;
    w.press("Search").await;
    w.expect_text("1 match").await;
    w.follow("alex.wilber@contoso.example").await;
    w.expect_text("Change history").await;
    let page = w.source().await;
    assert!(
        page.contains(&alex) && page.contains("Marketing"),
        "attributes and groups"
    );
    w.shot("09-user").await;
    w.follow("Groups").await;
    w.expect_text("grp-marketing").await;
    w.shot("10-groups").await;
    w.follow("Marketing").await;
    w.expect_text("Members").await;
    w.shot("11-group").await;

    // The provisioning log: filter on failures and open the refused create.
    w.follow("Provisioning log").await;
    w.expect_text("Microsoft Entra ID").await;
    w.shot("12-log").await;
    w.c.find(Locator::Id("status"))
        .await
        .unwrap()
        .select_by_value("failure")
        .await
        .unwrap();
    w.press("Apply filters").await;
    w.expect_url_containing("status=failure").await;
    w.expect_text("Failure").await;
    w.narrow_shot("mobile-12-log").await;
    w.click(Locator::Css("a[aria-label^='Details of the create']"))
        .await;
    w.expect_text("What it means").await;
    let page = w.source().await;
    assert!(
        page.contains("What to change in Entra") && page.contains("matching attribute"),
        "{page}"
    );
    w.shot("13-event-failure").await;
    w.narrow_shot("mobile-13-event-failure").await;
    w.goto("/tenants/acme/log?action=update").await;
    w.click(Locator::Css("a[aria-label^='Details of the update']"))
        .await;
    w.expect_text("Modified properties").await;
    w.shot("14-event-update").await;

    w.goto("/tenants/acme/cycles").await;
    w.expect_text("Provisioning cycles").await;
    w.shot("15-cycles").await;

    // The live tail: a Test Connection probe is hidden by default, a change shows.
    w.goto("/tenants/acme/live").await;
    w.expect_text("Connected").await;
    let probe = "/Users?filter=userName%20eq%20%2211111111-2222-4333-8444-555555555555%22";
    scim(&app, reqwest::Method::GET, probe, None).await;
    scim(
        &app,
        reqwest::Method::POST,
        "/Users",
        Some(user(
            "lidia.holloway@contoso.example",
            "Lidia Holloway",
            "Engineering",
        )),
    )
    .await;
    w.expect_text("lidia.holloway@contoso.example").await;
    w.expect_text("Test Connection probe").await;
    let probe_shown: bool = w
        .c
        .execute("return [...document.querySelectorAll('#live-rows tr.probe')].some(r => r.offsetParent !== null)", vec![])
        .await
        .unwrap()
        .as_bool()
        .unwrap();
    assert!(!probe_shown, "probes are hidden by default");
    w.shot("16-live-tail").await;

    // Signing out ends the session.
    w.press("Sign out").await;
    w.expect_text("You are signed out.").await;
    w.goto("/tenants").await;
    w.expect_text("Account name").await;
    let shots = w.shots.clone();
    browser.stop().await;
    if let Some(dir) = &shots {
        check_sizes(dir);
    }
    app
}

/// Every 1280-wide screenshot is 1280 × 800.
fn check_sizes(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".png") || name.starts_with("mobile-") {
            continue;
        }
        let png = std::fs::read(&path).unwrap();
        let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
        let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
        assert_eq!((width, height), (1280, 800), "{name}");
    }
}

on_both_backends!(walk_through_the_console);
