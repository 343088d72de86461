//! The admin console's security rules over plain HTTP: nothing but the sign-in page (and its
//! stylesheet) answers without a session, every state-changing form needs the session's CSRF
//! token, repeated failures lock an account, a tenant's token never opens the console, and a
//! secret is shown once. The pages themselves are driven in a real browser by `console_browser`.

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

use crate::harness::{Backend, TestApp, TestDatabase};
use crate::operator::Operator;
use crate::{on_both_backends, on_both_databases};

pub const ACCOUNT: &str = "ops";
pub const PASSWORD: &str = "correct horse battery staple";

/// A browser's view of the console: no redirects followed, cookies kept by hand.
pub struct ConsoleClient {
    pub base: String,
    http: reqwest::Client,
    pub session: Option<String>,
}

pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub set_cookies: Vec<String>,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Page {
    async fn from(r: reqwest::Response) -> Self {
        let status = r.status();
        let headers = r.headers().clone();
        let location = headers
            .get(LOCATION)
            .map(|v| v.to_str().unwrap().to_owned());
        let set_cookies = headers
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        Self {
            status,
            location,
            set_cookies,
            headers,
            text: r.text().await.unwrap(),
        }
    }

    /// The value of cookie `name` this response sets.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookies.iter().find_map(|c| {
            let (pair, _) = c.split_once(';').unwrap_or((c, ""));
            let (key, value) = pair.split_once('=')?;
            (key == name && !value.is_empty()).then(|| value.to_owned())
        })
    }

    /// The `value` of the hidden input named `name` (the first one).
    pub fn hidden(&self, name: &str) -> Option<String> {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.text.find(&marker)? + marker.len();
        let end = self.text[start..].find('"')?;
        Some(self.text[start..start + end].to_owned())
    }

    /// The value of the read-only field with id `id`.
    pub fn field(&self, id: &str) -> Option<String> {
        let at = self.text.find(&format!("id=\"{id}\""))?;
        let rest = &self.text[at..];
        let start = rest.find("value=\"")? + 7;
        let end = rest[start..].find('"')?;
        Some(rest[start..start + end].to_owned())
    }
}

impl ConsoleClient {
    pub fn new(base_url: &str) -> Self {
        Self {
            base: format!("{base_url}/console"),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            session: None,
        }
    }

    fn with_session(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.session {
            Some(s) => request.header(COOKIE, format!("iris_console_session={s}")),
            None => request,
        }
    }

    pub async fn get(&self, path: &str) -> Page {
        let request = self.http.get(format!("{}{path}", self.base));
        Page::from(self.with_session(request).send().await.unwrap()).await
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        let request = self.http.post(format!("{}{path}", self.base)).form(form);
        Page::from(self.with_session(request).send().await.unwrap()).await
    }

    /// Posts `form` with the CSRF token of the page at `from`.
    pub async fn submit(&self, from: &str, path: &str, form: &[(&str, &str)]) -> Page {
        let csrf = self.get(from).await.hidden("csrf").expect("a csrf field");
        let mut with_token = form.to_vec();
        with_token.push(("csrf", &csrf));
        self.post(path, &with_token).await
    }

    /// Loads the sign-in page and submits it; the reply.
    pub async fn try_sign_in(&self, name: &str, password: &str) -> Page {
        let page = self.get("/sign-in").await;
        let token = page.cookie("iris_console_sign_in").expect("sign-in cookie");
        let csrf = page.hidden("csrf").expect("sign-in csrf field");
        assert_eq!(token, csrf, "double submit: the cookie and the field agree");
        let request = self
            .http
            .post(format!("{}/sign-in", self.base))
            .header(COOKIE, format!("iris_console_sign_in={token}"))
            .form(&[("name", name), ("password", password), ("csrf", &csrf)]);
        Page::from(request.send().await.unwrap()).await
    }

    pub async fn sign_in(&mut self, name: &str, password: &str) -> Page {
        let page = self.try_sign_in(name, password).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.text);
        self.session = Some(page.cookie("iris_console_session").expect("session cookie"));
        page
    }
}

async fn signed_in(app: &TestApp) -> ConsoleClient {
    app.admin.create_console_account(ACCOUNT, PASSWORD).await;
    let mut client = ConsoleClient::new(&app.base_url);
    client.sign_in(ACCOUNT, PASSWORD).await;
    client
}

async fn nothing_but_sign_in_answers_without_a_session(app: TestApp) -> TestApp {
    let anonymous = ConsoleClient::new(&app.base_url);
    for path in [
        "",
        "/tenants",
        "/tenants/acme",
        "/tenants/acme/tokens",
        "/tenants/acme/users",
        "/tenants/acme/log",
        "/tenants/acme/live",
        "/assets/console.js",
        "/no/such/page",
    ] {
        let page = anonymous.get(path).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "GET {path}");
        let location = page.location.unwrap();
        assert!(
            location.starts_with("/console/sign-in?next="),
            "{path}: {location}"
        );
        assert!(!page.text.contains("acme"), "{path} tells nothing");
    }
    // Forms and the live stream are refused outright.
    let page = anonymous.post("/tenants", &[("name", "evil")]).await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    let page = anonymous.post("/tenants/acme/disable", &[]).await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    let stream = reqwest::Client::new()
        .get(format!("{}/tenants/acme/live/stream", anonymous.base))
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::UNAUTHORIZED);
    // The sign-in page and its stylesheet answer.
    let page = anonymous.get("/sign-in").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text.contains("<label for=\"password\">"),
        "labelled fields"
    );
    assert_eq!(
        anonymous.get("/assets/console.css").await.status,
        StatusCode::OK
    );
    // Nothing was created.
    assert!(app.admin.create_tenant("evil").await.starts_with("iris_"));
    app
}

async fn sessions_use_strict_http_only_cookies_and_end_at_sign_out(app: TestApp) -> TestApp {
    app.admin.create_console_account(ACCOUNT, PASSWORD).await;
    let mut client = ConsoleClient::new(&app.base_url);
    let signed_in = client.sign_in(ACCOUNT, PASSWORD).await;
    assert_eq!(signed_in.location.as_deref(), Some("/console/tenants"));
    let cookie = signed_in
        .set_cookies
        .iter()
        .find(|c| c.starts_with("iris_console_session="))
        .unwrap();
    assert!(cookie.contains("; HttpOnly"), "{cookie}");
    assert!(cookie.contains("; SameSite=Strict"), "{cookie}");
    assert!(cookie.contains("; Path=/console"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP: no Secure flag ({cookie})"
    );
    let tenants = client.get("/tenants").await;
    assert_eq!(tenants.status, StatusCode::OK);
    assert!(tenants.text.contains("Signed in as"), "{}", tenants.text);
    assert!(tenants.text.contains("acme"));
    let csp = tenants.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(tenants.headers["cache-control"], "no-store");
    // Signing out ends the session in the database: the old cookie opens nothing.
    let out = client.submit("/tenants", "/sign-out", &[]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(
        out.set_cookies
            .iter()
            .any(|c| c.starts_with("iris_console_session=;"))
    );
    let after = client.get("/tenants").await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
    // A wrong password or an unknown name gets the same answer.
    let anonymous = ConsoleClient::new(&app.base_url);
    let wrong = anonymous.try_sign_in(ACCOUNT, "not the password").await;
    let unknown = anonymous.try_sign_in("nobody", "not the password").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.text.contains("Wrong account name or password"));
    assert!(unknown.text.contains("Wrong account name or password"));
    app
}

async fn forms_need_the_sessions_csrf_token(app: TestApp) -> TestApp {
    let client = signed_in(&app).await;
    let csrf = client.get("/tenants").await.hidden("csrf").unwrap();
    let missing = client.post("/tenants", &[("name", "globex")]).await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN, "{}", missing.text);
    let wrong = client
        .post("/tenants", &[("name", "globex"), ("csrf", "0000")])
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    // Another session's token is no good either.
    let mut other = ConsoleClient::new(&app.base_url);
    other.sign_in(ACCOUNT, PASSWORD).await;
    let foreign = other.get("/tenants").await.hidden("csrf").unwrap();
    assert_ne!(foreign, csrf);
    let crossed = client
        .post("/tenants", &[("name", "globex"), ("csrf", &foreign)])
        .await;
    assert_eq!(crossed.status, StatusCode::FORBIDDEN);
    // A browser that says the form comes from another site is refused even with the token.
    let cross_site = reqwest::Client::new()
        .post(format!("{}/tenants", client.base))
        .header(
            COOKIE,
            format!("iris_console_session={}", client.session.as_ref().unwrap()),
        )
        .header("sec-fetch-site", "cross-site")
        .form(&[("name", "globex"), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
    for path in ["/tenants/acme/disable", "/sign-out"] {
        assert_eq!(
            client.post(path, &[]).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    let revoke = format!("/tenants/acme/tokens/{}/revoke", app.token_id);
    assert_eq!(
        client.post(&revoke, &[]).await.status,
        StatusCode::FORBIDDEN
    );
    // None of it happened: the tenant is enabled, its token works, globex does not exist.
    assert_eq!(app.get("/Users").await.status, StatusCode::OK);
    assert_eq!(
        client.get("/tenants/globex").await.status,
        StatusCode::NOT_FOUND
    );
    // The sign-in form needs its own token too (login CSRF).
    let no_cookie = reqwest::Client::new()
        .post(format!("{}/sign-in", client.base))
        .form(&[("name", ACCOUNT), ("password", PASSWORD), ("csrf", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(no_cookie.status(), StatusCode::FORBIDDEN);
    assert!(
        no_cookie
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .all(|c| !c.to_str().unwrap().starts_with("iris_console_session="))
    );
    // With the token, the same form works.
    let created = client
        .post("/tenants", &[("name", "globex"), ("csrf", &csrf)])
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    app
}

async fn repeated_failures_lock_the_account(app: TestApp) -> TestApp {
    app.admin.create_console_account(ACCOUNT, PASSWORD).await;
    let client = ConsoleClient::new(&app.base_url);
    for attempt in 1..5 {
        let page = client.try_sign_in(ACCOUNT, "wrong password!").await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED, "attempt {attempt}");
    }
    let fifth = client.try_sign_in(ACCOUNT, "wrong password!").await;
    assert_eq!(fifth.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(fifth.text.contains("locked"), "{}", fifth.text);
    let retry: u64 = fifth.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&retry), "{retry}");
    // Even the right password is refused while the lock lasts, and no session is made.
    let right = client.try_sign_in(ACCOUNT, PASSWORD).await;
    assert_eq!(right.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(right.cookie("iris_console_session").is_none());
    app
}

/// Guessing names (which no account's lockout counts) brakes the guessing address.
async fn failures_with_unknown_names_brake_the_address(app: TestApp) -> TestApp {
    app.admin.create_console_account(ACCOUNT, PASSWORD).await;
    let client = ConsoleClient::new(&app.base_url);
    for attempt in 0..20 {
        let page = client
            .try_sign_in(&format!("guess{attempt}"), "wrong password!")
            .await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED, "attempt {attempt}");
    }
    let braked = client.try_sign_in("guess20", "wrong password!").await;
    assert_eq!(braked.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(braked.text.contains("from your address"), "{}", braked.text);
    let right = client.try_sign_in(ACCOUNT, PASSWORD).await;
    assert_eq!(
        right.status,
        StatusCode::TOO_MANY_REQUESTS,
        "until the window passes"
    );
    app
}

async fn a_tenant_or_operator_token_never_opens_the_console(app: TestApp) -> TestApp {
    let operator = app.admin.issue_operator_token("ops").await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = format!("{}/console/tenants", app.base_url);
    for token in [&app.token, &operator.token] {
        let bearer = http.get(&url).bearer_auth(token).send().await.unwrap();
        assert_eq!(bearer.status(), StatusCode::SEE_OTHER);
        let as_cookie = http
            .get(&url)
            .header(COOKIE, format!("iris_console_session={token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(as_cookie.status(), StatusCode::SEE_OTHER);
        let post = http
            .post(format!("{}/console/tenants", app.base_url))
            .bearer_auth(token)
            .form(&[("name", "evil")])
            .send()
            .await
            .unwrap();
        assert_eq!(post.status(), StatusCode::UNAUTHORIZED);
    }
    app
}

async fn a_secret_is_shown_once(app: TestApp) -> TestApp {
    let client = signed_in(&app).await;
    let issued = client
        .submit(
            "/tenants/acme/tokens",
            "/tenants/acme/tokens",
            &[("label", "rotation"), ("expires_in_days", "90")],
        )
        .await;
    assert_eq!(issued.status, StatusCode::CREATED, "{}", issued.text);
    assert_eq!(issued.headers["cache-control"], "no-store");
    let tenant_url = issued.field("tenant-url").unwrap();
    let secret = issued.field("secret-token").unwrap();
    assert_eq!(tenant_url, app.tenant_url);
    assert!(secret.starts_with("iris_"), "{secret}");
    // Entra's order: Tenant URL, then Secret Token.
    assert!(
        issued
            .text
            .find("<label for=\"tenant-url\">Tenant URL")
            .unwrap()
            < issued
                .text
                .find("<label for=\"secret-token\">Secret Token")
                .unwrap()
    );
    let works = reqwest::Client::new()
        .get(format!("{tenant_url}/Users"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(works.status(), StatusCode::OK);
    // No page shows it again.
    let token_id = secret.split('_').nth(1).unwrap().to_owned();
    let secret_part = secret.splitn(3, '_').nth(2).unwrap();
    for path in [
        "/tenants/acme/tokens".to_owned(),
        "/tenants/acme".to_owned(),
        format!("/tenants/acme/tokens/{token_id}/revoke"),
    ] {
        let page = client.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(!page.text.contains(secret_part), "{path} shows the secret");
    }
    let list = client.get("/tenants/acme/tokens").await;
    assert!(list.text.contains("rotation") && list.text.contains(&token_id));
    // Revoking takes a confirmation page and its form, and takes effect at once.
    let revoked = client
        .submit(
            &format!("/tenants/acme/tokens/{token_id}/revoke"),
            &format!("/tenants/acme/tokens/{token_id}/revoke"),
            &[],
        )
        .await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER);
    let refused = reqwest::Client::new()
        .get(format!("{tenant_url}/Users"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    app
}

/// Without JavaScript every page works by plain GETs and forms; a bad SCIM filter or log filter is
/// explained on the page (400), not a blank error.
async fn pages_explain_bad_filters_and_find_what_exists(app: TestApp) -> TestApp {
    let user = app
        .create_user(
            &serde_json::json!({"schemas": [crate::harness::USER], "userName": "ada@example.com"}),
        )
        .await;
    let client = signed_in(&app).await;
    let found = client
        .get("/tenants/acme/users?filter=userName%20eq%20%22ada%40example.com%22")
        .await;
    assert_eq!(found.status, StatusCode::OK);
    assert!(
        found
            .text
            .contains(&format!("/console/tenants/acme/users/{user}")),
        "{}",
        found.text
    );
    let bad = client.get("/tenants/acme/users?filter=bogus(").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.text.contains("The filter was refused"), "{}", bad.text);
    let page = client.get(&format!("/tenants/acme/users/{user}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("Change history") && page.text.contains("Create"));
    let log = client.get("/tenants/acme/log?since=yesterday").await;
    assert_eq!(log.status, StatusCode::BAD_REQUEST);
    assert!(log.text.contains("is not a time"), "{}", log.text);
    let log = client
        .get("/tenants/acme/log?status=success&action=create&since=2020-01-01T00%3A00")
        .await;
    assert_eq!(log.status, StatusCode::OK);
    assert!(log.text.contains("ada@example.com"));
    // Cursor paging: two per page, three users, the next page has the third.
    for name in ["bob@example.com", "cy@example.com"] {
        app.create_user(&serde_json::json!({"schemas": [crate::harness::USER], "userName": name}))
            .await;
    }
    let all = client.get("/tenants/acme/users?count=10").await;
    assert!(all.text.contains("3 matches"), "{}", all.text);
    let first = client.get("/tenants/acme/users?count=2").await;
    let marker = "href=\"/console/tenants/acme/users?";
    let at = first.text.find(marker).expect("a next-page link") + marker.len() - 1;
    let href = &first.text[at..at + first.text[at..].find('"').unwrap()];
    assert!(href.contains("cursor="), "{href}");
    let second = client
        .get(&format!(
            "/tenants/acme/users{}",
            href.replace("&amp;", "&")
        ))
        .await;
    assert_eq!(second.status, StatusCode::OK);
    let names = ["ada@", "bob@", "cy@"];
    let on_first = names.iter().filter(|n| first.text.contains(*n)).count();
    let on_second = names.iter().filter(|n| second.text.contains(*n)).count();
    assert_eq!((on_first, on_second), (2, 1), "{}", second.text);
    assert!(second.text.contains("Previous page"));
    for missing in [
        "/tenants/nope",
        "/tenants/acme/users/nope",
        "/tenants/acme/log/nope",
    ] {
        assert_eq!(
            client.get(missing).await.status,
            StatusCode::NOT_FOUND,
            "{missing}"
        );
    }
    app
}

on_both_backends!(
    pages_explain_bad_filters_and_find_what_exists,
    nothing_but_sign_in_answers_without_a_session,
    sessions_use_strict_http_only_cookies_and_end_at_sign_out,
    forms_need_the_sessions_csrf_token,
    repeated_failures_lock_the_account,
    failures_with_unknown_names_brake_the_address,
    a_tenant_or_operator_token_never_opens_the_console,
    a_secret_is_shown_once,
);

/// Over HTTPS (here: a trusted proxy's `X-Forwarded-Proto: https`) the cookie is `Secure`; a
/// forged header from an untrusted peer changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_cookies_are_secure_behind_a_trusted_https_proxy() {
    for (trusted, secure) in [(true, true), (false, false)] {
        let Some(db) = TestDatabase::create(Backend::Sqlite).await else {
            return;
        };
        let app = TestApp::spawn_with(Backend::Sqlite, &db, |c| {
            if trusted {
                c.trusted_proxies = vec!["127.0.0.1".into()];
            }
        })
        .await;
        app.admin.create_console_account(ACCOUNT, PASSWORD).await;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let page = http
            .get(format!("{}/console/sign-in", app.base_url))
            .header("x-forwarded-proto", "https")
            .send()
            .await
            .unwrap();
        let page = Page::from(page).await;
        let token = page.cookie("iris_console_sign_in").unwrap();
        let signed_in = http
            .post(format!("{}/console/sign-in", app.base_url))
            .header("x-forwarded-proto", "https")
            .header(COOKIE, format!("iris_console_sign_in={token}"))
            .form(&[("name", ACCOUNT), ("password", PASSWORD), ("csrf", &token)])
            .send()
            .await
            .unwrap();
        let signed_in = Page::from(signed_in).await;
        assert_eq!(
            signed_in.status,
            StatusCode::SEE_OTHER,
            "{}",
            signed_in.text
        );
        let cookie = signed_in
            .set_cookies
            .iter()
            .find(|c| c.starts_with("iris_console_session="))
            .unwrap();
        assert_eq!(
            cookie.ends_with("; Secure"),
            secure,
            "trusted {trusted}: {cookie}"
        );
        app.stop().await;
        db.drop_database().await;
    }
}

/// `--no-console` serves nothing under /console.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_console_turns_it_off() {
    let Some(db) = TestDatabase::create(Backend::Sqlite).await else {
        return;
    };
    let app = TestApp::spawn_with(Backend::Sqlite, &db, |c| c.console = false).await;
    let reply = reqwest::get(format!("{}/console/sign-in", app.base_url))
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::NOT_FOUND);
    app.stop().await;
    db.drop_database().await;
}

mod command_line {
    use super::*;

    /// `iris admin user create NAME --password-stdin`, then signing in to a separate `iris serve`.
    async fn operator_accounts_are_created_from_the_command_line(database: String) {
        let dir = tempfile::tempdir().unwrap();
        let op = Operator::new(&database);
        op.create_tenant("acme").await;
        let created = op
            .run_with_stdin(
                &["admin", "user", "create", "Alice", "--password-stdin"],
                &format!("{PASSWORD}\n"),
            )
            .await
            .ok();
        assert!(
            created.stdout.contains("created console account 'alice'"),
            "{}",
            created.stdout
        );
        assert!(
            created.stdout.contains("/console/sign-in"),
            "{}",
            created.stdout
        );
        let short = op
            .run_with_stdin(
                &["admin", "user", "create", "bob", "--password-stdin"],
                "short\n",
            )
            .await;
        assert!(!short.status.success());
        assert!(
            short.stderr.contains("at least 12 characters"),
            "{}",
            short.stderr
        );
        let again = op
            .run_with_stdin(
                &["admin", "user", "create", "ALICE", "--password-stdin"],
                &format!("{PASSWORD}\n"),
            )
            .await;
        assert!(
            !again.status.success(),
            "names are unique regardless of case"
        );
        let listed = op
            .run(&["admin", "user", "list", "--json"])
            .await
            .ok()
            .json();
        assert_eq!(listed[0]["name"], "alice");
        assert!(listed[0]["last_sign_in"].is_null());

        let server = op.serve(dir.path(), &["--no-bootstrap"]).await;
        let mut client = ConsoleClient::new(&server.url);
        client.sign_in("alice", PASSWORD).await;
        assert_eq!(client.get("/tenants").await.status, StatusCode::OK);
        // Deleting the account ends its sessions in the running server.
        op.run(&["admin", "user", "delete", "alice"]).await.ok();
        assert_eq!(client.get("/tenants").await.status, StatusCode::SEE_OTHER);
        server.terminate().await;
    }

    on_both_databases!(operator_accounts_are_created_from_the_command_line);
}
