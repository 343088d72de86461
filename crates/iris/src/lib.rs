//! The `iris` binary's library: configuration, startup and the admin commands. `main` only
//! parses the command line and dispatches here; tests call [`server::serve`] with their own
//! listener.

pub mod admin;
pub mod cli;
pub mod config;
pub mod log_cli;
pub mod oauth_cli;
pub mod operator;
pub mod server;
pub mod sync_cli;
pub mod telemetry;

use cli::{Cli, Command};
use config::Config;

/// Runs one command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(&cli)?;
    telemetry::init(&config.log_format);
    match cli.command {
        Command::Serve(_) => {
            let addr = config.listen_addr()?;
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
            server::serve(&config, listener, server::shutdown_signal()).await
        }
        Command::Migrate => {
            let applied = server::migrate(&config).await?;
            for migration in &applied {
                println!("applied migration {migration}");
            }
            let database = server::redact_url(&config.database);
            if applied.is_empty() {
                println!("database {database} was already up to date");
            } else {
                println!("database {database} is up to date");
            }
            Ok(())
        }
        Command::Tenant(c) => admin::tenant(&config, c).await,
        Command::Token(c) => admin::token(&config, c).await,
        Command::Oauth(c) => oauth_cli::oauth(&config, c).await,
        Command::Export { tenant, output } => {
            admin::export(&config, &tenant, output.as_deref()).await
        }
        Command::Import { input } => admin::import(&config, input.as_deref()).await,
        Command::Admin(c) => operator::admin(&config, c).await,
        Command::Log(args) => log_cli::run(&config, args).await,
        Command::Sync(c) => sync_cli::sync(&config, c).await,
        Command::Simulate(c) => sync_cli::simulate(c).await,
    }
}
