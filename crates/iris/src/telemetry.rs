//! Logging, initialised once. Levels from `IRIS_LOG` (default `info`); text or JSON lines.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

pub fn init(format: &str) {
    let filter =
        EnvFilter::try_from_env("IRIS_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal (and never with NO_COLOR set): escape codes in
        // a file or a log collector are noise.
        .with_ansi(colours_wanted());
    let _ = if format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Whether standard error is a terminal and `NO_COLOR` (<https://no-color.org>) is not set.
fn colours_wanted() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
