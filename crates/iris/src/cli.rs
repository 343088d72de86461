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
    /// The admin API: operator tokens and its OpenAPI document.
    #[command(subcommand)]
    Admin(AdminCommand),
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
    /// Show the tenant's most recently refused PATCH requests, newest first: the body as the
    /// identity provider sent it (passwords redacted) and the error Iris answered.
    Rejected {
        name: String,
        /// How many to show (the newest 1,000 are kept).
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
