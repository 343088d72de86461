//! The page shell (header, navigation, skip link, footer) and the bits of markup pages share.

use std::sync::Arc;

use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

use super::session::{CSRF_FIELD, Console};

tokio::task_local! {
    /// The console's mount point, for the request being served.
    pub static PREFIX: Arc<str>;
}

/// The console's mount point (the default outside a console request).
pub fn prefix() -> Arc<str> {
    PREFIX
        .try_with(Clone::clone)
        .unwrap_or_else(|_| Arc::from(super::DEFAULT_PATH))
}

/// The sections of a tenant's pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Overview,
    Tokens,
    Users,
    Groups,
    Log,
    Cycles,
    Live,
}

impl Tab {
    const ALL: [Self; 7] = [
        Self::Overview,
        Self::Tokens,
        Self::Users,
        Self::Groups,
        Self::Log,
        Self::Cycles,
        Self::Live,
    ];

    fn label(self) -> &'static str {
        match self {
            Self::Overview => "Overview",
            Self::Tokens => "Tokens",
            Self::Users => "Users",
            Self::Groups => "Groups",
            Self::Log => "Provisioning log",
            Self::Cycles => "Cycles",
            Self::Live => "Live tail",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Self::Overview => "",
            Self::Tokens => "/tokens",
            Self::Users => "/users",
            Self::Groups => "/groups",
            Self::Log => "/log",
            Self::Cycles => "/cycles",
            Self::Live => "/live",
        }
    }
}

fn head(title: &str, prefix: &str, with_script: bool) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · Iris console" }
            link rel="stylesheet" href={ (prefix) "/assets/console.css" };
            @if with_script {
                script src={ (prefix) "/assets/console.js" } defer {}
            }
        }
    }
}

/// A page without navigation: the sign-in page and error pages.
pub fn bare(title: &str, body: Markup) -> Markup {
    let prefix = prefix();
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, &prefix, false))
            body.bare {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    span.brand { "Iris" span.brand-sub { " console" } }
                }
                main #main tabindex="-1" { (body) }
            }
        }
    }
}

/// A signed-in page: the header with the operator and sign-out, a tenant's section tabs when
/// the page belongs to a tenant, and `body`.
pub fn page(console: &Console, title: &str, tenant: Option<(&str, Tab)>, body: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, console.prefix(), true))
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href=(console.url("/tenants")) { "Iris" span.brand-sub { " console" } }
                    nav aria-label="Main" {
                        a href=(console.url("/tenants")) aria-current=[tenant.is_none().then_some("page")] { "Tenants" }
                    }
                    div.who {
                        span { "Signed in as " strong { (console.account()) } }
                        form method="post" action=(console.url("/sign-out")) {
                            (csrf_input(console))
                            button.link type="submit" { "Sign out" }
                        }
                    }
                }
                @if let Some((name, current)) = tenant {
                    nav.tabs aria-label={ "Tenant " (name) } {
                        span.tenant-name { (name) }
                        ul {
                            @for tab in Tab::ALL {
                                li {
                                    a href=(console.url(&format!("/tenants/{name}{}", tab.path())))
                                        aria-current=[(tab == current).then_some("page")] { (tab.label()) }
                                }
                            }
                        }
                    }
                }
                main #main tabindex="-1" { (body) }
                footer.bottom { "Iris " (env!("CARGO_PKG_VERSION")) }
            }
        }
    };
    Html(markup.into_string()).into_response()
}

/// The hidden field with the session's CSRF token, in every state-changing form.
pub fn csrf_input(console: &Console) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(console.csrf()); }
}

/// A stored time (`2026-12-04T10:15:30.123Z`) as a `<time>` a person reads (`2026-12-04
/// 10:15:30 UTC`).
pub fn time(stored: &str) -> Markup {
    let readable = stored.get(..19).map_or_else(
        || stored.to_owned(),
        |t| format!("{} UTC", t.replace('T', " ")),
    );
    html! { time datetime=(stored) { (readable) } }
}

/// A stored time, or a dash.
pub fn maybe_time(stored: Option<&str>, none: &str) -> Markup {
    match stored {
        Some(t) => time(t),
        None => html! { span.muted { (none) } },
    }
}

/// A health verdict as a labelled badge (text, not colour alone).
pub fn health_badge(health: &str) -> Markup {
    html! { span class={ "badge health-" (health) } { (health) } }
}

/// A success/failure status with its HTTP code.
pub fn status_badge(status: u16) -> Markup {
    let (class, word) = if status >= 400 {
        ("badge status-failure", "Failure")
    } else {
        ("badge status-success", "Success")
    };
    html! { span class=(class) { (word) " " span.code { (status) } } }
}

/// A failure rate as a percentage.
pub fn percent(rate: f64) -> String {
    format!("{:.1} %", rate * 100.0)
}

/// A notice at the top of a page.
pub fn notice(kind: &str, message: &str) -> Markup {
    let role = if kind == "error" { "alert" } else { "status" };
    html! { div class={ "notice notice-" (kind) } role=(role) { (message) } }
}
