use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = iris::cli::Cli::parse();
    match iris::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
