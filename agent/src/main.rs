use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    lifeline_net::memory::keep_freed_memory();
    lifeline_net::files::init_logging();
    let cli = lifeline_agent::cli::Cli::parse();
    let result = if cli.command.is_window() {
        // A window owns the main thread; it needs no runtime.
        lifeline_agent::cli::run_window(cli.command)
    } else {
        match tokio::runtime::Runtime::new() {
            Ok(rt) => rt.block_on(lifeline_agent::cli::run(cli)),
            Err(e) => Err(e.into()),
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", lifeline_net::describe(&*e));
            ExitCode::FAILURE
        }
    }
}
