use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    lifeline_net::memory::keep_freed_memory();
    lifeline_net::files::init_logging();
    let cli = lifeline::cli::Cli::parse();
    match lifeline::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
