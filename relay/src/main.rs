use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    lifeline_net::files::init_logging();
    let cli = lifeline_relay::cli::Cli::parse();
    match lifeline_relay::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", lifeline_net::describe(&*e));
            std::process::ExitCode::FAILURE
        }
    }
}
