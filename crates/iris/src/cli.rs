//! Command-line definitions only. Every option can also come from an `IRIS_*` environment
//! variable or the TOML file named by `--config`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "iris",
    version,
    about = "Iris: SCIM 2.0 provisioning for Microsoft Entra ID and other identity providers"
)]
pub struct Cli {
    /// TOML file with settings (keys as in `iris serve --help`, snake_case).
    #[arg(long, global = true, env = "IRIS_CONFIG")]
    pub config: Option<PathBuf>,

    /// Database URL: sqlite://PATH (embedded, the default) or postgres://USER@HOST/DB.
    #[arg(long, global = true, env = "IRIS_DATABASE_URL")]
    pub database: Option<String>,

    /// Externally visible base URL used in Tenant URLs and `meta.location`
    /// (default: http://LISTEN-ADDRESS).
    #[arg(long, global = true, env = "IRIS_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Log format: `text` or `json`. Levels come from IRIS_LOG (e.g. `info,iris_http=debug`).
    #[arg(long, global = true, env = "IRIS_LOG_FORMAT")]
    pub log_format: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the SCIM API (applies pending migrations first).
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create, list, disable and enable tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Issue, list and revoke a tenant's bearer tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// OAuth 2.0 client credentials: clients and secrets that obtain short-lived access tokens
    /// at /oauth/token.
    #[command(subcommand)]
    Oauth(OauthCommand),
    /// Write a tenant (its tokens as hashes, and all its resources) as JSON Lines.
    Export {
        tenant: String,
        /// File to write; standard output if omitted.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Load a tenant written by `iris export` into this database (e.g. SQLite to PostgreSQL).
    Import {
        /// File to read; standard input if omitted.
        input: Option<PathBuf>,
    },
    /// Operators: admin API tokens, admin console accounts, the OpenAPI document.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// The provisioning engine: sync a directory export into any SCIM endpoint (docs/sync.md).
    #[command(subcommand)]
    Sync(crate::sync_cli::SyncCommand),
    /// Rehearse an identity provider's provisioning against any SCIM server.
    #[command(subcommand)]
    Simulate(crate::sync_cli::SimulateCommand),
    /// Read a tenant's provisioning log (`iris log TENANT`), or purge old events (`iris log purge`).
    Log(LogArgs),
}

/// `iris log TENANT [filters]`: what requests changed, oldest first; `--csv` in the column layout
/// of Entra's provisioning-log download, so both sides can be read together.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct LogArgs {
    #[command(subcommand)]
    pub command: Option<LogCommand>,
    /// The tenant whose log to read.
    #[arg(required = true)]
    pub tenant: Option<String>,
    /// Only events at or after this time: RFC 3339 (`2026-12-02T10:00:00Z`) or an age (`90m`,
    /// `2h`, `7d`).
    #[arg(long)]
    pub since: Option<String>,
    /// Only events before this time (same forms as --since).
    #[arg(long)]
    pub until: Option<String>,
    /// The history of one user or group: its id, or its userName/displayName.
    #[arg(long, alias = "group")]
    pub user: Option<String>,
    /// Only these operations (repeat or comma-separate): create, update, disable, enable,
    /// delete, rename, members-added, members-removed, query.
    #[arg(long = "op", value_delimiter = ',')]
    pub ops: Vec<String>,
    /// Only `success`, `failure`, or one HTTP status (`409`).
    #[arg(long)]
    pub status: Option<String>,
    /// At most this many events (the newest of the range), or cycles with --cycles.
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
    /// List the tenant's provisioning cycles instead of its events, newest first.
    #[arg(long)]
    pub cycles: bool,
    /// One JSON object per line.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// CSV in the column layout of Entra's provisioning-log download.
    #[arg(long)]
    pub csv: bool,
}

#[derive(Debug, Subcommand)]
pub enum LogCommand {
    /// Delete events past their tenant's retention (what `iris serve` does hourly), or, with
    /// --older-than, a tenant's events older than that many days.
    Purge {
        /// Only this tenant (all tenants, each by its own retention, if omitted).
        tenant: Option<String>,
        /// Delete events older than this many days instead of the tenant's retention.
        #[arg(long, requires = "tenant")]
        older_than: Option<u32>,
    },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "IRIS_LISTEN")]
    pub listen: Option<String>,

    /// Largest accepted request body, in bytes.
    #[arg(long, env = "IRIS_MAX_BODY_BYTES")]
    pub max_body_bytes: Option<usize>,

    /// Maximum database connections of this process.
    #[arg(long, env = "IRIS_DB_MAX_CONNECTIONS")]
    pub db_max_connections: Option<u32>,

    /// Do not create a first tenant when the database has none.
    #[arg(long, env = "IRIS_NO_BOOTSTRAP")]
    pub no_bootstrap: bool,

    /// Serve Prometheus metrics at /metrics on this address (its own listener; default: not
    /// served). Use loopback or a private interface: the series name tenants.
    #[arg(long, env = "IRIS_METRICS_LISTEN")]
    pub metrics_listen: Option<String>,

    /// Tenants with a metrics label of their own (default 100); the rest count as `other`.
    #[arg(long, env = "IRIS_METRICS_TENANT_LABEL_CAP")]
    pub metrics_tenant_label_cap: Option<usize>,

    /// Do not serve the admin API (/admin/v1) on the main listener.
    #[arg(long, env = "IRIS_NO_ADMIN_API")]
    pub no_admin_api: bool,

    /// Do not serve the admin console (/console) on the main listener.
    #[arg(long, env = "IRIS_NO_CONSOLE")]
    pub no_console: bool,

    /// Where the admin console is served (default /console).
    #[arg(long, env = "IRIS_CONSOLE_PATH")]
    pub console_path: Option<String>,

    /// Seconds a request may take before it is abandoned, its open transaction rolled back, and
    /// answered 503 with Retry-After (default 30; Entra gives up after 60).
    #[arg(long, env = "IRIS_REQUEST_TIMEOUT_SECONDS")]
    pub request_timeout_seconds: Option<u64>,

    /// Seconds a client has to send a whole request head (and finish the TLS handshake) once it
    /// has sent its first byte; slower clients are disconnected (default 10).
    #[arg(long, env = "IRIS_HEADER_READ_TIMEOUT_SECONDS")]
    pub header_read_timeout_seconds: Option<u64>,

    /// Seconds a keep-alive connection with no request in flight stays open (default 60).
    #[arg(long, env = "IRIS_IDLE_TIMEOUT_SECONDS")]
    pub idle_timeout_seconds: Option<u64>,

    /// Seconds the requests in flight at shutdown get to finish before they are cut (default 30).
    #[arg(long, env = "IRIS_SHUTDOWN_GRACE_SECONDS")]
    pub shutdown_grace_seconds: Option<u64>,

    /// Serve HTTPS with this PEM certificate chain (server certificate first, then
    /// intermediates); reloaded on SIGHUP. Requires --tls-key.
    #[arg(long, env = "IRIS_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The PEM private key of --tls-cert (PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "IRIS_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Reverse proxies (CIDRs or addresses, comma-separated) whose X-Forwarded-For, -Proto and
    /// -Host headers count; from any other peer they are ignored.
    #[arg(long, env = "IRIS_TRUSTED_PROXY", value_delimiter = ',')]
    pub trusted_proxy: Option<Vec<String>>,

    /// Requests per second each tenant may send (default 100; 0: no limit); beyond it and its
    /// burst, requests are answered 429 with Retry-After.
    #[arg(long, env = "IRIS_RATE_LIMIT_TENANT_PER_SECOND")]
    pub rate_limit_tenant_per_second: Option<u32>,

    /// Requests each tenant may send at once on top of its rate (default 200; raised to the rate
    /// if lower).
    #[arg(long, env = "IRIS_RATE_LIMIT_TENANT_BURST")]
    pub rate_limit_tenant_burst: Option<u32>,

    /// Requests per second each token may send (default 0: no limit of its own, only its
    /// tenant's).
    #[arg(long, env = "IRIS_RATE_LIMIT_TOKEN_PER_SECOND")]
    pub rate_limit_token_per_second: Option<u32>,

    /// Requests each token may send at once on top of its rate (default 0: the rate).
    #[arg(long, env = "IRIS_RATE_LIMIT_TOKEN_BURST")]
    pub rate_limit_token_burst: Option<u32>,

    /// Requests served at once before further ones are answered 503 with Retry-After at once
    /// (default 512; 0: no limit). /healthz and /readyz are never refused.
    #[arg(long, env = "IRIS_MAX_IN_FLIGHT_REQUESTS")]
    pub max_in_flight_requests: Option<usize>,

    /// Minutes an OAuth access token issued at /oauth/token lives (default 60, at most 1440;
    /// Entra expects 60 minutes to 6 hours).
    #[arg(long, env = "IRIS_OAUTH_TOKEN_LIFETIME_MINUTES")]
    pub oauth_token_lifetime_minutes: Option<u32>,

    /// Token requests per second each client address may send to /oauth/token (default 2;
    /// 0: no limit); beyond it and its burst, answered 429 with Retry-After.
    #[arg(long, env = "IRIS_OAUTH_TOKEN_RATE_PER_SECOND")]
    pub oauth_token_rate_per_second: Option<u32>,

    /// Token requests each client address may send at once on top of its rate (default 20).
    #[arg(long, env = "IRIS_OAUTH_TOKEN_BURST")]
    pub oauth_token_burst: Option<u32>,

    /// Quiet seconds that end a provisioning cycle (default 300).
    #[arg(long, env = "IRIS_CYCLE_IDLE_SECONDS")]
    pub cycle_idle_seconds: Option<u64>,

    /// The identity provider's schedule in minutes (default 40, Entra's); a tenant with no
    /// request for two of them is silent.
    #[arg(long, env = "IRIS_CYCLE_INTERVAL_MINUTES")]
    pub cycle_interval_minutes: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant; prints its Tenant URL and a Secret Token (shown once).
    Create {
        /// Tenant name: lowercase letters, digits and '-'; it becomes part of the Tenant URL.
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// List tenants.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Disable a tenant: all its tokens are refused at once; data is kept.
    Disable { name: String },
    /// Re-enable a disabled tenant.
    Enable { name: String },
    /// What an operator needs at a glance: the last request, the last provisioning cycle and its
    /// counts, the failure rate, and a verdict (healthy, degraded, failing, silent).
    Status {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Set how many days the tenant's provisioning events are kept (default 30).
    Retention { name: String, days: u32 },
    /// Show the tenant's most recently refused requests, newest first: the body as the
    /// identity provider sent it (passwords redacted) and the error Iris answered.
    Rejected {
        name: String,
        /// How many to show.
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// One JSON object per line instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue an additional token for a tenant (for rotation without downtime).
    Issue {
        tenant: String,
        /// A note to recognise the token by in `token list`.
        #[arg(long)]
        label: Option<String>,
        /// Lifetime: `90d`, `12h`, `30m` (at most 3650d); the token is refused afterwards.
        /// Without it the token lives until revoked.
        #[arg(long)]
        expires: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List a tenant's tokens (ids, labels, last use; never secrets).
    List {
        tenant: String,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by id; it is refused from the next request on, by every process.
    Revoke { token_id: String },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Issue, list and revoke operator tokens (they authenticate the admin API, never SCIM).
    #[command(subcommand)]
    Token(OperatorTokenCommand),
    /// Print the admin API's OpenAPI document (as served at /admin/v1/openapi.json).
    Openapi,
    /// Create, list and remove the operator accounts that sign in to the admin console.
    #[command(subcommand)]
    User(ConsoleUserCommand),
}

#[derive(Debug, Subcommand)]
pub enum ConsoleUserCommand {
    /// Create an account; the password is asked for twice on the terminal (hashed with argon2id).
    Create {
        /// The name to sign in with: a-z, 0-9, '.', '_', '@' and '-' (case does not matter).
        name: String,
        /// Read the password from the first line of standard input instead (for scripts).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a new password (asked for, or --password-stdin); ends the account's sessions and
    /// lifts a lockout.
    Password {
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// List accounts (names, creation, last sign-in, lockout).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Delete an account; its sessions end at once.
    Delete { name: String },
}

#[derive(Debug, Subcommand)]
pub enum OperatorTokenCommand {
    /// Issue an operator token; it is shown only this once.
    Issue {
        /// A note to recognise the token by in `admin token list`.
        #[arg(long)]
        label: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List operator tokens (ids, labels, last use; never secrets).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke an operator token by id; it is refused from the next request on, by every process.
    Revoke { token_id: String },
}

#[derive(Debug, Subcommand)]
pub enum OauthCommand {
    /// Manage a tenant's OAuth clients.
    #[command(subcommand)]
    Client(OauthClientCommand),
}

#[derive(Debug, Subcommand)]
pub enum OauthClientCommand {
    /// Create an OAuth client for a tenant; prints its client id and first secret (shown once).
    Create {
        tenant: String,
        /// A note to recognise the client by in `oauth client list`.
        #[arg(long)]
        label: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List a tenant's OAuth clients and their secrets (ids and last use; never secrets).
    List {
        tenant: String,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a client: its secrets and every access token it obtained are refused at once.
    Revoke { client_id: String },
    /// Add or revoke a client's secrets (several may be live at once, for rotation).
    #[command(subcommand)]
    Secret(OauthSecretCommand),
}

#[derive(Debug, Subcommand)]
pub enum OauthSecretCommand {
    /// Add a secret to a client; it is shown only this once.
    Add {
        client_id: String,
        #[arg(long)]
        json: bool,
    },
    /// Revoke one secret: it obtains no more tokens, and the access tokens it obtained are
    /// refused at once.
    Revoke {
        client_id: String,
        secret_id: String,
    },
}
