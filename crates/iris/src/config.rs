//! Settings, layered: built-in defaults < TOML file (`--config`) < environment (`IRIS_*`) <
//! command-line flags. Unknown keys in the file are rejected.

use std::net::SocketAddr;
use std::path::PathBuf;

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
    /// Whether the admin console is served on the main listener.
    pub console: bool,
    /// Where the admin console is served (`/console`).
    pub console_path: String,
    /// Seconds a request may take before it is abandoned (rolled back) and answered `503`; below
    /// Entra's 60-second limit, so Entra sees Iris's answer rather than its own timeout.
    pub request_timeout_seconds: u64,
    /// Seconds a client has to send a whole request head (and the TLS handshake) once it has sent
    /// its first byte; a slower one is disconnected.
    pub header_read_timeout_seconds: u64,
    /// Seconds a connection with no request in flight stays open.
    pub idle_timeout_seconds: u64,
    /// Seconds the requests in flight at shutdown get to finish before they are cut.
    pub shutdown_grace_seconds: u64,
    /// PEM certificate chain (the server's certificate first) to serve HTTPS with.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// CIDRs of reverse proxies whose `X-Forwarded-For/Proto/Host` headers count.
    pub trusted_proxies: Vec<String>,
    /// Requests per second each tenant may send; 0: no limit.
    pub rate_limit_tenant_per_second: u32,
    /// Requests each tenant may send at once on top of its rate (raised to the rate if lower).
    pub rate_limit_tenant_burst: u32,
    /// Requests per second each token may send; 0: no limit of its own.
    pub rate_limit_token_per_second: u32,
    /// Requests each token may send at once on top of its rate (raised to the rate if lower).
    pub rate_limit_token_burst: u32,
    /// Requests served at once before further ones are shed with `503`; 0: no limit.
    pub max_in_flight_requests: usize,
    /// Minutes an OAuth access token from /oauth/token lives (1 to 1440).
    pub oauth_token_lifetime_minutes: u32,
    /// Token requests per second each client address may send to /oauth/token; 0: no limit.
    pub oauth_token_rate_per_second: u32,
    /// Token requests each client address may send at once on top of its rate.
    pub oauth_token_burst: u32,
}

impl Config {
    pub fn oauth_token_rate_limit(&self) -> iris_http::RateLimit {
        iris_http::RateLimit {
            per_second: self.oauth_token_rate_per_second,
            burst: self.oauth_token_burst,
        }
    }

    pub fn oauth_token_lifetime(&self) -> time::Duration {
        time::Duration::minutes(i64::from(self.oauth_token_lifetime_minutes))
    }

    /// How requests are grouped into cycles.
    pub fn tenant_rate_limit(&self) -> iris_http::RateLimit {
        iris_http::RateLimit {
            per_second: self.rate_limit_tenant_per_second,
            burst: self.rate_limit_tenant_burst,
        }
    }

    pub fn token_rate_limit(&self) -> iris_http::RateLimit {
        iris_http::RateLimit {
            per_second: self.rate_limit_token_per_second,
            burst: self.rate_limit_token_burst,
        }
    }

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
            console: true,
            console_path: iris_http::console::DEFAULT_PATH.into(),
            request_timeout_seconds: 30,
            header_read_timeout_seconds: 10,
            idle_timeout_seconds: 60,
            shutdown_grace_seconds: 30,
            tls_cert: None,
            tls_key: None,
            trusted_proxies: Vec::new(),
            // Four times Entra's documented peak of about 25 requests per second per tenant, and
            // a burst for a cycle's opening volley.
            rate_limit_tenant_per_second: 100,
            rate_limit_tenant_burst: 200,
            rate_limit_token_per_second: 0,
            rate_limit_token_burst: 0,
            max_in_flight_requests: 512,
            // Entra asks for a token about once an hour; guessing gets a few tries a second.
            oauth_token_lifetime_minutes: 60,
            oauth_token_rate_per_second: 2,
            oauth_token_burst: 20,
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
    console: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    console_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cycle_idle_seconds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cycle_interval_minutes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_timeout_seconds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    header_read_timeout_seconds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    idle_timeout_seconds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shutdown_grace_seconds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_cert: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_key: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trusted_proxies: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rate_limit_tenant_per_second: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rate_limit_tenant_burst: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rate_limit_token_per_second: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rate_limit_token_burst: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_in_flight_requests: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    oauth_token_lifetime_minutes: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    oauth_token_rate_per_second: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    oauth_token_burst: Option<u32>,
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
            overrides.console = serve.no_console.then_some(false);
            overrides.console_path = serve.console_path.clone();
            overrides.cycle_idle_seconds = serve.cycle_idle_seconds;
            overrides.cycle_interval_minutes = serve.cycle_interval_minutes;
            overrides.request_timeout_seconds = serve.request_timeout_seconds;
            overrides.header_read_timeout_seconds = serve.header_read_timeout_seconds;
            overrides.idle_timeout_seconds = serve.idle_timeout_seconds;
            overrides.shutdown_grace_seconds = serve.shutdown_grace_seconds;
            overrides.tls_cert = serve.tls_cert.clone();
            overrides.tls_key = serve.tls_key.clone();
            overrides.trusted_proxies = serve.trusted_proxy.clone();
            overrides.rate_limit_tenant_per_second = serve.rate_limit_tenant_per_second;
            overrides.rate_limit_tenant_burst = serve.rate_limit_tenant_burst;
            overrides.rate_limit_token_per_second = serve.rate_limit_token_per_second;
            overrides.rate_limit_token_burst = serve.rate_limit_token_burst;
            overrides.max_in_flight_requests = serve.max_in_flight_requests;
            overrides.oauth_token_lifetime_minutes = serve.oauth_token_lifetime_minutes;
            overrides.oauth_token_rate_per_second = serve.oauth_token_rate_per_second;
            overrides.oauth_token_burst = serve.oauth_token_burst;
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
        iris_http::console::valid_path(&self.console_path).map_err(anyhow::Error::msg)?;
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
        if self.header_read_timeout_seconds == 0
            || self.idle_timeout_seconds == 0
            || self.shutdown_grace_seconds == 0
        {
            bail!(
                "header_read_timeout_seconds, idle_timeout_seconds and shutdown_grace_seconds \
                 must be at least 1"
            );
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            bail!("tls_cert and tls_key go together: give both (HTTPS) or neither (HTTP)");
        }
        self.trusted_proxies()?;
        if !(1..=1440).contains(&self.oauth_token_lifetime_minutes) {
            bail!(
                "oauth_token_lifetime_minutes must be 1 to 1440, not {}",
                self.oauth_token_lifetime_minutes
            );
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

    /// Whether the SCIM listener serves HTTPS.
    pub fn tls_enabled(&self) -> bool {
        self.tls_cert.is_some()
    }

    /// The reverse proxies whose `X-Forwarded-*` headers count.
    pub fn trusted_proxies(&self) -> anyhow::Result<iris_http::serve::TrustedProxies> {
        iris_http::serve::TrustedProxies::parse(&self.trusted_proxies)
            .map_err(|e| anyhow::anyhow!("trusted_proxies: {e}"))
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
        let scheme = if self.tls_enabled() { "https" } else { "http" };
        match bound {
            SocketAddr::V6(_) if !bound.ip().is_unspecified() => {
                format!("{scheme}://[{host}]:{}", bound.port())
            }
            _ => format!("{scheme}://{host}:{}", bound.port()),
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
    fn connection_tls_and_proxy_settings_come_from_flags() {
        let config = load(&["iris", "serve"]).unwrap();
        assert_eq!(config.header_read_timeout_seconds, 10);
        assert_eq!(config.idle_timeout_seconds, 60);
        assert_eq!(config.shutdown_grace_seconds, 30);
        assert!(!config.tls_enabled());
        assert!(config.trusted_proxies().unwrap().is_empty());
        let config = load(&[
            "iris",
            "serve",
            "--header-read-timeout-seconds",
            "3",
            "--idle-timeout-seconds",
            "7",
            "--shutdown-grace-seconds",
            "2",
            "--tls-cert",
            "chain.pem",
            "--tls-key",
            "key.pem",
            "--trusted-proxy",
            "10.0.0.0/8,192.0.2.7",
        ])
        .unwrap();
        assert_eq!(
            (
                config.header_read_timeout_seconds,
                config.idle_timeout_seconds,
                config.shutdown_grace_seconds
            ),
            (3, 7, 2)
        );
        assert!(config.tls_enabled());
        assert_eq!(config.trusted_proxies, ["10.0.0.0/8", "192.0.2.7"]);
        assert_eq!(
            config.public_url_for("127.0.0.1:8443".parse().unwrap()),
            "https://127.0.0.1:8443"
        );
    }

    #[test]
    fn a_key_without_a_certificate_or_a_bad_proxy_is_refused() {
        // On the command line clap insists on both; a file or the environment may give one.
        let lone = Config {
            tls_key: Some("key.pem".into()),
            ..Config::default()
        }
        .validate()
        .unwrap_err();
        assert!(format!("{lone:#}").contains("go together"), "{lone:#}");
        let proxy = load(&["iris", "serve", "--trusted-proxy", "proxy.local"]).unwrap_err();
        assert!(format!("{proxy:#}").contains("'proxy.local'"), "{proxy:#}");
    }

    #[test]
    fn rate_and_in_flight_limits_default_above_entras_peak_and_come_from_flags() {
        let config = load(&["iris", "serve"]).unwrap();
        assert_eq!(
            (config.tenant_rate_limit(), config.token_rate_limit()),
            (
                iris_http::RateLimit {
                    per_second: 100,
                    burst: 200
                },
                iris_http::RateLimit::OFF
            )
        );
        assert_eq!(config.max_in_flight_requests, 512);
        let config = load(&[
            "iris",
            "serve",
            "--rate-limit-tenant-per-second",
            "0",
            "--rate-limit-token-per-second",
            "5",
            "--rate-limit-token-burst",
            "10",
            "--max-in-flight-requests",
            "2",
        ])
        .unwrap();
        assert_eq!(config.tenant_rate_limit().per_second, 0);
        assert_eq!(
            config.token_rate_limit(),
            iris_http::RateLimit {
                per_second: 5,
                burst: 10
            }
        );
        assert_eq!(config.max_in_flight_requests, 2);
    }

    #[test]
    fn a_bad_metrics_address_or_a_zero_cap_is_refused() {
        let bad = load(&["iris", "serve", "--metrics-listen", "localhost"]).unwrap_err();
        assert!(format!("{bad:#}").contains("metrics_listen"), "{bad:#}");
        let zero = load(&["iris", "serve", "--metrics-tenant-label-cap", "0"]).unwrap_err();
        assert!(format!("{zero:#}").contains("at least 1"), "{zero:#}");
    }
}
