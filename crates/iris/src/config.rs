//! Settings, layered: built-in defaults < TOML file (`--config`) < environment (`IRIS_*`) <
//! command-line flags. Unknown keys in the file are rejected.

use std::net::SocketAddr;

use anyhow::{Context, bail};
use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::cli::{Cli, Command};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub listen: String,
    pub database: String,
    pub public_url: Option<String>,
    pub log_format: String,
    pub max_body_bytes: usize,
    pub db_max_connections: u32,
    pub no_bootstrap: bool,
    /// Quiet time, in seconds, that ends a provisioning cycle.
    pub cycle_idle_seconds: u64,
    /// The identity provider's schedule, in minutes (Entra: about 40); a tenant with no request
    /// for two of them is silent.
    pub cycle_interval_minutes: u64,
    /// How often each process adds what it served to the tenants' cycles, in milliseconds.
    pub activity_flush_ms: u64,
    /// How often events past their tenant's retention are purged, in seconds.
    pub log_purge_interval_seconds: u64,
    /// Where `/metrics` is served (its own listener; `None`: not served). Loopback or a private
    /// interface: the series name tenants.
    pub metrics_listen: Option<String>,
    /// Tenants with a metrics label of their own; requests of any further tenant count as `other`.
    pub metrics_tenant_label_cap: usize,
    /// Whether the admin API (`/admin/v1`, operator tokens only) is served on the main listener.
    pub admin_api: bool,
    /// Seconds a request may take before it is abandoned (rolled back) and answered `503`; below
    /// Entra's 60-second limit, so Entra sees Iris's answer rather than its own timeout.
    pub request_timeout_seconds: u64,
}

impl Config {
    /// How requests are grouped into cycles.
    pub fn cycle_settings(&self) -> iris_core::provisioning::CycleSettings {
        iris_core::provisioning::CycleSettings {
            idle_gap: std::time::Duration::from_secs(self.cycle_idle_seconds),
            interval: std::time::Duration::from_secs(self.cycle_interval_minutes * 60),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            database: "sqlite://iris.db".into(),
            public_url: None,
            log_format: "text".into(),
            max_body_bytes: 4 * 1024 * 1024,
            db_max_connections: 8,
            no_bootstrap: false,
            cycle_idle_seconds: 300,
            cycle_interval_minutes: 40,
            activity_flush_ms: 2000,
            log_purge_interval_seconds: 3600,
            metrics_listen: None,
            metrics_tenant_label_cap: iris_http::metrics::DEFAULT_TENANT_LABEL_CAP,
            admin_api: true,
            request_timeout_seconds: 30,
        }
    }
}

/// Only the values given on the command line or in the environment, so they override the file.
#[derive(Serialize, Default)]
struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    database: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    public_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    log_format: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_body_bytes: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    db_max_connections: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    no_bootstrap: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metrics_listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metrics_tenant_label_cap: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    admin_api: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cycle_idle_seconds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cycle_interval_minutes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_timeout_seconds: Option<u64>,
}

impl Config {
    pub fn load(cli: &Cli) -> anyhow::Result<Self> {
        let mut overrides = Overrides {
            database: cli.database.clone(),
            public_url: cli.public_url.clone(),
            log_format: cli.log_format.clone(),
            ..Overrides::default()
        };
        if let Command::Serve(serve) = &cli.command {
            overrides.listen = serve.listen.clone();
            overrides.max_body_bytes = serve.max_body_bytes;
            overrides.db_max_connections = serve.db_max_connections;
            overrides.no_bootstrap = serve.no_bootstrap.then_some(true);
            overrides.metrics_listen = serve.metrics_listen.clone();
            overrides.metrics_tenant_label_cap = serve.metrics_tenant_label_cap;
            overrides.admin_api = serve.no_admin_api.then_some(false);
            overrides.cycle_idle_seconds = serve.cycle_idle_seconds;
            overrides.cycle_interval_minutes = serve.cycle_interval_minutes;
            overrides.request_timeout_seconds = serve.request_timeout_seconds;
        }
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = &cli.config {
            if !path.exists() {
                bail!("config file {} does not exist", path.display());
            }
            figment = figment.merge(Toml::file(path));
        }
        let config: Config = figment
            .merge(Serialized::defaults(overrides))
            .extract()
            .context("invalid configuration")?;
        config.validate()
    }

    fn validate(self) -> anyhow::Result<Self> {
        self.listen_addr()?;
        if !matches!(self.log_format.as_str(), "text" | "json") {
            bail!(
                "log_format must be 'text' or 'json', not '{}'",
                self.log_format
            );
        }
        if self.max_body_bytes < 1024 {
            bail!("max_body_bytes must be at least 1024");
        }
        if self.db_max_connections == 0 {
            bail!("db_max_connections must be at least 1");
        }
        if self.cycle_idle_seconds == 0 || self.cycle_interval_minutes == 0 {
            bail!("cycle_idle_seconds and cycle_interval_minutes must be at least 1");
        }
        if self.activity_flush_ms < 10 || self.log_purge_interval_seconds == 0 {
            bail!(
                "activity_flush_ms must be at least 10 and log_purge_interval_seconds at least 1"
            );
        }
        self.metrics_addr()?;
        if self.metrics_tenant_label_cap == 0 {
            bail!("metrics_tenant_label_cap must be at least 1");
        }
        if self.request_timeout_seconds == 0 {
            bail!("request_timeout_seconds must be at least 1");
        }
        if let Some(url) = &self.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            bail!("public_url must start with http:// or https://, got '{url}'");
        }
        Ok(self)
    }

    pub fn listen_addr(&self) -> anyhow::Result<SocketAddr> {
        self.listen.parse().with_context(|| {
            format!(
                "listen must be an address like 127.0.0.1:8080, got '{}'",
                self.listen
            )
        })
    }

    /// The address `/metrics` is served on, if any.
    pub fn metrics_addr(&self) -> anyhow::Result<Option<SocketAddr>> {
        self.metrics_listen
            .as_deref()
            .map(|raw| {
                raw.parse().with_context(|| {
                    format!("metrics_listen must be an address like 127.0.0.1:9090, got '{raw}'")
                })
            })
            .transpose()
    }

    /// The public URL, or one derived from the address actually bound.
    pub fn public_url_for(&self, bound: SocketAddr) -> String {
        if let Some(url) = &self.public_url {
            return url.trim_end_matches('/').to_owned();
        }
        let host = if bound.ip().is_unspecified() {
            "localhost".to_owned()
        } else {
            bound.ip().to_string()
        };
        match bound {
            SocketAddr::V6(_) if !bound.ip().is_unspecified() => {
                format!("http://[{host}]:{}", bound.port())
            }
            _ => format!("http://{host}:{}", bound.port()),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn load(args: &[&str]) -> anyhow::Result<Config> {
        Config::load(&Cli::parse_from(args))
    }

    #[test]
    fn metrics_are_off_and_the_admin_api_on_unless_configured() {
        let config = load(&["iris", "serve"]).unwrap();
        assert_eq!(config.metrics_addr().unwrap(), None);
        assert!(config.admin_api);
        assert_eq!(config.metrics_tenant_label_cap, 100);
        let config = load(&[
            "iris",
            "serve",
            "--metrics-listen",
            "127.0.0.1:9090",
            "--metrics-tenant-label-cap",
            "5",
            "--no-admin-api",
        ])
        .unwrap();
        assert_eq!(
            config.metrics_addr().unwrap(),
            Some("127.0.0.1:9090".parse().unwrap())
        );
        assert_eq!(config.metrics_tenant_label_cap, 5);
        assert!(!config.admin_api);
    }

    #[test]
    fn a_bad_metrics_address_or_a_zero_cap_is_refused() {
        let bad = load(&["iris", "serve", "--metrics-listen", "localhost"]).unwrap_err();
        assert!(format!("{bad:#}").contains("metrics_listen"), "{bad:#}");
        let zero = load(&["iris", "serve", "--metrics-tenant-label-cap", "0"]).unwrap_err();
        assert!(format!("{zero:#}").contains("at least 1"), "{zero:#}");
    }
}
