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
            // The reason may quote a relay or an agent.
            let why = lifeline_proto::printable::text(lifeline_net::describe(&*e));
            eprintln!("error: {why}");
            std::process::ExitCode::FAILURE
        }
    }
}
