//! `iris serve`: open the database, wire the services, serve until a shutdown signal.

use std::future::{Future, IntoFuture};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use iris_core::listing::PageLimits;
use iris_core::{ResourceService, Store, TenantName, TenantService};
use iris_http::{AppState, HttpConfig};
use iris_scim::filter::FilterLimits;
use iris_store::{AppliedMigration, ConnectError, PoolConfig};
use tokio::net::TcpListener;

use crate::config::Config;

/// How often the metrics' histogram samples are folded into their buckets.
const METRICS_UPKEEP_SECONDS: u64 = 5;

/// Opens (and migrates) the configured database, creating a SQLite file that does not exist yet:
/// what `iris serve` does on its first start.
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    iris_store::connect(&config.database, &pool_config(config, true))
        .await
        .with_context(|| opening(config))
}

/// Opens (and migrates) the configured database, which must exist: the admin commands work on a
/// server's database, so a SQLite path that names no file is a mistake, not a new database.
pub async fn open_existing_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    iris_store::connect(&config.database, &pool_config(config, false))
        .await
        .map_err(missing_database_hint)
        .with_context(|| opening(config))
}

/// `iris migrate`: applies pending migrations (creating a SQLite file that does not exist yet,
/// as `serve` would) and returns the ones it applied.
pub async fn migrate(config: &Config) -> anyhow::Result<Vec<AppliedMigration>> {
    iris_store::migrate(&config.database, &pool_config(config, true))
        .await
        .with_context(|| opening(config))
}

fn pool_config(config: &Config, create_if_missing: bool) -> PoolConfig {
    PoolConfig {
        max_connections: config.db_max_connections,
        create_if_missing,
        ..PoolConfig::default()
    }
}

fn opening(config: &Config) -> String {
    format!("opening database {}", redact_url(&config.database))
}

fn missing_database_hint(e: ConnectError) -> anyhow::Error {
    match e {
        ConnectError::MissingDatabase(_) => anyhow::anyhow!(
            "{e}; check --database (admin commands never create a database; `iris migrate` or \
             `iris serve` does)"
        ),
        other => other.into(),
    }
}

/// Serves on `listener` (and `/metrics` on `metrics_listen`, if configured) until `shutdown`
/// completes, then drains in-flight requests.
pub async fn serve(
    config: &Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let metrics = match config.metrics_addr()? {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen for metrics on {addr}: {e}"))?,
        ),
        None => None,
    };
    serve_with_metrics(config, listener, metrics, shutdown).await
}

/// A request to read the TLS certificate and key files again, answered with the outcome.
pub type CertificateReload = tokio::sync::oneshot::Sender<Result<(), String>>;

/// [`serve`], with `/metrics` on `metrics` (a listener of its own, never the SCIM one) when given;
/// the TLS certificate, if any, is reloaded on SIGHUP.
pub async fn serve_with_metrics(
    config: &Config,
    listener: TcpListener,
    metrics: Option<TcpListener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (reload, reloads) = tokio::sync::mpsc::channel(1);
    if config.tls_enabled() {
        forward_hangups(reload)?;
    }
    serve_with_reloads(config, listener, metrics, shutdown, reloads).await
}

/// Sends a [`CertificateReload`] for every SIGHUP (logging its outcome).
fn forward_hangups(reload: tokio::sync::mpsc::Sender<CertificateReload>) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangups =
            signal(SignalKind::hangup()).context("cannot listen for SIGHUP (TLS reload)")?;
        tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                tracing::info!("SIGHUP received; reloading the TLS certificate");
                let (done, _) = tokio::sync::oneshot::channel();
                if reload.send(done).await.is_err() {
                    return;
                }
            }
        });
    }
    #[cfg(not(unix))]
    drop(reload);
    Ok(())
}

/// [`serve_with_metrics`], reloading the TLS certificate on each request from `reloads` (what a
/// SIGHUP sends) instead of on signals.
pub async fn serve_with_reloads(
    config: &Config,
    listener: TcpListener,
    metrics: Option<TcpListener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    reloads: tokio::sync::mpsc::Receiver<CertificateReload>,
) -> anyhow::Result<()> {
    // Before anything else: a certificate that cannot be served is a startup error.
    let tls = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => Some(
            iris_http::serve::TlsCertificates::load(cert, key)
                .context("cannot serve HTTPS with the configured certificate")?,
        ),
        _ => None,
    };
    let trusted_proxies = config.trusted_proxies()?;
    // Before the store opens: it registers its series with the recorder.
    let recorder = iris_http::metrics::install(&[(
        iris_store::GROUP_COMMIT_WRITES_PER_FLUSH,
        &iris_store::WRITES_PER_FLUSH_BUCKETS,
    )]);
    iris_store::describe_metrics();
    let store = open_store(config).await?;
    let bound = listener.local_addr()?;
    let public_url = config.public_url_for(bound);
    if !config.no_bootstrap {
        bootstrap_first_tenant(&store, &public_url).await?;
    }
    let resources = ResourceService::new(
        store.clone(),
        FilterLimits::default(),
        PageLimits::default(),
    );
    let http = HttpConfig {
        public_url: public_url.clone(),
        public_url_configured: config.public_url.is_some(),
        max_body_bytes: config.max_body_bytes,
        cycles: config.cycle_settings(),
        metrics_tenant_label_cap: config.metrics_tenant_label_cap,
        admin_api: config.admin_api,
        console_path: config.console.then(|| config.console_path.clone()),
        request_timeout: std::time::Duration::from_secs(config.request_timeout_seconds),
        rate_limit_tenant: config.tenant_rate_limit(),
        rate_limit_token: config.token_rate_limit(),
        max_in_flight_requests: config.max_in_flight_requests,
        oauth_token_lifetime: config.oauth_token_lifetime(),
        oauth_token_rate_limit: config.oauth_token_rate_limit(),
    };
    let state = AppState::new(store.clone(), resources, http);
    let background = Background::start(config, &state, recorder.clone());
    // One shutdown for both listeners.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop.send(true);
    });
    let until_stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let metrics_server = match (metrics, recorder) {
        (Some(listener), Some(handle)) => {
            let at = listener.local_addr()?;
            tracing::info!(listen = %at, "serving Prometheus metrics at http://{at}/metrics");
            let router = iris_http::metrics::router(state.clone(), handle);
            let server = axum::serve(listener, router)
                .with_graceful_shutdown(until_stopped(stopped.clone()));
            Some(tokio::spawn(server.into_future()))
        }
        (Some(_), None) => {
            anyhow::bail!("metrics cannot be served: another metrics recorder is installed")
        }
        (None, _) => None,
    };
    tracing::info!(
        listen = %bound,
        public_url = %public_url,
        database = %redact_url(&config.database),
        backend = store.backend_name(),
        "iris is serving SCIM at {public_url}/scim/v2/<tenant>"
    );
    if let Some(tls) = &tls {
        tokio::spawn(reload_on_request(tls.clone(), reloads));
        tracing::info!(
            cert = ?config.tls_cert,
            "serving HTTPS (TLS 1.2 and 1.3, HTTP/2 and HTTP/1.1); SIGHUP reloads the certificate"
        );
    }
    let settings = iris_http::serve::ServeSettings {
        timeouts: iris_http::serve::ConnectionTimeouts {
            header_read: Duration::from_secs(config.header_read_timeout_seconds),
            idle: Duration::from_secs(config.idle_timeout_seconds),
        },
        shutdown_grace: Duration::from_secs(config.shutdown_grace_seconds),
        tls,
        trusted_proxies,
    };
    iris_http::serve::serve(
        listener,
        iris_http::app(state),
        settings,
        until_stopped(stopped),
    )
    .await;
    if let Some(server) = metrics_server {
        server
            .await
            .context("metrics server task")?
            .context("metrics server failed")?;
    }
    background.stop().await;
    tracing::info!("iris stopped");
    Ok(())
}

/// Reloads `tls` for each request, answering it; a failed reload keeps the certificate served.
async fn reload_on_request(
    tls: iris_http::serve::TlsCertificates,
    mut reloads: tokio::sync::mpsc::Receiver<CertificateReload>,
) {
    while let Some(done) = reloads.recv().await {
        let outcome = tls.reload().map_err(|e| e.to_string());
        match &outcome {
            Ok(()) => tracing::info!("reloaded the TLS certificate; new connections get it"),
            Err(e) => tracing::error!(
                error = %e,
                "reloading the TLS certificate failed; still serving the previous one"
            ),
        }
        let _ = done.send(outcome);
    }
}

/// The work `iris serve` does beside answering requests: adding the requests it served to the
/// tenants' provisioning cycles, purging events past their tenant's retention, and draining the
/// metrics' histogram samples.
struct Background {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    activity: iris_core::provisioning::ActivityTracker,
}

impl Background {
    fn start(
        config: &Config,
        state: &AppState,
        recorder: Option<metrics_exporter_prometheus::PrometheusHandle>,
    ) -> Self {
        let activity = state.activity.clone();
        let flush_every = std::time::Duration::from_millis(config.activity_flush_ms);
        let flusher = activity
            .clone()
            .run(flush_every, std::future::pending::<()>());
        let purge_every = std::time::Duration::from_secs(config.log_purge_interval_seconds);
        let retention = state.log.clone().run_retention(purge_every);
        let sessions = purge_console_sessions(state.accounts.clone(), purge_every);
        // Expired OAuth access tokens go on the same schedule as old provisioning events.
        let access_tokens = state.oauth.clone().run_purge(purge_every);
        let mut tasks = vec![
            tokio::spawn(flusher),
            tokio::spawn(retention),
            tokio::spawn(sessions),
            tokio::spawn(access_tokens),
        ];
        if let Some(handle) = recorder {
            let every = std::time::Duration::from_secs(METRICS_UPKEEP_SECONDS);
            tasks.push(tokio::spawn(iris_http::metrics::run_upkeep(handle, every)));
        }
        Self { tasks, activity }
    }

    /// Stops the loops and records what is still pending.
    async fn stop(self) {
        for task in &self.tasks {
            task.abort();
        }
        if let Err(e) = self.activity.flush().await {
            tracing::error!(error = %e, "flushing provisioning activity at shutdown failed");
        }
    }
}

/// Deletes expired console sessions on the log's purge schedule (an expired session is refused
/// whether or not its row is still there; this only keeps the table small).
async fn purge_console_sessions(accounts: iris_core::AccountService, every: std::time::Duration) {
    let mut ticks = tokio::time::interval(every);
    loop {
        ticks.tick().await;
        match accounts.purge_expired_sessions().await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(sessions = n, "purged expired console sessions"),
            Err(e) => tracing::warn!(error = %e, "purging expired console sessions failed"),
        }
    }
}

/// On the very first start (no tenants at all), create tenant `default` and print its Tenant URL
/// and Secret Token to the terminal, so the quick start needs no second command. Printed, not
/// logged: secrets never go to the log stream.
async fn bootstrap_first_tenant(store: &Arc<dyn Store>, public_url: &str) -> anyhow::Result<()> {
    let tenants = TenantService::new(store.clone());
    if !tenants.list().await?.is_empty() {
        return Ok(());
    }
    let name = TenantName::parse("default").map_err(anyhow::Error::msg)?;
    let (tenant, token) = tenants.create(&name).await?;
    println!(
        "First start: created tenant '{}'. Paste these into Entra's provisioning settings:",
        tenant.name()
    );
    println!(
        "  Tenant URL:   {}",
        iris_http::tenant_url(public_url, tenant.name())
    );
    println!("  Secret Token: {}", token.token);
    println!(
        "(The token is shown only now. Issue more with `iris token issue {}`.)",
        tenant.name()
    );
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}

/// Hides a password in a database URL before it is logged.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://iris:s3cret@db/iris"),
            "postgres://iris:***@db/iris"
        );
        assert_eq!(
            redact_url("postgres://iris@db/iris"),
            "postgres://iris@db/iris"
        );
        assert_eq!(redact_url("sqlite://iris.db"), "sqlite://iris.db");
    }
}
