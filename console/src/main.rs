use clap::Parser;

fn main() -> std::process::ExitCode {
    // Before the runtime starts any thread.
    lifeline_net::memory::keep_freed_memory();
    lifeline_net::files::init_logging();
    let cli = lifeline::cli::Cli::parse();
    let result = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt.block_on(lifeline::cli::run(cli)),
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", lifeline_net::describe(&*e));
            std::process::ExitCode::FAILURE
        }
    }
}
